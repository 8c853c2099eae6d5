//! The OpenAI protocol: `POST /v1/chat/completions` (whole and SSE) and `GET /v1/models`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use super::gateway::{self, Completion, TokenId};
use super::middleware::ModelUsed;
use super::{ApiError, AppState};
use crate::providers::EventStream;
use crate::router::Preferences;
use crate::types::{ChatRequest, ChatResponse, ContentPart, Message, Role, StreamEvent, Usage};

/// A chat completion request as OpenAI SDKs send it (fields we do not use are ignored).
#[derive(Debug, Deserialize)]
pub struct CompletionRequest {
    #[serde(default)]
    pub model: String,
    pub messages: Vec<WireMessage>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub top_p: Option<f32>,
    #[serde(default)]
    pub stop: Option<Stop>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub user: Option<String>,
    /// Not OpenAI's: a conversation the gateway keeps (also the `x-session-id` header).
    #[serde(default)]
    pub session_id: Option<String>,
    /// Not OpenAI's: serve and keep this answer in the response cache (also `x-cache: on`).
    #[serde(default)]
    pub cache: bool,
}

#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
pub struct WireMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<WireContent>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum WireContent {
    Text(String),
    Parts(Vec<WirePart>),
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WirePart {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Debug, Deserialize)]
pub struct ImageUrl {
    pub url: String,
}

impl CompletionRequest {
    /// Converts to the canonical request, rejecting what cannot be served.
    pub fn into_canonical(self) -> Result<ChatRequest, ApiError> {
        if self.messages.is_empty() {
            return Err(ApiError::bad_request(
                "`messages` is empty: send at least one message",
            ));
        }
        let messages = self
            .messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let role = match m.role.as_str() {
                    "system" | "developer" => Role::System,
                    "user" => Role::User,
                    "assistant" => Role::Assistant,
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "messages[{i}].role `{other}` is not supported; use `system`, `user` or `assistant`"
                        )));
                    }
                };
                let content = match m.content {
                    None => Vec::new(),
                    Some(WireContent::Text(text)) => vec![ContentPart::Text { text }],
                    Some(WireContent::Parts(parts)) => parts
                        .into_iter()
                        .map(|p| match p {
                            WirePart::Text { text } => ContentPart::Text { text },
                            WirePart::ImageUrl { image_url } => ContentPart::ImageUrl { url: image_url.url },
                        })
                        .collect(),
                };
                Ok(Message { role, content })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return Err(ApiError::bad_request(format!(
                "`temperature` {t} is out of range; use 0 to 2"
            )));
        }
        if self.max_completion_tokens.or(self.max_tokens) == Some(0) {
            return Err(ApiError::bad_request(
                "`max_tokens` must be at least 1 (omit it for the model's default)",
            ));
        }
        check_top_p(self.top_p)?;
        Ok(ChatRequest {
            model: self.model,
            messages,
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            temperature: self.temperature,
            top_p: self.top_p,
            stop: match self.stop {
                None => Vec::new(),
                Some(Stop::One(s)) => vec![s],
                Some(Stop::Many(v)) => v,
            },
            seed: self.seed,
            stream: self.stream,
            user: self.user,
            metadata: Default::default(),
        })
    }
}

/// `top_p` is a probability mass: 0 to 1.
pub fn check_top_p(top_p: Option<f32>) -> Result<(), ApiError> {
    match top_p {
        Some(p) if !(0.0..=1.0).contains(&p) => Err(ApiError::bad_request(format!(
            "`top_p` {p} is out of range; use 0 to 1"
        ))),
        _ => Ok(()),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn completion_id() -> String {
    format!("chatcmpl-{:024x}", rand::random::<u128>() >> 32)
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total(),
    })
}

/// The whole-answer response body.
pub fn completion_body(id: &str, created: u64, resp: &ChatResponse) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": resp.model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": resp.text },
            "finish_reason": resp.finish_reason.as_openai(),
        }],
        "usage": usage_json(&resp.usage),
    })
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

pub async fn chat_completions(
    State(state): State<Arc<AppState>>,
    token: Option<axum::Extension<TokenId>>,
    headers: HeaderMap,
    body: Result<Json<CompletionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let cache = wants_cache(&headers, body.cache);
    let include_usage = body
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    let session = session_id(&headers, body.session_id.clone());
    let req = body.into_canonical()?;
    let id = completion_id();
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
        let mut body = completion_body(&id, created, &answered.response);
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
    let mut resp = Sse::new(sse_chunks(
        events,
        id,
        created,
        model.clone(),
        include_usage,
    ))
    .into_response();
    resp.extensions_mut().insert(ModelUsed(model));
    Ok(resp)
}

/// Canonical events as OpenAI `chat.completion.chunk` events, ending with `[DONE]`.
fn sse_chunks(
    mut events: EventStream,
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
) -> impl futures::Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        let chunk = |delta: Value, finish: Option<&str>| json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        });
        yield Ok(Event::default().data(chunk(json!({ "role": "assistant", "content": "" }), None).to_string()));
        let mut usage = None;
        while let Some(event) = events.next().await {
            match event {
                Ok(StreamEvent::Delta(text)) => {
                    yield Ok(Event::default().data(chunk(json!({ "content": text }), None).to_string()));
                }
                Ok(StreamEvent::Usage(u)) => usage = Some(u),
                Ok(StreamEvent::Done(reason)) => {
                    yield Ok(Event::default().data(chunk(json!({}), Some(reason.as_openai())).to_string()));
                    if include_usage {
                        let u = usage.unwrap_or_default();
                        yield Ok(Event::default().data(json!({
                            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                            "choices": [], "usage": usage_json(&u),
                        }).to_string()));
                    }
                    yield Ok(Event::default().data("[DONE]"));
                    return;
                }
                Err(e) => {
                    let err = ApiError::from(e);
                    yield Ok(Event::default().data(json!({
                        "error": { "message": err.message, "type": err.kind, "code": err.status.as_u16() }
                    }).to_string()));
                    return;
                }
            }
        }
    }
}

pub async fn models(State(state): State<Arc<AppState>>) -> Json<Value> {
    let created = now_secs();
    let live = state.live();
    let data: Vec<Value> = live
        .router
        .model_configs()
        .iter()
        .map(|m| json!({ "id": m.name, "object": "model", "created": created, "owned_by": m.provider }))
        .collect();
    Json(json!({ "object": "list", "data": data }))
}
