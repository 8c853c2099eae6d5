//! Shared state in Redis, for several gateway replicas. Every operation has a short timeout;
//! while Redis is unreachable the local [`MemoryState`] serves instead (logged once when it
//! goes and once when it is back), and the connection is retried in the background.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{MemoryState, RateLimits, SharedState, StateHealth, minute_window, now_ms};
use crate::types::Message;

/// Longest wait for one Redis round trip before falling back.
const OP_TIMEOUT: Duration = Duration::from_millis(300);
/// Least time between two attempts to connect while Redis is away.
const RECONNECT_EVERY: Duration = Duration::from_millis(500);

/// Every key starts with this; the version changes with the format (see [`super::hash`]).
const PREFIX: &str = "llmc:v2";

/// Shared state in Redis with a local fallback.
#[derive(Debug)]
pub struct RedisState {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    last_attempt: Mutex<Option<Instant>>,
    connected: AtomicBool,
    fallback: MemoryState,
    url_for_logs: String,
}

impl RedisState {
    /// Prepares a client for `url` (`redis://host:port/db`); [`RedisState::connect`] connects
    /// (or a first use does), and a Redis that is down at start-up only means starting
    /// degraded.
    pub fn new(url: &str) -> Result<RedisState, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let info = client.get_connection_info();
        let url_for_logs = format!("{}", info.addr());
        Ok(RedisState {
            client,
            conn: tokio::sync::Mutex::new(None),
            last_attempt: Mutex::new(None),
            connected: AtomicBool::new(false),
            fallback: MemoryState::new(),
            url_for_logs,
        })
    }

    /// Connects now rather than on first use (at most twice the operation timeout; a Redis
    /// that does not answer still only means starting degraded): the first requests then do
    /// not pay for the handshake, which under load could outlast the operation timeout and
    /// send their state to the local fallback, out of the other replicas' sight.
    pub async fn connect(&self) {
        if self.connection().await.is_some() {
            self.up();
        } else {
            tracing::warn!(redis = %self.url_for_logs, "shared state: Redis is unreachable at start-up; serving from local state until it is back");
        }
    }

    /// The local fallback (its sessions are swept like the memory backend's).
    pub fn fallback(&self) -> &MemoryState {
        &self.fallback
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Some(c.clone());
        }
        {
            let mut last = self.last_attempt.lock().expect("attempt lock");
            if last.is_some_and(|t| t.elapsed() < RECONNECT_EVERY) {
                return None;
            }
            *last = Some(Instant::now());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(1);
        match tokio::time::timeout(
            OP_TIMEOUT * 2,
            self.client.get_connection_manager_with_config(config),
        )
        .await
        {
            Ok(Ok(c)) => {
                *guard = Some(c.clone());
                Some(c)
            }
            Ok(Err(e)) => {
                self.down(&e.to_string());
                None
            }
            Err(_) => {
                self.down("connection timed out");
                None
            }
        }
    }

    fn up(&self) {
        if !self.connected.swap(true, Ordering::Relaxed) {
            tracing::info!(redis = %self.url_for_logs, "shared state: connected to Redis");
        }
    }

    fn down(&self, why: &str) {
        if self.connected.swap(false, Ordering::Relaxed) {
            tracing::warn!(redis = %self.url_for_logs, error = why, "shared state: Redis is unreachable; serving from local state until it is back");
        } else {
            tracing::debug!(redis = %self.url_for_logs, error = why, "shared state: Redis still unreachable");
        }
    }

    /// Runs `op` against Redis, or returns `None` (and logs) when Redis is away.
    async fn run<T, F>(&self, op: impl FnOnce(ConnectionManager) -> F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection().await?;
        match tokio::time::timeout(OP_TIMEOUT, op(conn)).await {
            Ok(Ok(v)) => {
                self.up();
                Some(v)
            }
            Ok(Err(e)) => {
                self.down(&e.to_string());
                None
            }
            Err(_) => {
                self.down("operation timed out");
                None
            }
        }
    }
}

fn session_key(id: &str) -> String {
    format!("{PREFIX}:session:{id}")
}

fn rate_key(token: &str, minute: u64) -> String {
    format!("{PREFIX}:rate:{token}:{minute}")
}

impl SharedState for RedisState {
    fn session_history<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Vec<Message>> {
        Box::pin(async move {
            let key = session_key(id);
            let got: Option<Vec<String>> = self
                .run(|mut c| async move { c.lrange(&key, 0, -1).await })
                .await;
            match got {
                Some(items) => items
                    .iter()
                    .filter_map(|s| serde_json::from_str(s).ok())
                    .collect(),
                None => self.fallback.history_now(id),
            }
        })
    }

    fn session_append<'a>(
        &'a self,
        id: &'a str,
        messages: Vec<Message>,
        ttl: Duration,
        max_messages: usize,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let key = session_key(id);
            let items: Vec<String> = messages
                .iter()
                .filter_map(|m| serde_json::to_string(m).ok())
                .collect();
            let keep = max_messages.max(2) as isize;
            let ttl_ms = ttl.as_millis() as i64;
            let done: Option<()> = self
                .run(|mut c| async move {
                    redis::pipe()
                        .rpush(&key, items)
                        .ignore()
                        .ltrim(&key, -keep, -1)
                        .ignore()
                        .pexpire(&key, ttl_ms)
                        .ignore()
                        .query_async(&mut c)
                        .await
                })
                .await;
            if done.is_none() {
                self.fallback.append_now(id, messages, ttl, max_messages);
            }
        })
    }

    fn publish_cooldown<'a>(&'a self, key: &'a str, until_ms: u64) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.fallback.publish_cooldown_now(key, until_ms);
            let hash = format!("{PREFIX}:cooldowns");
            let field = key.to_owned();
            let _: Option<()> = self
                .run(|mut c| async move {
                    let old: Option<u64> = c.hget(&hash, &field).await?;
                    if old.is_none_or(|o| o < until_ms) {
                        let _: () = c.hset(&hash, &field, until_ms).await?;
                    }
                    Ok(())
                })
                .await;
        })
    }

    fn cooldowns(&self) -> BoxFuture<'_, HashMap<String, u64>> {
        Box::pin(async move {
            let hash = format!("{PREFIX}:cooldowns");
            let got: Option<HashMap<String, u64>> = self
                .run(|mut c| async move { c.hgetall(&hash).await })
                .await;
            let now = now_ms();
            match got {
                Some(all) => {
                    let expired: Vec<String> = all
                        .iter()
                        .filter(|(_, u)| **u <= now)
                        .map(|(k, _)| k.clone())
                        .collect();
                    if !expired.is_empty() {
                        let hash = format!("{PREFIX}:cooldowns");
                        let _: Option<()> = self
                            .run(|mut c| async move { c.hdel(&hash, expired).await })
                            .await;
                    }
                    all.into_iter().filter(|(_, u)| *u > now).collect()
                }
                None => self.fallback.cooldowns_now(),
            }
        })
    }

    fn rate_acquire<'a>(
        &'a self,
        token: &'a str,
        limits: RateLimits,
    ) -> BoxFuture<'a, Result<(), Duration>> {
        Box::pin(async move {
            let (minute, left) = minute_window();
            let key = rate_key(token, minute);
            let got: Option<(u64, Option<u64>)> = self
                .run(|mut c| async move {
                    redis::pipe()
                        .hincr(&key, "r", 1)
                        .hget(&key, "t")
                        .expire(&key, 120)
                        .ignore()
                        .query_async(&mut c)
                        .await
                })
                .await;
            match got {
                Some((requests, tokens)) => {
                    let over_requests = limits.requests_per_minute.is_some_and(|l| requests > l);
                    let over_tokens = limits
                        .tokens_per_minute
                        .is_some_and(|l| tokens.unwrap_or(0) >= l);
                    if over_requests || over_tokens {
                        Err(left)
                    } else {
                        Ok(())
                    }
                }
                None => self.fallback.rate_acquire_now(token, limits),
            }
        })
    }

    fn rate_add_tokens<'a>(&'a self, token: &'a str, tokens: u64) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let (minute, _) = minute_window();
            let key = rate_key(token, minute);
            let done: Option<()> = self
                .run(|mut c| async move {
                    redis::pipe()
                        .hincr(&key, "t", tokens)
                        .ignore()
                        .expire(&key, 120)
                        .ignore()
                        .query_async(&mut c)
                        .await
                })
                .await;
            if done.is_none() {
                self.fallback.rate_add_tokens_now(token, tokens);
            }
        })
    }

    fn cache_get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            let k = format!("{PREFIX}:cache:{key}");
            match self
                .run(|mut c| async move { c.get::<_, Option<String>>(&k).await })
                .await
            {
                Some(v) => v,
                None => self.fallback.cache_get_now(key),
            }
        })
    }

    fn cache_put<'a>(&'a self, key: &'a str, value: String, ttl: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let k = format!("{PREFIX}:cache:{key}");
            let ms = ttl.as_millis().max(1) as u64;
            let v = value.clone();
            let done: Option<()> = self
                .run(|mut c| async move { c.pset_ex(&k, v, ms).await })
                .await;
            if done.is_none() {
                self.fallback.cache_put_now(key, value, ttl);
            }
        })
    }

    fn response_get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            let k = format!("{PREFIX}:response:{id}");
            match self
                .run(|mut c| async move { c.get::<_, Option<String>>(&k).await })
                .await
            {
                Some(v) => v,
                None => self.fallback.response_get_now(id),
            }
        })
    }

    fn response_put<'a>(&'a self, id: &'a str, record: String, ttl: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let k = format!("{PREFIX}:response:{id}");
            let ms = ttl.as_millis().max(1) as u64;
            let v = record.clone();
            let done: Option<()> = self
                .run(|mut c| async move { c.pset_ex(&k, v, ms).await })
                .await;
            if done.is_none() {
                self.fallback.response_put_now(id, record, ttl);
            }
        })
    }

    fn response_delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let k = format!("{PREFIX}:response:{id}");
            let local = self.fallback.response_delete_now(id);
            match self
                .run(|mut c| async move { c.del::<_, u64>(&k).await })
                .await
            {
                Some(n) => n > 0 || local,
                None => local,
            }
        })
    }

    fn counters_add<'a>(&'a self, deltas: Vec<(String, u64)>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let hash = format!("{PREFIX}:counters");
            let d = deltas.clone();
            let done: Option<()> = self
                .run(|mut c| async move {
                    let mut pipe = redis::pipe();
                    for (k, v) in &d {
                        pipe.hincr(&hash, k, *v).ignore();
                    }
                    pipe.query_async(&mut c).await
                })
                .await;
            if done.is_none() {
                self.fallback.counters_add_now(deltas);
            }
        })
    }

    fn counters(&self) -> BoxFuture<'_, HashMap<String, u64>> {
        Box::pin(async move {
            let hash = format!("{PREFIX}:counters");
            match self
                .run(|mut c| async move { c.hgetall(&hash).await })
                .await
            {
                Some(all) => all,
                None => self.fallback.counters_now(),
            }
        })
    }

    fn health(&self) -> StateHealth {
        StateHealth {
            backend: "redis",
            connected: self.connected.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    /// The key prefix names the shared-state format version the stable hash belongs to.
    #[test]
    fn the_key_prefix_carries_the_format_version() {
        assert_eq!(
            super::PREFIX,
            format!("llmc:v{}", super::super::hash::FORMAT_VERSION)
        );
    }
}
