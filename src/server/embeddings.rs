//! `POST /v1/embeddings`: routed to an embedding model (a model with the task `embedding`),
//! its replicas failing over like chat; usage counted in `/metrics`, `/routing/stats` and the
//! token's rate limits.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;

use super::body::JsonBody;
use super::gateway::TokenId;
use super::middleware::ModelUsed;
use super::{ApiError, AppState};
use crate::protocol::openai_embeddings;

pub async fn create(
    State(state): State<Arc<AppState>>,
    token: Option<axum::Extension<TokenId>>,
    body: Result<JsonBody<Box<RawValue>>, ApiError>,
) -> Result<Response, ApiError> {
    let JsonBody(body) = body?;
    crate::protocol::check_duplicate_keys(body.get().as_bytes())
        .map_err(|e| ApiError::bad_request(e.0))?;
    let decoded = openai_embeddings::decode_request(body.get().as_bytes())
        .map_err(|e| ApiError::bad_request(e.0))?;
    let live = state.live();
    let routed = match live.router.embed(decoded.request).await {
        Ok(r) => r,
        Err(e) => {
            state.count_failure().await;
            return Err(e.into());
        }
    };
    let resp = routed.value;
    state
        .account(&token.map(|t| t.0), &resp.model, &resp.usage)
        .await;
    let mut out = Json(openai_embeddings::encode_response(&resp, decoded.base64)).into_response();
    out.extensions_mut().insert(ModelUsed(resp.model));
    Ok(out)
}
