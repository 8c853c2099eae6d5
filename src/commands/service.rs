//! `llm-cooperation service`: document analysis, data insight and decision support on a file
//! or standard input, with computed facts and a model's analysis.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;

use super::cooperate::run_record;
use super::cooperate::{interrupts, unfinished};
use crate::cli::{GlobalArgs, ServiceArgs};
use crate::config::ConfigError;
use crate::cooperation::{Cancel, ExecOptions};
use crate::router::Router;
use crate::services::{self, Facts, ServiceError, ServiceRequest, ServiceResult, Trend};
use crate::ui;
use crate::ui::progress::CooperationView;

pub fn run(global: &GlobalArgs, args: ServiceArgs, no_log: bool) -> anyhow::Result<ExitCode> {
    let content = read_input(&args)?;
    let config = super::load_config(global)?;
    if config.settings.models.is_empty() {
        return Err(ConfigError::NoModels.into());
    }
    super::autostart::ensure_local_server(&config, None)?;
    let router = Arc::new(Router::new(&config)?);
    let mut parameters = serde_json::Map::new();
    if !args.models.is_empty() {
        let models: Vec<String> = args
            .models
            .iter()
            .map(|m| config.resolve_model(m))
            .collect();
        parameters.insert("models".into(), models.into());
    }
    if let Some(j) = &args.judge {
        parameters.insert("judge".into(), config.resolve_model(j).into());
    }
    if let Some(m) = args.max_tokens {
        parameters.insert("max_tokens".into(), m.into());
    }
    let req = ServiceRequest {
        service: args.service,
        kind: args.kind.clone(),
        content,
        parameters: serde_json::Value::Object(parameters),
    };
    let prepared = services::prepare(&router, &req)?;
    // The type that runs (the default included), so `logs --mode data-insight/trends` finds it.
    let mode = format!("{}/{}", prepared.service, prepared.kind);
    let req_content = req.content.clone();
    let cancel = Cancel::new();
    let (tx, rx) = mpsc::unbounded_channel();
    let opts = ExecOptions {
        step_timeout: Duration::from_secs_f64(args.timeout),
        cancel: cancel.clone(),
        progress: Some(tx),
        ..ExecOptions::default()
    };
    let runtime = super::runtime()?;
    let result = runtime.block_on(async {
        let view = CooperationView::new(&prepared.plan);
        let run = async {
            let (result, ()) = tokio::join!(
                services::run_prepared(router, prepared, opts),
                view.drive(rx)
            );
            result
        };
        tokio::select! {
            result = run => result,
            () = interrupts(cancel) => unreachable!("`interrupts` returns only by exiting"),
        }
    });
    let history = super::history::open(&config, no_log);
    match result {
        Ok(r) => {
            if args.json {
                ui::json(&r)?;
            } else {
                print(&r)?;
            }
            ui::progress::finished(&r.receipt, args.json);
            let mut run = run_record(
                "service",
                &mode,
                &req_content,
                &r.analysis,
                Some(&r.receipt),
                "ok",
                None,
            );
            run.receipt = serde_json::to_value(&r).unwrap_or_default();
            super::history::record(history.as_ref(), &run);
            Ok(ExitCode::SUCCESS)
        }
        Err(ServiceError::Cooperation(e)) => {
            let status = if matches!(e, crate::cooperation::CoopError::Cancelled { .. }) {
                "cancelled"
            } else {
                "failed"
            };
            let run = run_record(
                "service",
                &mode,
                &req_content,
                "",
                e.receipt(),
                status,
                Some(format!("{e:#}")),
            );
            super::history::record(history.as_ref(), &run);
            unfinished(e, args.json)
        }
        Err(e) => Err(e.into()),
    }
}

/// The file's text, or standard input for no file or `-`.
fn read_input(args: &ServiceArgs) -> anyhow::Result<String> {
    let text = match args.file.as_deref() {
        Some(p) if p.as_os_str() != "-" => {
            std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_owned(),
                source,
            })?
        }
        _ if ui::stdin_is_terminal() => {
            return Err(ConfigError::Usage(format!(
                "No input: `llm-cooperation service {} FILE`, or pipe the text to it",
                args.service
            ))
            .into());
        }
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("Failed to read the input from standard input")?;
            text
        }
    };
    Ok(text)
}

fn num(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// The facts, the analysis and what was read out of it, for people.
fn print(r: &ServiceResult) -> std::io::Result<()> {
    match &r.facts {
        Facts::Document(f) => ui::line(&format!(
            "{} words ({} CJK characters) · {} sentences · {} paragraphs · ~{} tokens · {} min read",
            f.words,
            f.cjk_characters,
            f.sentences,
            f.paragraphs,
            f.estimated_tokens,
            f.reading_minutes
        ))?,
        Facts::Data(f) => {
            let rows = f
                .series
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.count.to_string(),
                        num(s.min),
                        num(s.max),
                        num(s.mean),
                        num(s.median),
                        num(s.std_dev),
                        format!(
                            "{} ({})",
                            match s.trend {
                                Trend::Rising => "rising",
                                Trend::Falling => "falling",
                                Trend::Flat => "flat",
                            },
                            num(s.slope)
                        ),
                        s.outliers
                            .iter()
                            .map(|o| format!("#{}: {}", o.index + 1, num(o.value)))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ]
                })
                .collect();
            ui::table(
                &[
                    "series",
                    "n",
                    "min",
                    "max",
                    "mean",
                    "median",
                    "std dev",
                    "trend (slope)",
                    "outliers",
                ],
                rows,
            )?;
        }
        Facts::Decision(f) => {
            if f.options.is_empty() {
                ui::line("No options listed in the text.")?;
            } else {
                ui::line("Options:")?;
                for (i, o) in f.options.iter().enumerate() {
                    let label = o
                        .label
                        .as_deref()
                        .map(|l| format!("({l}) "))
                        .unwrap_or_default();
                    ui::line(&format!("  {}. {label}{}", i + 1, o.text))?;
                }
            }
        }
    }
    ui::line("")?;
    ui::line(&r.analysis)?;
    if let Some(rec) = &r.findings.recommendation
        && let (Some(k), Facts::Decision(f)) = (rec.option, &r.facts)
    {
        ui::line("")?;
        ui::line(&format!(
            "Recommended option: {}. {}",
            k + 1,
            f.options[k].text
        ))?;
    }
    if let Some(s) = &r.findings.sentiment {
        ui::line("")?;
        let confidence = s
            .confidence
            .map(|c| format!(" (confidence {c})"))
            .unwrap_or_default();
        ui::line(&format!("Sentiment: {}{confidence}", s.label))?;
    }
    Ok(())
}
