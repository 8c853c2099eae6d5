//! `llm-config list`, `show` and `path`: what is configured, with keys masked.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde::Serialize;
use serde_json::json;

use super::{KeyView, key_cell, key_view};
use crate::cli::{Format, GlobalArgs, JsonFlag, ListArgs, ShowArgs};
use crate::config::ModelConfig;
use crate::ui;

#[derive(Serialize)]
struct ProviderRow<'a> {
    name: &'a str,
    kind: String,
    base_url: &'a str,
    needs_key: bool,
    key: Option<KeyView>,
}

#[derive(Serialize)]
struct Listing<'a> {
    config_dir: String,
    default_model: Option<&'a str>,
    providers: Vec<ProviderRow<'a>>,
    models: &'a [ModelConfig],
}

pub fn list(g: &GlobalArgs, args: ListArgs) -> anyhow::Result<ExitCode> {
    let config = super::super::load_config(g)?;
    let default_model = config.default_model();
    if args.json || args.format == Format::Json {
        let providers = config
            .settings
            .providers
            .iter()
            .map(|(name, p)| ProviderRow {
                name,
                kind: p.kind.to_string(),
                base_url: &p.base_url,
                needs_key: p.needs_key,
                key: key_view(&config, name),
            })
            .collect();
        ui::json(&Listing {
            config_dir: config.paths.dir.display().to_string(),
            default_model,
            providers,
            models: &config.settings.models,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if config.settings.providers.is_empty() && config.settings.models.is_empty() {
        ui::line(
            "Nothing is configured yet. Start with `llm-config preset --list`, then `llm-config preset --name NAME`.",
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows = config
        .settings
        .providers
        .iter()
        .map(|(name, p)| {
            vec![
                name.clone(),
                p.kind.to_string(),
                p.base_url.clone(),
                key_cell(&config, name),
            ]
        })
        .collect();
    ui::table(&["provider", "kind", "base url", "key"], rows)?;
    let rows = config
        .settings
        .models
        .iter()
        .map(|m| {
            let mut name = m.name.clone();
            if Some(m.name.as_str()) == default_model {
                name.push_str(" *");
            }
            vec![
                name,
                m.provider.clone(),
                m.upstream.clone(),
                m.tasks
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                m.tier.to_string(),
                format!("{} / {}", price(m.price_in), price(m.price_out)),
                m.context_window.to_string(),
            ]
        })
        .collect();
    ui::table(
        &[
            "model",
            "provider",
            "upstream id",
            "tasks",
            "tier",
            "$/M in / out",
            "context",
        ],
        rows,
    )?;
    if !config.settings.models.is_empty() {
        ui::line(&crate::commands::models_default_footer(default_model))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn price(p: f64) -> String {
    if p == 0.0 {
        "0".to_owned()
    } else {
        format!("{p}")
    }
}

pub fn show(g: &GlobalArgs, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let config = super::super::load_config(g)?;
    let keys: BTreeMap<&str, Option<KeyView>> = config
        .settings
        .providers
        .keys()
        .map(|name| (name.as_str(), key_view(&config, name)))
        .collect();
    if args.json {
        ui::json(&json!({ "settings": config.settings, "keys": keys }))?;
        return Ok(ExitCode::SUCCESS);
    }
    ui::line(&format!(
        "# Effective configuration: `{}` with the environment applied",
        config.paths.config_file.display()
    ))?;
    for (name, key) in &keys {
        match key {
            Some(k) => ui::line(&format!("# key for `{name}`: {} ({})", k.masked, k.source))?,
            None => ui::line(&format!("# key for `{name}`: none"))?,
        }
    }
    ui::line(&toml::to_string_pretty(&config.settings)?)?;
    Ok(ExitCode::SUCCESS)
}

pub fn path(g: &GlobalArgs, args: JsonFlag) -> anyhow::Result<ExitCode> {
    let paths = super::super::paths(g)?;
    if args.json {
        ui::json(&json!({
            "dir": paths.dir,
            "config": paths.config_file,
            "credentials": paths.credentials_file,
            "templates": crate::commands::template_dir(&paths),
        }))?;
    } else {
        ui::line(&format!("config dir:  {}", paths.dir.display()))?;
        ui::line(&format!("settings:    {}", paths.config_file.display()))?;
        ui::line(&format!(
            "credentials: {}",
            paths.credentials_file.display()
        ))?;
        ui::line(&format!(
            "templates:   {}",
            crate::commands::template_dir(&paths).display()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
