//! Every environment variable the toolchain reads, in one place.

/// Overrides the configuration directory (`config.toml`, `credentials.toml`).
pub const LLM_COOP_CONFIG_DIR: &str = "LLM_COOP_CONFIG_DIR";
/// A false value (`0`, `false`, `no`, `off`): never start `llm-server` for local models (like
/// `[local] autostart = false`).
pub const LLM_COOP_AUTOSTART: &str = "LLM_COOP_AUTOSTART";
/// Where local model files are looked for first.
pub const LLM_COOP_MODELS_DIR: &str = "LLM_COOP_MODELS_DIR";
/// Overrides the data directory (`history.db`, `models/`, `llm-server.log`).
pub const LLM_COOP_DATA_DIR: &str = "LLM_COOP_DATA_DIR";
/// A true value (`1`, `true`, `yes`, `on`) records nothing in the history (like `--no-log`).
pub const LLM_COOP_NO_LOG: &str = "LLM_COOP_NO_LOG";
/// The model used when a command names none.
pub const LLM_COOP_MODEL: &str = "LLM_COOP_MODEL";
/// A true value lets a `.env` in the working directory set variables that send requests
/// elsewhere (`BASE_URL` with a stored key, `LLM_COOP_CONFIG_DIR`, `LLM_COOP_STATE`). Read
/// from the real environment only: a `.env` cannot opt itself in.
pub const LLM_COOP_DOTENV: &str = "LLM_COOP_DOTENV";
/// Log filter for `tracing` (e.g. `info`, `llm_cooperation=debug`).
pub const LLM_COOP_LOG: &str = "LLM_COOP_LOG";

/// `0`: f32 layers of local models use libtorch's products instead of the packed kernels
/// (to compare; see `kernels/`).
pub const LLM_COOP_PACKED_F32: &str = "LLM_COOP_PACKED_F32";

/// Bearer tokens `llm-server` accepts, comma-separated (like repeated `--token`).
pub const LLM_COOP_SERVER_TOKENS: &str = "LLM_COOP_SERVER_TOKENS";

/// Shared state of `llm-server` (`memory` or `redis://…`), like `--state`.
pub const LLM_COOP_STATE: &str = "LLM_COOP_STATE";

/// Variables of the original system, also read from a `.env` file in the working directory.
/// Base URL of the `global` OpenAI-compatible provider.
pub const BASE_URL: &str = "BASE_URL";
/// API key of the `global` provider.
pub const API_KEY: &str = "API_KEY";
/// Default model name (or upstream id on the `global` provider).
pub const MODEL: &str = "MODEL";
/// Log level (`error`, `warn`, `info`, `debug`, `trace`).
pub const LOG_LEVEL: &str = "LOG_LEVEL";
/// Address `llm-server` binds.
pub const SERVER_HOST: &str = "SERVER_HOST";
/// Port `llm-server` binds.
pub const SERVER_PORT: &str = "SERVER_PORT";

/// Disables colour (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";
/// Set to `1` to rewrite `completions/` and `man/` instead of checking them.
pub const LLM_COOP_REGENERATE: &str = "LLM_COOP_REGENERATE";

/// Reads a boolean variable as people write them: `1`, `true`, `yes`, `on`, `y`, `t` or `0`,
/// `false`, `no`, `off`, `n`, `f`, in any case, around spaces. Empty is `None` (the
/// default, as if unset).
pub fn parse_bool(value: &str) -> Result<Option<bool>, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "1" | "true" | "yes" | "on" | "y" | "t" => Ok(Some(true)),
        "0" | "false" | "no" | "off" | "n" | "f" => Ok(Some(false)),
        other => Err(format!(
            "`{other}` is not a boolean; use 1/0, true/false, yes/no or on/off"
        )),
    }
}

/// [`parse_bool`] for a flag that is off by default: empty is `false`.
pub fn parse_flag(value: &str) -> Result<bool, String> {
    parse_bool(value).map(|v| v.unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_as_people_write_them() {
        for v in ["1", "true", "TRUE", "yes", "Yes", "on", " y "] {
            assert_eq!(parse_bool(v), Ok(Some(true)), "{v}");
        }
        for v in ["0", "false", "False", "no", "NO", "off", "n"] {
            assert_eq!(parse_bool(v), Ok(Some(false)), "{v}");
        }
        assert_eq!(parse_bool(""), Ok(None));
        assert_eq!(parse_flag(" "), Ok(false));
        let e = parse_bool("maybe").unwrap_err();
        assert!(e.contains("`maybe` is not a boolean"), "{e}");
    }
}
