//! `llm-cooperation logs`: the history of runs.

use std::process::ExitCode;

use crate::cli::{GlobalArgs, LogsAction, LogsArgs};
use crate::config::ConfigError;
use crate::store::history::{Filter, History};
use crate::types::ContentPart;
use crate::ui;

pub fn run(global: &GlobalArgs, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(global)?;
    let history = match &config.settings.history.path {
        Some(path) => History::open(path)?,
        None => History::open_default()?,
    };
    match args.action {
        Some(LogsAction::Show { id }) => {
            let Some(run) = history.get(id)? else {
                return Err(ConfigError::Usage(format!(
                    "No run {id} in the history `{}`; `llm-cooperation logs` lists them",
                    history.path.display()
                ))
                .into());
            };
            if args.json {
                ui::json(&run)?;
            } else {
                let r = &run.run;
                ui::line(&format!(
                    "run {} · {} · {} · {}",
                    run.id, run.created_at, r.kind, r.status
                ))?;
                if let Some(m) = &r.model {
                    ui::line(&format!("model: {m}"))?;
                }
                if let Some(m) = &r.mode {
                    ui::line(&format!("mode: {m}"))?;
                }
                if let Some(s) = &r.session {
                    ui::line(&format!("session: {s}"))?;
                }
                ui::line(&format!(
                    "tokens: {} in, {} out · cost ${:.6} · {:.0} ms",
                    r.input_tokens, r.output_tokens, r.cost_usd, r.latency_ms
                ))?;
                ui::line(&format!("\nprompt:\n{}", r.prompt))?;
                ui::line(&format!("\nanswer:\n{}", r.response))?;
                let parts = answer_parts(&r.receipt);
                let reasoning: Vec<&str> = parts
                    .iter()
                    .filter_map(|p| match p {
                        ContentPart::Thinking { text, .. } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect();
                if !reasoning.is_empty() {
                    ui::line(&format!("\nreasoning:\n{}", reasoning.join("\n")))?;
                }
                let calls: Vec<String> = parts
                    .iter()
                    .filter_map(|p| match p {
                        ContentPart::ToolUse {
                            id, name, input, ..
                        } => Some(format!("  {name}({input})  [{id}]")),
                        _ => None,
                    })
                    .collect();
                if !calls.is_empty() {
                    ui::line(&format!("\ntool calls:\n{}", calls.join("\n")))?;
                }
                if let Some(e) = &r.error {
                    ui::line(&format!("\nerror:\n{e}"))?;
                }
                if !r.receipt.is_null() && r.receipt != serde_json::json!({}) {
                    ui::line(&format!(
                        "\nreceipt:\n{}",
                        serde_json::to_string_pretty(&r.receipt)?
                    ))?;
                }
            }
        }
        Some(LogsAction::Rm { ids, all, yes }) => {
            // A person at a terminal confirms; a script (no terminal) or `--yes` does not.
            if all
                && !yes
                && ui::stdin_is_terminal()
                && ui::stderr_is_terminal()
                && !ui::confirm(&format!(
                    "Delete every run in the history `{}`?",
                    history.path.display()
                ))?
            {
                ui::note("Nothing deleted.");
                return Ok(ExitCode::SUCCESS);
            }
            let n = if all {
                history.clear()?
            } else {
                history.remove(&ids)?
            };
            if args.json {
                ui::json(&serde_json::json!({ "removed": n }))?;
            } else {
                ui::line(&format!("Removed {n} run{}", if n == 1 { "" } else { "s" }))?;
            }
            if !all && n < ids.len() {
                return Err(ConfigError::Usage(format!(
                    "{} of the {} ids were not in the history",
                    ids.len() - n,
                    ids.len()
                ))
                .into());
            }
        }
        None => {
            let runs = history.list(&Filter {
                limit: args.count,
                model: args.model,
                mode: args.mode,
                kind: args.kind,
                session: args.session,
                text: args.search,
            })?;
            if args.json {
                ui::json(&runs)?;
                return Ok(ExitCode::SUCCESS);
            }
            if runs.is_empty() {
                ui::line("No runs recorded yet (or none match).")?;
                return Ok(ExitCode::SUCCESS);
            }
            let rows = runs
                .iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        time(&r.created_at),
                        match &r.run.mode {
                            Some(m) => format!("{} {m}", r.run.kind),
                            None => r.run.kind.clone(),
                        },
                        r.run.model.clone().unwrap_or_default(),
                        if r.run.status == "ok" {
                            r.run.status.clone()
                        } else {
                            ui::bad(&r.run.status)
                        },
                        format!("{}", r.run.input_tokens + r.run.output_tokens),
                        format!("${:.4}", r.run.cost_usd),
                        snippet(&r.run.prompt),
                    ]
                })
                .collect();
            ui::table(
                &[
                    "id",
                    "time (UTC)",
                    "kind",
                    "model",
                    "status",
                    "tokens",
                    "cost",
                    "prompt",
                ],
                rows,
            )?;
        }
        Some(LogsAction::Sessions) => {
            let sessions = history.sessions(args.count)?;
            if args.json {
                ui::json(&sessions)?;
                return Ok(ExitCode::SUCCESS);
            }
            if sessions.is_empty() {
                ui::line(
                    "No conversations recorded yet: `llm-cooperation chat` starts one, `query --continue` continues a query.",
                )?;
                return Ok(ExitCode::SUCCESS);
            }
            let rows = sessions
                .iter()
                .map(|s| {
                    vec![
                        s.session.clone(),
                        time(&s.last_at),
                        s.kinds.clone(),
                        s.runs.to_string(),
                        s.model.clone().unwrap_or_default(),
                        snippet(&s.first_prompt),
                    ]
                })
                .collect();
            ui::table(
                &[
                    "session",
                    "last (UTC)",
                    "kind",
                    "runs",
                    "model",
                    "first prompt",
                ],
                rows,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The parts of a recorded answer (a query's or chat turn's receipt keeps the whole
/// response: text, reasoning, tool calls); none for runs whose receipt holds no single response (cooperations).
fn answer_parts(receipt: &serde_json::Value) -> Vec<ContentPart> {
    receipt
        .get("content")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default()
}

/// A prompt on one line, cut at 50 characters.
fn snippet(t: &str) -> String {
    let one_line: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(50) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// `2026-01-02T03:04:05.678Z` as `2026-01-02 03:04:05`.
fn time(t: &str) -> String {
    t.get(..19).unwrap_or(t).replace('T', " ")
}
