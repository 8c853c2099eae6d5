//! `credentials.toml`: API keys by provider, kept apart from the settings, mode 0600.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// API keys by provider name.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
}

/// Never prints a key, even in debug output or a panic message.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.keys.iter().map(|(k, v)| (k, mask_key(v))))
            .finish()
    }
}

impl Credentials {
    /// Reads the file; a missing file is `Ok(None)`; one readable by others is refused.
    pub fn read(path: &Path) -> Result<Option<Credentials>, ConfigError> {
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
        check_mode(path)?;
        toml::from_str(&text)
            .map(Some)
            .map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                // The parser quotes the offending line, which may hold a key: keep only the message.
                message: format!(
                    "{}; expected `[keys]` with `provider = \"key\"` lines",
                    e.message()
                ),
            })
    }

    pub fn get(&self, provider: &str) -> Option<&str> {
        self.keys.get(provider).map(String::as_str)
    }
}

#[cfg(unix)]
fn check_mode(path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(ConfigError::InsecureCredentials {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path) -> Result<(), ConfigError> {
    Ok(())
}

/// `sk-…9f2c`: enough to tell keys apart, never enough to use one.
pub fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "…".to_string() + &"*".repeat(3);
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_ends() {
        assert_eq!(mask_key("sk-abcdefghijklmnop9f2c"), "sk-…9f2c");
        assert_eq!(mask_key("short"), "…***");
        let c = Credentials {
            keys: [("openai".to_owned(), "sk-secretsecretsecret".to_owned())].into(),
        };
        assert!(!format!("{c:?}").contains("secretsecret"));
    }
}
