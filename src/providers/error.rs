//! What can go wrong talking to an upstream, classified so callers can retry, fail over or
//! tell the user what to do.

use std::fmt;
use std::time::Duration;

/// Which deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Waiting for a free slot under the model's concurrency cap.
    Queue,
    /// Establishing the connection.
    Connect,
    /// Waiting for the response headers or the next streamed chunk.
    FirstByte,
    /// The whole request, retries included.
    Total,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Queue => "free a concurrency slot",
            TimeoutPhase::Connect => "accept the connection",
            TimeoutPhase::FirstByte => "start answering",
            TimeoutPhase::Total => "finish the answer",
        })
    }
}

/// An upstream failure. Messages never contain API keys.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(
        "`{provider}` rejected the API key (HTTP {status}: {message}); check it with `llm-config set-key --provider {provider}` or its environment variable"
    )]
    Auth {
        provider: String,
        status: u16,
        message: String,
    },
    #[error("`{provider}` is rate limiting requests (HTTP 429{}): {message}; wait, lower the concurrency, or add a replica", retry_hint(*retry_after))]
    RateLimited {
        provider: String,
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("`{provider}` did not {phase} within {:.1} s; raise the timeout in `config.toml` (`[defaults]` or the provider) or try again", after.as_secs_f64())]
    Timeout {
        provider: String,
        phase: TimeoutPhase,
        after: Duration,
    },
    #[error(
        "Cannot connect to `{provider}` at `{url}`: {message}; is the server running and is its `base_url` right?"
    )]
    Connect {
        provider: String,
        url: String,
        message: String,
    },
    #[error("`{provider}` failed with HTTP {status}: {message}")]
    Upstream {
        provider: String,
        status: u16,
        message: String,
    },
    #[error("`{provider}` refused the request (HTTP {status}): {message}")]
    BadRequest {
        provider: String,
        status: u16,
        message: String,
    },
    #[error("`{provider}` sent a response that cannot be read: {message}")]
    Protocol { provider: String, message: String },
    #[error("`{provider}` is at capacity ({message}); retry shortly or add a replica")]
    Overloaded { provider: String, message: String },
    /// The request asks for something this deployment cannot carry (checked before sending:
    /// the gateway refuses rather than drop a field).
    #[error("`{field}` {reason} (model `{model}` on provider `{provider}`)")]
    Unsupported {
        provider: String,
        model: String,
        field: String,
        reason: String,
    },
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(", retry after {:.0} s", d.as_secs_f64().ceil()),
        None => String::new(),
    }
}

impl ProviderError {
    /// Whether another attempt (or another deployment) may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            ProviderError::RateLimited { .. }
            | ProviderError::Connect { .. }
            | ProviderError::Upstream { .. }
            | ProviderError::Overloaded { .. } => true,
            ProviderError::Timeout { phase, .. } => *phase != TimeoutPhase::Total,
            ProviderError::Auth { .. }
            | ProviderError::BadRequest { .. }
            | ProviderError::Protocol { .. }
            | ProviderError::Unsupported { .. } => false,
        }
    }

    /// The wait the upstream asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. } => *retry_after,
            ProviderError::Overloaded { .. } => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    pub fn provider(&self) -> &str {
        match self {
            ProviderError::Auth { provider, .. }
            | ProviderError::RateLimited { provider, .. }
            | ProviderError::Timeout { provider, .. }
            | ProviderError::Connect { provider, .. }
            | ProviderError::Upstream { provider, .. }
            | ProviderError::BadRequest { provider, .. }
            | ProviderError::Protocol { provider, .. }
            | ProviderError::Overloaded { provider, .. }
            | ProviderError::Unsupported { provider, .. } => provider,
        }
    }

    /// A short machine-readable kind: `auth`, `rate_limited`, `timeout`, `connect`,
    /// `upstream`, `bad_request`, `protocol`.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Auth { .. } => "auth",
            ProviderError::RateLimited { .. } => "rate_limited",
            ProviderError::Timeout { .. } => "timeout",
            ProviderError::Connect { .. } => "connect",
            ProviderError::Upstream { .. } => "upstream",
            ProviderError::BadRequest { .. } => "bad_request",
            ProviderError::Protocol { .. } => "protocol",
            ProviderError::Overloaded { .. } => "overloaded",
            ProviderError::Unsupported { .. } => "unsupported",
        }
    }

    /// The HTTP status the upstream answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ProviderError::Auth { status, .. }
            | ProviderError::Upstream { status, .. }
            | ProviderError::BadRequest { status, .. } => Some(*status),
            ProviderError::RateLimited { .. } => Some(429),
            ProviderError::Unsupported { .. } => Some(400),
            _ => None,
        }
    }
}
