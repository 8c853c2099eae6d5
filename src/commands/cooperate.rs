//! `llm-cooperation cooperate`: compile a mode to a plan, run it with live progress, print
//! the answer and its receipt. Ctrl-C cancels the run and prints the partial receipt (exit
//! code 130); a failed run prints its partial receipt too.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::cli::{CooperateArgs, GlobalArgs};
use crate::config::ConfigError;
use crate::cooperation::{
    Cancel, CoopError, ExecOptions, FailurePolicy, Mode, ModeSpec, Plan, Receipt, StepKind,
    Workflow, compile, execute,
};
use crate::router::Router;
use crate::store::history::NewRun;
use crate::ui;
use crate::ui::progress::CooperationView;

/// Sets `--quorum` on every step that gathers answers, so `--plan` shows the quorum that will
/// apply. A quorum larger than a step's answers could never be met (it was silently lowered
/// before), and one on a plan without such steps would do nothing: both are usage errors.
fn apply_quorum(plan: &mut Plan, quorum: usize) -> Result<(), ConfigError> {
    let mut gathering = 0;
    for step in &mut plan.steps {
        if let StepKind::Concat { inputs, min, .. } | StepKind::Tally { inputs, min } =
            &mut step.kind
        {
            if quorum > inputs.len() {
                return Err(ConfigError::Usage(format!(
                    "`--quorum {quorum}` is more than the {} answers step `{}` gathers; use 1 to {}, or leave it out for at least half",
                    inputs.len(),
                    step.id,
                    inputs.len()
                )));
            }
            *min = quorum;
            gathering += 1;
        }
    }
    if gathering == 0 {
        return Err(ConfigError::Usage(format!(
            "`--quorum` applies to steps that gather several answers (parallel, voting, ensemble); this `{}` plan has none, so leave it out",
            plan.mode
        )));
    }
    Ok(())
}

pub fn run(global: &GlobalArgs, args: CooperateArgs, no_log: bool) -> anyhow::Result<ExitCode> {
    let workflow = args.workflow.as_deref().map(Workflow::load).transpose()?;
    let mode = args.mode.unwrap_or(if workflow.is_some() {
        Mode::Pipeline
    } else {
        Mode::Parallel
    });
    let task = if args.plan {
        String::new()
    } else {
        super::read_input(
            args.query.as_deref(),
            &args.prompt,
            "No task: pass it as an argument (`llm-cooperation cooperate --mode voting --models a,b,c \"…\"`), with `--query`, or on standard input",
        )?
    };
    let config = super::load_config(global)?;
    if config.settings.models.is_empty() {
        return Err(ConfigError::NoModels.into());
    }
    super::autostart::ensure_local_server(&config, None)?;
    let router = Arc::new(Router::new(&config)?);
    let spec = ModeSpec {
        mode,
        models: args
            .models
            .iter()
            .map(|m| config.resolve_model(m))
            .collect(),
        integration: args.integration,
        judge: args.judge.as_deref().map(|m| config.resolve_model(m)),
        rounds: args.rounds,
        layers: args.layers,
        workflow,
        max_tokens: args.max_tokens,
        temperature: args.temperature,
    };
    let mut plan = compile(&spec, &router)?;
    if let Some(q) = args.quorum {
        apply_quorum(&mut plan, q as usize)?;
    }
    if args.plan {
        if args.json {
            ui::json(&plan)?;
        } else {
            ui::progress::plan(&plan)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let policy = if args.fail_fast {
        FailurePolicy::FailFast
    } else {
        FailurePolicy::Quorum {
            min: args.quorum.map(|q| q as usize),
        }
    };
    let cancel = Cancel::new();
    let (tx, rx) = mpsc::unbounded_channel();
    let opts = ExecOptions {
        concurrency: args.concurrency as usize,
        step_timeout: Duration::from_secs_f64(args.timeout),
        policy,
        cancel: cancel.clone(),
        progress: Some(tx),
    };
    let runtime = super::runtime()?;
    let result = runtime.block_on(async {
        let view = CooperationView::new(&plan);
        let run = async {
            let (result, ()) = tokio::join!(execute(router, &plan, &task, opts), view.drive(rx));
            result
        };
        tokio::select! {
            result = run => result,
            () = interrupts(cancel) => unreachable!("`interrupts` returns only by exiting"),
        }
    });
    let history = super::history::open(&config, no_log);
    let record = |text: &str, receipt: Option<&Receipt>, status: &str, error: Option<String>| {
        super::history::record(
            history.as_ref(),
            &run_record(
                "cooperate",
                mode.as_str(),
                &task,
                text,
                receipt,
                status,
                error,
            ),
        );
    };
    match result {
        Ok(outcome) => {
            if args.json {
                ui::json(&outcome)?;
            } else {
                ui::line(outcome.text.trim_end())?;
            }
            ui::progress::finished(&outcome.receipt, args.json);
            record(&outcome.text, Some(&outcome.receipt), "ok", None);
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            let status = if matches!(err, CoopError::Cancelled { .. }) {
                "cancelled"
            } else {
                "failed"
            };
            record("", err.receipt(), status, Some(chain(&err)));
            unfinished(err, args.json)
        }
    }
}

/// A history record of a cooperation run (or a service built on one).
pub fn run_record(
    kind: &str,
    mode: &str,
    prompt: &str,
    text: &str,
    receipt: Option<&Receipt>,
    status: &str,
    error: Option<String>,
) -> NewRun {
    let models: Vec<&str> = receipt
        .map(|r| {
            let mut m: Vec<&str> = r.steps.iter().filter_map(|s| s.model.as_deref()).collect();
            m.sort_unstable();
            m.dedup();
            m
        })
        .unwrap_or_default();
    NewRun {
        kind: kind.to_owned(),
        mode: Some(mode.to_owned()),
        model: (!models.is_empty()).then(|| models.join(",")),
        session: None,
        prompt: prompt.to_owned(),
        response: text.to_owned(),
        status: status.to_owned(),
        error,
        input_tokens: receipt.map_or(0, |r| r.input_tokens.into()),
        output_tokens: receipt.map_or(0, |r| r.output_tokens.into()),
        cost_usd: receipt.map_or(0.0, |r| r.cost_usd),
        latency_ms: receipt.map_or(0.0, |r| r.wall_ms),
        receipt: receipt
            .and_then(|r| serde_json::to_value(r).ok())
            .unwrap_or_default(),
    }
}

/// Prints the partial receipt of a failed or cancelled run as a table on stderr (with
/// `--json`, the caller prints it in the failure object) and returns the error: exit code 130
/// for a cancelled run, 1 or 2 otherwise.
pub fn unfinished(err: CoopError, json: bool) -> anyhow::Result<ExitCode> {
    if !json && let Some(receipt) = err.receipt() {
        ui::progress::receipt_table(receipt);
    }
    if matches!(err, CoopError::Cancelled { .. }) {
        return Err(anyhow::Error::from(err).context(crate::entry::Interrupted(
            "Interrupted: the receipt shows what finished; unfinished answers are partial".into(),
        )));
    }
    Err(err.into())
}

/// An error and its causes, as `ui::error` prints them, on one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The first Ctrl-C cancels the run (which then returns its partial receipt); a second
/// one exits at once.
pub async fn interrupts(cancel: Cancel) {
    if tokio::signal::ctrl_c().await.is_ok() {
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            ui::warn("Interrupted twice; exiting without a receipt");
            std::process::exit(i32::from(crate::entry::EXIT_INTERRUPTED));
        }
    }
    std::future::pending::<()>().await
}
