//! OpenAI's Responses API, `POST /v1/responses` (whole and streamed), bridged to any model
//! through the canonical types (see `protocol::openai_responses` for what crosses and what
//! is refused). A thin codec like the chat handlers; the gateway routes it.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::Sse;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use serde_json::value::RawValue;

use super::body::JsonBody;
use super::gateway::{self, Completion, TokenId};
use super::middleware::ModelUsed;
use super::openai::{Encoder, encode_stream, mark_cache, session_id, wants_cache};
use super::{ApiError, AppState};
use crate::protocol::{SseFrame, now_secs, openai_responses};
use crate::router::Preferences;
use crate::types::StreamEvent;

impl Encoder for openai_responses::StreamEncoder {
    fn push(&mut self, event: &StreamEvent) -> Vec<SseFrame> {
        openai_responses::StreamEncoder::push(self, event)
    }
    fn fail(&mut self, error: &ApiError) -> Vec<SseFrame> {
        self.error(error.kind, &error.message)
    }
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    token: Option<axum::Extension<TokenId>>,
    headers: HeaderMap,
    body: Result<JsonBody<Box<RawValue>>, ApiError>,
) -> Result<Response, ApiError> {
    let JsonBody(body) = body?;
    crate::protocol::check_duplicate_keys(body.get().as_bytes())
        .map_err(|e| ApiError::bad_request(e.0))?;
    let openai_responses::DecodedResponses { decoded, echo } =
        openai_responses::decode_request(body.get().as_bytes())
            .map_err(|e| ApiError::bad_request(e.0))?;
    let req = decoded.request;
    let cache = wants_cache(&headers, decoded.gateway.cache);
    let session = session_id(&headers, decoded.gateway.session_id);
    let id = openai_responses::new_id("resp");
    let created = now_secs();
    let stream = req.stream;
    let completion = Completion {
        req,
        prefs: Preferences::default(),
        session,
        cache,
        token: token.map(|t| t.0),
    };
    if !stream {
        let answered = gateway::complete(&state, completion).await?;
        let mut body = openai_responses::encode_response(&answered.response, &id, created, &echo);
        if answered.cached {
            body["cached"] = Value::Bool(true);
        }
        if let Some(receipt) = answered.receipt {
            body["receipt"] = receipt;
        }
        let mut resp = Json(body).into_response();
        if cache || answered.cached {
            mark_cache(&mut resp, answered.cached);
        }
        resp.extensions_mut()
            .insert(ModelUsed(answered.response.model));
        return Ok(resp);
    }
    let (events, model) = gateway::stream(&state, completion).await?;
    let encoder = openai_responses::StreamEncoder::new(&id, &model, created, echo);
    let mut resp = Sse::new(encode_stream(events, encoder)).into_response();
    resp.extensions_mut().insert(ModelUsed(model));
    Ok(resp)
}
