//! The HTTP layer both protocols share: one pooled client per provider, timeouts, bounded
//! bodies, and the classification of failures into [`ProviderError`]. Each call is one
//! attempt; the router retries (with the backoff this policy computes) or fails over.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use tokio::time::Instant;

use super::{ProviderError, TimeoutPhase};
use crate::config::{Defaults, ProviderConfig, mask_key};

/// Largest response body read into memory; a bigger one is a protocol error, not an OOM.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Timeouts and retries for one provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpPolicy {
    pub connect: Duration,
    /// Until the response headers, and between streamed chunks.
    pub first_byte: Duration,
    /// The whole request, body included.
    pub total: Duration,
    /// Retries of the same deployment after the first attempt, when no other can serve.
    pub max_retries: u32,
    /// First backoff; doubles each retry, with jitter, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            total: Duration::from_secs(600),
            max_retries: 2,
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(8),
        }
    }
}

impl HttpPolicy {
    /// Provider settings over `[defaults]` over the built-in defaults.
    pub fn from_settings(defaults: &Defaults, provider: &ProviderConfig) -> Self {
        let base = HttpPolicy::default();
        let secs = |p: Option<f64>, d: Option<f64>, fallback: Duration| {
            p.or(d).map(Duration::from_secs_f64).unwrap_or(fallback)
        };
        HttpPolicy {
            connect: secs(
                provider.connect_timeout_secs,
                defaults.connect_timeout_secs,
                base.connect,
            ),
            first_byte: secs(
                provider.first_byte_timeout_secs,
                defaults.first_byte_timeout_secs,
                base.first_byte,
            ),
            total: secs(
                provider.total_timeout_secs,
                defaults.total_timeout_secs,
                base.total,
            ),
            max_retries: provider
                .max_retries
                .or(defaults.max_retries)
                .unwrap_or(base.max_retries),
            ..base
        }
    }

    /// The wait before retry number `retry` (1-based): exponential with "equal jitter", so
    /// clients that failed together do not retry together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .backoff_base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.backoff_max);
        let half = exp / 2;
        half + half.mul_f64(rand::rng().random::<f64>())
    }
}

/// A pooled client bound to one provider.
pub struct HttpClient {
    client: reqwest::Client,
    pub provider: String,
    base_url: String,
    /// Each path's URL, parsed once (parsing took ~20 k instructions per request).
    urls: std::sync::RwLock<std::collections::HashMap<String, reqwest::Url>>,
    key: Option<String>,
    pub policy: HttpPolicy,
}

/// Masks the key: the router, the server state and everything holding a client print this.
impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("key", &self.key.as_deref().map(mask_key))
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    pub fn new(
        provider: &str,
        base_url: &str,
        key: Option<String>,
        policy: HttpPolicy,
    ) -> Result<Self, ProviderError> {
        let client = reqwest::Client::builder()
            .connect_timeout(policy.connect)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(concat!("llm-cooperation/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ProviderError::Protocol {
                provider: provider.to_owned(),
                message: format!("cannot build an HTTP client: {e}"),
            })?;
        Ok(HttpClient {
            client,
            provider: provider.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            urls: Default::default(),
            key,
            policy,
        })
    }

    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }

    /// [`HttpClient::url`] parsed, from the cache after the first time; `None` when it does not
    /// parse (the request then fails with reqwest's own error for it).
    fn parsed_url(&self, path: &str) -> Option<reqwest::Url> {
        if let Some(url) = self.urls.read().ok()?.get(path) {
            return Some(url.clone());
        }
        let url = reqwest::Url::parse(&self.url(path)).ok()?;
        self.urls.write().ok()?.insert(path.to_owned(), url.clone());
        Some(url)
    }

    /// Removes the key from text that came from upstream before it reaches a user or a log.
    pub fn redact(&self, text: &str) -> String {
        redact_key(self.key.as_deref(), text)
    }

    /// [`HttpClient::redact`] for streams, which outlive the borrow of the client.
    pub fn redactor(&self) -> impl Fn(&str) -> String + Send + Sync + 'static {
        let key = self.key.clone();
        move |text| redact_key(key.as_deref(), text)
    }

    /// Sends a request once, within the deadline, and classifies a failure. Returns the
    /// response with its body unread. Retrying is the router's job: it knows whether another
    /// deployment can serve the request instead.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &HeaderMap,
        body: Option<Bytes>,
        deadline: Instant,
    ) -> Result<reqwest::Response, ProviderError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(self.timeout(TimeoutPhase::Total));
        }
        let request = match self.parsed_url(path) {
            Some(url) => self.client.request(method, url),
            None => self.client.request(method, self.url(path)),
        };
        let mut request = request.headers(headers.clone());
        if let Some(body) = body {
            request = request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )
                .body(body);
        }
        let wait = self.policy.first_byte.min(remaining);
        Err(match tokio::time::timeout(wait, request.send()).await {
            Err(_) => self.timeout(if wait < self.policy.first_byte {
                TimeoutPhase::Total
            } else {
                TimeoutPhase::FirstByte
            }),
            Ok(Err(e)) => self.transport_error(&self.url(path), &e),
            Ok(Ok(resp)) if resp.status().is_success() => return Ok(resp),
            Ok(Ok(resp)) => self.status_error(resp, deadline).await,
        })
    }

    /// `GET /models` in the shape both protocols share: `{"data": [{"id": …}, …]}`.
    pub async fn model_ids(&self, headers: &HeaderMap) -> Result<Vec<String>, ProviderError> {
        let deadline = Instant::now() + self.policy.total;
        let resp = self
            .send(reqwest::Method::GET, "models", headers, None, deadline)
            .await?;
        let bytes = self.read_body(resp, deadline).await?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.protocol(format!("the model list is not JSON ({e})")))?;
        let data = value
            .get("data")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| self.protocol("the model list has no `data` array"))?;
        Ok(data
            .iter()
            .filter_map(|m| {
                m.get("id")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            })
            .collect())
    }

    /// Reads a whole body, bounded in size and by the deadline.
    pub async fn read_body(
        &self,
        resp: reqwest::Response,
        deadline: Instant,
    ) -> Result<Bytes, ProviderError> {
        let mut stream = resp.bytes_stream();
        let mut body = Vec::new();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let chunk = match tokio::time::timeout(remaining, stream.next()).await {
                Err(_) => return Err(self.timeout(TimeoutPhase::Total)),
                Ok(None) => return Ok(Bytes::from(body)),
                Ok(Some(Err(e))) => {
                    return Err(
                        self.protocol(format!("the connection broke while reading the body ({e})"))
                    );
                }
                Ok(Some(Ok(chunk))) => chunk,
            };
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(self.protocol(format!(
                    "the response is larger than {} MiB",
                    MAX_BODY_BYTES / (1024 * 1024)
                )));
            }
            body.extend_from_slice(&chunk);
        }
    }

    /// The body as chunks, each within the first-byte timeout of the previous one and all
    /// within the deadline. Errors end the stream.
    pub fn body_stream(
        &self,
        resp: reqwest::Response,
        deadline: Instant,
    ) -> BoxStream<'static, Result<Bytes, ProviderError>> {
        let idle = self.policy.first_byte;
        let provider = self.provider.clone();
        let total = self.policy.total;
        let mut inner = resp.bytes_stream();
        async_stream::stream! {
            loop {
                let remaining = deadline.saturating_duration_since(Instant::now());
                let (wait, phase) = if remaining < idle {
                    (remaining, TimeoutPhase::Total)
                } else {
                    (idle, TimeoutPhase::FirstByte)
                };
                match tokio::time::timeout(wait, inner.next()).await {
                    Err(_) => {
                        let after = if phase == TimeoutPhase::Total { total } else { idle };
                        yield Err(ProviderError::Timeout { provider: provider.clone(), phase, after });
                        break;
                    }
                    Ok(None) => break,
                    Ok(Some(Err(e))) => {
                        yield Err(ProviderError::Protocol {
                            provider: provider.clone(),
                            message: format!("the stream broke off ({e})"),
                        });
                        break;
                    }
                    Ok(Some(Ok(chunk))) => yield Ok(chunk),
                }
            }
        }
        .boxed()
    }

    pub fn timeout(&self, phase: TimeoutPhase) -> ProviderError {
        let after = match phase {
            TimeoutPhase::Connect => self.policy.connect,
            TimeoutPhase::FirstByte => self.policy.first_byte,
            TimeoutPhase::Queue | TimeoutPhase::Total => self.policy.total,
        };
        ProviderError::Timeout {
            provider: self.provider.clone(),
            phase,
            after,
        }
    }

    pub fn protocol(&self, message: impl Into<String>) -> ProviderError {
        ProviderError::Protocol {
            provider: self.provider.clone(),
            message: self.redact(&message.into()),
        }
    }

    fn transport_error(&self, url: &str, e: &reqwest::Error) -> ProviderError {
        if e.is_connect() {
            // A connect timeout surfaces as a connect error whose source is a timeout.
            if e.is_timeout() {
                return self.timeout(TimeoutPhase::Connect);
            }
            return ProviderError::Connect {
                provider: self.provider.clone(),
                url: url.to_owned(),
                message: error_chain(e),
            };
        }
        if e.is_timeout() {
            return self.timeout(TimeoutPhase::FirstByte);
        }
        // The connection was reset or closed before a response: as retriable as a refused one.
        ProviderError::Connect {
            provider: self.provider.clone(),
            url: url.to_owned(),
            message: error_chain(e),
        }
    }

    async fn status_error(&self, resp: reqwest::Response, deadline: Instant) -> ProviderError {
        let status = resp.status().as_u16();
        let retry_after = parse_retry_after(resp.headers());
        // The error body is short; don't let a slow one hold up the retry.
        let body_deadline = deadline.min(Instant::now() + Duration::from_secs(5));
        let body = self
            .read_body(resp, body_deadline)
            .await
            .unwrap_or_default();
        let message = self.redact(&error_message(&body));
        let provider = self.provider.clone();
        match status {
            401 | 403 => ProviderError::Auth {
                provider,
                status,
                message,
            },
            429 => ProviderError::RateLimited {
                provider,
                retry_after,
                message,
            },
            408 => ProviderError::Timeout {
                provider,
                phase: TimeoutPhase::FirstByte,
                after: self.policy.first_byte,
            },
            // Anthropic's "overloaded": not this request's fault, and not a broken deployment.
            529 => ProviderError::Overloaded { provider, message },
            500..=599 => ProviderError::Upstream {
                provider,
                status,
                message,
            },
            _ => ProviderError::BadRequest {
                provider,
                status,
                message,
            },
        }
    }
}

fn redact_key(key: Option<&str>, text: &str) -> String {
    match key {
        Some(key) if key.len() >= 4 && text.contains(key) => text.replace(key, &mask_key(key)),
        _ => text.to_owned(),
    }
}

/// `Retry-After` as seconds (the HTTP-date form is rare from APIs and ignored).
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = value.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

/// The human part of an error body in either protocol's shape, else the text, shortened.
pub fn error_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let error = value.get("error").unwrap_or(&value);
        if let Some(msg) = error.get("message").and_then(|m| m.as_str()) {
            return shorten(msg);
        }
        if let Some(msg) = error.as_str() {
            return shorten(msg);
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "no error message".to_owned()
    } else {
        shorten(text)
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = HttpPolicy::default();
        for retry in 1..20 {
            let d = p.backoff(retry);
            let cap = p
                .backoff_base
                .saturating_mul(1 << (retry - 1).min(16))
                .min(p.backoff_max);
            assert!(d >= cap / 2 && d <= cap, "retry {retry}: {d:?} vs {cap:?}");
        }
    }

    #[test]
    fn error_messages_from_both_shapes() {
        assert_eq!(
            error_message(br#"{"error":{"message":"bad key"}}"#),
            "bad key"
        );
        assert_eq!(
            error_message(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            "Overloaded"
        );
        assert_eq!(error_message(b"  "), "no error message");
        assert_eq!(error_message(&[b'x'; 400]).chars().count(), 301);
    }

    #[test]
    fn retry_after_seconds() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&h), None);
    }
}
