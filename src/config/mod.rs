//! Configuration: the settings file, credentials, embedded presets, environment overrides.
//!
//! One precedence rule everywhere: embedded preset < user file < environment < flags.
//! A missing file is an empty layer; unknown keys and bad values are errors naming the file,
//! the key and the fix. Every write goes through [`ConfigStore::update`], which takes a file
//! lock, re-reads, applies the change, validates and replaces the files atomically.

mod credentials;
mod paths;
pub mod presets;
mod settings;
mod store;

use std::path::PathBuf;

pub use credentials::{Credentials, mask_key};
pub use paths::Paths;
pub use settings::{
    Defaults, HistorySettings, LocalModel, LocalSettings, ModelConfig, ProviderConfig,
    ProviderKind, RouterSettings, ServerSettings, Settings, Task,
};
pub use store::{ConfigStore, parse_settings, write_atomic};

use crate::env_vars;

/// The name of the provider set by `llm-config global` and by `BASE_URL`/`API_KEY`.
pub const GLOBAL_PROVIDER: &str = "global";

/// Everything that can be wrong with configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("Failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` is not valid: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("`{}`: {key}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error(
        "`{}` is readable by other users (mode {mode:o}); it holds API keys: run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    InsecureCredentials { path: PathBuf, mode: u32 },
    #[error("Unknown preset `{name}`; available presets: {available}")]
    UnknownPreset { name: String, available: String },
    #[error(
        "Unknown model `{name}`; configured models: {available}. Add it with `llm-config add-model --name {name} --path <upstream id>`"
    )]
    UnknownModel { name: String, available: String },
    #[error(
        "Unknown provider `{name}`; configured providers: {available}. Add one with `llm-config preset --name <preset>` or `llm-config global --base-url …`"
    )]
    UnknownProvider { name: String, available: String },
    #[error(
        "No model is configured: run `llm-config preset --name openai --api-key …` (or another preset; `llm-config preset --list` shows them), or set `BASE_URL`, `API_KEY` and `MODEL` for any OpenAI-compatible server"
    )]
    NoModels,
    #[error("{0}")]
    Usage(String),
}

/// The effective configuration: all layers merged, plus where each file lives.
#[derive(Debug, Clone)]
pub struct Config {
    pub paths: Paths,
    pub settings: Settings,
    pub credentials: Credentials,
    /// Environment lookups, captured once (tests inject their own).
    env: EnvSnapshot,
}

/// The environment variables configuration reads, captured at load time.
#[derive(Clone, Default)]
pub struct EnvSnapshot {
    vars: std::collections::BTreeMap<String, String>,
}

/// Names only: the values include API keys (`OPENAI_API_KEY`, `API_KEY`, …).
impl std::fmt::Debug for EnvSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvSnapshot")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl EnvSnapshot {
    /// Reads the process environment (after `.env` has been loaded into it).
    pub fn capture() -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        EnvSnapshot { vars }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        EnvSnapshot {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }
}

/// What reading `.env` did, for the entry point to say on stderr.
#[derive(Debug, Default)]
pub struct DotEnv {
    /// The file read, when there was one.
    pub path: Option<PathBuf>,
    /// The variables it set (names only: the values include keys).
    pub applied: Vec<String>,
    /// Variables it set that would send requests (and a stored key) elsewhere, not applied
    /// without `LLM_COOP_DOTENV=1`.
    pub refused: Vec<String>,
    /// Lines that are not `NAME=value`: (line number, why), skipped.
    pub bad_lines: Vec<(usize, String)>,
}

/// Whether `.env` may set a variable at all: those of this project (see `env_vars`) and the
/// provider keys presets read (`OPENAI_API_KEY`, …). Anything else in a shared `.env`
/// (`DATABASE_URL`, …) is not ours to read.
fn ours(name: &str) -> bool {
    name.starts_with("LLM_COOP_")
        || name.ends_with("_API_KEY")
        || [
            env_vars::BASE_URL,
            env_vars::API_KEY,
            env_vars::MODEL,
            env_vars::LOG_LEVEL,
            env_vars::SERVER_HOST,
            env_vars::SERVER_PORT,
            env_vars::NO_COLOR,
        ]
        .contains(&name)
}

/// Variables with which a `.env` (from any cloned repository) could send prompts, and the
/// keys the user stored or exported, to a host of its choosing: a base URL, another
/// configuration directory (whose providers may read exported keys), shared state.
const REDIRECTING: &[&str] = &[
    env_vars::BASE_URL,
    env_vars::LLM_COOP_CONFIG_DIR,
    env_vars::LLM_COOP_STATE,
];

/// Loads `./.env` (the working directory only) into the process environment: only this
/// project's variables, never overriding one already set. A variable that redirects requests
/// (`BASE_URL`, `LLM_COOP_CONFIG_DIR`, `LLM_COOP_STATE`) is applied only when the user opted
/// in with `LLM_COOP_DOTENV=1` in the real environment, or, for `BASE_URL`, when the same
/// `.env` also supplies the key that goes there (`API_KEY`, not already set), so no stored
/// key can reach it. A line that cannot be parsed is skipped and reported, never fatal.
pub fn load_dotenv() -> DotEnv {
    let path = PathBuf::from(".env");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return DotEnv::default();
    };
    let mut report = DotEnv {
        path: Some(std::env::current_dir().map_or(path.clone(), |d| d.join(&path))),
        ..DotEnv::default()
    };
    let consent = std::env::var(env_vars::LLM_COOP_DOTENV)
        .ok()
        .and_then(|v| env_vars::parse_flag(&v).ok())
        .unwrap_or(false);
    // Parsed line by line with dotenvy's own parser, so one bad line costs only itself.
    let mut accepted: Vec<(usize, &str, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match dotenvy::from_read_iter(line.as_bytes()).collect::<Result<Vec<_>, _>>() {
            Ok(pairs) => {
                for (name, _) in pairs {
                    // A `.env` cannot opt itself in.
                    if ours(&name)
                        && name != env_vars::LLM_COOP_DOTENV
                        && std::env::var_os(&name).is_none()
                    {
                        accepted.push((n + 1, line, name));
                    }
                }
            }
            Err(e) => report.bad_lines.push((n + 1, e.to_string())),
        }
    }
    let own_key = accepted
        .iter()
        .any(|(_, _, name)| name == env_vars::API_KEY);
    for (_, line, name) in accepted {
        let allowed = consent
            || !REDIRECTING.contains(&name.as_str())
            || (name == env_vars::BASE_URL && own_key);
        if !allowed {
            report.refused.push(name);
            continue;
        }
        if dotenvy::from_read(line.as_bytes()).is_ok() && std::env::var_os(&name).is_some() {
            report.applied.push(name);
        }
    }
    report
}

impl Config {
    /// Loads the files under `paths` and applies the environment layer.
    pub fn load(paths: Paths, env: EnvSnapshot) -> Result<Config, ConfigError> {
        // No file yet: the embedded default (the local demo model) until one is written.
        let settings =
            store::read_settings(&paths.config_file)?.unwrap_or_else(presets::embedded_default);
        let credentials = Credentials::read(&paths.credentials_file)?.unwrap_or_default();
        let mut config = Config {
            paths,
            settings,
            credentials,
            env,
        };
        config.apply_env();
        validate(&config.settings, &config.paths.config_file)?;
        Ok(config)
    }

    /// The environment layer: `BASE_URL`/`API_KEY` define (or override) the `global` provider,
    /// `MODEL`/`LLM_COOP_MODEL` the default model, `SERVER_HOST`/`SERVER_PORT` the server.
    fn apply_env(&mut self) {
        let env = &self.env;
        if let Some(base_url) = env.get(env_vars::BASE_URL) {
            let provider = self
                .settings
                .providers
                .entry(GLOBAL_PROVIDER.to_owned())
                .or_insert_with(|| ProviderConfig::openai(base_url));
            provider.base_url = base_url.to_owned();
        }
        let model = env
            .get(env_vars::LLM_COOP_MODEL)
            .or_else(|| env.get(env_vars::MODEL));
        if let Some(model) = model {
            let known = self.settings.models.iter().any(|m| m.name == model);
            // `auto` and virtual cooperation names are not upstream ids.
            let usable = check_model_name(model).is_ok();
            if !known && usable && self.settings.providers.contains_key(GLOBAL_PROVIDER) {
                // `MODEL` names an upstream id on the `global` provider, as in the original system.
                self.settings.models.push(ModelConfig {
                    name: model.to_owned(),
                    provider: GLOBAL_PROVIDER.to_owned(),
                    upstream: model.to_owned(),
                    tasks: vec![Task::Chat],
                    tier: 2,
                    price_in: 0.0,
                    price_out: 0.0,
                    context_window: 8192,
                    max_tokens: None,
                    temperature: None,
                    concurrency: None,
                    weight: 1.0,
                    tools: None,
                    reasoning: None,
                    json_schema: None,
                });
            }
            self.settings.defaults.model = Some(model.to_owned());
        }
        if let Some(host) = env.get(env_vars::SERVER_HOST) {
            self.settings.server.host = Some(host.to_owned());
        }
        if let Some(port) = env.get(env_vars::SERVER_PORT).and_then(|p| p.parse().ok()) {
            self.settings.server.port = Some(port);
        }
    }

    /// The key for `provider` and where it came from: its `api_key_env` variable (or
    /// `API_KEY` for `global`) wins over the credentials file.
    pub fn api_key(&self, provider: &str) -> Option<(String, KeySource)> {
        let cfg = self.settings.providers.get(provider);
        let env_name = cfg
            .and_then(|p| p.api_key_env.as_deref())
            .or((provider == GLOBAL_PROVIDER).then_some(env_vars::API_KEY));
        if let Some(name) = env_name
            && let Some(value) = self.env.get(name)
        {
            return Some((value.to_owned(), KeySource::Env(name.to_owned())));
        }
        self.credentials
            .get(provider)
            .map(|k| (k.to_owned(), KeySource::File))
    }

    /// The model used when a command names none: `[defaults] model` (or `MODEL` /
    /// `LLM_COOP_MODEL`). `None`: the router picks one per request; there is no other rule.
    pub fn default_model(&self) -> Option<&str> {
        self.settings.defaults.model.as_deref()
    }

    /// The model an alias (`[aliases]`) stands for; any other name as it is.
    pub fn resolve_model(&self, name: &str) -> String {
        self.settings
            .aliases
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    }

    /// All deployments of `name`, or an error listing what exists.
    pub fn deployments(&self, name: &str) -> Result<Vec<&ModelConfig>, ConfigError> {
        let found: Vec<_> = self
            .settings
            .models
            .iter()
            .filter(|m| m.name == name)
            .collect();
        if found.is_empty() {
            if self.settings.models.is_empty() {
                return Err(ConfigError::NoModels);
            }
            return Err(ConfigError::UnknownModel {
                name: name.to_owned(),
                available: self.model_names().join(", "),
            });
        }
        Ok(found)
    }

    /// Distinct model names in file order.
    pub fn model_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for m in &self.settings.models {
            if !names.contains(&m.name.as_str()) {
                names.push(&m.name);
            }
        }
        names
    }
}

/// Where an API key came from (shown by `llm-config list`/`show`, never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env(String),
    File,
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env(name) => write!(f, "env `{name}`"),
            KeySource::File => f.write_str("credentials file"),
        }
    }
}

/// Checks values serde cannot: references between tables, ranges, URLs.
/// Whether requests can name a model `name`: not `auto` (the router's pick), not a virtual
/// cooperation model (`coop/…`), and no commas or whitespace (lists of models split on
/// them). The error says why and what to do.
pub fn check_model_name(name: &str) -> Result<(), String> {
    let problem = if name.trim().is_empty() {
        "is empty"
    } else if name.eq_ignore_ascii_case("auto") {
        "is reserved: `auto` asks the router to pick a model"
    } else if name.starts_with(crate::cooperation::VIRTUAL_PREFIX) {
        "starts with `coop/`, which names a cooperation of several models"
    } else if name.contains(',') {
        "contains a comma, which separates models in `--models a,b`"
    } else if name.chars().any(char::is_whitespace) {
        "contains whitespace"
    } else {
        return Ok(());
    };
    Err(format!(
        "the model name `{name}` {problem}; choose another, e.g. `{}`",
        suggested_name(name)
    ))
}

/// `name` made usable: whitespace and commas become `-`, a `coop/` prefix and `auto` are
/// renamed.
fn suggested_name(name: &str) -> String {
    let base = name
        .trim()
        .trim_start_matches(crate::cooperation::VIRTUAL_PREFIX)
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if base.is_empty() || base.eq_ignore_ascii_case("auto") {
        format!("my-{}", if base.is_empty() { "model" } else { "auto" })
    } else {
        base
    }
}

pub fn validate(settings: &Settings, path: &std::path::Path) -> Result<(), ConfigError> {
    let invalid = |key: String, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        key,
        message,
    };
    for (name, p) in &settings.providers {
        let key = format!("providers.{name}.base_url");
        let url = reqwest::Url::parse(&p.base_url).map_err(|e| {
            invalid(
                key.clone(),
                format!(
                    "`{}` is not a URL ({e}); use e.g. `https://api.openai.com/v1`",
                    p.base_url
                ),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(
                key,
                format!("`{}` must start with `http://` or `https://`", p.base_url),
            ));
        }
        for (field, value) in [
            ("connect_timeout_secs", p.connect_timeout_secs),
            ("first_byte_timeout_secs", p.first_byte_timeout_secs),
            ("total_timeout_secs", p.total_timeout_secs),
        ] {
            check_timeout(value).map_err(|m| invalid(format!("providers.{name}.{field}"), m))?;
        }
    }
    let r = &settings.router;
    if let Some(q) = r.quality_priority
        && !(0.0..=1.0).contains(&q)
    {
        return Err(invalid(
            "router.quality_priority".into(),
            format!("{q} is out of range; use 0.0 (price and speed) to 1.0 (quality)"),
        ));
    }
    for (field, value) in [
        ("cooldown_secs", r.cooldown_secs),
        ("max_cooldown_secs", r.max_cooldown_secs),
    ] {
        check_timeout(value).map_err(|m| invalid(format!("router.{field}"), m))?;
    }
    if let Some(n) = r.failures_before_cooldown
        && !(1..=1000).contains(&n)
    {
        return Err(invalid(
            "router.failures_before_cooldown".into(),
            format!("{n} is out of range; use 1 to 1000 failures in a row"),
        ));
    }
    if let (Some(first), Some(max)) = (r.cooldown_secs, r.max_cooldown_secs)
        && first > max
    {
        return Err(invalid(
            "router.cooldown_secs".into(),
            format!(
                "{first} is longer than `max_cooldown_secs` ({max}); lower it or raise the maximum"
            ),
        ));
    }
    if let Some(v) = r.max_retry_wait_secs
        && !(v.is_finite() && (0.0..=600.0).contains(&v))
    {
        return Err(invalid(
            "router.max_retry_wait_secs".into(),
            format!("{v} is out of range; use seconds between 0 and 600"),
        ));
    }
    if let Some(ms) = r.decision_cache_ttl_ms
        && ms > 3_600_000
    {
        return Err(invalid(
            "router.decision_cache_ttl_ms".into(),
            format!("{ms} is out of range; use 0 (no cache) to 3600000 ms"),
        ));
    }
    if let Some(n) = r.affinity_imbalance
        && n > 1_000_000
    {
        return Err(invalid(
            "router.affinity_imbalance".into(),
            format!("{n} is out of range; use 0 to 1000000 requests"),
        ));
    }
    check_server(&settings.server)
        .map_err(|(field, message)| invalid(format!("server.{field}"), message))?;
    for (alias, model) in &settings.aliases {
        let key = format!("aliases.{alias}");
        check_model_name(alias).map_err(|message| invalid(key.clone(), message))?;
        if settings.models.iter().any(|m| &m.name == alias) {
            return Err(invalid(
                key,
                format!(
                    "`{alias}` is the name of a model; an alias may not shadow one (`llm-config alias --remove {alias}`)"
                ),
            ));
        }
        if !settings.models.iter().any(|m| &m.name == model) {
            return Err(invalid(
                key,
                format!(
                    "`{model}` is not a configured model; point the alias at one (`llm-config alias {alias} MODEL`) or remove it (`llm-config alias --remove {alias}`)"
                ),
            ));
        }
    }
    for (key, retries) in std::iter::once((
        "defaults.max_retries".to_owned(),
        settings.defaults.max_retries,
    ))
    .chain(
        settings
            .providers
            .iter()
            .map(|(name, p)| (format!("providers.{name}.max_retries"), p.max_retries)),
    ) {
        if let Some(n) = retries
            && n > 10
        {
            return Err(invalid(
                key,
                format!("{n} is out of range; use 0 to 10 retries"),
            ));
        }
    }
    for (field, value) in [
        (
            "connect_timeout_secs",
            settings.defaults.connect_timeout_secs,
        ),
        (
            "first_byte_timeout_secs",
            settings.defaults.first_byte_timeout_secs,
        ),
        ("total_timeout_secs", settings.defaults.total_timeout_secs),
    ] {
        check_timeout(value).map_err(|m| invalid(format!("defaults.{field}"), m))?;
    }
    for (i, m) in settings.models.iter().enumerate() {
        let key = |field: &str| format!("models[{i}].{field} (model `{}`)", m.name);
        if m.name.trim().is_empty() {
            return Err(invalid(
                format!("models[{i}].name"),
                "must not be empty".into(),
            ));
        }
        check_model_name(&m.name).map_err(|message| invalid(key("name"), message))?;
        if !settings.providers.contains_key(&m.provider) {
            let available: Vec<_> = settings.providers.keys().map(String::as_str).collect();
            return Err(invalid(
                key("provider"),
                format!(
                    "`{}` is not a configured provider (configured: {}); add it with `llm-config preset --name {}` or fix the name",
                    m.provider,
                    if available.is_empty() {
                        "none".to_owned()
                    } else {
                        available.join(", ")
                    },
                    m.provider
                ),
            ));
        }
        if m.upstream.trim().is_empty() {
            return Err(invalid(key("upstream"), "must not be empty".into()));
        }
        if !(1..=5).contains(&m.tier) {
            return Err(invalid(
                key("tier"),
                format!(
                    "{} is out of range; use 1 (weakest) to 5 (strongest)",
                    m.tier
                ),
            ));
        }
        if !(m.price_in >= 0.0
            && m.price_out >= 0.0
            && m.price_in.is_finite()
            && m.price_out.is_finite())
        {
            return Err(invalid(
                key("price_in/price_out"),
                "prices are USD per million tokens and must be 0 or more".into(),
            ));
        }
        if m.context_window == 0 {
            return Err(invalid(
                key("context_window"),
                "must be at least 1 token".into(),
            ));
        }
        if let Some(t) = m.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(invalid(
                key("temperature"),
                format!("{t} is out of range; use 0.0 to 2.0"),
            ));
        }
        if m.max_tokens == Some(0) {
            return Err(invalid(key("max_tokens"), "must be at least 1".into()));
        }
        if m.concurrency == Some(0) {
            return Err(invalid(
                key("concurrency"),
                "must be at least 1 (omit it for no cap)".into(),
            ));
        }
        if !(m.weight > 0.0 && m.weight.is_finite()) {
            return Err(invalid(key("weight"), "must be greater than 0".into()));
        }
    }
    for (i, m) in settings.local.models.iter().enumerate() {
        if !(1..=64).contains(&m.tp) {
            return Err(invalid(
                format!("local.models[{i}].tp (model `{}`)", m.name),
                format!("{} is out of range; use 1 to 64 ranks", m.tp),
            ));
        }
        if let Some(d) = &m.dtype
            && !matches!(d.as_str(), "auto" | "native" | "f32" | "bf16")
        {
            return Err(invalid(
                format!("local.models[{i}].dtype (model `{}`)", m.name),
                format!("`{d}` is not supported; use `auto`, `native`, `f32` or `bf16`"),
            ));
        }
    }
    for (i, m) in settings.models.iter().enumerate() {
        let local = settings
            .providers
            .get(&m.provider)
            .is_some_and(|p| p.kind == ProviderKind::Local);
        if local && !settings.local.models.iter().any(|l| l.name == m.upstream) {
            return Err(invalid(
                format!("models[{i}].upstream (model `{}`)", m.name),
                format!(
                    "`{}` is on the local provider `{}` but no `[[local.models]]` entry has that name; add one with its `path`",
                    m.upstream, m.provider
                ),
            ));
        }
    }
    if let Some(model) = &settings.defaults.model
        && !settings.models.iter().any(|m| &m.name == model)
    {
        return Err(invalid(
            "defaults.model".into(),
            format!(
                "`{model}` is not a configured model; add it with `llm-config add-model` or change the default"
            ),
        ));
    }
    Ok(())
}

/// `[server]`: every duration, size and count within sane bounds, so that building the
/// server from them cannot panic (a negative or infinite duration would) or starve it.
fn check_server(s: &ServerSettings) -> Result<(), (&'static str, String)> {
    let range = |field: &'static str, v: Option<f64>, lo: f64, hi: f64, unit: &str| match v {
        Some(v) if !(v.is_finite() && v > lo && v <= hi) => Err((
            field,
            format!("{v} is out of range; use {unit} greater than {lo} and at most {hi}"),
        )),
        _ => Ok(()),
    };
    let count = |field: &'static str, v: Option<u64>, lo: u64, hi: u64, what: &str| match v {
        Some(v) if !(lo..=hi).contains(&v) => Err((
            field,
            format!("{v} is out of range; use {lo} to {hi} {what}"),
        )),
        _ => Ok(()),
    };
    let usize_ = |v: Option<usize>| v.map(|v| v as u64);
    range(
        "request_timeout_secs",
        s.request_timeout_secs,
        0.0,
        86_400.0,
        "seconds",
    )?;
    range(
        "response_cache_ttl_secs",
        s.response_cache_ttl_secs,
        0.0,
        30.0 * 86_400.0,
        "seconds",
    )?;
    range(
        "session_ttl_minutes",
        s.session_ttl_minutes,
        0.0,
        365.0 * 24.0 * 60.0,
        "minutes",
    )?;
    range(
        "responses_ttl_minutes",
        s.responses_ttl_minutes,
        0.0,
        365.0 * 24.0 * 60.0,
        "minutes",
    )?;
    if let Some(v) = s.shutdown_grace_secs
        && !(v.is_finite() && (0.0..=3600.0).contains(&v))
    {
        return Err((
            "shutdown_grace_secs",
            format!("{v} is out of range; use seconds between 0 and 3600"),
        ));
    }
    count(
        "max_body_bytes",
        usize_(s.max_body_bytes),
        1024,
        1 << 30,
        "bytes (1 KiB to 1 GiB)",
    )?;
    count(
        "max_concurrency",
        usize_(s.max_concurrency),
        1,
        1_000_000,
        "requests",
    )?;
    count("workers", usize_(s.workers), 1, 1024, "threads")?;
    count(
        "session_max_messages",
        usize_(s.session_max_messages),
        2,
        1_000_000,
        "messages",
    )?;
    count(
        "rate_limit_requests_per_minute",
        s.rate_limit_requests_per_minute,
        1,
        u64::MAX / 2,
        "requests (omit it for no limit)",
    )?;
    count(
        "rate_limit_tokens_per_minute",
        s.rate_limit_tokens_per_minute,
        1,
        u64::MAX / 2,
        "tokens (omit it for no limit)",
    )?;
    if let Some(state) = &s.state
        && state != "memory"
        && !(state.starts_with("redis://") || state.starts_with("rediss://"))
    {
        return Err((
            "state",
            format!("`{state}` is not a state store; use `memory` or `redis://host:port/db`"),
        ));
    }
    Ok(())
}

fn check_timeout(value: Option<f64>) -> Result<(), String> {
    match value {
        Some(v) if !(v > 0.0 && v.is_finite() && v <= 86_400.0) => Err(format!(
            "{v} is out of range; use seconds between 0 and 86400"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str, provider: &str) -> ModelConfig {
        ModelConfig {
            name: name.into(),
            provider: provider.into(),
            upstream: name.into(),
            tasks: vec![],
            tier: 2,
            price_in: 0.0,
            price_out: 0.0,
            context_window: 1000,
            max_tokens: None,
            temperature: None,
            concurrency: None,
            weight: 1.0,
            tools: None,
            reasoning: None,
            json_schema: None,
        }
    }

    #[test]
    fn validation_names_the_key_and_fix() {
        let mut s = Settings::default();
        s.models.push(model("m", "nowhere"));
        let err = validate(&s, std::path::Path::new("/c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("models[0].provider"), "{err}");
        assert!(err.contains("llm-config preset"), "{err}");
    }

    #[test]
    fn env_layer_defines_global_provider_and_model() {
        let dir = tempfile::tempdir().unwrap();
        let env = EnvSnapshot::from_pairs([
            ("BASE_URL", "http://127.0.0.1:9/v1"),
            ("API_KEY", "sk-env"),
            ("MODEL", "qwen"),
        ]);
        let c = Config::load(Paths::in_dir(dir.path()), env).unwrap();
        assert_eq!(c.default_model(), Some("qwen"));
        assert_eq!(c.deployments("qwen").unwrap()[0].provider, GLOBAL_PROVIDER);
        let (key, source) = c.api_key(GLOBAL_PROVIDER).unwrap();
        assert_eq!(key, "sk-env");
        assert_eq!(source, KeySource::Env("API_KEY".into()));
    }
}
