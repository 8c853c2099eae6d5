//! The `[local]` models this server runs itself. Engines load before the server answers (and,
//! on a reload, before the new configuration takes over); a reload loads models that were
//! added or changed and drops the ones that were removed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::config::{Config, ConfigError, LocalModel, ProviderKind};
use crate::providers::Backend;
#[cfg(not(feature = "local"))]
use crate::providers::Unavailable;

/// Engines by local model name, with the settings they were loaded with.
#[derive(Debug, Default)]
pub struct LocalEngines {
    #[cfg(feature = "local")]
    loaded: Mutex<BTreeMap<String, (LocalModel, crate::runner::EngineHandle)>>,
    #[cfg(not(feature = "local"))]
    loaded: Mutex<BTreeMap<String, LocalModel>>,
}

impl LocalEngines {
    /// Brings the loaded engines in line with `config` and returns the backend of every
    /// local-kind provider. Loading is slow and blocking: call it off the async workers.
    pub fn sync(&self, config: &Config) -> Result<BTreeMap<String, Arc<dyn Backend>>, ConfigError> {
        let providers: Vec<&String> = config
            .settings
            .providers
            .iter()
            .filter(|(_, p)| p.kind == ProviderKind::Local)
            .map(|(name, _)| name)
            .collect();
        let wanted = &config.settings.local.models;
        self.load(wanted)?;
        Ok(providers
            .into_iter()
            .map(|name| (name.clone(), self.backend(name)))
            .collect())
    }

    /// The names of the loaded models.
    pub fn names(&self) -> Vec<String> {
        self.loaded
            .lock()
            .expect("engines lock")
            .keys()
            .cloned()
            .collect()
    }

    #[cfg(feature = "local")]
    fn load(&self, wanted: &[LocalModel]) -> Result<(), ConfigError> {
        use crate::runner::{Engine, EngineConfig, parse_device};
        let mut loaded = self.loaded.lock().expect("engines lock");
        loaded.retain(|name, (model, _)| {
            let keep = wanted.iter().any(|w| w == model);
            if !keep {
                tracing::info!(model = %name, "unloading local model");
            }
            keep
        });
        for m in wanted {
            if loaded.contains_key(&m.name) {
                continue;
            }
            let mut cfg = EngineConfig::new(&m.path);
            cfg.tp = m.tp;
            let bad = |key: &str, e: String| {
                ConfigError::Usage(format!("`[[local.models]]` `{}`: {key}: {e}", m.name))
            };
            cfg.dtype = match &m.dtype {
                Some(d) => d
                    .parse()
                    .map_err(|e: crate::runner::RunnerError| bad("dtype", e.to_string()))?,
                None => crate::runner::DType::auto(),
            };
            if let Some(b) = m.max_batch {
                cfg.max_batch = b.max(1);
            }
            if let Some(devices) = &m.devices {
                cfg.devices = devices
                    .split(',')
                    .map(|d| parse_device(d.trim()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| bad("devices", e.to_string()))?;
            }
            let started = std::time::Instant::now();
            let engine = Engine::start(cfg).map_err(|e| {
                ConfigError::Usage(format!(
                    "Cannot load the local model `{}` from `{}`: {e}",
                    m.name,
                    m.path.display()
                ))
            })?;
            tracing::info!(
                model = %m.name,
                path = %m.path.display(),
                tp = m.tp,
                secs = started.elapsed().as_secs_f64(),
                "local model loaded"
            );
            loaded.insert(m.name.clone(), (m.clone(), engine));
        }
        Ok(())
    }

    #[cfg(not(feature = "local"))]
    fn load(&self, wanted: &[LocalModel]) -> Result<(), ConfigError> {
        let mut loaded = self.loaded.lock().expect("engines lock");
        loaded.clear();
        if !wanted.is_empty() {
            tracing::warn!(
                models = %wanted.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "),
                "this llm-server was built without the `local` feature: its local models are unavailable"
            );
        }
        Ok(())
    }

    #[cfg(feature = "local")]
    fn backend(&self, provider: &str) -> Arc<dyn Backend> {
        let engines = self
            .loaded
            .lock()
            .expect("engines lock")
            .iter()
            .map(|(name, (_, engine))| (name.clone(), engine.clone()))
            .collect();
        Arc::new(crate::providers::local::LocalBackend::new(
            provider, engines,
        ))
    }

    #[cfg(not(feature = "local"))]
    fn backend(&self, provider: &str) -> Arc<dyn Backend> {
        Arc::new(Unavailable {
            provider: provider.to_owned(),
            reason: "this llm-server was built without the `local` feature, so it cannot run local models; build it with `cargo build --release --features local` (see the README)".into(),
        })
    }
}
