//! The gateway: `app(state)` builds the router, `serve` runs it on a listener until shutdown.
//!
//! Kept apart so tests drive the router with `oneshot` and over a real socket alike.

mod openai;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::config::{Config, ConfigError};
use crate::providers::ProviderError;
use crate::router::{RouteError, Router};

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub router: Arc<Router>,
    /// Accepted bearer tokens; empty means no authentication.
    pub tokens: Vec<String>,
    pub started: Instant,
}

impl AppState {
    pub fn new(config: Config, tokens: Vec<String>) -> Result<Arc<Self>, ConfigError> {
        let router = Arc::new(Router::new(&config)?);
        Ok(Arc::new(AppState {
            config,
            router,
            tokens,
            started: Instant::now(),
        }))
    }
}

/// Builds the router.
pub fn app(state: Arc<AppState>) -> axum::Router {
    axum::Router::new()
        .route("/health", get(health))
        .route("/routing/stats", get(routing_stats))
        .route("/v1/models", get(openai::models))
        .route("/api/v1/models", get(openai::models))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/api/v1/chat/completions", post(openai::chat_completions))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn health(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "models": state.config.model_names().len(),
        "uptime_secs": state.started.elapsed().as_secs(),
    }))
}

async fn routing_stats(State(state): State<Arc<AppState>>) -> Json<crate::router::StatsSnapshot> {
    Json(state.router.stats())
}

/// Checks the bearer token (`Authorization: Bearer …` or `x-api-key`) in constant time.
pub fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    if state.tokens.is_empty() {
        return true;
    }
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()));
    let Some(presented) = presented else {
        return false;
    };
    state.tokens.iter().fold(false, |ok, t| {
        ok | constant_time_eq(t.as_bytes(), presented.as_bytes())
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An error in the OpenAI shape: `{"error": {"message", "type", "code"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }
}

impl From<ProviderError> for ApiError {
    fn from(e: ProviderError) -> Self {
        let status = match &e {
            ProviderError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ProviderError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ProviderError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            // The upstream rejected *our* key: the client cannot fix that, so it is a gateway error.
            _ => StatusCode::BAD_GATEWAY,
        };
        let message = match &e {
            // The upstream's URL is the operator's business (it may name internal hosts or
            // carry credentials); the client learns only which provider failed.
            ProviderError::Connect { provider, .. } => {
                format!("Cannot connect to provider `{provider}`")
            }
            _ => e.to_string(),
        };
        ApiError::new(status, e.kind(), message)
    }
}

impl From<RouteError> for ApiError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::Config(
                c @ (ConfigError::UnknownModel { .. } | ConfigError::UnknownProvider { .. }),
            ) => ApiError::new(StatusCode::NOT_FOUND, "model_not_found", c.to_string()),
            RouteError::Config(c) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "configuration_error",
                c.to_string(),
            ),
            e @ RouteError::NoCandidate(_) => ApiError::bad_request(e.to_string()),
            RouteError::AllCoolingDown { retry_after } => {
                let mut err = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded_error",
                    e.to_string(),
                );
                err.retry_after = Some(retry_after.as_secs().max(1));
                err
            }
            RouteError::Exhausted { source, .. } => source.into(),
            e @ RouteError::Deadline { .. } => {
                ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timeout", e.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": { "message": self.message, "type": self.kind, "code": self.status.as_u16() }
        });
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = secs.to_string().parse()
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}
