//! The Anthropic protocol: `POST /v1/messages` (whole and the streaming event sequence) and
//! `POST /v1/messages/count_tokens`, served by any configured model.
//!
//! A thin codec: `protocol::anthropic_messages` decodes the request and encodes the answer;
//! the gateway (`gateway.rs`) routes it. The client's `anthropic-beta` header travels with
//! the request to Anthropic upstreams.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::body::{JsonBody, RawBody};
use super::gateway::{self, Completion, TokenId};
use super::openai::{Encoder, encode_stream, session_id, sse_response, wants_cache, whole_answer};
use super::{ApiError, AppState, Shape};
use crate::protocol::{Decoded, SseFrame, anthropic_messages};
use crate::router::Preferences;
use crate::types::{Protocol, StreamEvent};

/// Request headers that belong to the protocol and go to Anthropic upstreams as they came.
const FORWARDED_HEADERS: [&str; 1] = ["anthropic-beta"];

impl Encoder for anthropic_messages::StreamEncoder {
    fn push(&mut self, event: &StreamEvent) -> Vec<SseFrame> {
        anthropic_messages::StreamEncoder::push(self, event)
    }
    fn fail(&mut self, error: &ApiError) -> Vec<SseFrame> {
        self.error(error.anthropic_type(), &error.message)
    }
}

fn message_id() -> String {
    format!("msg_{:024x}", rand::random::<u128>() >> 32)
}

/// The protocol headers the client sent that travel with its request.
fn forwarded_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    FORWARDED_HEADERS
        .iter()
        .flat_map(|name| {
            headers
                .get_all(*name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(|v| ((*name).to_owned(), v.to_owned()))
        })
        .collect()
}

/// A messages body read as JSON, decoded and checked.
fn decode_body(body: &RawBody, headers: &HeaderMap) -> Result<Decoded, ApiError> {
    let body: Box<RawValue> = body.json()?;
    decode(body.get().as_bytes(), headers)
}

/// Decodes a body and attaches the protocol headers the client sent.
fn decode(body: &[u8], headers: &HeaderMap) -> Result<Decoded, ApiError> {
    crate::protocol::check_duplicate_keys(body).map_err(|e| ApiError::bad_request(e.0))?;
    let mut decoded =
        anthropic_messages::decode_request(body).map_err(|e| ApiError::bad_request(e.0))?;
    // The decoder records the protocol (the pass-through is always Anthropic's here).
    let req = &mut decoded.request;
    let forwarded = forwarded_headers(headers);
    if !forwarded.is_empty()
        && let Some((Protocol::AnthropicMessages, pass)) = &mut req.passthrough
    {
        pass.headers.extend(forwarded);
    }
    Ok(decoded)
}

pub async fn messages(
    State(state): State<Arc<AppState>>,
    token: Option<axum::Extension<TokenId>>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Response {
    match handle(state, token.map(|t| t.0), headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.into_shape(Shape::Anthropic),
    }
}

async fn handle(
    state: Arc<AppState>,
    token: Option<TokenId>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Result<Response, ApiError> {
    let body = body?;
    let id = message_id();
    if let Some(f) = gateway::verbatim(
        &state,
        Protocol::AnthropicMessages,
        &body.0,
        &headers,
        forwarded_headers(&headers),
    ) {
        let refused = |e| gateway::judged(e, || decode_body(&body, &headers).map(drop));
        if !f.req.stream {
            let answered = gateway::forward(&state, f, token).await.map_err(refused)?;
            let body = anthropic_messages::encode_response(&answered.response, &id, 0);
            return Ok(whole_answer(body, answered, false));
        }
        let (events, model) = gateway::forward_stream(&state, f, token)
            .await
            .map_err(refused)?;
        let encoder = anthropic_messages::StreamEncoder::new(&id, &model, 0, false);
        return Ok(sse_response(encode_stream(events, encoder), model));
    }
    let decoded = decode_body(&body, &headers)?;
    let cache = wants_cache(&headers, decoded.gateway.cache);
    let session = session_id(&headers, decoded.gateway.session_id);
    let req = decoded.request;
    let stream = req.stream;
    let completion = Completion {
        req,
        prefs: Preferences::default(),
        session,
        cache,
        token,
    };
    if !stream {
        let answered = gateway::complete(&state, completion).await?;
        let body = anthropic_messages::encode_response(&answered.response, &id, 0);
        return Ok(whole_answer(body, answered, cache));
    }
    let (events, model) = gateway::stream(&state, completion).await?;
    let encoder = anthropic_messages::StreamEncoder::new(&id, &model, 0, false);
    Ok(sse_response(encode_stream(events, encoder), model))
}

/// `POST /v1/messages/count_tokens`: an estimate (about one token per CJK character and per
/// four other characters, tools' schemas included), as tokenizers differ by model.
pub async fn count_tokens(
    headers: HeaderMap,
    body: Result<JsonBody<Box<RawValue>>, ApiError>,
) -> Response {
    let result = body.and_then(|JsonBody(raw)| {
        // The endpoint takes a messages request without `max_tokens`.
        let mut value: serde_json::Map<String, Value> = serde_json::from_str(raw.get())
            .map_err(|e| ApiError::bad_request(format!("the body is not a JSON object: {e}")))?;
        value.entry("max_tokens").or_insert(json!(1));
        let body = serde_json::to_vec(&value).unwrap_or_default();
        decode(&body, &headers)
    });
    match result {
        Ok(decoded) => {
            let req = decoded.request;
            let tools: u32 = req
                .tools
                .iter()
                .map(|t| {
                    crate::router::estimate_tokens(&serde_json::to_string(t).unwrap_or_default())
                })
                .sum();
            Json(json!({ "input_tokens": crate::router::analyze(&req).input_tokens + tools }))
                .into_response()
        }
        Err(e) => e.into_shape(Shape::Anthropic),
    }
}
