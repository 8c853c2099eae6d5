//! `llm-config set-key`.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{GlobalArgs, SetKeyArgs};
use crate::config::{ConfigError, mask_key};
use crate::ui;

pub fn set_key(g: &GlobalArgs, args: SetKeyArgs) -> anyhow::Result<ExitCode> {
    let config = super::super::load_config(g)?;
    let Some(provider) = config.settings.providers.get(&args.provider) else {
        return Err(ConfigError::UnknownProvider {
            name: args.provider.clone(),
            available: config
                .settings
                .providers
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into());
    };
    let store = super::super::store(g)?;
    if args.remove {
        let removed =
            store.update(|_, credentials| Ok(credentials.keys.remove(&args.provider).is_some()))?;
        ui::line(&if removed {
            format!("Removed the stored key of `{}`", args.provider)
        } else {
            format!("`{}` had no stored key", args.provider)
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let key = match args.key {
        Some(k) => k,
        None if ui::stdin_is_terminal() => {
            super::preset::ask_key(&args.provider, provider.api_key_env.as_deref())?
        }
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("Failed to read the key from standard input")?;
            text
        }
    };
    let key = key.trim().to_owned();
    if key.is_empty() {
        return Err(ConfigError::Usage(
            "The API key is empty: pass `--key KEY` or pipe it on standard input".into(),
        )
        .into());
    }
    store.update(|_, credentials| {
        credentials.keys.insert(args.provider.clone(), key.clone());
        Ok(())
    })?;
    ui::line(&format!(
        "Stored key {} for `{}`",
        mask_key(&key),
        args.provider
    ))?;
    Ok(ExitCode::SUCCESS)
}
