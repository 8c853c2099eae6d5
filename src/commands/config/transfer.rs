//! `llm-config export` and `llm-config import`: the configuration as one portable TOML file —
//! the settings file's own shape, plus a `[keys]` table only with `--include-secrets`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{ExportArgs, GlobalArgs, ImportArgs};
use crate::config::{ConfigError, Settings};
use crate::ui;

pub fn export(g: &GlobalArgs, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let paths = super::super::paths(g)?;
    // The files as written, not the environment layer: an export must not capture
    // `BASE_URL`/`MODEL` of the shell it ran in.
    let config = crate::config::Config::load(paths, crate::config::EnvSnapshot::default())?;
    let mut table = toml::Table::try_from(&config.settings)?;
    if args.include_secrets && !config.credentials.keys.is_empty() {
        table.insert(
            "keys".into(),
            toml::Value::try_from(&config.credentials.keys)?,
        );
    }
    let mut text =
        String::from("# llm-cooperation configuration, written by `llm-config export`\n");
    if !args.include_secrets {
        text.push_str("# API keys are not included (use `--include-secrets`).\n");
    }
    text.push_str(&toml::to_string_pretty(&table)?);
    if args.file == Path::new("-") {
        ui::write(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mode = if args.include_secrets { 0o600 } else { 0o644 };
    crate::config::write_atomic(&args.file, text.as_bytes(), mode)?;
    ui::line(&format!(
        "Wrote {} and {}{} to `{}`",
        count(config.settings.providers.len(), "provider"),
        count(config.settings.models.len(), "model"),
        if args.include_secrets {
            " with their keys"
        } else {
            " (no keys)"
        },
        args.file.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub fn import(g: &GlobalArgs, args: ImportArgs) -> anyhow::Result<ExitCode> {
    // A missing or unreadable file is a usage error (exit code 2), as everywhere.
    let text = std::fs::read_to_string(&args.file).map_err(|source| ConfigError::Read {
        path: args.file.clone(),
        source,
    })?;
    let parse_error = |message: String| ConfigError::Parse {
        path: args.file.clone(),
        message,
    };
    let mut table: toml::Table =
        toml::from_str(&text).map_err(|e| parse_error(e.message().to_owned()))?;
    let keys: BTreeMap<String, String> = match table.remove("keys") {
        Some(v) => v
            .try_into()
            .map_err(|e: toml::de::Error| parse_error(format!("keys: {}", e.message())))?,
        None => BTreeMap::new(),
    };
    let imported: Settings = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| parse_error(e.message().to_owned()))?;
    let (providers, models, n_keys) = (imported.providers.len(), imported.models.len(), keys.len());
    let store = super::super::store(g)?;
    store
        .update(|settings, credentials| {
            // Sections the file sets replace ours; providers, models and local models merge.
            let empty = Settings::default();
            if imported.defaults != empty.defaults {
                settings.defaults = imported.defaults;
            }
            if imported.server != empty.server {
                settings.server = imported.server;
            }
            if imported.router != empty.router {
                settings.router = imported.router;
            }
            if imported.history != empty.history {
                settings.history = imported.history;
            }
            if imported.local.autostart.is_some() {
                settings.local.autostart = imported.local.autostart;
            }
            for local in imported.local.models {
                settings.local.models.retain(|l| l.name != local.name);
                settings.local.models.push(local);
            }
            settings.providers.extend(imported.providers);
            for model in imported.models {
                settings
                    .models
                    .retain(|m| !(m.name == model.name && m.provider == model.provider));
                settings.models.push(model);
            }
            credentials.keys.extend(keys);
            Ok(())
        })
        .with_context(|| format!("Nothing was imported from `{}`", args.file.display()))?;
    ui::line(&format!(
        "Imported {providers} providers, {models} models and {n_keys} keys from `{}`",
        args.file.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `1 provider`, `2 providers`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
