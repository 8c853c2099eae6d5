//! `llm-config test` and `llm-cooperation test`: a short real request to each model deployment.

use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;

use crate::cli::{GlobalArgs, TestArgs};
use crate::config::ConfigError;
use crate::providers::{Registry, missing_key};
use crate::types::ChatRequest;
use crate::ui;

#[derive(Debug, Serialize)]
struct Outcome {
    model: String,
    provider: String,
    ok: bool,
    latency_ms: Option<f64>,
    /// The answer's start, or the error.
    result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_kind: Option<&'static str>,
}

pub fn test(g: &GlobalArgs, args: TestArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(g)?;
    if config.settings.models.is_empty() {
        return Err(ConfigError::NoModels.into());
    }
    let wanted = args.model.as_deref().map(|m| config.resolve_model(m));
    if let Some(m) = &wanted {
        config.deployments(m)?;
    }
    let registry = Registry::from_config(&config)?;
    let selected = |name: &str| wanted.as_deref().is_none_or(|m| m == name);
    let mut outcomes: Vec<Outcome> = Vec::new();
    // Deployments left out of the registry have no key: report them without a request.
    for m in config.settings.models.iter().filter(|m| selected(&m.name)) {
        if !registry.backends.contains_key(&m.provider) {
            outcomes.push(Outcome {
                model: m.name.clone(),
                provider: m.provider.clone(),
                ok: false,
                latency_ms: None,
                result: missing_key(&config, &m.provider).to_string(),
                error_kind: Some("no_key"),
            });
        }
    }
    let deployments: Vec<_> = registry
        .deployments
        .iter()
        .filter(|d| selected(&d.model.name))
        .collect();
    let spinner = ui::spinner(format!(
        "Testing {} model deployment(s)…",
        deployments.len()
    ));
    let runtime = super::runtime()?;
    let results = runtime.block_on(futures::future::join_all(deployments.iter().map(|d| {
        let mut req = ChatRequest::simple(&d.model.name, None, &args.prompt);
        req.max_tokens = Some(16);
        req.temperature = Some(0.0);
        async move {
            let started = Instant::now();
            let result = d.chat(req).await;
            (d, started.elapsed(), result)
        }
    })));
    spinner.finish_and_clear();
    for (d, elapsed, result) in results {
        let latency_ms = Some((elapsed.as_secs_f64() * 1e4).round() / 10.0);
        outcomes.push(match result {
            Ok(resp) => Outcome {
                model: d.model.name.clone(),
                provider: d.provider().to_owned(),
                ok: true,
                latency_ms,
                result: resp.text().trim().chars().take(60).collect(),
                error_kind: None,
            },
            Err(e) => Outcome {
                model: d.model.name.clone(),
                provider: d.provider().to_owned(),
                ok: false,
                latency_ms,
                result: e.to_string(),
                error_kind: Some(e.kind()),
            },
        });
    }
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    if args.json.json {
        ui::json(&outcomes)?;
    } else {
        let rows = outcomes
            .iter()
            .map(|o| {
                vec![
                    o.model.clone(),
                    o.provider.clone(),
                    if o.ok {
                        ui::good("ok")
                    } else {
                        ui::bad("failed")
                    },
                    o.latency_ms.map_or("-".into(), |l| format!("{l:.0} ms")),
                    o.result.clone(),
                ]
            })
            .collect();
        ui::table(&["model", "provider", "status", "latency", "result"], rows)?;
        ui::line(&format!("{} ok, {failed} failed", outcomes.len() - failed))?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::entry::EXIT_FAILURE)
    })
}
