//! The shape of `config.toml`: providers, models (deployments), defaults and server settings.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The whole settings file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default, skip_serializing_if = "Defaults::is_empty")]
    pub defaults: Defaults,
    #[serde(default, skip_serializing_if = "ServerSettings::is_empty")]
    pub server: ServerSettings,
    #[serde(default, skip_serializing_if = "RouterSettings::is_empty")]
    pub router: RouterSettings,
    #[serde(default, skip_serializing_if = "HistorySettings::is_empty")]
    pub history: HistorySettings,
    #[serde(default, skip_serializing_if = "LocalSettings::is_empty")]
    pub local: LocalSettings,
    /// Other names for models (`llm-config alias NAME MODEL`), accepted wherever the command
    /// line takes a model name: `[aliases] fast = "gpt-4o-mini"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, String>,
    /// Providers by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Model deployments. Several entries with one `name` are replicas of that model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelConfig>,
}

/// Settings that apply when a request or command does not say otherwise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// The model used when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Seconds to establish a connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_secs: Option<f64>,
    /// Seconds until the response headers (or first streamed byte) arrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_timeout_secs: Option<f64>,
    /// Seconds for the whole request, retries included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_timeout_secs: Option<f64>,
    /// Retries after the first attempt on 429, 5xx and connection errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
}

impl Defaults {
    fn is_empty(&self) -> bool {
        self == &Defaults::default()
    }
}

/// How `llm-server` listens and protects itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Largest request body, in bytes (default 4 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// Seconds a request may take, streams included (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_secs: Option<f64>,
    /// Requests handled at once; more are shed with 503 and `Retry-After` (default 1024).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<usize>,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_grace_secs: Option<f64>,
    /// Threads serving HTTP (default: one per core). Fewer leave cores to other processes
    /// on the same machine, such as local models or a load generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Minutes a conversation session lives after its last use (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_ttl_minutes: Option<f64>,
    /// Minutes a stored Responses API response (`store`, the default) is kept for
    /// `previous_response_id` and `GET /v1/responses/{id}` (default 1440, a day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses_ttl_minutes: Option<f64>,
    /// Messages a session keeps (oldest dropped first; default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_max_messages: Option<usize>,
    /// Where replicas share sessions, cooldowns, counters, rate limits and cached answers:
    /// `memory` (this process; the default) or `redis://host:port/db`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Most requests per minute for each gateway token (across replicas with Redis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_requests_per_minute: Option<u64>,
    /// Most tokens (input + output) per minute for each gateway token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_tokens_per_minute: Option<u64>,
    /// Cache answers to deterministic requests (temperature 0 or a seed) without being asked;
    /// a request can always ask with `"cache": true` or `x-cache: on`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub response_cache: bool,
    /// How long a cached answer is served (default 300 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_cache_ttl_secs: Option<f64>,
    /// Forward a request to an upstream of its own protocol as the client wrote it, without
    /// decoding it (default `true`): about 4× less work for a large agent request. The
    /// upstream then judges a malformed request; when it refuses one, the client gets the
    /// gateway's own message for it. `false` decodes and checks every request before
    /// anything is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_as_written: Option<bool>,
    /// Serve `/health` without a token when tokens are required.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public_health: bool,
    /// Serve `/metrics` without a token when tokens are required.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public_metrics: bool,
}

impl ServerSettings {
    fn is_empty(&self) -> bool {
        self == &ServerSettings::default()
    }
}

/// Models `llm-server` runs itself (cargo feature `local`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSettings {
    /// Whether `llm-cooperation` starts `llm-server` in the background when a local model is
    /// asked for and no server answers at the local provider's `base_url` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<LocalModel>,
}

impl LocalSettings {
    fn is_empty(&self) -> bool {
        self == &LocalSettings::default()
    }
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

/// One local model: a `.gguf` file or a Hugging Face directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalModel {
    /// The name a local provider's models use as their `upstream`.
    pub name: String,
    pub path: std::path::PathBuf,
    /// Tensor-parallel ranks (at most the number of attention heads).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub tp: usize,
    /// `auto` (the default: `native` for quantized GGUF files on x86-64 CPUs, bf16 on GPUs and
    /// on CPUs with AVX-512 BF16, else f32), `native` (GGUF blocks multiplied as stored), `f32`
    /// or `bf16`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<String>,
    /// Requests decoded together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch: Option<usize>,
    /// `cpu` or `cuda:N` per rank, comma-separated (default: all on the CPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<String>,
}

/// The history of runs (`llm-cooperation logs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistorySettings {
    /// Record runs (default true); `--no-log` turns it off for one command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The database file (default `history.db` in the data directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
}

impl HistorySettings {
    fn is_empty(&self) -> bool {
        self == &HistorySettings::default()
    }
}

/// How requests without a named model are routed, and how health is tracked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterSettings {
    /// `auto`, `fastest`, `cheapest` or `quality`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<crate::router::Strategy>,
    /// For `auto`: 0 favours price and speed, 1 favours quality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_priority: Option<f32>,
    /// How replicas of one model share requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<crate::router::BalancePolicy>,
    /// Failures in a row that start a cooldown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures_before_cooldown: Option<u32>,
    /// First cooldown, in seconds; doubles after a failed probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cooldown_secs: Option<f64>,
    /// How long an identical analysis reuses a routing decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_cache_ttl_ms: Option<u64>,
    /// Extra in-flight requests a prefix-affine replica may carry before spilling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity_imbalance: Option<u32>,
    /// Longest wait, in seconds, before retrying a deployment that failed when no other
    /// deployment can serve the request (default 2). With another candidate, a failure
    /// fails over at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retry_wait_secs: Option<f64>,
}

impl RouterSettings {
    fn is_empty(&self) -> bool {
        self == &RouterSettings::default()
    }
}

/// The wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenAI-compatible API (`/chat/completions`).
    Openai,
    /// Anthropic's Messages API (`/messages`).
    Anthropic,
    /// Models in `[local]`, run on libtorch by `llm-server` itself; other processes reach
    /// them through that server's OpenAI protocol at `base_url` (and may start it).
    Local,
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Local => "local",
        })
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// One upstream API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// Base URL including the version path, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// An environment variable that holds the key (it wins over the credentials file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Whether requests need a key (false for local servers).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub needs_key: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Per-provider overrides of the timeouts and retries in `[defaults]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_timeout_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_timeout_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// The provider serves OpenAI's Responses API itself (`POST {base_url}/responses`):
    /// `/v1/responses` requests for a model whose deployments are all on such providers are
    /// forwarded as they came (model name rewritten), hosted tools included, instead of being
    /// bridged through chat. On in the `openai` preset.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub responses: bool,
}

impl ProviderConfig {
    /// A keyed OpenAI-compatible provider at `base_url`.
    pub fn openai(base_url: impl Into<String>) -> Self {
        ProviderConfig {
            kind: ProviderKind::Openai,
            base_url: base_url.into(),
            api_key_env: None,
            needs_key: true,
            description: None,
            connect_timeout_secs: None,
            first_byte_timeout_secs: None,
            total_timeout_secs: None,
            max_retries: None,
            responses: false,
        }
    }
}

/// What a model is good at; the router matches these against the analysed request.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum Task {
    Chat,
    Code,
    Math,
    Reasoning,
    Translation,
    Summarization,
    Extraction,
    Creative,
    Vision,
    LongContext,
    /// An embedding model: it serves `/v1/embeddings` (and `embed`), never chat.
    Embedding,
}

impl Task {
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Chat => "chat",
            Task::Code => "code",
            Task::Math => "math",
            Task::Reasoning => "reasoning",
            Task::Translation => "translation",
            Task::Summarization => "summarization",
            Task::Extraction => "extraction",
            Task::Creative => "creative",
            Task::Vision => "vision",
            Task::LongContext => "long-context",
            Task::Embedding => "embedding",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn default_tier() -> u8 {
    2
}

fn default_context() -> u32 {
    8192
}

fn default_weight() -> f64 {
    1.0
}

fn is_default_weight(w: &f64) -> bool {
    *w == 1.0
}

/// One deployment of a model on a provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The name users and requests refer to.
    pub name: String,
    /// A key of `[providers]`.
    pub provider: String,
    /// The id sent upstream (the `--path` of `llm-config add-model`).
    #[serde(alias = "path")]
    pub upstream: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Task>,
    /// Quality tier, 1 (weakest) to 5 (strongest).
    #[serde(default = "default_tier")]
    pub tier: u8,
    /// USD per million input tokens.
    #[serde(default)]
    pub price_in: f64,
    /// USD per million output tokens.
    #[serde(default)]
    pub price_out: f64,
    #[serde(default = "default_context")]
    pub context_window: u32,
    /// Default `max_tokens` when a request sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Default temperature when a request sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Most requests in flight at once to this deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Share of traffic among replicas of one name (weighted balancing).
    #[serde(default = "default_weight", skip_serializing_if = "is_default_weight")]
    pub weight: f64,
    /// Whether the model takes tools (function calling). Default: yes, except local models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<bool>,
    /// Whether the model reasons on request (`reasoning_effort`, `thinking`). Default: yes,
    /// except local models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<bool>,
    /// Whether the model follows a `json_schema` response format. Default: yes, except
    /// local models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<bool>,
}

/// What a model can be asked for beyond text, resolved from its config and provider kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub tools: bool,
    pub vision: bool,
    pub reasoning: bool,
    pub json_schema: bool,
}

impl ModelConfig {
    /// The model's capabilities: what its config says, else what its provider kind can do
    /// (the local runner has no tool calling, reasoning switch or constrained decoding).
    pub fn capabilities(&self, kind: ProviderKind) -> Capabilities {
        let remote = kind != ProviderKind::Local;
        Capabilities {
            tools: self.tools.unwrap_or(remote),
            vision: self.tasks.contains(&Task::Vision),
            reasoning: self.reasoning.unwrap_or(remote),
            json_schema: self.json_schema.unwrap_or(remote),
        }
    }

    /// Estimated USD cost of a request with these token counts.
    pub fn cost(&self, input_tokens: u32, output_tokens: u32) -> f64 {
        (f64::from(input_tokens) * self.price_in + f64::from(output_tokens) * self.price_out) / 1e6
    }
}
