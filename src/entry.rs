//! Entry points of the three binaries: parse, set up logging and colour, run, map the
//! outcome to an exit code, the same rule for every command: 0 ok, 1 the models failed,
//! 2 a usage or configuration error (a missing input file included), 130 interrupted.
//! A closed stdout (`llm-config list | head -1`) is success, never a panic.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{ConfigCli, CooperationCli, GlobalArgs, ServerCli};
use crate::config::ConfigError;
use crate::providers::ProviderError;
use crate::{commands, config, env_vars, ui};

/// Exit code for failures of the models or upstreams.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of a command interrupted by Ctrl-C (128 + SIGINT, what a shell reports).
pub const EXIT_INTERRUPTED: u8 = 130;

/// A command stopped by Ctrl-C; the message says what was left unfinished (exit code 130).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

/// The class of a failure, as `--json` reports it in `error.kind`: one word per exit code.
pub fn error_kind(err: &anyhow::Error) -> &'static str {
    match exit_code(err) {
        EXIT_USAGE => "usage",
        EXIT_INTERRUPTED => "interrupted",
        _ => "failed",
    }
}

/// `llm-cooperation`.
pub fn cooperation(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    run::<CooperationCli>(args, |cli| &cli.global, commands::cooperation)
}

/// `llm-config`.
pub fn config(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    run::<ConfigCli>(args, |cli| &cli.global, commands::config)
}

/// `llm-server`.
pub fn server(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    run::<ServerCli>(args, |cli| &cli.global, commands::server)
}

fn run<C: Parser>(
    args: impl IntoIterator<Item = OsString>,
    global: impl Fn(&C) -> &GlobalArgs,
    main: impl FnOnce(C) -> anyhow::Result<ExitCode>,
) -> ExitCode {
    // `.env` first: clap reads `SERVER_PORT` and friends from the environment while parsing.
    let dotenv = config::load_dotenv();
    let cli = match C::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let g = global(&cli);
    ui::init_color(g.color);
    init_logging(g.verbose);
    report_dotenv(&dotenv);
    finish(main(cli))
}

/// Says on stderr what `.env` did: the values that took effect, those refused, bad lines.
fn report_dotenv(d: &config::DotEnv) {
    let Some(path) = &d.path else {
        return;
    };
    let path = path.display();
    for (line, why) in &d.bad_lines {
        ui::warn(&format!(
            "`{path}` line {line} is not `NAME=value` ({why}); skipped"
        ));
    }
    for name in &d.refused {
        ui::warn(&format!(
            "`{path}` sets `{name}`, which would send requests (and keys you stored or exported) elsewhere; ignored. Export it yourself, or set `{}=1` to let `.env` set it",
            env_vars::LLM_COOP_DOTENV
        ));
    }
    if !d.applied.is_empty() {
        ui::note(&format!("using `{path}`: {}", d.applied.join(", ")));
    }
}

fn init_logging(verbose: u8) {
    let filter = match verbose {
        0 => std::env::var(env_vars::LLM_COOP_LOG)
            .or_else(|_| std::env::var(env_vars::LOG_LEVEL))
            .unwrap_or_else(|_| "warn".to_owned())
            .to_lowercase(),
        1 => "info".to_owned(),
        2 => "debug".to_owned(),
        _ => "trace".to_owned(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ui::stderr_is_terminal())
        .with_target(false)
        .try_init();
}

/// Prints an error chain and picks the exit code.
pub fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            ui::error(&err);
            ExitCode::from(exit_code(&err))
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// 130 for an interrupted command, 2 for configuration and usage errors, 1 for everything
/// else (upstream failures first).
pub fn exit_code(err: &anyhow::Error) -> u8 {
    // `Interrupted` may be a context (found by downcasting the error) or a cause.
    let interrupted = err.downcast_ref::<Interrupted>().is_some()
        || err.chain().any(|cause| {
            cause.is::<Interrupted>()
                || matches!(
                    cause.downcast_ref::<crate::cooperation::CoopError>(),
                    Some(crate::cooperation::CoopError::Cancelled { .. })
                )
        });
    if interrupted {
        return EXIT_INTERRUPTED;
    }
    for cause in err.chain() {
        if cause.is::<ProviderError>() {
            return EXIT_FAILURE;
        }
        if cause.is::<ConfigError>() {
            return EXIT_USAGE;
        }
    }
    EXIT_FAILURE
}
