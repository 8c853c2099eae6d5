//! `llm-cooperation status`: can each provider be reached, how fast, and what a running
//! `llm-server` has seen.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::{GlobalArgs, StatusArgs};
use crate::providers::Registry;
use crate::ui;

#[derive(Debug, Serialize)]
struct ProviderStatus {
    provider: String,
    reachable: bool,
    latency_ms: Option<f64>,
    /// How many model ids the provider lists.
    models_listed: Option<usize>,
    error: Option<String>,
    /// Not checked: it needs an API key and has none (`error` says how to give one).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    no_key: bool,
}

#[derive(Debug, Serialize)]
struct Status {
    providers: Vec<ProviderStatus>,
    /// `GET /routing/stats` of the configured server, when one answers.
    server: Option<serde_json::Value>,
    server_url: Option<String>,
}

pub fn run(global: &GlobalArgs, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let config = super::load_config(global)?;
    let registry = Registry::from_config(&config)?;
    let wait = Duration::from_secs_f64(args.timeout.clamp(0.1, 600.0));
    // The server to ask for its stats: the local provider's (this machine's llm-server), else
    // the one `[server]` describes; none when neither is configured.
    let local = config
        .settings
        .providers
        .values()
        .find(|p| p.kind == crate::config::ProviderKind::Local)
        .and_then(|p| reqwest::Url::parse(&p.base_url).ok())
        .map(|u| format!("{}://{}", u.scheme(), u.authority()));
    let s = &config.settings.server;
    let configured = (s.host.is_some() || s.port.is_some()).then(|| {
        format!(
            "http://{}:{}",
            s.host.as_deref().unwrap_or("127.0.0.1"),
            s.port.unwrap_or(8080)
        )
    });
    let server_url = local.or(configured);
    let spinner = ui::spinner(format!("Checking {} providers…", registry.backends.len()));
    let runtime = super::runtime()?;
    let (providers, server) = runtime.block_on(async {
        let checks = registry.backends.iter().map(|(name, backend)| async move {
            let started = Instant::now();
            let result = tokio::time::timeout(wait, backend.list_models()).await;
            let latency_ms = Some((started.elapsed().as_secs_f64() * 1e4).round() / 10.0);
            match result {
                Ok(Ok(ids)) => ProviderStatus {
                    provider: name.clone(),
                    reachable: true,
                    latency_ms,
                    models_listed: Some(ids.len()),
                    error: None,
                    no_key: false,
                },
                Ok(Err(e)) => ProviderStatus {
                    provider: name.clone(),
                    // An answer that is an error (e.g. 401) still means the server is up.
                    reachable: e.status().is_some(),
                    latency_ms,
                    models_listed: None,
                    error: Some(e.to_string()),
                    no_key: false,
                },
                Err(_) => ProviderStatus {
                    provider: name.clone(),
                    reachable: false,
                    latency_ms: None,
                    models_listed: None,
                    error: Some(format!("no answer within {:.1} s", wait.as_secs_f64())),
                    no_key: false,
                },
            }
        });
        let server = async {
            let url = server_url.as_deref()?;
            let client = reqwest::Client::builder()
                .timeout(Duration::from_millis(500))
                .build()
                .ok()?;
            let resp = client
                .get(format!("{url}/routing/stats"))
                .send()
                .await
                .ok()?;
            resp.json::<serde_json::Value>().await.ok()
        };
        tokio::join!(futures::future::join_all(checks), server)
    });
    spinner.finish_and_clear();
    let unreachable = providers.iter().filter(|p| !p.reachable).count();
    // Providers that need a key and have none are not checked, but listed with the fix
    // (they used to be left out, as if not configured).
    let mut providers = providers;
    for (name, p) in &config.settings.providers {
        if !registry.backends.contains_key(name) && p.needs_key && config.api_key(name).is_none() {
            providers.push(ProviderStatus {
                provider: name.clone(),
                reachable: false,
                latency_ms: None,
                models_listed: None,
                error: Some(crate::providers::missing_key(&config, name).to_string()),
                no_key: true,
            });
        }
    }
    let status = Status {
        providers,
        server,
        server_url,
    };
    if args.json {
        ui::json(&status)?;
    } else {
        let rows = status
            .providers
            .iter()
            .map(|p| {
                vec![
                    p.provider.clone(),
                    if p.reachable {
                        ui::good("reachable")
                    } else if p.no_key {
                        ui::bad("no key")
                    } else {
                        ui::bad("unreachable")
                    },
                    p.latency_ms.map_or("-".into(), |l| format!("{l:.0} ms")),
                    p.models_listed.map_or("-".into(), |n| n.to_string()),
                    p.error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        ui::table(
            &["provider", "status", "latency", "models listed", "error"],
            rows,
        )?;
        match (&status.server, &status.server_url) {
            (Some(stats), Some(url)) => ui::line(&server_line(url, stats))?,
            (None, Some(url)) => ui::line(&format!("No llm-server answers at {url}"))?,
            _ => {}
        }
    }
    Ok(if unreachable == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::entry::EXIT_FAILURE)
    })
}

/// `llm-server at URL: 12 requests, success rate 91.7%, average latency 11434 ms`: a rate in
/// percent and a latency in whole milliseconds (the stats carry full precision).
fn server_line(url: &str, stats: &serde_json::Value) -> String {
    let number = |key: &str| stats[key].as_f64();
    let rate = number("success_rate").map_or("-".to_owned(), |r| {
        let percent = if r <= 1.0 { r * 100.0 } else { r };
        format!("{percent:.1}%")
    });
    let latency = number("average_latency_ms").map_or("-".to_owned(), |l| format!("{l:.0} ms"));
    format!(
        "llm-server at {url}: {} requests, success rate {rate}, average latency {latency}",
        stats["total_requests"]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// It used to print `average latency 11434.0325 ms`.
    #[test]
    fn server_stats_are_printed_with_sensible_precision() {
        let stats = serde_json::json!({
            "total_requests": 12,
            "success_rate": 0.916_666_666,
            "average_latency_ms": 11_434.032_5,
        });
        assert_eq!(
            server_line("http://127.0.0.1:8080", &stats),
            "llm-server at http://127.0.0.1:8080: 12 requests, success rate 91.7%, average latency 11434 ms"
        );
    }
}
