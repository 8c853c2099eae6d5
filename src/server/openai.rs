//! The OpenAI protocol: `POST /v1/chat/completions` (whole and SSE) and `GET /v1/models`.
//!
//! A thin codec: `protocol::openai_chat` decodes the request and encodes the answer; the
//! gateway (`gateway.rs`) routes it.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::body::RawBody;
use super::gateway::{self, Completion, TokenId};
use super::middleware::ModelUsed;
use super::{ApiError, AppState};
use crate::protocol::{Decoded, SseFrame, now_secs, openai_chat};
use crate::providers::EventStream;
use crate::router::Preferences;
use crate::types::{Protocol, StreamEvent};

fn completion_id() -> String {
    format!("chatcmpl-{:024x}", rand::random::<u128>() >> 32)
}

/// The session a request continues: the `x-session-id` header or a `session_id` field.
pub fn session_id(headers: &HeaderMap, field: Option<String>) -> Option<String> {
    headers
        .get("x-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(field)
        .filter(|s| !s.is_empty() && s.len() <= 256)
}

/// Whether a request asks for the response cache: the `x-cache: on` header or a field.
pub fn wants_cache(headers: &HeaderMap, field: bool) -> bool {
    field
        || headers
            .get("x-cache")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"on"))
}

/// Marks a response as served from the cache or not.
pub fn mark_cache(resp: &mut Response, cached: bool) {
    resp.headers_mut().insert(
        "x-cache",
        axum::http::HeaderValue::from_static(if cached { "hit" } else { "miss" }),
    );
}

/// Frames as axum SSE events.
pub fn sse_events(frames: Vec<SseFrame>) -> impl Iterator<Item = Result<Event, Infallible>> {
    frames.into_iter().map(|f| {
        let event = Event::default().data(f.data);
        Ok(match f.event {
            Some(name) => event.event(name),
            None => event,
        })
    })
}

/// A whole answer's response in any protocol: `body` (the answer encoded), marked when it
/// came from the cache or from a cooperation (with its receipt), and the model that served it.
pub fn whole_answer(mut body: Value, answered: gateway::Answered, cache: bool) -> Response {
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
    resp
}

/// A protocol's stream encoder, as the handlers drive it.
pub trait Encoder: Send + 'static {
    fn push(&mut self, event: &StreamEvent) -> Vec<SseFrame>;
    /// An upstream failure after the stream began.
    fn fail(&mut self, error: &ApiError) -> Vec<SseFrame>;
}

impl Encoder for openai_chat::StreamEncoder {
    fn push(&mut self, event: &StreamEvent) -> Vec<SseFrame> {
        openai_chat::StreamEncoder::push(self, event)
    }
    fn fail(&mut self, error: &ApiError) -> Vec<SseFrame> {
        self.error(error.kind, &error.message)
    }
}

/// A canonical event stream through a protocol's encoder; an upstream failure becomes the
/// protocol's in-stream error and ends the stream.
pub fn encode_stream(
    mut events: EventStream,
    mut encoder: impl Encoder,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    async_stream::stream! {
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => {
                    let done = matches!(event, StreamEvent::Done(_));
                    for e in sse_events(encoder.push(&event)) {
                        yield e;
                    }
                    if done {
                        return;
                    }
                }
                Err(e) => {
                    for e in sse_events(encoder.fail(&ApiError::from(e))) {
                        yield e;
                    }
                    return;
                }
            }
        }
    }
}

/// A chat completions body decoded and checked.
fn decode(body: &RawBody) -> Result<Decoded, ApiError> {
    let body: Box<RawValue> = body.json()?;
    crate::protocol::check_duplicate_keys(body.get().as_bytes())
        .map_err(|e| ApiError::bad_request(e.0))?;
    openai_chat::decode_request(body.get().as_bytes()).map_err(|e| ApiError::bad_request(e.0))
}

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    token: Option<axum::Extension<TokenId>>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Result<Response, ApiError> {
    let body = body?;
    let token = token.map(|t| t.0);
    let id = completion_id();
    let created = now_secs();
    if let Some(f) = gateway::verbatim(&state, Protocol::OpenAiChat, &body.0, &headers, Vec::new())
    {
        let refused = |e| gateway::judged(e, || decode(&body).map(drop));
        if !f.req.stream {
            let answered = gateway::forward(&state, f, token).await.map_err(refused)?;
            let body = openai_chat::encode_response(&answered.response, &id, created);
            return Ok(whole_answer(body, answered, false));
        }
        let (events, model) = gateway::forward_stream(&state, f, token)
            .await
            .map_err(refused)?;
        // Forwarded as written only without `stream_options`: no usage chunk was asked for.
        let encoder = openai_chat::StreamEncoder::new(&id, &model, created, false);
        return Ok(sse_response(encode_stream(events, encoder), model));
    }
    let decoded = decode(&body)?;
    let req = decoded.request;
    let cache = wants_cache(&headers, decoded.gateway.cache);
    let include_usage = decoded.gateway.include_usage;
    let session = session_id(&headers, decoded.gateway.session_id);
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
        let body = openai_chat::encode_response(&answered.response, &id, created);
        return Ok(whole_answer(body, answered, cache));
    }
    let (events, model) = gateway::stream(&state, completion).await?;
    let encoder = openai_chat::StreamEncoder::new(&id, &model, created, include_usage);
    Ok(sse_response(encode_stream(events, encoder), model))
}

/// An SSE response, marked with the model that serves it.
pub fn sse_response(
    events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
    model: String,
) -> Response {
    let mut resp = Sse::new(events).into_response();
    resp.extensions_mut().insert(ModelUsed(model));
    resp
}

/// Whether a request comes from an Anthropic client (its SDKs always send the version).
fn anthropic_client(headers: &HeaderMap) -> bool {
    headers.contains_key("anthropic-version")
}

fn model_json(m: &crate::config::ModelConfig, created: u64, anthropic: bool) -> Value {
    if anthropic {
        json!({ "type": "model", "id": m.name, "display_name": m.name, "created_at": "1970-01-01T00:00:00Z" })
    } else {
        json!({ "id": m.name, "object": "model", "created": created, "owned_by": m.provider })
    }
}

/// `GET /v1/models`, in the shape of the client's protocol (both protocols share the path).
pub async fn models(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Json<Value> {
    let created = now_secs();
    let anthropic = anthropic_client(&headers);
    let live = state.live();
    let data: Vec<Value> = live
        .router
        .model_configs()
        .iter()
        .map(|m| model_json(m, created, anthropic))
        .collect();
    if anthropic {
        let first = data.first().map(|m| m["id"].clone());
        let last = data.last().map(|m| m["id"].clone());
        return Json(
            json!({ "data": data, "has_more": false, "first_id": first, "last_id": last }),
        );
    }
    Json(json!({ "object": "list", "data": data }))
}

/// `GET /v1/models/{id}`: one model, or a 404 in the client protocol's shape.
pub async fn model(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let anthropic = anthropic_client(&headers);
    let live = state.live();
    match live.router.model_configs().iter().find(|m| m.name == id) {
        Some(m) => Json(model_json(m, now_secs(), anthropic)).into_response(),
        None => ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "model_not_found",
            format!("No model `{id}`; `GET /v1/models` lists them"),
        )
        .into_shape(if anthropic {
            super::Shape::Anthropic
        } else {
            super::Shape::OpenAi
        }),
    }
}
