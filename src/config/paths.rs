//! Where configuration lives: `LLM_COOP_CONFIG_DIR`, else the platform's config directory.

use std::path::{Path, PathBuf};

use super::ConfigError;
use crate::env_vars;

/// The configuration files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub dir: PathBuf,
    /// `config.toml`: providers, models, defaults.
    pub config_file: PathBuf,
    /// `credentials.toml`: API keys, mode 0600.
    pub credentials_file: PathBuf,
    /// Taken exclusively around every read-modify-write.
    pub lock_file: PathBuf,
}

impl Paths {
    /// The files inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Paths {
            dir: dir.to_owned(),
            config_file: dir.join("config.toml"),
            credentials_file: dir.join("credentials.toml"),
            lock_file: dir.join(".lock"),
        }
    }

    /// `--config DIR`, else `LLM_COOP_CONFIG_DIR`, else e.g. `~/.config/llm-cooperation`.
    pub fn discover(flag: Option<&Path>) -> Result<Self, ConfigError> {
        if let Some(dir) = flag {
            return Ok(Self::in_dir(dir));
        }
        if let Some(dir) = std::env::var_os(env_vars::LLM_COOP_CONFIG_DIR).filter(|d| !d.is_empty())
        {
            return Ok(Self::in_dir(Path::new(&dir)));
        }
        let dirs = directories::ProjectDirs::from("", "", "llm-cooperation").ok_or_else(|| {
            ConfigError::Usage(format!(
                "Cannot find a home directory for the configuration; set `{}` to a directory",
                env_vars::LLM_COOP_CONFIG_DIR
            ))
        })?;
        Ok(Self::in_dir(dirs.config_dir()))
    }
}
