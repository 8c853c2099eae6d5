//! Reading and atomically rewriting the configuration files under a lock.
//!
//! A write takes an exclusive lock on `.lock`, re-reads both files (another process may have
//! changed them since this one loaded), applies the change, validates, then writes each file
//! to a temporary file in the same directory and renames it over the old one. A crash leaves
//! either the old file or the new one, and two concurrent writers never lose each other's work.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::{ConfigError, Credentials, Paths, Settings, validate};

/// Reads `config.toml`; a missing file is `Ok(None)`.
pub(super) fn read_settings(path: &Path) -> Result<Option<Settings>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse_settings(&text, path).map(Some)
}

/// Parses settings text, naming `path` in errors.
pub fn parse_settings(text: &str, path: &Path) -> Result<Settings, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: describe(&e, text),
    })
}

/// The parser's message with the line it quotes, unless that line is too long to help (one
/// line of a machine-written file can be megabytes): then the message and the position.
fn describe(e: &toml::de::Error, text: &str) -> String {
    let full = e.to_string().trim_end().to_owned();
    if full.len() <= 2000 {
        return full;
    }
    let Some(before) = e.span().and_then(|span| text.get(..span.start)) else {
        return e.message().to_owned();
    };
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{} at line {line}, column {column}", e.message().trim_end())
}

/// Serialised, validated writes to one configuration directory.
#[derive(Debug, Clone)]
pub struct ConfigStore {
    paths: Paths,
}

impl ConfigStore {
    pub fn new(paths: Paths) -> Self {
        ConfigStore { paths }
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Applies `change` to the files' current contents under the lock and writes what changed.
    /// Nothing is written when `change` or validation fails.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut Settings, &mut Credentials) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        std::fs::create_dir_all(&self.paths.dir).map_err(|source| ConfigError::Write {
            path: self.paths.dir.clone(),
            source,
        })?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.paths.lock_file)
            .map_err(|source| ConfigError::Write {
                path: self.paths.lock_file.clone(),
                source,
            })?;
        lock.lock().map_err(|source| ConfigError::Write {
            path: self.paths.lock_file.clone(),
            source,
        })?;
        let old_settings = read_settings(&self.paths.config_file)?.unwrap_or_default();
        let old_credentials = Credentials::read(&self.paths.credentials_file)?.unwrap_or_default();
        let mut settings = old_settings.clone();
        let mut credentials = old_credentials.clone();
        let out = change(&mut settings, &mut credentials)?;
        validate(&settings, &self.paths.config_file)?;
        if settings != old_settings {
            let text = toml::to_string_pretty(&settings).map_err(|e| ConfigError::Parse {
                path: self.paths.config_file.clone(),
                message: e.to_string(),
            })?;
            write_atomic(&self.paths.config_file, text.as_bytes(), 0o644)?;
        }
        if credentials != old_credentials {
            let text = toml::to_string_pretty(&credentials).map_err(|e| ConfigError::Parse {
                path: self.paths.credentials_file.clone(),
                message: e.to_string(),
            })?;
            write_atomic(&self.paths.credentials_file, text.as_bytes(), 0o600)?;
        }
        drop(lock);
        Ok(out)
    }
}

/// Writes `bytes` to a temporary file beside `path` with `mode`, syncs it, and renames it over
/// `path`. Secrets are never readable by others, not even for a moment: the temporary file is
/// created with mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ConfigError> {
    let err = |source| ConfigError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(err)?;
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    set_mode(tmp.as_file(), mode).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn set_mode(file: &File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
