//! `llm-config`: providers, models and keys.

mod keys;
mod list;
mod models;
mod preset;
mod transfer;

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{ConfigCli, ConfigCommand};
use crate::config::{Config, KeySource, mask_key};
use crate::ui;

pub fn run(cli: ConfigCli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        ConfigCommand::Preset(args) => preset::preset(g, args),
        ConfigCommand::Global(args) => preset::global(g, args),
        ConfigCommand::AddModel(args) => models::add(g, args),
        ConfigCommand::RemoveModel(args) => models::remove(g, args),
        ConfigCommand::List(args) => list::list(g, args),
        ConfigCommand::Show(args) => list::show(g, args),
        ConfigCommand::Test(args) => super::test::test(g, args),
        ConfigCommand::Export(args) => transfer::export(g, args),
        ConfigCommand::Import(args) => transfer::import(g, args),
        ConfigCommand::SetKey(args) => keys::set_key(g, args),
        ConfigCommand::Path(args) => list::path(g, args),
        ConfigCommand::Alias(args) => models::alias(g, args),
        ConfigCommand::Default(args) => models::default(g, args),
    }
}

/// A key as it may be shown: masked, with where it came from.
#[derive(Debug, Serialize)]
pub struct KeyView {
    pub masked: String,
    pub source: String,
}

/// The key state of a provider for display; never the key itself.
pub fn key_view(config: &Config, provider: &str) -> Option<KeyView> {
    config.api_key(provider).map(|(key, source)| KeyView {
        masked: mask_key(&key),
        source: match source {
            KeySource::Env(name) => format!("env:{name}"),
            KeySource::File => "credentials".to_owned(),
        },
    })
}

/// One line for a key column.
pub fn key_cell(config: &Config, provider: &str) -> String {
    let needs = config
        .settings
        .providers
        .get(provider)
        .is_none_or(|p| p.needs_key);
    match key_view(config, provider) {
        Some(k) => format!("{} ({})", k.masked, k.source),
        None if needs => ui::bad("missing"),
        None => "not needed".to_owned(),
    }
}
