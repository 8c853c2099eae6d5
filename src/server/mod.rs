//! The gateway: `app(state)` builds the HTTP router, `serve` runs it on a listener until
//! shutdown, draining in-flight requests (streams too) within a grace period.
//!
//! Kept apart so tests drive the router with `oneshot` and over a real socket alike. The
//! configuration (providers, models, router) lives behind an `ArcSwap`: a reload (SIGHUP or a
//! changed file) swaps it whole, and requests already running keep the one they started with.

mod anthropic;
mod body;
mod coop;
mod embeddings;
mod error;
mod gateway;
mod local;
mod metrics;
mod middleware;
mod native;
mod openai;
mod responses;
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

use crate::config::{Config, ConfigError, ServerSettings};
use crate::router::Router;
use crate::store::{MemoryState, RateLimits, SharedState};

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

impl Limits {
    /// From `[server]`, defaults filled in. The values must have passed
    /// [`crate::config::validate`] (a negative or infinite duration would panic here).
    pub fn from_settings(s: &ServerSettings) -> Limits {
        let max_concurrency = s.max_concurrency.unwrap_or(1024).max(1);
        Limits {
            max_body_bytes: s.max_body_bytes.unwrap_or(4 * 1024 * 1024),
            request_timeout: Duration::from_secs_f64(s.request_timeout_secs.unwrap_or(600.0)),
            concurrency: Arc::new(Semaphore::new(max_concurrency)),
            max_concurrency,
            public_health: s.public_health,
            public_metrics: s.public_metrics,
        }
    }
}

/// How sessions and the response cache behave (fixed at start-up).
#[derive(Debug, Clone, Copy)]
pub struct Policies {
    pub session_ttl: Duration,
    pub session_max_messages: usize,
    /// How long stored Responses API responses are kept.
    pub responses_ttl: Duration,
    /// Cache deterministic requests (temperature 0 or a seed) without being asked.
    pub cache_by_default: bool,
    pub cache_ttl: Duration,
    /// Requests to an upstream of their own protocol go out as written (see
    /// `protocol::verbatim`).
    pub forward_as_written: bool,
    /// Per gateway token.
    pub rate_limits: RateLimits,
}

impl Policies {
    /// From `[server]`, defaults filled in (validated values, as for [`Limits::from_settings`]).
    pub fn from_settings(s: &ServerSettings) -> Policies {
        Policies {
            session_ttl: Duration::from_secs_f64(s.session_ttl_minutes.unwrap_or(30.0) * 60.0),
            session_max_messages: s.session_max_messages.unwrap_or(100).max(2),
            responses_ttl: Duration::from_secs_f64(
                s.responses_ttl_minutes.unwrap_or(1440.0) * 60.0,
            ),
            cache_by_default: s.response_cache,
            forward_as_written: s.forward_as_written.unwrap_or(true),
            cache_ttl: Duration::from_secs_f64(s.response_cache_ttl_secs.unwrap_or(300.0)),
            rate_limits: RateLimits {
                requests_per_minute: s.rate_limit_requests_per_minute,
                tokens_per_minute: s.rate_limit_tokens_per_minute,
            },
        }
    }

    /// `shutdown_grace_secs`, default 30 s.
    pub fn shutdown_grace(s: &ServerSettings) -> Duration {
        Duration::from_secs_f64(s.shutdown_grace_secs.unwrap_or(30.0).max(0.0))
    }
}

/// What every handler shares.
pub struct AppState {
    live: ArcSwap<Live>,
    /// Accepted bearer tokens; empty means no authentication.
    pub tokens: Vec<String>,
    pub started: Instant,
    pub limits: Limits,
    pub policies: Policies,
    pub metrics: Metrics,
    /// Sessions, cooldowns, counters, rate limits and the response cache.
    pub shared: Arc<dyn SharedState>,
    pub total_requests: AtomicU64,
    cooldown_sink: tokio::sync::mpsc::UnboundedSender<(String, u64)>,
    cooldown_events: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<(String, u64)>>>,
    /// The `[local]` models this server runs itself.
    pub local: local::LocalEngines,
}

/// Leaves out the accepted tokens: they are secrets like any API key.
impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("live", &self.live)
            .field("tokens", &format_args!("[{} hidden]", self.tokens.len()))
            .field("limits", &self.limits)
            .field("policies", &self.policies)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// A gateway whose shared state lives in this process.
    pub fn new(config: Config, tokens: Vec<String>) -> Result<Arc<Self>, ConfigError> {
        Self::with_state(config, tokens, Arc::new(MemoryState::new()))
    }

    /// A gateway over the given shared state (e.g. Redis, shared with other replicas).
    pub fn with_state(
        config: Config,
        tokens: Vec<String>,
        shared: Arc<dyn SharedState>,
    ) -> Result<Arc<Self>, ConfigError> {
        let local = local::LocalEngines::default();
        let backends = local.sync(&config)?;
        let router = Arc::new(Router::with_backends(&config, &backends)?);
        let (cooldown_sink, events) = tokio::sync::mpsc::unbounded_channel();
        router.announce_cooldowns(cooldown_sink.clone());
        let limits = Limits::from_settings(&config.settings.server);
        let policies = Policies::from_settings(&config.settings.server);
        Ok(Arc::new(AppState {
            live: ArcSwap::from_pointee(Live { config, router }),
            tokens: tokens.into_iter().filter(|t| !t.is_empty()).collect(),
            started: Instant::now(),
            limits,
            policies,
            metrics: Metrics::default(),
            shared,
            total_requests: AtomicU64::new(0),
            cooldown_sink,
            cooldown_events: std::sync::Mutex::new(Some(events)),
            local,
        }))
    }

    /// The configuration and router in force now.
    pub fn live(&self) -> Arc<Live> {
        self.live.load_full()
    }

    /// Replaces providers, models and the router. On error the old configuration stays.
    /// Loads local models that were added or changed (blocking while they load) and drops
    /// removed ones.
    pub fn reload(&self, config: Config) -> Result<(), ConfigError> {
        crate::config::validate(&config.settings, &config.paths.config_file)?;
        let backends = self.local.sync(&config)?;
        // Health (cooldowns, latency averages) and counters carry over for the deployments
        // both configurations have.
        let previous = self.live();
        let router = Arc::new(Router::rebuild(&config, &backends, Some(&previous.router))?);
        router.announce_cooldowns(self.cooldown_sink.clone());
        self.live.store(Arc::new(Live { config, router }));
        Ok(())
    }

    /// Whether state is shared with other replicas (counters are then kept there too).
    pub fn is_shared(&self) -> bool {
        self.shared.health().backend != "memory"
    }
}

/// How often replicas pull each other's cooldowns.
const COOLDOWN_SYNC: Duration = Duration::from_millis(250);

/// Background work of a running gateway: announcing this replica's cooldowns, applying other
/// replicas' ones, and sweeping expired sessions. Call once per state, inside a runtime.
pub fn spawn_background(state: &Arc<AppState>, sweep: impl Fn() -> usize + Send + 'static) {
    if let Some(mut events) = state.cooldown_events.lock().expect("events lock").take() {
        let shared = state.shared.clone();
        tokio::spawn(async move {
            while let Some((key, until_ms)) = events.recv().await {
                shared.publish_cooldown(&key, until_ms).await;
            }
        });
    }
    if state.is_shared() {
        let weak = Arc::downgrade(state);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(COOLDOWN_SYNC).await;
                let Some(state) = weak.upgrade() else { break };
                let cooldowns = state.shared.cooldowns().await;
                state.live().router.apply_remote_cooldowns(&cooldowns);
            }
        });
    }
    let every =
        (state.policies.session_ttl / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    let weak = Arc::downgrade(state);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if weak.strong_count() == 0 {
                break;
            }
            let removed = sweep();
            if removed > 0 {
                tracing::debug!(removed, "expired sessions removed");
            }
        }
    });
}

/// Builds the router: both protocols (also under `/api/v1`), the native API, health and
/// metrics, behind auth, load shedding, a per-request timeout, a body limit and request logs.
pub fn app(state: Arc<AppState>) -> axum::Router {
    let body_limit = state.limits.max_body_bytes;
    let routes = axum::Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/api/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/models", get(openai::models))
        .route("/api/v1/models", get(openai::models))
        .route("/v1/models/{id}", get(openai::model))
        .route("/api/v1/models/{id}", get(openai::model))
        .route("/v1/embeddings", post(embeddings::create))
        .route("/api/v1/embeddings", post(embeddings::create))
        .route("/v1/responses", post(responses::create))
        .route("/api/v1/responses", post(responses::create))
        .route(
            "/v1/responses/{id}",
            get(responses::retrieve).delete(responses::delete),
        )
        .route(
            "/api/v1/responses/{id}",
            get(responses::retrieve).delete(responses::delete),
        )
        .route(
            "/v1/responses/{id}/input_items",
            get(responses::input_items),
        )
        .route(
            "/api/v1/responses/{id}/input_items",
            get(responses::input_items),
        )
        .route("/v1/messages", post(anthropic::messages))
        .route("/api/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route(
            "/api/v1/messages/count_tokens",
            post(anthropic::count_tokens),
        )
        .route("/query", post(native::query))
        .route("/service", post(coop::service))
        .route("/cooperation/task", post(coop::cooperation_task))
        .route("/status", get(native::status))
        .route("/models", get(native::models))
        .route("/routing/stats", get(native::routing_stats))
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    middleware::layered(routes, &state)
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

/// The token a request presents: `Authorization: Bearer …` or `x-api-key`.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        format!(
            "`{method} {}` is not served; check the method (chat endpoints take `POST`)",
            uri.path()
        ),
    )
    .into_shape(Shape::of_path(uri.path()))
}

/// Decodes a `POST /v1/chat/completions` body into the canonical request, with the checks
/// the handler applies (for fuzzing and tests).
pub fn decode_openai_request(body: &[u8]) -> Result<crate::types::ChatRequest, ApiError> {
    crate::protocol::openai_chat::decode_request(body)
        .map(|d| d.request)
        .map_err(|e| ApiError::bad_request(e.0))
}

/// Decodes a `POST /v1/messages` body into the canonical request, as
/// [`decode_openai_request`] does for the OpenAI protocol.
pub fn decode_anthropic_request(body: &[u8]) -> Result<crate::types::ChatRequest, ApiError> {
    crate::protocol::anthropic_messages::decode_request(body)
        .map(|d| d.request)
        .map_err(|e| ApiError::bad_request(e.0))
}

/// Checks the presented token against the configured ones in constant time.
pub fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    state.tokens.is_empty() || authorized_token(state, headers).is_some()
}

/// The presented token when it is one of the configured ones (compared in constant time).
pub fn authorized_token<'h>(state: &AppState, headers: &'h HeaderMap) -> Option<&'h str> {
    let presented = presented_token(headers)?;
    state
        .tokens
        .iter()
        .fold(false, |ok, t| {
            ok | constant_time_eq(t.as_bytes(), presented.as_bytes())
        })
        .then_some(presented)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
