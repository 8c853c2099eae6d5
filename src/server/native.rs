//! The native API of the original system: `/query`, `/status`, `/models`, `/routing/stats`
//! (and `/service`, `/cooperation/task` over the cooperation engine).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::body::JsonBody;
use super::gateway::{self, Completion, TokenId};
use super::middleware::ModelUsed;
use super::{ApiError, AppState};
use crate::router::{Preferences, Router};
use crate::types::ChatRequest;

/// `POST /query`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub query: String,
    #[serde(default)]
    pub preferences: Preferences,
    /// Keeps the conversation of this user (unless `session_id` names another).
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    /// A configured model; default: the router picks.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Serve and keep this answer in the response cache.
    #[serde(default)]
    pub cache: bool,
}

#[derive(Debug, Serialize)]
struct QueryResponse {
    request_id: String,
    success: bool,
    result: String,
    model: String,
    provider: String,
    /// Seconds.
    processing_time: f64,
    strategy_used: &'static str,
    /// Served from the response cache (no tokens spent).
    cached: bool,
    usage: crate::types::Usage,
    /// The receipt, when several models cooperated.
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<Value>,
    attempts: Vec<crate::router::Attempt>,
}

fn request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

pub async fn query(
    State(state): State<Arc<AppState>>,
    token: Option<axum::Extension<TokenId>>,
    body: Result<JsonBody<QueryRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let JsonBody(q) = body?;
    if q.query.trim().is_empty() {
        return Err(ApiError::bad_request("`query` is empty"));
    }
    if let Some(p) = q.preferences.quality_priority
        && !(0.0..=1.0).contains(&p)
    {
        return Err(ApiError::bad_request(format!(
            "`preferences.quality_priority` {p} is out of range; use 0.0 to 1.0"
        )));
    }
    let mut req = ChatRequest::simple(
        q.model.as_deref().unwrap_or("auto"),
        q.system.as_deref(),
        &q.query,
    );
    req.max_tokens = q.max_tokens;
    req.temperature = q.temperature;
    let session = q.session_id.or(q.user_id);
    let answered = gateway::complete(
        &state,
        Completion {
            req,
            prefs: q.preferences,
            session,
            cache: q.cache,
            token: token.map(|t| t.0),
        },
    )
    .await?;
    let r = answered.response;
    let model = r.model.clone();
    let mut resp = Json(QueryResponse {
        request_id: request_id(),
        success: true,
        result: r.text(),
        model: r.model,
        provider: r.provider,
        processing_time: started.elapsed().as_secs_f64(),
        strategy_used: answered.strategy,
        cached: answered.cached,
        usage: r.usage,
        receipt: answered.receipt,
        attempts: answered.attempts,
    })
    .into_response();
    resp.extensions_mut().insert(ModelUsed(model));
    Ok(resp)
}

/// Health of every model: `ready`, `degraded` (some replicas cooling down), `down`, or why
/// it cannot be used.
fn model_health(router: &Router) -> Vec<Value> {
    router
        .model_configs()
        .iter()
        .map(|m| {
            let deployments = router.health_of(&m.name);
            let cooling = deployments
                .iter()
                .filter(|(_, h)| h.cooldown_secs.is_some())
                .count();
            let misconfigured = deployments
                .iter()
                .filter(|(_, h)| h.misconfigured.is_some())
                .count();
            let health = match (deployments.len(), cooling + misconfigured) {
                (0, _) => "unusable",
                (n, _) if misconfigured == n => "misconfigured",
                (n, out) if out >= n => "down",
                (_, 0) => "ready",
                _ => "degraded",
            };
            // Over every replica: requests counted, failures, and the latency average
            // weighted by requests (the original system's `avg_latency`, in seconds).
            let requests: u64 = deployments.iter().map(|(_, h)| h.requests).sum();
            let failures: u64 = deployments.iter().map(|(_, h)| h.failures).sum();
            let timed: Vec<(f64, f64)> = deployments
                .iter()
                .filter_map(|(_, h)| h.latency_ms.map(|l| (l, h.requests.max(1) as f64)))
                .collect();
            let weight: f64 = timed.iter().map(|(_, w)| w).sum();
            let avg_latency = (weight > 0.0)
                .then(|| timed.iter().map(|(l, w)| l * w).sum::<f64>() / weight / 1e3);
            json!({
                "name": m.name,
                "status": health,
                "request_count": requests,
                "avg_latency": avg_latency,
                "error_rate": if requests > 0 { failures as f64 / requests as f64 } else { 0.0 },
                "tasks": m.tasks,
                "tier": m.tier,
                "price_in": m.price_in,
                "price_out": m.price_out,
                "context_window": m.context_window,
                "health": health,
                "deployments": deployments.iter().map(|(d, h)| json!({
                    "provider": d.provider(),
                    "upstream": d.model.upstream,
                    "health": h,
                })).collect::<Vec<_>>(),
            })
        })
        .collect()
}

pub async fn models(State(state): State<Arc<AppState>>) -> Json<Value> {
    let live = state.live();
    Json(json!({ "models": model_health(&live.router) }))
}

pub async fn status(State(state): State<Arc<AppState>>) -> Json<Value> {
    let live = state.live();
    let models = model_health(&live.router);
    let active = models
        .iter()
        .filter(|m| m["health"] == "ready" || m["health"] == "degraded")
        .count();
    let system_health = if models.is_empty() || active == 0 {
        "unhealthy"
    } else if active < models.len() {
        "degraded"
    } else {
        "healthy"
    };
    // Deployments left out because their key was rejected, with the upstream's reason.
    let misconfigured: Vec<Value> = live
        .router
        .model_configs()
        .iter()
        .flat_map(|m| {
            live.router
                .health_of(&m.name)
                .into_iter()
                .filter_map(|(d, h)| {
                    h.misconfigured.map(
                        |why| json!({ "model": m.name, "provider": d.provider(), "reason": why }),
                    )
                })
        })
        .collect();
    Json(json!({
        "system_health": system_health,
        "misconfigured": misconfigured,
        "active_models": active,
        "configured_models": models.len(),
        "total_requests": state.total_requests.load(Ordering::Relaxed),
        "uptime": state.started.elapsed().as_secs_f64(),
        // Per model, as the original system's status had them.
        "models": models
            .iter()
            .map(|m| {
                let name = m["name"].as_str().unwrap_or_default().to_owned();
                let metrics = json!({
                    "status": m["status"],
                    "request_count": m["request_count"],
                    "avg_latency": m["avg_latency"],
                    "error_rate": m["error_rate"],
                });
                (name, metrics)
            })
            .collect::<serde_json::Map<String, Value>>(),
        "state": state.shared.health(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// This replica's routing counters; with shared state, also the whole cluster's under
/// `cluster` (requests, succeeded, failed, and picks by model).
pub async fn routing_stats(State(state): State<Arc<AppState>>) -> Json<Value> {
    let mut stats = serde_json::to_value(state.live().router.stats()).unwrap_or_default();
    // The original system's `average_latency`, in seconds, beside our `average_latency_ms`.
    stats["average_latency"] = json!(stats["average_latency_ms"].as_f64().map(|ms| ms / 1e3));
    if state.is_shared() {
        let counters = state.shared.counters().await;
        let get = |k: &str| counters.get(k).copied().unwrap_or(0);
        let picks: std::collections::BTreeMap<&str, u64> = counters
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("pick:").map(|m| (m, *v)))
            .collect();
        stats["cluster"] = json!({
            "total_requests": get("requests"),
            "succeeded": get("succeeded"),
            "failed": get("failed"),
            "model_picks": picks,
        });
    }
    Json(stats)
}
