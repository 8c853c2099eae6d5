//! One layer around every route: request id, auth, load shedding, the per-request timeout,
//! metrics and one log line per request.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;

use super::gateway::TokenId;
use super::metrics::{ErrorLabels, RequestLabels, RouteLabel, RouteModel};
use super::{ApiError, AppState, ErrorKind, Shape, authorized, presented_token};

/// A short, stable id for a token: rate-limit counters never hold the token itself.
fn token_id(token: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ("llm-gateway-token", token).hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The model that served a request, set by handlers for logs and metrics.
#[derive(Debug, Clone)]
pub struct ModelUsed(pub String);

pub async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let shape = Shape::of_path(&path);
    let method = req.method().clone();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 128)
        .map_or_else(
            || format!("req-{:016x}", rand::random::<u64>()),
            str::to_owned,
        );

    let public = (path == "/health" && state.limits.public_health)
        || (path == "/metrics" && state.limits.public_metrics);
    let mut req = req;
    let token = presented_token(req.headers()).map(|t| TokenId(token_id(t)));
    let limited = match &token {
        // Only requests that reach models count: health checks and stats are free.
        Some(t)
            if !state.tokens.is_empty()
                && !state.policies.rate_limits.is_unlimited()
                && method == axum::http::Method::POST =>
        {
            state
                .shared
                .rate_acquire(&t.0, state.policies.rate_limits)
                .await
                .err()
        }
        _ => None,
    };
    if let Some(t) = token {
        req.extensions_mut().insert(t);
    }
    let mut resp = if !public && !authorized(&state, req.headers()) {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "Missing or invalid API key: send `Authorization: Bearer <token>` or `x-api-key: <token>`",
        )
        .into_shape(shape)
    } else if let Some(wait) = limited {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "This API token has used its requests or tokens for this minute; retry after the `Retry-After` seconds",
        );
        e.retry_after = Some(wait.as_secs().max(1));
        e.into_shape(shape)
    } else {
        match state.limits.concurrency.clone().try_acquire_owned() {
            Err(_) => {
                state.metrics.shed.inc();
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded_error",
                    format!(
                        "The gateway is at its limit of {} concurrent requests; retry shortly",
                        state.limits.max_concurrency
                    ),
                );
                e.retry_after = Some(1);
                e.into_shape(shape)
            }
            Ok(permit) => {
                state.total_requests.fetch_add(1, Ordering::Relaxed);
                let gauge = state
                    .metrics
                    .in_flight
                    .get_or_create(&RouteLabel {
                        route: route.clone(),
                    })
                    .clone();
                gauge.inc();
                // A guard, not a `dec()` after the await: a client that goes away before the
                // answer drops this future, and the gauge must still come down (and the
                // request is counted and logged as abandoned).
                let mut in_flight = InFlight {
                    gauge,
                    state: state.clone(),
                    id: id.clone(),
                    route: route.clone(),
                    started,
                    finished: false,
                };
                let deadline = tokio::time::Instant::now() + state.limits.request_timeout;
                let resp = match tokio::time::timeout_at(deadline, next.run(req)).await {
                    Ok(resp) => resp,
                    Err(_) => ApiError::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        "timeout",
                        format!(
                            "The request took longer than {:.0} s",
                            state.limits.request_timeout.as_secs_f64()
                        ),
                    )
                    .into_shape(shape),
                };
                if is_stream(&resp) {
                    // A stream holds its slot and counts as in flight until its body ends
                    // (or the client goes away, which drops the body and the upstream with it).
                    // The request deadline covers the stream too: past it, the stream ends
                    // with an error event the client can read, and the upstream is dropped.
                    let (parts, body) = resp.into_parts();
                    let held = (permit, in_flight);
                    let timeout = state.limits.request_timeout;
                    let mut data = body.into_data_stream();
                    let body = Body::from_stream(async_stream::stream! {
                        let mut held = held;
                        loop {
                            match tokio::time::timeout_at(deadline, data.next()).await {
                                Ok(Some(chunk)) => yield chunk,
                                Ok(None) => break,
                                Err(_) => {
                                    yield Ok::<_, axum::Error>(timeout_event(shape, timeout));
                                    break;
                                }
                            }
                        }
                        held.1.finished = true;
                    });
                    Response::from_parts(parts, body)
                } else {
                    in_flight.finished = true;
                    drop(in_flight);
                    drop(permit);
                    resp
                }
            }
        }
    };

    let status = resp.status().as_u16();
    let model = resp
        .extensions()
        .get::<ModelUsed>()
        .map_or_else(String::new, |m| m.0.clone());
    let latency = started.elapsed();
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            model: model.clone(),
            status,
        })
        .inc();
    state
        .metrics
        .latency
        .get_or_create(&RouteModel {
            route: route.clone(),
            model: model.clone(),
        })
        .observe(latency.as_secs_f64());
    if let Some(kind) = resp.extensions().get::<ErrorKind>() {
        state
            .metrics
            .errors
            .get_or_create(&ErrorLabels {
                route: route.clone(),
                kind: kind.0,
            })
            .inc();
    }
    tracing::info!(
        id = %id,
        method = %method,
        route = %route,
        model = %model,
        status,
        latency_ms = (latency.as_secs_f64() * 1e3),
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        // Anthropic's SDKs read `request-id`; OpenAI's `x-request-id`.
        resp.headers_mut().insert("request-id", v.clone());
        resp.headers_mut().insert("x-request-id", v);
    }
    if status == 413 {
        // The rest of the body is never read, so the connection cannot carry another request:
        // saying so keeps a client from reusing it and failing its next request.
        resp.headers_mut().insert(
            axum::http::header::CONNECTION,
            HeaderValue::from_static("close"),
        );
    }
    resp
}

/// The event that ends a stream cut off at the request deadline, in the route's protocol.
fn timeout_event(shape: Shape, timeout: std::time::Duration) -> bytes::Bytes {
    let message = format!(
        "The request took longer than {:.0} s; the server's limit is `[server] request_timeout_secs`",
        timeout.as_secs_f64()
    );
    let event = match shape {
        Shape::OpenAi => format!(
            "data: {}\n\n",
            serde_json::json!({ "error": { "message": message, "type": "timeout", "code": 504 } })
        ),
        Shape::Anthropic => format!(
            "event: error\ndata: {}\n\n",
            serde_json::json!({ "type": "error", "error": { "type": "timeout_error", "message": message } })
        ),
    };
    bytes::Bytes::from(event)
}

fn is_stream(resp: &Response) -> bool {
    resp.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"))
}

/// A request in flight: decrements its gauge when dropped, and counts and logs the request as
/// abandoned when that happens before it finished (its client went away).
struct InFlight {
    gauge: prometheus_client::metrics::gauge::Gauge<i64, std::sync::atomic::AtomicI64>,
    /// For the abandoned-requests counter, looked up only when one is abandoned.
    state: Arc<AppState>,
    id: String,
    route: String,
    started: std::time::Instant,
    finished: bool,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.dec();
        if !self.finished {
            self.state
                .metrics
                .abandoned
                .get_or_create(&RouteLabel {
                    route: self.route.clone(),
                })
                .inc();
            tracing::info!(
                id = %self.id,
                route = %self.route,
                after_ms = (self.started.elapsed().as_secs_f64() * 1e3),
                "request abandoned by the client"
            );
        }
    }
}
