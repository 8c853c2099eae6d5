//! `llm-config preset` and `llm-config global`.

use std::process::ExitCode;

use serde_json::json;

use crate::cli::{GlobalArgs, GlobalProviderArgs, PresetArgs};
use crate::config::{ConfigError, GLOBAL_PROVIDER, ProviderConfig, mask_key, presets};
use crate::ui;

pub fn preset(g: &GlobalArgs, args: PresetArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        return list_presets(args.json.json);
    }
    let name = args.name.as_deref().unwrap_or_default();
    let mut preset = presets::get(name)?;
    if let Some(url) = &args.base_url {
        preset.provider.base_url = url.clone();
    }
    let store = super::super::store(g)?;
    let config = super::super::load_config(g)?;
    let provider = preset.name.clone();
    let env_key = preset
        .provider
        .api_key_env
        .as_deref()
        .and_then(|v| std::env::var(v).ok())
        .filter(|v| !v.is_empty());
    let key = match args.api_key {
        Some(k) => Some(k),
        None if !preset.provider.needs_key
            || env_key.is_some()
            || config.credentials.get(&provider).is_some() =>
        {
            None
        }
        None => Some(ask_key(&provider, preset.provider.api_key_env.as_deref())?),
    };
    let key = key.map(|k| k.trim().to_owned());
    if key.as_deref() == Some("") {
        return Err(ConfigError::Usage("The API key is empty".into()).into());
    }
    let creating = !store.paths().config_file.exists();
    store.update(|settings, credentials| {
        preset.apply(settings);
        if let Some(k) = &key {
            credentials.keys.insert(provider.clone(), k.clone());
        }
        Ok(())
    })?;
    if creating && preset.name != "local" && !args.json.json {
        ui::note(&format!(
            "Created `{}`; it replaces the embedded default, so the local demo model is not in it: add it with `llm-config preset --name local`",
            store.paths().config_file.display()
        ));
    }
    let names: Vec<&str> = preset.models.iter().map(|m| m.name.as_str()).collect();
    if args.json.json {
        ui::json(&json!({
            "provider": provider,
            "base_url": preset.provider.base_url,
            "models": names,
            "key": key.as_deref().map(mask_key),
        }))?;
    } else {
        ui::line(&format!(
            "Added provider `{provider}` ({}) with {} models: {}",
            preset.provider.base_url,
            names.len(),
            names.join(", ")
        ))?;
        match (&key, &env_key) {
            (Some(k), _) => ui::line(&format!(
                "Stored key {} in the credentials file",
                mask_key(k)
            ))?,
            (None, Some(k)) => ui::line(&format!(
                "Using key {} from `{}`",
                mask_key(k),
                preset.provider.api_key_env.as_deref().unwrap_or_default()
            ))?,
            (None, None) => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks for a key on a terminal; without one, says which flag or variable to use.
pub fn ask_key(provider: &str, env: Option<&str>) -> anyhow::Result<String> {
    if ui::stdin_is_terminal() && ui::stderr_is_terminal() {
        return Ok(ui::prompt_secret(&format!("API key for `{provider}`"))?);
    }
    let hint = match env {
        Some(env) => format!("pass `--api-key …` or set `{env}`"),
        None => "pass `--api-key …`".to_owned(),
    };
    Err(ConfigError::Usage(format!(
        "No API key for provider `{provider}` and no terminal to ask on: {hint}"
    ))
    .into())
}

fn list_presets(json: bool) -> anyhow::Result<ExitCode> {
    let all = presets::all()?;
    if json {
        ui::json(&all)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows = all
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.provider.base_url.clone(),
                p.provider
                    .api_key_env
                    .clone()
                    .filter(|_| p.provider.needs_key)
                    .unwrap_or_else(|| "no key needed".into()),
                p.models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    ui::table(&["preset", "base url", "key variable", "models"], rows)?;
    Ok(ExitCode::SUCCESS)
}

/// A base URL must be `http(s)://host…`; one without a path is accepted (some servers answer
/// at the root) with a warning, since OpenAI-compatible APIs almost always live under `/v1`
/// and requests go to `BASE/chat/completions`.
fn check_base_url(url: &str) -> Result<(), ConfigError> {
    let parsed = reqwest::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    let Some(parsed) = parsed else {
        return Err(ConfigError::Usage(format!(
            "`{url}` is not an http(s) URL; pass one like `https://api.example.com/v1`"
        )));
    };
    if parsed.path().trim_end_matches('/').is_empty() {
        let fixed = format!("{}/v1", url.trim().trim_end_matches('/'));
        ui::warn(&format!(
            "`{url}` has no path, so requests go to `{}/chat/completions`; OpenAI-compatible servers usually want `/v1`: `llm-config global --base-url {fixed}`",
            url.trim().trim_end_matches('/')
        ));
    }
    Ok(())
}

pub fn global(g: &GlobalArgs, args: GlobalProviderArgs) -> anyhow::Result<ExitCode> {
    if args.base_url.is_none() && args.api_key.is_none() {
        return Err(ConfigError::Usage(
            "Nothing to set: pass `--base-url URL`, `--api-key KEY`, or both".into(),
        )
        .into());
    }
    if let Some(url) = &args.base_url {
        check_base_url(url)?;
    }
    let store = super::super::store(g)?;
    store.update(|settings, credentials| {
        match (&args.base_url, settings.providers.get_mut(GLOBAL_PROVIDER)) {
            (Some(url), Some(p)) => p.base_url = url.clone(),
            (Some(url), None) => {
                settings.providers.insert(
                    GLOBAL_PROVIDER.to_owned(),
                    ProviderConfig::openai(url.clone()),
                );
            }
            (None, Some(_)) => {}
            (None, None) => {
                return Err(ConfigError::Usage(
                    "The `global` provider has no base URL yet: pass `--base-url URL` too".into(),
                ));
            }
        }
        if let Some(key) = &args.api_key {
            credentials
                .keys
                .insert(GLOBAL_PROVIDER.to_owned(), key.trim().to_owned());
        }
        Ok(())
    })?;
    let mut msg = String::from("Updated the `global` provider");
    if let Some(url) = &args.base_url {
        msg.push_str(&format!(": base URL {url}"));
    }
    if let Some(key) = &args.api_key {
        msg.push_str(&format!("; key {}", mask_key(key.trim())));
    }
    ui::line(&msg)?;
    Ok(ExitCode::SUCCESS)
}
