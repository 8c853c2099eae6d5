//! JSON request bodies whatever their `content-type`.
//!
//! The OpenAI and Anthropic APIs read a body as JSON without looking at the header, and so
//! do the clients' habits: `curl -d '{…}'` sends `application/x-www-form-urlencoded`, and
//! many scripts send no header at all. axum's `Json` answers those with 415; [`JsonBody`]
//! parses them, with `Json`'s own error messages and statuses for bodies that are not JSON
//! (400), do not fit the type (422) or pass the body limit (413).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON body of type `T`, read without checking `content-type`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        RawBody::from_request(req, state)
            .await?
            .json()
            .map(JsonBody)
    }
}

/// A request body as bytes, for handlers that may forward it as it came; the same errors as
/// [`JsonBody`] for a body that cannot be read (413 past the body limit).
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl RawBody {
    /// The body parsed as `T`, with `JsonBody`'s errors.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        Json::<T>::from_bytes(&self.0)
            .map(|Json(value)| value)
            .map_err(ApiError::from)
    }
}

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(ApiError::from)
    }
}
