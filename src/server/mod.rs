//! The gateway: `app(state)` builds the router, `serve` runs it on a listener until shutdown.
//!
//! Kept apart so tests drive the router with `oneshot` and over a real socket alike.

mod openai;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::config::Config;
use crate::providers::{Deployment, ProviderError, Registry};

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub registry: Registry,
    /// Accepted bearer tokens; empty means no authentication.
    pub tokens: Vec<String>,
    pub started: Instant,
}

impl AppState {
    pub fn new(
        config: Config,
        tokens: Vec<String>,
    ) -> Result<Arc<Self>, crate::config::ConfigError> {
        let registry = Registry::from_config(&config)?;
        Ok(Arc::new(AppState {
            config,
            registry,
            tokens,
            started: Instant::now(),
        }))
    }

    /// The deployments for a requested model name (`auto` or empty: the default model).
    pub fn resolve(&self, model: &str) -> Result<(String, Vec<&Deployment>), ApiError> {
        let name = if model.is_empty() || model == "auto" {
            self.config
                .default_model()
                .map_err(|e| {
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_models", e.to_string())
                })?
                .to_owned()
        } else {
            model.to_owned()
        };
        let deployments = self
            .registry
            .deployments(&self.config, &name)
            .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "model_not_found", e.to_string()))?;
        Ok((name, deployments))
    }
}

/// Builds the router.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/models", get(openai::models))
        .route("/api/v1/models", get(openai::models))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/api/v1/chat/completions", post(openai::chat_completions))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
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
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
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
        ApiError::new(status, e.kind(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": { "message": self.message, "type": self.kind, "code": self.status.as_u16() }
        });
        (self.status, Json(body)).into_response()
    }
}
