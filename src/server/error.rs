//! Errors in each protocol's own shape: OpenAI `{"error": {…}}`, Anthropic
//! `{"type": "error", "error": {…}}`. Messages never carry keys or upstream addresses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::ConfigError;
use crate::providers::ProviderError;
use crate::router::RouteError;

/// Which error shape a route speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    OpenAi,
    Anthropic,
}

impl Shape {
    /// Anthropic's routes are `/v1/messages` (and `/api/v1/messages`); all others use OpenAI's.
    pub fn of_path(path: &str) -> Shape {
        if path.ends_with("/v1/messages") || path.ends_with("/v1/messages/count_tokens") {
            Shape::Anthropic
        } else {
            Shape::OpenAi
        }
    }
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
            ProviderError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProviderError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ProviderError::Unsupported { .. } => StatusCode::BAD_REQUEST,
            // The upstream's own 4xx keeps its meaning (404: no such model upstream, 413, 422).
            ProviderError::BadRequest { status, .. } => StatusCode::from_u16(*status)
                .ok()
                .filter(StatusCode::is_client_error)
                .unwrap_or(StatusCode::BAD_REQUEST),
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
        let kind = match (&e, status.as_u16()) {
            (ProviderError::Unsupported { .. }, _) => "invalid_request_error",
            (ProviderError::BadRequest { .. }, 404) => "model_not_found",
            _ => e.kind(),
        };
        let mut err = ApiError::new(status, kind, message);
        // The upstream's `Retry-After` tells the caller when trying again makes sense.
        err.retry_after = e
            .retry_after()
            .map(|d| d.as_secs_f64().ceil().max(1.0) as u64);
        err
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
                // Rounded up: a client that waits this long finds the cooldown over.
                err.retry_after = Some(retry_after.as_secs_f64().ceil().max(1.0) as u64);
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
        resp.extensions_mut().insert(ErrorKind(self.kind));
        resp
    }
}

impl ApiError {
    /// Anthropic's error type for this status.
    pub fn anthropic_type(&self) -> &'static str {
        match self.status.as_u16() {
            400 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            504 => "timeout_error",
            _ => "api_error",
        }
    }

    /// The response in `shape`.
    pub fn into_shape(self, shape: Shape) -> Response {
        match shape {
            Shape::OpenAi => self.into_response(),
            Shape::Anthropic => {
                let body = json!({
                    "type": "error",
                    "error": { "type": self.anthropic_type(), "message": self.message },
                });
                let retry_after = self.retry_after;
                // An overloaded upstream is Anthropic's own 529 on its protocol's routes.
                let status = if self.kind == "overloaded" {
                    StatusCode::from_u16(529).unwrap_or(self.status)
                } else {
                    self.status
                };
                let mut resp = (status, Json(body)).into_response();
                if let Some(secs) = retry_after
                    && let Ok(v) = secs.to_string().parse()
                {
                    resp.headers_mut()
                        .insert(axum::http::header::RETRY_AFTER, v);
                }
                resp.extensions_mut().insert(ErrorKind(self.kind));
                resp
            }
        }
    }
}

/// Marks a response as an error of this kind (for metrics and logs).
#[derive(Debug, Clone, Copy)]
pub struct ErrorKind(pub &'static str);

impl ApiError {
    /// A body axum's extractor refused (too large, not JSON, …), with its status and text.
    fn rejected(status: StatusCode, text: String) -> Self {
        let kind = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "request_too_large"
        } else {
            "invalid_request_error"
        };
        ApiError::new(status, kind, text)
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::rejected(e.status(), e.body_text())
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(e: axum::extract::rejection::BytesRejection) -> Self {
        ApiError::rejected(e.status(), e.body_text())
    }
}
