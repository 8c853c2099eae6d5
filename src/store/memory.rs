//! Shared state kept in this process: the default, and Redis's fallback while it is away.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::{RateLimits, SharedState, StateHealth, minute_window, now_ms};
use crate::types::Message;

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, (Vec<Message>, Instant, Duration)>,
    cooldowns: HashMap<String, u64>,
    /// (token, minute) → (requests, tokens).
    rates: HashMap<(String, u64), (u64, u64)>,
    cache: HashMap<String, (String, Instant)>,
    /// Stored Responses API responses: id → (record, expiry), and the ids oldest first.
    responses: HashMap<String, (String, Instant)>,
    response_order: VecDeque<String>,
    counters: HashMap<String, u64>,
}

/// Most stored responses kept in memory (the oldest go first); Redis keeps every one for
/// its TTL.
pub const MAX_STORED_RESPONSES: usize = 10_000;

/// In-process shared state.
#[derive(Debug, Default)]
pub struct MemoryState {
    inner: Mutex<Inner>,
}

impl MemoryState {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("state lock")
    }

    /// Drops expired sessions, cache entries, cooldowns and old rate windows; returns how
    /// many sessions went.
    pub fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut inner = self.lock();
        let before = inner.sessions.len();
        inner
            .sessions
            .retain(|_, (_, used, ttl)| now.duration_since(*used) < *ttl);
        let removed = before - inner.sessions.len();
        inner.cache.retain(|_, (_, expires)| *expires > now);
        inner.responses.retain(|_, (_, expires)| *expires > now);
        let Inner {
            responses,
            response_order,
            ..
        } = &mut *inner;
        response_order.retain(|id| responses.contains_key(id));
        let ms = now_ms();
        inner.cooldowns.retain(|_, until| *until > ms);
        let (minute, _) = minute_window();
        inner.rates.retain(|(_, m), _| *m >= minute);
        removed
    }

    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }

    pub(super) fn history_now(&self, id: &str) -> Vec<Message> {
        let inner = self.lock();
        match inner.sessions.get(id) {
            Some((messages, used, ttl)) if used.elapsed() < *ttl => messages.clone(),
            _ => Vec::new(),
        }
    }

    pub(super) fn append_now(&self, id: &str, messages: Vec<Message>, ttl: Duration, max: usize) {
        let mut inner = self.lock();
        let entry = inner
            .sessions
            .entry(id.to_owned())
            .or_insert_with(|| (Vec::new(), Instant::now(), ttl));
        if entry.1.elapsed() >= entry.2 {
            entry.0.clear();
        }
        entry.0.extend(messages);
        let excess = entry.0.len().saturating_sub(max.max(2));
        entry.0.drain(..excess);
        entry.1 = Instant::now();
        entry.2 = ttl;
    }

    pub(super) fn rate_acquire_now(&self, token: &str, limits: RateLimits) -> Result<(), Duration> {
        let (minute, left) = minute_window();
        let mut inner = self.lock();
        let used = inner.rates.entry((token.to_owned(), minute)).or_default();
        let over_requests = limits.requests_per_minute.is_some_and(|l| used.0 >= l);
        let over_tokens = limits.tokens_per_minute.is_some_and(|l| used.1 >= l);
        if over_requests || over_tokens {
            return Err(left);
        }
        used.0 += 1;
        Ok(())
    }

    pub(super) fn rate_add_tokens_now(&self, token: &str, tokens: u64) {
        let (minute, _) = minute_window();
        self.lock()
            .rates
            .entry((token.to_owned(), minute))
            .or_default()
            .1 += tokens;
    }

    pub(super) fn cache_get_now(&self, key: &str) -> Option<String> {
        let inner = self.lock();
        inner
            .cache
            .get(key)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(v, _)| v.clone())
    }

    pub(super) fn cache_put_now(&self, key: &str, value: String, ttl: Duration) {
        let mut inner = self.lock();
        if inner.cache.len() >= 10_000 {
            let now = Instant::now();
            inner.cache.retain(|_, (_, expires)| *expires > now);
        }
        inner
            .cache
            .insert(key.to_owned(), (value, Instant::now() + ttl));
    }

    pub(super) fn response_get_now(&self, id: &str) -> Option<String> {
        self.lock()
            .responses
            .get(id)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(v, _)| v.clone())
    }

    pub(super) fn response_put_now(&self, id: &str, record: String, ttl: Duration) {
        let mut inner = self.lock();
        let Inner {
            responses,
            response_order,
            ..
        } = &mut *inner;
        if responses
            .insert(id.to_owned(), (record, Instant::now() + ttl))
            .is_none()
        {
            response_order.push_back(id.to_owned());
        }
        while responses.len() > MAX_STORED_RESPONSES {
            match response_order.pop_front() {
                Some(oldest) => {
                    responses.remove(&oldest);
                }
                None => break,
            }
        }
    }

    pub(super) fn response_delete_now(&self, id: &str) -> bool {
        self.lock()
            .responses
            .remove(id)
            .is_some_and(|(_, expires)| expires > Instant::now())
    }

    pub(super) fn publish_cooldown_now(&self, key: &str, until_ms: u64) {
        let mut inner = self.lock();
        let until = inner.cooldowns.entry(key.to_owned()).or_default();
        *until = (*until).max(until_ms);
    }

    pub(super) fn cooldowns_now(&self) -> HashMap<String, u64> {
        let ms = now_ms();
        self.lock()
            .cooldowns
            .iter()
            .filter(|(_, until)| **until > ms)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub(super) fn counters_add_now(&self, deltas: Vec<(String, u64)>) {
        let mut inner = self.lock();
        for (k, v) in deltas {
            *inner.counters.entry(k).or_default() += v;
        }
    }

    pub(super) fn counters_now(&self) -> HashMap<String, u64> {
        self.lock().counters.clone()
    }
}

impl SharedState for MemoryState {
    fn session_history<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Vec<Message>> {
        Box::pin(async move { self.history_now(id) })
    }

    fn session_append<'a>(
        &'a self,
        id: &'a str,
        messages: Vec<Message>,
        ttl: Duration,
        max_messages: usize,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.append_now(id, messages, ttl, max_messages) })
    }

    fn publish_cooldown<'a>(&'a self, key: &'a str, until_ms: u64) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.publish_cooldown_now(key, until_ms) })
    }

    fn cooldowns(&self) -> BoxFuture<'_, HashMap<String, u64>> {
        Box::pin(async move { self.cooldowns_now() })
    }

    fn rate_acquire<'a>(
        &'a self,
        token: &'a str,
        limits: RateLimits,
    ) -> BoxFuture<'a, Result<(), Duration>> {
        Box::pin(async move { self.rate_acquire_now(token, limits) })
    }

    fn rate_add_tokens<'a>(&'a self, token: &'a str, tokens: u64) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.rate_add_tokens_now(token, tokens) })
    }

    fn cache_get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move { self.cache_get_now(key) })
    }

    fn cache_put<'a>(&'a self, key: &'a str, value: String, ttl: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.cache_put_now(key, value, ttl) })
    }

    fn response_get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move { self.response_get_now(id) })
    }

    fn response_put<'a>(&'a self, id: &'a str, record: String, ttl: Duration) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.response_put_now(id, record, ttl) })
    }

    fn response_delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move { self.response_delete_now(id) })
    }

    fn counters_add<'a>(&'a self, deltas: Vec<(String, u64)>) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.counters_add_now(deltas) })
    }

    fn counters(&self) -> BoxFuture<'_, HashMap<String, u64>> {
        Box::pin(async move { self.counters_now() })
    }

    fn health(&self) -> StateHealth {
        StateHealth {
            backend: "memory",
            connected: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Memory holds at most `MAX_STORED_RESPONSES` stored responses: the oldest go first.
    #[test]
    fn stored_responses_are_capped_oldest_first() {
        let m = MemoryState::new();
        let ttl = Duration::from_secs(60);
        for i in 0..MAX_STORED_RESPONSES + 5 {
            m.response_put_now(&format!("r{i}"), format!("{i}"), ttl);
        }
        assert_eq!(m.lock().responses.len(), MAX_STORED_RESPONSES);
        assert_eq!(m.response_get_now("r4"), None);
        assert_eq!(m.response_get_now("r5").as_deref(), Some("5"));
        assert!(m.response_delete_now("r5"));
        assert!(!m.response_delete_now("r5"));
    }

    #[test]
    fn rate_limits_count_requests_and_tokens_per_minute() {
        let s = MemoryState::new();
        let limits = RateLimits {
            requests_per_minute: Some(2),
            tokens_per_minute: Some(100),
        };
        assert!(s.rate_acquire_now("t", limits).is_ok());
        assert!(s.rate_acquire_now("t", limits).is_ok());
        assert!(s.rate_acquire_now("t", limits).is_err());
        assert!(s.rate_acquire_now("other", limits).is_ok());
        s.rate_add_tokens_now("other", 150);
        assert!(s.rate_acquire_now("other", limits).is_err());
    }

    #[test]
    fn sessions_expire_and_cap() {
        let s = MemoryState::new();
        s.append_now(
            "a",
            vec![Message::user("1"), Message::user("2"), Message::user("3")],
            Duration::from_secs(60),
            2,
        );
        assert_eq!(s.history_now("a").len(), 2);
        s.append_now("b", vec![Message::user("x")], Duration::from_millis(1), 10);
        std::thread::sleep(Duration::from_millis(5));
        assert!(s.history_now("b").is_empty());
        assert_eq!(s.sweep(), 1);
    }
}
