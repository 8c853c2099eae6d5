//! The gateway: `app(state)` builds the HTTP router, `serve` runs it on a listener until
//! shutdown, draining in-flight requests (streams too) within a grace period.
//!
//! Kept apart so tests drive the router with `oneshot` and over a real socket alike. The
//! configuration (providers, models, router) lives behind an `ArcSwap`: a reload (SIGHUP or a
//! changed file) swaps it whole, and requests already running keep the one they started with.

mod anthropic;
mod error;
mod gateway;
mod metrics;
mod middleware;
mod native;
mod openai;
mod sessions;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::Semaphore;

pub use error::{ApiError, ErrorKind, Shape};
pub use metrics::Metrics;
pub use sessions::Sessions;

use crate::config::{Config, ConfigError};
use crate::router::Router;

/// The configuration in force and the router built from it.
#[derive(Debug)]
pub struct Live {
    pub config: Config,
    pub router: Arc<Router>,
}

/// Limits fixed at start-up (a reload does not change them).
#[derive(Debug)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub concurrency: Arc<Semaphore>,
    pub max_concurrency: usize,
    pub public_health: bool,
    pub public_metrics: bool,
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    live: ArcSwap<Live>,
    /// Accepted bearer tokens; empty means no authentication.
    pub tokens: Vec<String>,
    pub started: Instant,
    pub limits: Limits,
    pub metrics: Metrics,
    pub sessions: Sessions,
    pub total_requests: AtomicU64,
}

impl AppState {
    pub fn new(config: Config, tokens: Vec<String>) -> Result<Arc<Self>, ConfigError> {
        let router = Arc::new(Router::new(&config)?);
        let s = &config.settings.server;
        let max_concurrency = s.max_concurrency.unwrap_or(1024).max(1);
        let limits = Limits {
            max_body_bytes: s.max_body_bytes.unwrap_or(4 * 1024 * 1024),
            request_timeout: Duration::from_secs_f64(s.request_timeout_secs.unwrap_or(600.0)),
            concurrency: Arc::new(Semaphore::new(max_concurrency)),
            max_concurrency,
            public_health: s.public_health,
            public_metrics: s.public_metrics,
        };
        let sessions = Sessions::new(
            Duration::from_secs_f64(s.session_ttl_minutes.unwrap_or(30.0) * 60.0),
            s.session_max_messages.unwrap_or(100),
        );
        Ok(Arc::new(AppState {
            live: ArcSwap::from_pointee(Live { config, router }),
            tokens: tokens.into_iter().filter(|t| !t.is_empty()).collect(),
            started: Instant::now(),
            limits,
            metrics: Metrics::default(),
            sessions,
            total_requests: AtomicU64::new(0),
        }))
    }

    /// The configuration and router in force now.
    pub fn live(&self) -> Arc<Live> {
        self.live.load_full()
    }

    /// Replaces providers, models and the router. On error the old configuration stays.
    pub fn reload(&self, config: Config) -> Result<(), ConfigError> {
        let router = Arc::new(Router::new(&config)?);
        self.live.store(Arc::new(Live { config, router }));
        Ok(())
    }
}

/// Builds the router: both protocols (also under `/api/v1`), the native API, health and
/// metrics, behind auth, load shedding, a per-request timeout, a body limit and request logs.
pub fn app(state: Arc<AppState>) -> axum::Router {
    let body_limit = state.limits.max_body_bytes;
    axum::Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/api/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/models", get(openai::models))
        .route("/api/v1/models", get(openai::models))
        .route("/v1/messages", post(anthropic::messages))
        .route("/api/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route(
            "/api/v1/messages/count_tokens",
            post(anthropic::count_tokens),
        )
        .route("/query", post(native::query))
        .route("/status", get(native::status))
        .route("/models", get(native::models))
        .route("/routing/stats", get(native::routing_stats))
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::guard,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_grace(listener, app, shutdown, Duration::from_secs(30)).await
}

/// Like [`serve`], but gives in-flight requests at most `grace` after `shutdown` resolves.
pub async fn serve_with_grace(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Streamed answers are many small writes: without TCP_NODELAY each waits for an ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = rx.wait_for(|stop| *stop).await;
    });
    let server = std::pin::pin!(server.into_future());
    let mut server = server;
    tokio::select! {
        result = &mut server => return result,
        () = shutdown => {}
    }
    tracing::info!(
        grace_secs = grace.as_secs_f64(),
        "shutting down: no new connections, draining in-flight requests"
    );
    let _ = tx.send(true);
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                "the grace period ended with requests still in flight; they are cut off"
            );
            Ok(())
        }
    }
}

async fn health(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let live = state.live();
    Json(json!({
        "status": "ok",
        "models": live.config.model_names().len(),
        "uptime_secs": state.started.elapsed().as_secs(),
    }))
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "No route `{}`; see the README for the endpoints",
            uri.path()
        ),
    )
    .into_shape(Shape::of_path(uri.path()))
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
