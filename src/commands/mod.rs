//! Glue between the command line and the library: one file per subcommand, `anyhow` here.

mod attach;
mod autostart;
mod chat;
mod config;
mod cooperate;
mod embed;
mod history;
mod logs;
mod models;
mod query;
mod server;
mod service;
mod status;
mod template;
mod test;

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{CooperationCli, CooperationCommand, GlobalArgs};
use crate::config::{Config, ConfigStore, EnvSnapshot, Paths};

pub use config::run as config;
pub use models::default_footer as models_default_footer;
pub use server::run as server;
pub use template::dir as template_dir;

/// `llm-cooperation`.
pub fn cooperation(cli: CooperationCli) -> anyhow::Result<ExitCode> {
    let json = match &cli.command {
        CooperationCommand::Query(a) => a.json,
        CooperationCommand::Cooperate(a) => a.json,
        CooperationCommand::Service(a) => a.json,
        _ => false,
    };
    let result = run_cooperation(cli);
    if json && let Err(e) = &result {
        crate::ui::json(&JsonFailure::of(e))?;
    }
    result
}

/// What `--json` prints on stdout when `query`, `cooperate` or `service` fails, the same shape
/// for all three: `{text: null, error: {kind, message}}`, with `attempts` (the deployments a
/// query tried) or `receipt` (a cooperation's partial receipt) where there are some. The
/// message is printed on stderr as well, and the exit code is the usual one.
#[derive(Debug, serde::Serialize)]
struct JsonFailure<'a> {
    text: Option<&'a str>,
    error: JsonError,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<&'a [crate::router::Attempt]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<&'a crate::cooperation::Receipt>,
}

#[derive(Debug, serde::Serialize)]
struct JsonError {
    /// `usage` (exit code 2), `failed` (1) or `interrupted` (130).
    kind: &'static str,
    /// The error and its causes, on one line.
    message: String,
}

impl<'a> JsonFailure<'a> {
    fn of(err: &'a anyhow::Error) -> Self {
        JsonFailure {
            text: None,
            error: JsonError {
                kind: crate::entry::error_kind(err),
                message: format!("{err:#}"),
            },
            // `Tried` is a context, which anyhow finds by downcasting the error itself.
            attempts: err.downcast_ref::<query::Tried>().map(|t| t.0.as_slice()),
            receipt: err
                .chain()
                .find_map(|c| c.downcast_ref::<crate::cooperation::CoopError>())
                .and_then(crate::cooperation::CoopError::receipt),
        }
    }
}

fn run_cooperation(cli: CooperationCli) -> anyhow::Result<ExitCode> {
    let no_log = cli.no_log();
    match cli.command {
        CooperationCommand::Query(args) => query::run(&cli.global, args, no_log),
        CooperationCommand::Chat(args) => chat::run(&cli.global, args, no_log),
        CooperationCommand::Logs(args) => logs::run(&cli.global, args),
        CooperationCommand::Models(args) => models::run(&cli.global, args),
        CooperationCommand::Status(args) => status::run(&cli.global, args),
        CooperationCommand::Embed(args) => embed::run(&cli.global, args),
        CooperationCommand::Test(args) => test::test(&cli.global, args),
        CooperationCommand::Cooperate(args) => cooperate::run(&cli.global, args, no_log),
        CooperationCommand::Service(args) => service::run(&cli.global, args, no_log),
    }
}

/// The configuration directory for these flags.
pub fn paths(global: &GlobalArgs) -> anyhow::Result<Paths> {
    Ok(Paths::discover(global.config.as_deref())?)
}

/// The effective configuration (files + environment).
pub fn load_config(global: &GlobalArgs) -> anyhow::Result<Config> {
    let paths = paths(global)?;
    Ok(Config::load(paths, EnvSnapshot::capture())?)
}

/// A writer for the configuration files.
pub fn store(global: &GlobalArgs) -> anyhow::Result<ConfigStore> {
    Ok(ConfigStore::new(paths(global)?))
}

/// A single-threaded runtime: CLI commands do little concurrent work and start fast.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("Failed to start the async runtime")
}

/// A command's text input: piped standard input, then the prompt (`--query`, else the words
/// given as arguments), separated by a blank line, as `cat notes.txt | llm "Summarise this"`
/// works. Either alone is the whole input. Empty input, or input that is not UTF-8, is a
/// usage error (`missing` says how to give it).
pub fn read_input(query: Option<&str>, words: &[String], missing: &str) -> anyhow::Result<String> {
    let text = read_prompt(query, words, true)?;
    if text.trim().is_empty() {
        return Err(crate::config::ConfigError::Usage(missing.to_owned()).into());
    }
    Ok(text)
}

/// Like [`read_input`], but empty input is returned as it is, and standard input is read only
/// when `stdin` is true (not when an attachment, `-a -`, takes it).
pub fn read_prompt(query: Option<&str>, words: &[String], stdin: bool) -> anyhow::Result<String> {
    let prompt = query
        .map(str::to_owned)
        .or_else(|| (!words.is_empty()).then(|| words.join(" ")));
    let piped = if !stdin || crate::ui::stdin_is_terminal() {
        String::new()
    } else {
        read_stdin()?
    };
    Ok(match prompt {
        Some(prompt) if !piped.trim().is_empty() => format!("{}\n\n{prompt}", piped.trim_end()),
        Some(prompt) => prompt,
        None => piped,
    })
}

/// All of standard input, as UTF-8 text.
fn read_stdin() -> anyhow::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    match std::io::stdin().read_to_string(&mut text) {
        Ok(_) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(crate::config::ConfigError::Usage(
            "The input on standard input is not UTF-8 text; convert it first (e.g. `iconv -t UTF-8`)".into(),
        )
        .into()),
        Err(e) => Err(anyhow::Error::from(e).context("Failed to read standard input")),
    }
}
