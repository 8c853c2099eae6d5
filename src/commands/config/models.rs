//! `llm-config add-model` and `llm-config remove-model`.

use std::process::ExitCode;

use crate::cli::{AddModelArgs, AliasArgs, DefaultArgs, GlobalArgs, RemoveModelArgs};
use crate::config::{ConfigError, GLOBAL_PROVIDER, ModelConfig};
use crate::ui;

pub fn add(g: &GlobalArgs, args: AddModelArgs) -> anyhow::Result<ExitCode> {
    crate::config::check_model_name(args.name.trim())
        .map_err(|m| ConfigError::Usage(capitalise(&m)))?;
    let provider = args
        .provider
        .clone()
        .unwrap_or_else(|| GLOBAL_PROVIDER.to_owned());
    let model = ModelConfig {
        name: args.name.trim().to_owned(),
        provider: provider.clone(),
        upstream: args.path.trim().to_owned(),
        tasks: args.tasks.clone(),
        tier: args.tier,
        price_in: args.price_in,
        price_out: args.price_out,
        context_window: args.context_window,
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        concurrency: args.concurrency,
        weight: args.weight,
        tools: None,
        reasoning: None,
        json_schema: None,
    };
    let store = super::super::store(g)?;
    let replaced = store.update(|settings, _| {
        if !settings.providers.contains_key(&provider) {
            let hint = if provider == GLOBAL_PROVIDER {
                "set it with `llm-config global --base-url URL --api-key KEY`, or pass `--provider NAME`".to_owned()
            } else {
                format!("add it with `llm-config preset --name {provider}` or pick one of: {}",
                    settings.providers.keys().cloned().collect::<Vec<_>>().join(", "))
            };
            return Err(ConfigError::Usage(format!("Provider `{provider}` is not configured: {hint}")));
        }
        let same_name: Vec<&ModelConfig> =
            settings.models.iter().filter(|m| m.name == model.name).collect();
        let elsewhere = same_name.iter().find(|m| m.provider != provider);
        if let (Some(other), false) = (elsewhere, args.replica) {
            return Err(ConfigError::Usage(format!(
                "Model `{}` already exists on provider `{}`: pass `--replica` to add another deployment, or `llm-config remove-model --name {}` first",
                model.name, other.provider, model.name
            )));
        }
        let replaced = same_name.iter().any(|m| m.provider == provider);
        if args.replica {
            settings.models.push(model.clone());
        } else {
            settings.models.retain(|m| !(m.name == model.name && m.provider == provider));
            settings.models.push(model.clone());
        }
        Ok(replaced && !args.replica)
    })?;
    let verb = if replaced { "Replaced" } else { "Added" };
    ui::line(&format!(
        "{verb} model `{}` → `{}` on `{}`",
        model.name, model.upstream, model.provider
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub fn remove(g: &GlobalArgs, args: RemoveModelArgs) -> anyhow::Result<ExitCode> {
    let store = super::super::store(g)?;
    let removed = store.update(|settings, _| {
        let before = settings.models.len();
        let matches = |m: &ModelConfig| {
            m.name == args.name && args.provider.as_ref().is_none_or(|p| &m.provider == p)
        };
        settings.models.retain(|m| !matches(m));
        let removed = before - settings.models.len();
        if removed == 0 {
            // The model exists, but not on that provider: say where it is.
            let on: Vec<&str> = settings
                .models
                .iter()
                .filter(|m| m.name == args.name)
                .map(|m| m.provider.as_str())
                .collect();
            if let (Some(p), false) = (&args.provider, on.is_empty()) {
                return Err(ConfigError::Usage(format!(
                    "Model `{}` has no deployment on provider `{p}`; it is on: {}. Pass one of those to `--provider`, or leave `--provider` out to remove every deployment",
                    args.name,
                    on.join(", ")
                )));
            }
            let mut names: Vec<&str> = settings.models.iter().map(|m| m.name.as_str()).collect();
            names.dedup();
            return Err(ConfigError::UnknownModel {
                name: args.name.clone(),
                available: if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                },
            });
        }
        let still_there = settings.models.iter().any(|m| m.name == args.name);
        if !still_there && settings.defaults.model.as_deref() == Some(args.name.as_str()) {
            settings.defaults.model = None;
        }
        Ok(removed)
    })?;
    ui::line(&format!(
        "Removed {removed} deployment{} of `{}`",
        if removed == 1 { "" } else { "s" },
        args.name
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `llm-config default [MODEL | --unset]`: `[defaults] model`, the one meaning of "default
/// model" (`list` and `models` mark it; without it, requests are routed).
pub fn default(g: &GlobalArgs, args: DefaultArgs) -> anyhow::Result<ExitCode> {
    let store = super::super::store(g)?;
    let Some(name) = args.model.as_deref().map(str::trim) else {
        if args.unset {
            store.update(|settings, _| {
                settings.defaults.model = None;
                Ok(())
            })?;
            ui::line("Removed the default model: requests without `--model` are routed")?;
        } else {
            let config = super::super::load_config(g)?;
            ui::line(&match config.default_model() {
                Some(m) => m.to_owned(),
                None => "No default model: requests without `--model` are routed (`llm-config default MODEL` sets one)".to_owned(),
            })?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    if name == "auto" {
        return Err(ConfigError::Usage(
            "`auto` is not a model; `llm-config default --unset` makes the router pick".into(),
        )
        .into());
    }
    let mut name = name.to_owned();
    store.update(|settings, _| {
        // An alias sets the model it stands for.
        if let Some(model) = settings.aliases.get(&name) {
            name = model.clone();
        }
        if !settings.models.iter().any(|m| m.name == name) {
            if settings.models.is_empty() {
                return Err(ConfigError::NoModels);
            }
            let mut names: Vec<&str> = settings.models.iter().map(|m| m.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            return Err(ConfigError::UnknownModel {
                name: name.to_owned(),
                available: names.join(", "),
            });
        }
        settings.defaults.model = Some(name.clone());
        Ok(())
    })?;
    ui::line(&format!(
        "Default model: `{name}` (used when a command names none)"
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `llm-config alias [NAME [MODEL]] [--remove]`.
pub fn alias(g: &GlobalArgs, args: AliasArgs) -> anyhow::Result<ExitCode> {
    let store = super::super::store(g)?;
    match (args.name.as_deref().map(str::trim), args.model.as_deref()) {
        (None, _) => {
            let config = super::super::load_config(g)?;
            let aliases = &config.settings.aliases;
            if args.json.json {
                ui::json(aliases)?;
            } else if aliases.is_empty() {
                ui::line("No aliases: `llm-config alias NAME MODEL` adds one")?;
            } else {
                let rows = aliases
                    .iter()
                    .map(|(a, m)| vec![a.clone(), m.clone()])
                    .collect();
                ui::table(&["alias", "model"], rows)?;
            }
        }
        (Some(name), _) if args.remove => {
            store.update(|settings, _| {
                settings.aliases.remove(name).map(|_| ()).ok_or_else(|| {
                    ConfigError::Usage(format!("No alias `{name}`; `llm-config alias` lists them"))
                })
            })?;
            ui::line(&format!("Removed the alias `{name}`"))?;
        }
        (Some(name), None) => {
            let config = super::super::load_config(g)?;
            let Some(model) = config.settings.aliases.get(name) else {
                return Err(ConfigError::Usage(format!(
                    "No alias `{name}`; `llm-config alias` lists them, `llm-config alias {name} MODEL` adds it"
                ))
                .into());
            };
            if args.json.json {
                ui::json(&serde_json::json!({ "alias": name, "model": model }))?;
            } else {
                ui::line(model)?;
            }
        }
        (Some(name), Some(model)) => {
            crate::config::check_model_name(name)
                .map_err(|m| ConfigError::Usage(format!("Alias `{name}`: {m}")))?;
            let mut target = model.trim().to_owned();
            store.update(|settings, _| {
                // An alias of an alias stands for the model itself.
                if let Some(m) = settings.aliases.get(&target) {
                    target = m.clone();
                }
                let mut names: Vec<&str> =
                    settings.models.iter().map(|m| m.name.as_str()).collect();
                names.sort_unstable();
                names.dedup();
                if names.contains(&name) {
                    return Err(ConfigError::Usage(format!(
                        "`{name}` is already a model's name; an alias may not shadow a model, so pick another name"
                    )));
                }
                if !names.contains(&target.as_str()) {
                    if names.is_empty() {
                        return Err(ConfigError::NoModels);
                    }
                    return Err(ConfigError::UnknownModel {
                        name: target.clone(),
                        available: names.join(", "),
                    });
                }
                settings.aliases.insert(name.to_owned(), target.clone());
                Ok(())
            })?;
            ui::line(&format!("Alias `{name}` → `{target}`"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
