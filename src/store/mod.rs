//! What outlives a request: the history of runs (SQLite, [`history`]), and state that
//! several `llm-server` replicas share: conversation sessions, cooldowns, routing
//! counters, per-token rate limits and the response cache. [`MemoryState`] keeps it in this
//! process (the default); [`RedisState`] keeps it in Redis (`--state redis://…`) and falls
//! back to its own memory while Redis is away, reconnecting when it is back.
//!
//! Nothing here sits on the routing hot path: cooldowns are published when they start and
//! pulled in periodically by each replica (see `server::sync_cooldowns`).

pub mod hash;
pub mod history;
mod memory;
mod redis;

use std::collections::HashMap;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;

pub use memory::MemoryState;
pub use redis::RedisState;

use crate::types::Message;

/// Requests and tokens a gateway API token may use per minute (`None`: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub requests_per_minute: Option<u64>,
    pub tokens_per_minute: Option<u64>,
}

impl RateLimits {
    pub fn is_unlimited(&self) -> bool {
        self.requests_per_minute.is_none() && self.tokens_per_minute.is_none()
    }
}

/// Which backend holds the state, and whether it is reachable now.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StateHealth {
    pub backend: &'static str,
    /// False while Redis is unreachable and the local fallback serves.
    pub connected: bool,
}

/// Shared state behind one interface. Every operation succeeds: a backend that fails logs it
/// and degrades to local state rather than failing a request.
pub trait SharedState: Send + Sync + std::fmt::Debug {
    /// The messages of session `id` (empty when unknown or expired).
    fn session_history<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Vec<Message>>;

    /// Appends messages to session `id`, keeps the newest `max_messages`, renews its TTL.
    fn session_append<'a>(
        &'a self,
        id: &'a str,
        messages: Vec<Message>,
        ttl: Duration,
        max_messages: usize,
    ) -> BoxFuture<'a, ()>;

    /// Announces that deployment `key` is cooling down until `until_ms` (Unix ms).
    fn publish_cooldown<'a>(&'a self, key: &'a str, until_ms: u64) -> BoxFuture<'a, ()>;

    /// Every announced cooldown still running, by deployment key (Unix ms).
    fn cooldowns(&self) -> BoxFuture<'_, HashMap<String, u64>>;

    /// Counts one request of `token` against its limits for the current minute; `Err` is the
    /// wait until the next minute when a limit is already reached.
    fn rate_acquire<'a>(
        &'a self,
        token: &'a str,
        limits: RateLimits,
    ) -> BoxFuture<'a, Result<(), Duration>>;

    /// Counts tokens a request of `token` used in the current minute.
    fn rate_add_tokens<'a>(&'a self, token: &'a str, tokens: u64) -> BoxFuture<'a, ()>;

    /// A cached response body.
    fn cache_get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<String>>;

    fn cache_put<'a>(&'a self, key: &'a str, value: String, ttl: Duration) -> BoxFuture<'a, ()>;

    /// A stored Responses API response (its record as JSON), for `previous_response_id` and
    /// `GET /v1/responses/{id}`.
    fn response_get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Option<String>>;

    fn response_put<'a>(&'a self, id: &'a str, record: String, ttl: Duration) -> BoxFuture<'a, ()>;

    /// Removes a stored response; whether there was one.
    fn response_delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, bool>;

    /// Adds to named counters (routing statistics across replicas).
    fn counters_add<'a>(&'a self, deltas: Vec<(String, u64)>) -> BoxFuture<'a, ()>;

    /// All counters.
    fn counters(&self) -> BoxFuture<'_, HashMap<String, u64>>;

    fn health(&self) -> StateHealth;
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The current rate-limit window (minute number) and the time left in it.
pub fn minute_window() -> (u64, Duration) {
    let ms = now_ms();
    (ms / 60_000, Duration::from_millis(60_000 - ms % 60_000))
}
