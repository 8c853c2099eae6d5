//! Every environment variable the toolchain reads, in one place.

/// Overrides the configuration directory (`config.toml`, `credentials.toml`).
pub const LLM_COOP_CONFIG_DIR: &str = "LLM_COOP_CONFIG_DIR";
/// `0` or `false`: never start `llm-server` for local models (like `[local] autostart = false`).
pub const LLM_COOP_AUTOSTART: &str = "LLM_COOP_AUTOSTART";
/// Where local model files are looked for first.
pub const LLM_COOP_MODELS_DIR: &str = "LLM_COOP_MODELS_DIR";
/// Overrides the data directory (`history.db`, `models/`, `llm-server.log`).
pub const LLM_COOP_DATA_DIR: &str = "LLM_COOP_DATA_DIR";
/// Set to `1`/`true` to record nothing in the history (like `--no-log`).
pub const LLM_COOP_NO_LOG: &str = "LLM_COOP_NO_LOG";
/// The model used when a command names none.
pub const LLM_COOP_MODEL: &str = "LLM_COOP_MODEL";
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
