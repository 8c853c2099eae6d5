//! `llm-cooperation models`: what the router can choose from.

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{Format, GlobalArgs, ListArgs};
use crate::config::{ModelConfig, Task};
use crate::router::Router;
use crate::ui;

#[derive(Debug, Serialize)]
struct Row<'a> {
    name: &'a str,
    providers: Vec<&'a str>,
    deployments: usize,
    tasks: &'a [Task],
    tier: u8,
    price_in: f64,
    price_out: f64,
    context_window: u32,
    /// `ready`, or why requests cannot reach it.
    health: String,
    /// The model commands use when they name none; no model is the default when requests
    /// are routed (no `[defaults] model`).
    default: bool,
}

pub fn run(global: &GlobalArgs, args: ListArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(global)?;
    let router = Router::new(&config)?;
    let default = config.default_model();
    let rows: Vec<Row> = router
        .model_configs()
        .iter()
        .map(|m: &ModelConfig| {
            let deployments: Vec<&ModelConfig> = config
                .settings
                .models
                .iter()
                .filter(|d| d.name == m.name)
                .collect();
            let live = router.health_of(&m.name);
            let health = if live.is_empty() {
                crate::providers::missing_key(&config, &m.provider).to_string()
            } else if live.len() < deployments.len() {
                format!(
                    "ready ({} of {} deployments have keys)",
                    live.len(),
                    deployments.len()
                )
            } else {
                "ready".to_owned()
            };
            Row {
                name: &m.name,
                providers: deployments.iter().map(|d| d.provider.as_str()).collect(),
                deployments: deployments.len(),
                tasks: &m.tasks,
                tier: m.tier,
                price_in: m.price_in,
                price_out: m.price_out,
                context_window: m.context_window,
                health,
                default: Some(m.name.as_str()) == default,
            }
        })
        .collect();
    if args.json || args.format == Format::Json {
        ui::json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        return Err(crate::config::ConfigError::NoModels.into());
    }
    let table = rows
        .iter()
        .map(|r| {
            vec![
                if r.default {
                    format!("{} *", r.name)
                } else {
                    r.name.to_owned()
                },
                r.providers.join(", "),
                r.tasks
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                r.tier.to_string(),
                format!("{} / {}", r.price_in, r.price_out),
                r.context_window.to_string(),
                if r.health == "ready" {
                    ui::good("ready")
                } else {
                    ui::bad(&r.health)
                },
            ]
        })
        .collect();
    ui::table(
        &[
            "model",
            "providers",
            "tasks",
            "tier",
            "$/M in / out",
            "context",
            "health",
        ],
        table,
    )?;
    ui::line(&default_footer(default))?;
    Ok(ExitCode::SUCCESS)
}

/// The line under a model table saying what a command without `--model` uses.
pub fn default_footer(default: Option<&str>) -> String {
    match default {
        Some(_) => "* the default model (`llm-config default --unset` routes instead)".to_owned(),
        None => "No default model: the router picks one per request (`llm-config default MODEL` sets one)".to_owned(),
    }
}
