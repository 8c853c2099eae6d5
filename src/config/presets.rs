//! Provider presets: `config-presets/*.toml`, embedded in the binary.
//!
//! A preset is a `[provider]` table (with its `name`) and `[[models]]` without a `provider`
//! key; applying it merges both into the user's settings.

use serde::Serialize;

use super::{ConfigError, LocalModel, ModelConfig, ProviderConfig};

/// The embedded preset files, by name.
pub const PRESET_FILES: &[(&str, &str)] = &[
    ("openai", include_str!("../../config-presets/openai.toml")),
    (
        "anthropic",
        include_str!("../../config-presets/anthropic.toml"),
    ),
    (
        "deepseek",
        include_str!("../../config-presets/deepseek.toml"),
    ),
    (
        "openrouter",
        include_str!("../../config-presets/openrouter.toml"),
    ),
    (
        "dashscope",
        include_str!("../../config-presets/dashscope.toml"),
    ),
    (
        "aigcbest",
        include_str!("../../config-presets/aigcbest.toml"),
    ),
    ("ollama", include_str!("../../config-presets/ollama.toml")),
    ("vllm", include_str!("../../config-presets/vllm.toml")),
    ("local", include_str!("../../config-presets/local.toml")),
];

/// A parsed preset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preset {
    pub name: String,
    pub provider: ProviderConfig,
    pub models: Vec<ModelConfig>,
    /// For a local provider: the model files it runs.
    pub local: Vec<LocalModel>,
}

/// Where a local model file is looked for: `$LLM_COOP_MODELS_DIR`, the data directory's
/// `models/`, then the source tree's `.deps/models/` (where `.ci/deps.sh` puts the demo
/// model). The first that has the file wins; without any, the data directory's path (so
/// the error on loading says where to put it).
pub fn local_model_path(file: &str) -> std::path::PathBuf {
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    if let Some(d) =
        std::env::var_os(crate::env_vars::LLM_COOP_MODELS_DIR).filter(|d| !d.is_empty())
    {
        dirs.push(d.into());
    }
    if let Ok(d) = crate::store::history::data_dir() {
        dirs.push(d.join("models"));
    }
    dirs.push(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/models"));
    dirs.iter()
        .map(|d| d.join(file))
        .find(|p| p.exists())
        .unwrap_or_else(|| dirs[0].join(file))
}

/// The names of all presets.
pub fn names() -> Vec<&'static str> {
    PRESET_FILES.iter().map(|(n, _)| *n).collect()
}

/// Parses the embedded preset `name`.
pub fn get(name: &str) -> Result<Preset, ConfigError> {
    let (_, text) = PRESET_FILES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .ok_or_else(|| ConfigError::UnknownPreset {
            name: name.to_owned(),
            available: names().join(", "),
        })?;
    parse(name, text)
}

/// The configuration when there is no `config.toml`: the local demo model, started on demand.
pub fn embedded_default() -> super::Settings {
    let mut settings = super::Settings::default();
    if let Ok(local) = get("local") {
        local.apply(&mut settings);
    }
    settings
}

/// All embedded presets.
pub fn all() -> Result<Vec<Preset>, ConfigError> {
    PRESET_FILES.iter().map(|(n, t)| parse(n, t)).collect()
}

/// Parses preset text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Preset, ConfigError> {
    let path = std::path::PathBuf::from(format!("config-presets/{file}.toml"));
    let err = |message: String| ConfigError::Parse {
        path: path.clone(),
        message,
    };
    let mut table: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string()))?;
    let mut provider = match table.remove("provider") {
        Some(toml::Value::Table(t)) => t,
        _ => return Err(err("missing the `[provider]` table".into())),
    };
    let name = match provider.remove("name") {
        Some(toml::Value::String(s)) => s,
        _ => return Err(err("`provider.name` must be a string".into())),
    };
    let provider: ProviderConfig = toml::Value::Table(provider)
        .try_into()
        .map_err(|e: toml::de::Error| err(format!("provider: {e}")))?;
    let models = match table.remove("models") {
        Some(toml::Value::Array(models)) => models,
        None => Vec::new(),
        Some(_) => {
            return Err(err(
                "`models` must be an array of tables (`[[models]]`)".into()
            ));
        }
    };
    let local = match table.remove("local") {
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .map(|item| {
                let name = item.get("name").and_then(|v| v.as_str());
                let file = item.get("file").and_then(|v| v.as_str());
                match (name, file) {
                    (Some(name), Some(file)) => Ok(LocalModel {
                        name: name.to_owned(),
                        path: local_model_path(file),
                        tp: 1,
                        dtype: None,
                        max_batch: None,
                        devices: None,
                    }),
                    _ => Err(err("each `[[local]]` needs `name` and `file`".into())),
                }
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
        Some(_) => {
            return Err(err(
                "`local` must be an array of tables (`[[local]]`)".into()
            ));
        }
    };
    if let Some(key) = table.keys().next() {
        return Err(err(format!(
            "unknown key `{key}`; a preset has `[provider]`, `[[models]]` and `[[local]]`"
        )));
    }
    let models = models
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let mut m = match m {
                toml::Value::Table(t) => t,
                _ => return Err(err(format!("models[{i}] must be a table"))),
            };
            if m.contains_key("provider") {
                return Err(err(format!(
                    "models[{i}]: remove `provider`; a preset's models belong to its `[provider]`"
                )));
            }
            m.insert("provider".into(), toml::Value::String(name.clone()));
            toml::Value::Table(m)
                .try_into()
                .map_err(|e: toml::de::Error| err(format!("models[{i}]: {e}")))
        })
        .collect::<Result<Vec<ModelConfig>, _>>()?;
    Ok(Preset {
        name,
        provider,
        models,
        local,
    })
}

impl Preset {
    /// Merges this preset into `settings`: the provider is replaced, and its models replace
    /// any deployment of the same name on the same provider (other replicas stay).
    pub fn apply(&self, settings: &mut super::Settings) {
        settings
            .providers
            .insert(self.name.clone(), self.provider.clone());
        for model in &self.models {
            settings
                .models
                .retain(|m| !(m.name == model.name && m.provider == model.provider));
            settings.models.push(model.clone());
        }
        for local in &self.local {
            settings.local.models.retain(|l| l.name != local.name);
            settings.local.models.push(local.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_validates() {
        let mut settings = super::super::Settings::default();
        let mut names = std::collections::BTreeSet::new();
        for preset in all().unwrap() {
            assert!(!preset.models.is_empty(), "{} has no models", preset.name);
            for m in &preset.models {
                assert!(
                    names.insert(m.name.clone()),
                    "model `{}` is in two presets",
                    m.name
                );
                assert!(!m.tasks.is_empty(), "{} lists no tasks", m.name);
            }
            preset.apply(&mut settings);
        }
        super::super::validate(&settings, std::path::Path::new("all-presets")).unwrap();
        assert_eq!(settings.providers.len(), PRESET_FILES.len());
    }

    #[test]
    fn unknown_preset_lists_the_available_ones() {
        let e = get("nope").unwrap_err().to_string();
        assert!(e.contains("openai") && e.contains("local"), "{e}");
    }
}
