//! Command-line definitions for all three binaries (clap derive; doc comments are the help).
//!
//! Kept apart from `commands/` so tests and the docs generator can call `Cli::command()`.

pub mod docs;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Task;
use crate::env_vars;
use crate::router::Strategy;

/// Flags every binary accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Configuration directory (holds `config.toml` and `credentials.toml`).
    #[arg(long, global = true, env = env_vars::LLM_COOP_CONFIG_DIR, value_name = "DIR")]
    pub config: Option<PathBuf>,

    /// More log output on stderr (`-v` info, `-vv` debug, `-vvv` trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// When to use colour.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` is set.
    Auto,
    Always,
    Never,
}

/// Ask, chat, compare and make several LLMs cooperate.
///
/// Models come from the configuration that `llm-config` manages. Exit codes, the same for
/// every command: 0 success, 1 the models failed, 2 a usage or configuration error (a missing
/// input file included), 130 interrupted (Ctrl-C). With `--json`, a failed `query`,
/// `cooperate` or `service` prints `{text: null, error: {kind, message}}` on stdout.
#[derive(Debug, Parser)]
#[command(name = "llm-cooperation", version, max_term_width = 100)]
pub struct CooperationCli {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Do not record this run in the history (`llm-cooperation logs`); also accepted after
    /// the commands that record runs (query, chat, cooperate, service).
    #[arg(long)]
    pub no_log: bool,
    #[command(subcommand)]
    pub command: CooperationCommand,
}

impl CooperationCli {
    /// Whether to record nothing: `--no-log` before or after the command, or
    /// `LLM_COOP_NO_LOG`.
    pub fn no_log(&self) -> bool {
        let after = match &self.command {
            CooperationCommand::Query(a) => a.log.no_log,
            CooperationCommand::Chat(a) => a.log.no_log,
            CooperationCommand::Cooperate(a) => a.log.no_log,
            CooperationCommand::Service(a) => a.log.no_log,
            _ => false,
        };
        self.no_log || after
    }
}

/// `--no-log`, on the commands that record runs (the others never do, so their help does
/// not offer it).
#[derive(Debug, Clone, Args)]
pub struct NoLog {
    /// Do not record this run in the history (`llm-cooperation logs`). The variable takes
    /// 1/0, true/false, yes/no or on/off; empty is false.
    #[arg(long, env = env_vars::LLM_COOP_NO_LOG, value_parser = env_vars::parse_flag)]
    pub no_log: bool,
}

#[derive(Debug, Subcommand)]
pub enum CooperationCommand {
    /// Ask one model a question.
    ///
    /// The prompt comes from the arguments or `--query`; piped standard input comes before it
    /// (`cat notes.txt | llm-cooperation query "Summarise this"`), or is the whole prompt. On
    /// a terminal the answer streams as it is written.
    #[command(visible_alias = "ask")]
    Query(QueryArgs),
    /// Chat in a session kept in the history: `/model`, `/mode`, `/clear`, `/help`, `/exit`;
    /// end a line with `\` to continue it, or wrap a block in `"""`.
    ///
    /// Without a terminal, each line of standard input is one turn.
    Chat(ChatArgs),
    /// List, search, show and delete the history of runs.
    Logs(LogsArgs),
    /// List the configured models: tasks, tier, price, context window and readiness.
    Models(ListArgs),
    /// Check that each provider answers (and how fast), and show a running server's stats.
    Status(StatusArgs),
    /// Send a short real request to each model and report latency and result.
    Test(TestArgs),
    /// Make several models work on one task: sequential, parallel, voting, pipeline,
    /// ensemble (mixture-of-agents) or cascade.
    ///
    /// The task comes from the arguments or `--query`; piped standard input comes before it, or
    /// is the whole task. On a terminal, one line per model shows its progress, and a table of every step (model,
    /// latency, tokens, cost, votes) follows the answer. `--json` prints the answer with its
    /// receipt. Ctrl-C cancels the run and prints the partial receipt (exit code 130); a
    /// second Ctrl-C exits at once. A failed run prints its partial receipt too (exit code 1).
    Cooperate(CooperateArgs),
    /// Analyse a document, find insight in data, or support a decision.
    ///
    /// The input is a file, or standard input when no file (or `-`) is given. Facts that can
    /// be computed (document length, the numeric series in the data and their statistics,
    /// the options a decision lists) are computed exactly; a model (or several, merged)
    /// writes the analysis. `--json` prints the structured result with its receipt.
    Service(ServiceArgs),
    /// Turn text into vectors with an embedding model (a model with the task `embedding`).
    ///
    /// The text is the arguments, or each non-empty line of standard input (one vector per
    /// line, in order: `cat lines.txt | llm-cooperation embed > vectors.jsonl`). Prints one
    /// JSON array per line; `--json` prints `{model, usage, vectors}`.
    Embed(EmbedArgs),
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// The text (several words are joined with spaces); without it, standard input's lines.
    #[arg(value_name = "TEXT")]
    pub text: Vec<String>,
    /// The embedding model (default: the first model with the task `embedding`).
    #[arg(short, long)]
    pub model: Option<String>,
    /// Fewer dimensions than the model's own (models that support it).
    #[arg(long)]
    pub dimensions: Option<u32>,
    /// Print `{model, usage, vectors}` as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CooperateArgs {
    /// The task (several words are joined with spaces).
    #[arg(value_name = "TASK", conflicts_with = "query")]
    pub prompt: Vec<String>,

    /// The task, as an option.
    #[arg(short, long, value_name = "TEXT")]
    pub query: Option<String>,

    /// How the models cooperate (default: `pipeline` with `--workflow`, else `parallel`).
    #[arg(long, value_enum)]
    pub mode: Option<crate::cooperation::Mode>,

    /// The models, comma-separated or repeated; `auto` lets the router pick, and a model may
    /// repeat (`--models m,m,m` votes three samples of one model: each copy gets its own seed,
    /// and a model at temperature 0 samples at 0.7, as the receipt notes). For `cascade`,
    /// the highest tier is the strong model and the others are tried first.
    #[arg(long, value_delimiter = ',', value_name = "MODEL")]
    pub models: Vec<String>,

    /// How `parallel` answers become one (default `synthesize`); `sequential` with
    /// `synthesize` adds an integrator that reads every version.
    #[arg(long, value_enum)]
    pub integration: Option<crate::cooperation::Integration>,

    /// The judge or aggregator: it merges (`synthesize`, `ensemble`), picks the best (`best`),
    /// breaks voting ties, integrates `sequential` answers, or verifies a `cascade`'s cheap
    /// answer. Default: the highest-tier model, where one is needed.
    #[arg(long, value_name = "MODEL")]
    pub judge: Option<String>,

    /// Voting rounds: after the first, models see the tally and vote again while they
    /// disagree.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub rounds: u32,

    /// Ensemble layers of proposers, each seeing the previous layer's answers.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=6))]
    pub layers: u32,

    /// A workflow file (TOML) of named steps with models, prompt templates and
    /// `depends_on`, for `pipeline`.
    #[arg(long, value_name = "FILE")]
    pub workflow: Option<PathBuf>,

    /// Most model calls in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,

    /// Seconds each model call may take.
    #[arg(long, default_value_t = 120.0, value_parser = parse_secs, value_name = "SECS")]
    pub timeout: f64,

    /// Stop at the first failed step (default: keep going while a quorum of answers remains).
    #[arg(long, conflicts_with = "quorum")]
    pub fail_fast: bool,

    /// Answers each tally or integration needs (default: at least half of its models).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub quorum: Option<u32>,

    /// Most tokens each model call may generate.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_tokens: Option<u32>,

    /// Sampling temperature of every model call, 0.0 to 2.0.
    #[arg(short, long, value_parser = parse_temperature)]
    pub temperature: Option<f32>,

    /// Print the plan (steps, models, dependencies, conditions) and exit without calling a
    /// model.
    #[arg(long)]
    pub plan: bool,

    #[command(flatten)]
    pub log: NoLog,

    /// Print the answer with its receipt as JSON; a failed or interrupted run prints
    /// `{text: null, error: {kind, message}, receipt}` with the partial receipt.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The service.
    #[arg(value_enum)]
    pub service: crate::services::Service,

    /// The input file; standard input when absent or `-`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// What to produce. document-analysis: comprehensive (default), summary, key-points,
    /// sentiment; data-insight: trends (default), anomalies, statistics; decision-support:
    /// recommendation (default), comparison, risk.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,

    /// Models to ask in parallel, their answers merged (default: one model the router picks).
    #[arg(short, long, value_delimiter = ',', value_name = "MODEL")]
    pub models: Vec<String>,

    /// The model that merges several `--models` answers (default: the highest tier).
    #[arg(long, value_name = "MODEL")]
    pub judge: Option<String>,

    /// Most tokens each model call may generate.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_tokens: Option<u32>,

    /// Seconds each model call may take.
    #[arg(long, default_value_t = 120.0, value_parser = parse_secs, value_name = "SECS")]
    pub timeout: f64,

    #[command(flatten)]
    pub log: NoLog,

    /// Print the structured result (facts, analysis, findings, receipt) as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{v} is not a duration; use seconds greater than 0"))
    }
}

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Model name, or `auto` for the router (default: `[defaults] model`, else `auto`).
    #[arg(short, long, env = env_vars::LLM_COOP_MODEL)]
    pub model: Option<String>,
    /// A system prompt for the session.
    #[arg(short, long, value_name = "TEXT")]
    pub system: Option<String>,
    /// Attach a file to the first message (repeatable): a text file is put in it under its
    /// name, an image (PNG, JPEG, GIF, WebP) is sent as an image.
    #[arg(short, long = "attach", value_name = "FILE")]
    pub attach: Vec<PathBuf>,
    /// Resume the most recent chat session.
    #[arg(short = 'c', long = "continue", conflicts_with = "session")]
    pub resume: bool,
    /// Resume the session with this name, or start one under it.
    #[arg(long, value_name = "NAME")]
    pub session: Option<String>,
    /// Most tokens per answer.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_tokens: Option<u32>,
    /// Sampling temperature, 0.0 to 2.0.
    #[arg(short, long, value_parser = parse_temperature)]
    pub temperature: Option<f32>,
    #[command(flatten)]
    pub log: NoLog,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(subcommand)]
    pub action: Option<LogsAction>,
    /// How many runs to list, newest first.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub count: usize,
    /// Only runs answered by this model.
    #[arg(short, long)]
    pub model: Option<String>,
    /// Only runs of this cooperation mode, or of this service (`decision-support`) or service
    /// type (`decision-support/comparison`).
    #[arg(long)]
    pub mode: Option<String>,
    /// Only runs of this kind.
    #[arg(long, value_parser = ["query", "chat", "cooperate", "service"])]
    pub kind: Option<String>,
    /// Only runs whose prompt or answer contains this text.
    #[arg(short = 'q', long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only the runs of this conversation (`logs sessions` lists them).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Machine-readable output.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum LogsAction {
    /// Everything recorded about one run, its receipt included.
    Show {
        /// The run's id (first column of `logs`).
        id: i64,
    },
    /// The conversations (chat sessions and continued queries), most recently used first;
    /// `query --session ID`, `chat --session ID` and `logs --session ID` take their ids.
    Sessions,
    /// Delete runs by id, or all of them.
    Rm {
        /// The runs' ids (first column of `logs`).
        #[arg(required_unless_present = "all")]
        ids: Vec<i64>,
        /// Delete the whole history (on a terminal, after asking).
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Do not ask before `--all` deletes the history.
        #[arg(short, long, requires = "all")]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Seconds to wait for each provider.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The prompt (several words are joined with spaces).
    #[arg(value_name = "PROMPT", conflicts_with = "query")]
    pub prompt: Vec<String>,

    /// The prompt, as an option.
    #[arg(short, long, value_name = "TEXT")]
    pub query: Option<String>,

    /// Attach a file (repeatable): a text file is put in the prompt under its name, an image
    /// (PNG, JPEG, GIF, WebP) is sent as an image; `-` is standard input.
    #[arg(short, long = "attach", value_name = "FILE")]
    pub attach: Vec<PathBuf>,

    /// Use the saved prompt `templates/NAME.txt` (or `.md`) from the configuration directory
    /// (`llm-config path` shows it): `{{input}}` in it is replaced by the input (standard
    /// input, then the prompt arguments); without the placeholder the input follows it.
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,

    /// Continue the most recent conversation in the history (a query or a chat): its earlier
    /// turns, model and system prompt go with this prompt, and this exchange joins it.
    #[arg(short = 'c', long = "continue", conflicts_with = "session")]
    pub resume: bool,

    /// Continue the conversation with this session id (`llm-cooperation logs sessions` lists
    /// them).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,

    /// Model name from the configuration, or `auto` to let the router pick (the default when
    /// neither this nor `[defaults] model` is set, or when `--strategy` is given).
    #[arg(short, long, env = env_vars::LLM_COOP_MODEL)]
    pub model: Option<String>,

    /// How the router picks a model when none is named.
    #[arg(long, value_enum)]
    pub strategy: Option<Strategy>,

    /// For `--strategy auto`: 0.0 favours price and speed, 1.0 favours quality.
    #[arg(long, value_parser = parse_unit, value_name = "0..1")]
    pub quality_priority: Option<f32>,

    /// Print the routing decision (task, complexity, every candidate with its score and why it
    /// won or lost) on stderr, or in the JSON output with `--json`.
    #[arg(long)]
    pub explain: bool,

    /// Let the router hand a complex request (complexity above 0.6) to several models:
    /// voting among the top three for math, otherwise parallel answers merged by the best.
    #[arg(long)]
    pub allow_cooperation: bool,

    /// A system prompt.
    #[arg(short, long, value_name = "TEXT")]
    pub system: Option<String>,

    /// Most tokens to generate.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_tokens: Option<u32>,

    /// Sampling temperature, 0.0 to 2.0.
    #[arg(short, long, value_parser = parse_temperature)]
    pub temperature: Option<f32>,

    /// Nucleus sampling, 0.0 to 1.0.
    #[arg(long, value_parser = parse_unit)]
    pub top_p: Option<f32>,

    /// Seed for reproducible sampling (where the upstream supports it).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Stop generating at this text (repeatable).
    #[arg(long, value_name = "TEXT")]
    pub stop: Vec<String>,

    /// Stream the answer even when stdout is not a terminal.
    #[arg(long, conflicts_with_all = ["no_stream", "json"])]
    pub stream: bool,

    /// Wait for the whole answer instead of streaming it.
    #[arg(long)]
    pub no_stream: bool,

    #[command(flatten)]
    pub log: NoLog,

    /// Print the answer as JSON: text, model, provider, finish_reason, usage, latency_ms,
    /// ttft_ms; on failure `{text: null, error: {kind, message}, attempts}`.
    #[arg(long)]
    pub json: bool,
}

fn parse_temperature(s: &str) -> Result<f32, String> {
    let t: f32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=2.0).contains(&t) {
        Ok(t)
    } else {
        Err(format!("{t} is out of range; use 0.0 to 2.0"))
    }
}

fn parse_unit(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is out of range; use 0.0 to 1.0"))
    }
}

fn parse_price(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v >= 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(format!(
            "{v} is not a price; use USD per million tokens, 0 or more"
        ))
    }
}

/// Manage providers, models and API keys.
///
/// Settings live in `config.toml` and keys in `credentials.toml` (mode 0600) in the
/// configuration directory (`llm-config path` shows it). Keys are always shown masked.
#[derive(Debug, Parser)]
#[command(name = "llm-config", version, max_term_width = 100)]
pub struct ConfigCli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// Output format for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Add a provider and its models from a built-in preset.
    ///
    /// Presets: openai, anthropic, deepseek, openrouter, dashscope, aigcbest, ollama, vllm,
    /// local. Without `--api-key`, a terminal asks for the key; otherwise set the preset's
    /// environment variable (e.g. `OPENAI_API_KEY`).
    Preset(PresetArgs),
    /// Set the `global` OpenAI-compatible provider used by models added without `--provider`.
    Global(GlobalProviderArgs),
    /// Add a model (a deployment of it, with `--replica`).
    AddModel(AddModelArgs),
    /// Remove a model (all its deployments, or those on `--provider`).
    RemoveModel(RemoveModelArgs),
    /// List providers and models.
    List(ListArgs),
    /// Print the effective configuration (all layers merged; keys masked).
    Show(ShowArgs),
    /// Send a short real request to each model and report latency and result.
    Test(TestArgs),
    /// Write the configuration to a file (without keys unless `--include-secrets`).
    Export(ExportArgs),
    /// Merge providers, models and keys from a file written by `export`.
    Import(ImportArgs),
    /// Store the API key of a provider in the credentials file.
    SetKey(SetKeyArgs),
    /// Show, set or `--unset` the default model: the one commands use when they name none.
    ///
    /// Without a default, the router picks a model for each request (`--strategy`).
    Default(DefaultArgs),
    /// List, show, add or `--remove` model aliases: other names for configured models,
    /// accepted wherever a command takes a model name (`llm-config alias fast gpt-4o-mini`,
    /// then `llm-cooperation query -m fast "…"`).
    Alias(AliasArgs),
    /// Print where the configuration files are.
    Path(JsonFlag),
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PresetArgs {
    /// Preset name.
    #[arg(short, long, required_unless_present = "list")]
    pub name: Option<String>,
    /// API key to store (else asked on a terminal, or read from the preset's variable).
    #[arg(short = 'k', long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Use a different base URL (e.g. a proxy) for this provider.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// List the presets and their models instead.
    #[arg(long, conflicts_with_all = ["name", "api_key", "base_url"])]
    pub list: bool,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct GlobalProviderArgs {
    /// Base URL of an OpenAI-compatible API, including the version path (`…/v1`).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// API key for it (stored in the credentials file).
    #[arg(short = 'k', long, value_name = "KEY")]
    pub api_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct AddModelArgs {
    /// The name requests use.
    #[arg(short, long)]
    pub name: String,
    /// The model id sent upstream.
    #[arg(short, long, value_name = "UPSTREAM_ID")]
    pub path: String,
    /// Provider (default: `global`).
    #[arg(long)]
    pub provider: Option<String>,
    /// What the model is good at: space- or comma-separated, or repeated
    /// (`--tasks reasoning math`, `--tasks reasoning,math`).
    #[arg(long, value_enum, value_delimiter = ',', num_args = 1.., default_value = "chat")]
    pub tasks: Vec<Task>,
    /// Quality tier, 1 (weakest) to 5 (strongest).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub tier: u8,
    /// Default most tokens to generate.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: Option<u32>,
    /// Default temperature, 0.0 to 2.0.
    #[arg(long, value_parser = parse_temperature)]
    pub temperature: Option<f32>,
    /// Context window in tokens.
    #[arg(long, default_value_t = 8192, value_parser = clap::value_parser!(u32).range(1..))]
    pub context_window: u32,
    /// USD per million input tokens.
    #[arg(long, default_value_t = 0.0, value_parser = parse_price)]
    pub price_in: f64,
    /// USD per million output tokens.
    #[arg(long, default_value_t = 0.0, value_parser = parse_price)]
    pub price_out: f64,
    /// Most requests in flight at once.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Share of traffic among replicas.
    #[arg(long, default_value_t = 1.0, value_parser = parse_weight)]
    pub weight: f64,
    /// Add another deployment of an existing name instead of replacing it.
    #[arg(long)]
    pub replica: bool,
}

fn parse_weight(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{v} is not a weight; use a number greater than 0"))
    }
}

#[derive(Debug, Args)]
pub struct RemoveModelArgs {
    /// Model name.
    #[arg(short, long)]
    pub name: String,
    /// Only the deployment on this provider.
    #[arg(long)]
    pub provider: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Same as `--format json`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Print JSON instead of TOML.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Only this model.
    #[arg(short, long)]
    pub model: Option<String>,
    /// The prompt sent.
    #[arg(long, default_value = "Reply with the single word: ok")]
    pub prompt: String,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Destination file (`-` for stdout).
    pub file: PathBuf,
    /// Also write the API keys (the file is then created with mode 0600).
    #[arg(long)]
    pub include_secrets: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A file written by `llm-config export`.
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct DefaultArgs {
    /// A configured model (`llm-config list` shows them); none: print the current default.
    #[arg(value_name = "MODEL", conflicts_with = "unset")]
    pub model: Option<String>,
    /// Remove the default, so that requests without `--model` are routed.
    #[arg(long)]
    pub unset: bool,
}

#[derive(Debug, Args)]
pub struct AliasArgs {
    /// The alias; none: list every alias.
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// The configured model it stands for; none: print what NAME stands for.
    #[arg(value_name = "MODEL", conflicts_with = "remove")]
    pub model: Option<String>,
    /// Remove the alias NAME.
    #[arg(long, requires = "name")]
    pub remove: bool,
    #[command(flatten)]
    pub json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct SetKeyArgs {
    /// Provider name.
    #[arg(short, long)]
    pub provider: String,
    /// The key (else asked on a terminal, or read from standard input when piped).
    #[arg(short = 'k', long, value_name = "KEY")]
    pub key: Option<String>,
    /// Remove the stored key instead.
    #[arg(long, conflicts_with = "key")]
    pub remove: bool,
}

/// An OpenAI- and Anthropic-compatible gateway in front of the configured models.
#[derive(Debug, Parser)]
#[command(name = "llm-server", version, max_term_width = 100)]
pub struct ServerCli {
    #[command(flatten)]
    pub global: GlobalArgs,

    /// Address to bind (default: `[server] host`, else 127.0.0.1).
    #[arg(long, env = env_vars::SERVER_HOST)]
    pub host: Option<String>,

    /// Port to bind (default: `[server] port`, else 8080; 0 picks a free one).
    #[arg(long, env = env_vars::SERVER_PORT)]
    pub port: Option<u16>,

    /// Bearer token clients must send (repeatable, or comma-separated in the variable); none
    /// means no authentication. `/health` and `/metrics` then need one too unless
    /// `[server] public_health` / `public_metrics` are set.
    #[arg(long, value_name = "TOKEN", env = env_vars::LLM_COOP_SERVER_TOKENS, value_delimiter = ',', hide_env_values = true)]
    pub token: Vec<String>,

    /// Where replicas share sessions, cooldowns, counters, rate limits and cached answers:
    /// `memory` (default) or `redis://host:port/db` (then also `[server] state`).
    #[arg(long, value_name = "URL", env = env_vars::LLM_COOP_STATE)]
    pub state: Option<String>,

    /// Threads serving HTTP (default: `[server] workers`, else one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
}
