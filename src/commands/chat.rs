//! `llm-cooperation chat`: a conversation kept in the history, so it can be resumed.
//!
//! On a terminal a line editor reads input (with its own recall); without one, each line of
//! standard input is a turn. A line ending in `\` continues on the next; `"""` opens and
//! closes a multi-line block. Commands: `/model NAME`, `/mode MODE MODELS` (cooperation for
//! the next turns; `/mode off` goes back), `/clear`, `/help`, `/exit`.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::cli::{ChatArgs, GlobalArgs};
use crate::config::ConfigError;
use crate::cooperation::{ExecOptions, ModeSpec, compile, execute};
use crate::providers::collect_stream;
use crate::router::{Preferences, Router};
use crate::store::history::NewRun;
use crate::types::{ChatRequest, Message};
use crate::ui;

/// Where input lines come from.
enum Input {
    Editor(Box<rustyline::DefaultEditor>),
    Lines(std::io::Lines<std::io::StdinLock<'static>>),
}

impl Input {
    /// One line, or `None` at the end of input (Ctrl-D).
    fn line(&mut self, prompt: &str) -> anyhow::Result<Option<String>> {
        match self {
            Input::Editor(ed) => match ed.readline(prompt) {
                Ok(line) => {
                    let _ = ed.add_history_entry(line.as_str());
                    Ok(Some(line))
                }
                Err(rustyline::error::ReadlineError::Interrupted) => Ok(Some(String::new())),
                Err(rustyline::error::ReadlineError::Eof) => Ok(None),
                Err(e) => Err(anyhow::Error::from(e).context("Failed to read input")),
            },
            Input::Lines(lines) => lines
                .next()
                .transpose()
                .context("Failed to read standard input"),
        }
    }

    /// A whole message: continuation lines and `"""` blocks joined.
    fn message(&mut self) -> anyhow::Result<Option<String>> {
        let Some(first) = self.line("> ")? else {
            return Ok(None);
        };
        if first.trim() == "\"\"\"" {
            let mut block = Vec::new();
            while let Some(line) = self.line("… ")? {
                if line.trim() == "\"\"\"" {
                    break;
                }
                block.push(line);
            }
            return Ok(Some(block.join("\n")));
        }
        let mut text = first;
        while let Some(stripped) = text.strip_suffix('\\') {
            text = stripped.to_owned();
            match self.line("… ")? {
                Some(next) => {
                    text.push('\n');
                    text.push_str(&next);
                }
                None => break,
            }
        }
        Ok(Some(text))
    }
}

const HELP: &str = "/model NAME    answer with NAME (or `auto`) from now on
/mode MODE M1,M2,…   let models cooperate (voting, parallel, sequential, pipeline, ensemble, cascade); `/mode off` stops
/clear         forget the conversation so far (a new session starts)
/exit          leave (Ctrl-D too)
A line ending in `\\` continues; `\"\"\"` starts and ends a multi-line block.";

pub fn run(global: &GlobalArgs, args: ChatArgs, no_log: bool) -> anyhow::Result<ExitCode> {
    if super::attach::Attachments::reads_stdin(&args.attach) {
        return Err(ConfigError::Usage(
            "`chat -a -`: standard input holds the chat's turns; attach files by their path".into(),
        )
        .into());
    }
    // Kept until a turn that carries them is answered.
    let mut attached = Some(super::attach::Attachments::read(&args.attach)?)
        .filter(|a| !a.texts.is_empty() || !a.images.is_empty());
    let config = super::load_config(global)?;
    if config.settings.models.is_empty() {
        return Err(ConfigError::NoModels.into());
    }
    let history = super::history::open(&config, no_log);
    let mut session = match (&args.session, args.resume) {
        (Some(name), _) => name.clone(),
        (None, true) => {
            let last = history
                .as_ref()
                .map(|h| h.last_session())
                .transpose()?
                .flatten();
            last.ok_or_else(|| {
                ConfigError::Usage("No chat session to continue in the history; start one with `llm-cooperation chat`".into())
            })?
        }
        (None, false) => format!("chat-{}", crate::store::now_ms()),
    };
    let earlier = match &history {
        Some(h) => h.session_turns(&session)?,
        None => Vec::new(),
    };
    // A resumed session keeps the model and system prompt of its last turn, unless the
    // command line names others.
    let kept = earlier.last().map(|t| Settings::of(&t.run.receipt));
    let router = Arc::new(Router::new(&config)?);
    let kept_model =
        kept.as_ref()
            .and_then(|k| k.model.clone())
            .filter(|m| match check_model(&router, m) {
                Ok(()) => true,
                Err(e) => {
                    ui::warn(&format!("The session's model is gone: {e}"));
                    false
                }
            });
    let mut model = args
        .model
        .as_deref()
        .map(|m| config.resolve_model(m))
        .or(kept_model)
        .or_else(|| config.settings.defaults.model.clone())
        .unwrap_or_else(|| "auto".into());
    check_model(&router, &model)?;
    super::autostart::ensure_local_server(&config, Some(model.as_str()))?;
    let system = args
        .system
        .clone()
        .or_else(|| kept.as_ref().and_then(|k| k.system.clone()));
    let mut messages: Vec<Message> = Vec::new();
    if let Some(system) = &system {
        messages.push(Message::system(system.clone()));
    }
    for turn in earlier {
        messages.push(Message::user(turn.run.prompt));
        messages.push(Message::assistant(turn.run.response));
    }
    let interactive = ui::stdin_is_terminal();
    if interactive {
        let resumed = messages
            .iter()
            .filter(|m| m.role == crate::types::Role::User)
            .count();
        ui::note(&format!(
            "session `{session}` · model {model}{}{} · /help for commands",
            if system.is_some() {
                " · system prompt"
            } else {
                ""
            },
            if resumed > 0 {
                format!(" · {resumed} earlier turns")
            } else {
                String::new()
            }
        ));
    }
    let mut input = if interactive {
        Input::Editor(Box::new(
            rustyline::DefaultEditor::new().context("Cannot start the line editor")?,
        ))
    } else {
        Input::Lines(std::io::stdin().lock().lines())
    };
    let mut mode: Option<ModeSpec> = None;
    let runtime = super::runtime()?;
    let mut failures = 0;
    while let Some(text) = input.message()? {
        let text = text.trim_end().to_owned();
        if text.trim().is_empty() {
            continue;
        }
        if let Some(command) = text.strip_prefix('/') {
            let mut parts = command.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some("exit" | "quit"), _, _) => break,
                (Some("help"), _, _) => ui::line(HELP)?,
                (Some("clear"), _, _) => {
                    messages.retain(|m| m.role == crate::types::Role::System);
                    session = format!("chat-{}", crate::store::now_ms());
                    ui::note(&format!("conversation cleared; new session `{session}`"));
                }
                (Some("model"), Some(name), _) => {
                    match check_model(&router, &config.resolve_model(name)) {
                        Ok(()) => {
                            model = config.resolve_model(name);
                            mode = None;
                            ui::note(&format!("model {model}"));
                        }
                        Err(e) => ui::warn(&e.to_string()),
                    }
                }
                (Some("mode"), Some("off"), _) => {
                    mode = None;
                    ui::note(&format!("single model {model}"));
                }
                (Some("mode"), Some(m), Some(models)) => {
                    match ModeSpec::parse_virtual_model(&format!("coop/{m}:{models}"))
                        .and_then(|spec| compile(&spec, &router).map(|_| spec))
                    {
                        Ok(spec) => {
                            ui::note(&format!("{} of {}", spec.mode, spec.models.join(", ")));
                            mode = Some(spec);
                        }
                        // The reason is in the error's sources (the mode, a model, an option).
                        Err(e) => ui::warn(&format!("{:#}", anyhow::Error::from(e))),
                    }
                }
                (Some("mode"), Some(m), None) => ui::warn(&format!(
                    "`/mode {m}` needs the models too, comma-separated: `/mode {m} a,b,c` (or `/mode off`)"
                )),
                _ => ui::warn(&format!("Unknown command `/{command}`; /help lists them")),
            }
            continue;
        }
        let text = match &attached {
            Some(a) => a.prompt(&text),
            None => text,
        };
        let mut message = Message::user(text.clone());
        if let Some(a) = &attached {
            message.content.extend(a.images.iter().cloned());
        }
        messages.push(message);
        let started = Instant::now();
        // On a terminal, Ctrl-C stops the answer and returns to the prompt (what was
        // shown stays on screen; the turn is neither kept nor recorded). Without one,
        // Ctrl-C ends the chat as it ends any command.
        let turn = runtime.block_on(async {
            let turn = answer(&router, &messages, &model, mode.as_ref(), &args);
            if !interactive {
                return turn.await;
            }
            tokio::select! {
                turn = turn => turn,
                _ = tokio::signal::ctrl_c() => Err(crate::entry::Interrupted(
                    "Interrupted; the answer stopped there and is not kept in the conversation"
                        .into(),
                )
                .into()),
            }
        });
        match turn {
            Err(e) if e.is::<crate::entry::Interrupted>() => {
                messages.pop();
                let _ = ui::line("");
                ui::warn(&e.to_string());
            }
            Ok(t) => {
                attached = None;
                if !t.streamed {
                    ui::line(&t.text)?;
                }
                messages.push(Message::assistant(t.text.clone()));
                super::history::record(
                    history.as_ref(),
                    &NewRun {
                        kind: "chat".into(),
                        mode: mode.as_ref().map(|m| m.mode.to_string()),
                        model: Some(t.model),
                        session: Some(session.clone()),
                        prompt: text,
                        response: t.text,
                        status: "ok".into(),
                        input_tokens: t.input_tokens,
                        output_tokens: t.output_tokens,
                        cost_usd: t.cost,
                        latency_ms: started.elapsed().as_secs_f64() * 1e3,
                        receipt: Settings {
                            model: Some(model.clone()),
                            system: system.clone(),
                        }
                        .stored_in(t.receipt),
                        ..NewRun::default()
                    },
                );
            }
            Err(e) => {
                failures += 1;
                messages.pop();
                ui::error(&e);
                if !interactive {
                    // A script gets the exit code of the failure, not a silent skip.
                    return Err(e);
                }
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::entry::EXIT_FAILURE)
    })
}

/// What a chat session keeps between runs: stored in each turn's receipt under `chat`, read
/// back from the last turn by `--continue` and `--session`.
/// `query` keeps them the same way, so either can continue the other's conversation.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Settings {
    /// The model asked for (`auto` included), not the one the router picked.
    pub model: Option<String>,
    pub system: Option<String>,
}

impl Settings {
    pub(super) fn of(receipt: &serde_json::Value) -> Self {
        receipt
            .get("chat")
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default()
    }

    pub(super) fn stored_in(self, mut receipt: serde_json::Value) -> serde_json::Value {
        if let (Some(map), Ok(chat)) = (receipt.as_object_mut(), serde_json::to_value(self)) {
            map.insert("chat".into(), chat);
        }
        receipt
    }
}

fn check_model(router: &Router, name: &str) -> Result<(), ConfigError> {
    if name == "auto" || router.model_configs().iter().any(|m| m.name == name) {
        return Ok(());
    }
    Err(ConfigError::UnknownModel {
        name: name.to_owned(),
        available: router
            .model_configs()
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

struct Turn {
    text: String,
    model: String,
    streamed: bool,
    input_tokens: u64,
    output_tokens: u64,
    cost: f64,
    receipt: serde_json::Value,
}

async fn answer(
    router: &Arc<Router>,
    messages: &[Message],
    model: &str,
    mode: Option<&ModeSpec>,
    args: &ChatArgs,
) -> anyhow::Result<Turn> {
    if let Some(spec) = mode {
        // Cooperation works on one input: the conversation as a transcript.
        let mut transcript = String::new();
        for m in messages {
            transcript.push_str(&format!("{}: {}\n\n", m.role.as_str(), m.joined_text()));
        }
        let plan = compile(spec, router)?;
        let outcome = execute(
            router.clone(),
            &plan,
            transcript.trim_end(),
            ExecOptions::default(),
        )
        .await?;
        let r = &outcome.receipt;
        return Ok(Turn {
            model: spec.models.join(","),
            streamed: false,
            input_tokens: r.input_tokens.into(),
            output_tokens: r.output_tokens.into(),
            cost: r.cost_usd,
            receipt: serde_json::to_value(r).unwrap_or_default(),
            text: outcome.text,
        });
    }
    let mut req = ChatRequest {
        model: model.to_owned(),
        messages: messages.to_vec(),
        max_tokens: args.max_tokens,
        temperature: args.temperature.map(crate::cooperation::plan::as_written),
        ..ChatRequest::default()
    };
    req.stream = true;
    let streamed = ui::stdout_is_terminal();
    let started = Instant::now();
    let routed = router.chat_stream(req, &Preferences::default()).await?;
    let answered = routed
        .attempts
        .last()
        .map(|a| a.model.clone())
        .unwrap_or_default();
    let collected = collect_stream(routed.value, started, |t| {
        if streamed { ui::write(t) } else { Ok(()) }
    })
    .await
    .map_err(|(_, e)| anyhow::Error::from(e))?;
    if streamed && !collected.text().ends_with('\n') {
        ui::line("")?;
    }
    let cost = router
        .model_configs()
        .iter()
        .find(|m| m.name == answered)
        .map_or(0.0, |m| {
            m.cost(
                collected.usage().input_tokens,
                collected.usage().output_tokens,
            )
        });
    Ok(Turn {
        model: answered,
        streamed,
        input_tokens: collected.usage().input_tokens.into(),
        output_tokens: collected.usage().output_tokens.into(),
        cost,
        receipt: serde_json::json!({ "attempts": routed.attempts, "decision": &*routed.decision }),
        text: collected.text(),
    })
}
