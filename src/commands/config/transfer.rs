//! `llm-config export` and `llm-config import`: the configuration as one portable TOML file.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::cli::{ExportArgs, GlobalArgs, ImportArgs};
use crate::config::{ConfigError, Defaults, ModelConfig, ProviderConfig, ServerSettings};
use crate::ui;

/// The exported file: the settings, and the keys only when asked for.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Exported {
    #[serde(default)]
    defaults: Defaults,
    #[serde(default)]
    server: ServerSettings,
    #[serde(default)]
    providers: BTreeMap<String, ProviderConfig>,
    #[serde(default)]
    models: Vec<ModelConfig>,
    /// API keys by provider; present only with `--include-secrets`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    keys: BTreeMap<String, String>,
}

pub fn export(g: &GlobalArgs, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let paths = super::super::paths(g)?;
    // The files as written, not the environment layer: an export must not capture
    // `BASE_URL`/`MODEL` of the shell it ran in.
    let config = crate::config::Config::load(paths, crate::config::EnvSnapshot::default())?;
    let settings = config.settings;
    let exported = Exported {
        defaults: settings.defaults,
        server: settings.server,
        providers: settings.providers,
        models: settings.models,
        keys: if args.include_secrets {
            config.credentials.keys
        } else {
            BTreeMap::new()
        },
    };
    let mut text =
        String::from("# llm-cooperation configuration, written by `llm-config export`\n");
    if !args.include_secrets {
        text.push_str("# API keys are not included (use `--include-secrets`).\n");
    }
    text.push_str(&toml::to_string_pretty(&exported)?);
    if args.file == Path::new("-") {
        ui::write(&text)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mode = if args.include_secrets { 0o600 } else { 0o644 };
    crate::config::write_atomic(&args.file, text.as_bytes(), mode)?;
    ui::line(&format!(
        "Wrote {} providers and {} models{} to `{}`",
        exported.providers.len(),
        exported.models.len(),
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
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("Failed to read `{}`", args.file.display()))?;
    let imported: Exported = toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: args.file.clone(),
        message: e.message().to_owned(),
    })?;
    let store = super::super::store(g)?;
    let (providers, models, keys) = (
        imported.providers.len(),
        imported.models.len(),
        imported.keys.len(),
    );
    store
        .update(|settings, credentials| {
            let d = imported.defaults;
            let sd = &mut settings.defaults;
            sd.model = d.model.or(sd.model.take());
            sd.connect_timeout_secs = d.connect_timeout_secs.or(sd.connect_timeout_secs);
            sd.first_byte_timeout_secs = d.first_byte_timeout_secs.or(sd.first_byte_timeout_secs);
            sd.total_timeout_secs = d.total_timeout_secs.or(sd.total_timeout_secs);
            sd.max_retries = d.max_retries.or(sd.max_retries);
            settings.server.host = imported.server.host.or(settings.server.host.take());
            settings.server.port = imported.server.port.or(settings.server.port);
            settings.providers.extend(imported.providers);
            for model in imported.models {
                settings
                    .models
                    .retain(|m| !(m.name == model.name && m.provider == model.provider));
                settings.models.push(model);
            }
            credentials.keys.extend(imported.keys);
            Ok(())
        })
        .with_context(|| format!("Nothing was imported from `{}`", args.file.display()))?;
    ui::line(&format!(
        "Imported {providers} providers, {models} models and {keys} keys from `{}`",
        args.file.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}
