//! `llm-cooperation query`: one prompt, routed to one model (with failover), streamed to a
//! terminal.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::chat::Settings;
use crate::cli::{GlobalArgs, QueryArgs};
use crate::config::ConfigError;
use crate::providers::{CollectError, collect_stream};
use crate::router::{Attempt, Decision, Preferences, RouteError, Router, Verdict};
use crate::store::history::{History, NewRun, Run};
use crate::types::{ChatRequest, ChatResponse, FinishReason, Message};
use crate::ui;

/// The `--json` output.
#[derive(Debug, Serialize)]
struct Output<'a> {
    /// The answer's text (its parts, tool calls included, are in `content`).
    text: String,
    #[serde(flatten)]
    response: &'a ChatResponse,
    /// Every deployment tried, the failed ones with their error.
    attempts: &'a [Attempt],
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<&'a Decision>,
}

pub fn run(global: &GlobalArgs, args: QueryArgs, no_log: bool) -> anyhow::Result<ExitCode> {
    let attached = super::attach::Attachments::read(&args.attach)?;
    let input = super::read_prompt(
        args.query.as_deref(),
        &args.prompt,
        !super::attach::Attachments::reads_stdin(&args.attach),
    )?;
    let config = super::load_config(global)?;
    let prompt = attached.prompt(&match &args.template {
        Some(name) => super::template::apply(&config.paths, name, &input)?,
        None => input,
    });
    if prompt.trim().is_empty() {
        return Err(ConfigError::Usage(
            "No prompt: pass it as an argument (`llm-cooperation query \"…\"`), with `--query`, or on standard input".into(),
        )
        .into());
    }
    let continued = Continued::find(&config, &args)?;
    let kept = continued.as_ref().map(|c| &c.kept);
    let model = match (&args.model, args.strategy) {
        (Some(m), _) => config.resolve_model(m),
        (None, Some(_)) => "auto".to_owned(),
        (None, None) => kept
            .and_then(|k| k.model.clone())
            .or_else(|| config.settings.defaults.model.clone())
            .unwrap_or_else(|| "auto".into()),
    };
    let system = args
        .system
        .clone()
        .or_else(|| kept.and_then(|k| k.system.clone()));
    if config.settings.models.is_empty() {
        return Err(ConfigError::NoModels.into());
    }
    super::autostart::ensure_local_server(&config, Some(model.as_str()))?;
    let router = Arc::new(Router::new(&config)?);
    let prefs = Preferences {
        strategy: args.strategy,
        quality_priority: args.quality_priority,
        allow_cooperation: false,
    };

    let mut req = ChatRequest::simple(&model, system.as_deref(), &prompt);
    if let Some(c) = &continued {
        // The earlier turns go between the system prompt and this prompt.
        let at = req.messages.len() - 1;
        let earlier = c.turns.iter().flat_map(|t| {
            [
                Message::user(t.run.prompt.clone()),
                Message::assistant(t.run.response.clone()),
            ]
        });
        req.messages.splice(at..at, earlier);
    }
    req.max_tokens = args.max_tokens;
    req.temperature = args.temperature.map(crate::cooperation::plan::as_written);
    req.top_p = args.top_p.map(crate::cooperation::plan::as_written);
    req.seed = args.seed.map(|s| s as i64);
    req.stop = args.stop.clone();
    if let Some(user) = req.messages.last_mut() {
        user.content.extend(attached.images);
    }

    let stream = !args.json && !args.no_stream && (args.stream || ui::stdout_is_terminal());
    if args.explain && !args.json {
        let decision = router.decide(&req, &prefs).map_err(route_error)?;
        explain(&decision);
    }
    let runtime = super::runtime()?;
    // A continued conversation stays with one model: cooperation works on one prompt.
    if args.allow_cooperation && continued.is_none() && !Router::is_explicit(&model) {
        let decision = router.decide(&req, &prefs).map_err(route_error)?;
        if let Some(spec) = crate::cooperation::auto::for_decision(&decision) {
            return cooperate(&config, router, spec, &prompt, &args, no_log, &runtime);
        }
    }
    let started = Instant::now();
    // Ctrl-C at any point (waiting for the first byte or streaming) stops the request: exit
    // code 130, recorded as a failed run.
    let outcome = runtime.block_on(async {
        let work = async {
            if stream {
                stream_answer(&router, req, &prefs).await
            } else {
                let routed = router.chat(req, &prefs).await.map_err(route_error)?;
                Ok((routed.value, routed.decision, routed.attempts))
            }
        };
        tokio::select! {
            outcome = work => outcome,
            _ = tokio::signal::ctrl_c() => {
                let message = if stream {
                    let _ = ui::line("");
                    "Interrupted; the answer above is incomplete"
                } else {
                    "Interrupted before the answer arrived"
                };
                Err(crate::entry::Interrupted(message.into()).into())
            }
        }
    });
    let history = super::history::open(&config, no_log);
    let session = continued.as_ref().map(|c| c.session.clone());
    if let (Some(h), Some(c)) = (&history, &continued)
        && let Some(id) = c.adopt
        && let Err(e) = h.set_session(id, &c.session)
    {
        ui::warn(&format!(
            "{:#}; run {id} is not part of session `{}`",
            anyhow::Error::from(e),
            c.session
        ));
    }
    let (response, decision, attempts) = match outcome {
        Ok(ok) => ok,
        Err(e) => {
            super::history::record(
                history.as_ref(),
                &NewRun {
                    kind: "query".into(),
                    model: (model != "auto").then(|| model.clone()),
                    session,
                    prompt,
                    status: "failed".into(),
                    error: Some(format!("{e:#}")),
                    latency_ms: started.elapsed().as_secs_f64() * 1e3,
                    ..NewRun::default()
                },
            );
            return Err(e);
        }
    };
    if args.json {
        ui::json(&Output {
            text: response.text(),
            response: &response,
            attempts: &attempts,
            decision: args.explain.then_some(&*decision),
        })?;
    } else {
        if !stream {
            ui::line(&response.text())?;
        }
        if ui::stderr_is_terminal() {
            ui::note(&summary(&response, &attempts));
        }
    }
    let cost = config
        .settings
        .models
        .iter()
        .find(|m| m.name == response.model)
        .map_or(0.0, |m| {
            m.cost(response.usage.input_tokens, response.usage.output_tokens)
        });
    let receipt = serde_json::to_value(Output {
        text: response.text(),
        response: &response,
        attempts: &attempts,
        decision: Some(&decision),
    })
    .unwrap_or_default();
    let receipt = Settings {
        model: Some(model),
        system,
    }
    .stored_in(receipt);
    super::history::record(
        history.as_ref(),
        &NewRun {
            kind: "query".into(),
            model: Some(response.model.clone()),
            session,
            prompt,
            response: response.text(),
            status: "ok".into(),
            input_tokens: response.usage.input_tokens.into(),
            output_tokens: response.usage.output_tokens.into(),
            cost_usd: cost,
            latency_ms: response.latency.as_secs_f64() * 1e3,
            receipt,
            ..NewRun::default()
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// The conversation `--continue` or `--session` continues.
struct Continued {
    session: String,
    /// Its answered turns, oldest first.
    turns: Vec<Run>,
    /// The model and system prompt of its last turn.
    kept: Settings,
    /// A lone query continued for the first time: it becomes the session's first turn.
    adopt: Option<i64>,
}

impl Continued {
    fn find(config: &crate::config::Config, args: &QueryArgs) -> anyhow::Result<Option<Self>> {
        if !args.resume && args.session.is_none() {
            return Ok(None);
        }
        if config.settings.history.enabled == Some(false) {
            return Err(ConfigError::Usage(
                "Nothing to continue: the history is off (`[history] enabled = false`)".into(),
            )
            .into());
        }
        let history = match &config.settings.history.path {
            Some(path) => History::open(path)?,
            None => History::open_default()?,
        };
        let (session, turns, adopt) = match &args.session {
            Some(id) => (id.clone(), history.session_turns(id)?, None),
            None => {
                let Some(last) = history.last_conversation()? else {
                    return Err(ConfigError::Usage(
                        "No conversation to continue in the history; ask something first with `llm-cooperation query \"…\"`".into(),
                    )
                    .into());
                };
                match last.run.session.clone() {
                    Some(session) => {
                        let turns = history.session_turns(&session)?;
                        (session, turns, None)
                    }
                    None => (
                        format!("query-{}", last.id),
                        vec![last.clone()],
                        Some(last.id),
                    ),
                }
            }
        };
        let Some(newest) = turns.last() else {
            return Err(ConfigError::Usage(format!(
                "No session `{session}` with answered turns in the history; `llm-cooperation logs sessions` lists them"
            ))
            .into());
        };
        let mut kept = Settings::of(&newest.run.receipt);
        if kept.model.is_none() {
            kept.model = newest.run.model.clone();
        }
        Ok(Some(Continued {
            session,
            turns,
            kept,
            adopt,
        }))
    }
}

/// A complex request the router handed to several models.
fn cooperate(
    config: &crate::config::Config,
    router: Arc<Router>,
    mut spec: crate::cooperation::ModeSpec,
    prompt: &str,
    args: &QueryArgs,
    no_log: bool,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<ExitCode> {
    spec.max_tokens = args.max_tokens;
    spec.temperature = args.temperature;
    let plan = crate::cooperation::compile(&spec, &router)?;
    if ui::stderr_is_terminal() {
        ui::note(&format!(
            "complex request: {} of {}",
            spec.mode,
            spec.models.join(", ")
        ));
    }
    let result = runtime.block_on(crate::cooperation::execute(
        router,
        &plan,
        prompt,
        crate::cooperation::ExecOptions::default(),
    ));
    let history = super::history::open(config, no_log);
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            let run = super::cooperate::run_record(
                "query",
                spec.mode.as_str(),
                prompt,
                "",
                e.receipt(),
                "failed",
                Some(format!("{e:#}")),
            );
            super::history::record(history.as_ref(), &run);
            return Err(e.into());
        }
    };
    if args.json {
        ui::json(&outcome)?;
    } else {
        ui::line(outcome.text.trim_end())?;
    }
    ui::progress::finished(&outcome.receipt, args.json);
    let run = super::cooperate::run_record(
        "query",
        spec.mode.as_str(),
        prompt,
        &outcome.text,
        Some(&outcome.receipt),
        "ok",
        None,
    );
    super::history::record(history.as_ref(), &run);
    Ok(ExitCode::SUCCESS)
}

/// The deployments a query tried, all failed: the context of its error, so `--json` can
/// list them in `attempts`.
#[derive(Debug)]
pub struct Tried(pub Vec<Attempt>);

impl std::fmt::Display for Tried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tried: Vec<String> = self
            .0
            .iter()
            .map(|a| format!("{} on `{}`", a.model, a.provider))
            .collect();
        write!(f, "Every deployment tried failed ({})", tried.join(", "))
    }
}

/// Configuration problems keep their exit code 2; everything else is a model failure.
pub fn route_error(e: RouteError) -> anyhow::Error {
    match e {
        RouteError::Config(c) => c.into(),
        RouteError::Exhausted { source, attempts } => {
            anyhow::Error::from(source).context(Tried(attempts))
        }
        other => other.into(),
    }
}

async fn stream_answer(
    router: &Arc<Router>,
    req: ChatRequest,
    prefs: &Preferences,
) -> anyhow::Result<(ChatResponse, Arc<Decision>, Vec<Attempt>)> {
    let started = Instant::now();
    let routed = router.chat_stream(req, prefs).await.map_err(route_error)?;
    let answered = routed
        .attempts
        .last()
        .expect("a stream comes from an attempt");
    let (model, provider) = (answered.model.clone(), answered.provider.clone());
    match collect_stream(routed.value, started, ui::write).await {
        Ok(c) => {
            if !c.text().ends_with('\n') {
                ui::line("")?;
            }
            let mut response = c.into_response();
            response.model = model;
            response.provider = provider;
            response.latency = started.elapsed();
            Ok((response, routed.decision, routed.attempts))
        }
        Err((_, CollectError::Output(e))) => Err(e.into()),
        Err((partial, CollectError::Provider(e))) => {
            if !partial.text().is_empty() {
                let _ = ui::line("");
            }
            Err(anyhow::Error::from(e).context(format!(
                "The answer from {model} on `{provider}` broke off after {} characters; what was shown is incomplete",
                partial.text().chars().count()
            )))
        }
    }
}

/// The decision as a table on stderr.
fn explain(d: &Decision) {
    let a = &d.analysis;
    ui::note(&format!(
        "task {} · complexity {:.2} · ~{} input tokens{}{} · strategy {}{}",
        a.task,
        a.complexity,
        a.input_tokens,
        if a.vision { " · images" } else { "" },
        if a.long_context {
            " · long context"
        } else {
            ""
        },
        d.ranking.strategy,
        if d.cached { " (cached decision)" } else { "" },
    ));
    let rows = d
        .ranking
        .candidates
        .iter()
        .map(|c| {
            let verdict = match &c.verdict {
                Verdict::Chosen => ui::good("chosen"),
                Verdict::Fallback { .. } => "fallback".to_owned(),
                Verdict::Excluded { .. } => ui::bad("excluded"),
            };
            let reason = d.reason(c);
            vec![
                c.model.to_string(),
                format!("{:.3}", c.score),
                format!("${:.6}", c.estimated_cost),
                verdict,
                reason,
            ]
        })
        .collect();
    ui::table_stderr(&["model", "score", "est. cost", "verdict", "reason"], rows);
}

fn summary(r: &ChatResponse, attempts: &[Attempt]) -> String {
    let mut s = format!(
        "{} via {} · {} → {} tokens · {:.0} ms",
        r.model,
        r.provider,
        r.usage.input_tokens,
        r.usage.output_tokens,
        r.latency.as_secs_f64() * 1e3
    );
    if let Some(ttft) = r.ttft {
        s.push_str(&format!(
            " (first token {:.0} ms)",
            ttft.as_secs_f64() * 1e3
        ));
    }
    if r.finish_reason == FinishReason::Length {
        s.push_str(" · stopped at max tokens");
    }
    let failed: Vec<String> = attempts
        .iter()
        .filter(|a| a.error.is_some())
        .map(|a| {
            format!(
                "{} on `{}` ({})",
                a.model,
                a.provider,
                a.error_kind.unwrap_or("error")
            )
        })
        .collect();
    if !failed.is_empty() {
        s.push_str(&format!(" · failed over from {}", failed.join(", ")));
    }
    s
}
