//! The Anthropic protocol: `POST /v1/messages` (whole and the streaming event sequence) and
//! `POST /v1/messages/count_tokens`, served by any configured model.

use std::convert::Infallible;
use std::sync::Arc;

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
use super::{ApiError, AppState, Shape};
use crate::providers::EventStream;
use crate::router::Preferences;
use crate::types::{ChatRequest, ChatResponse, ContentPart, Message, Role, StreamEvent, Usage};

/// A Messages API request (fields we do not use, like `tools`, are ignored).
#[derive(Debug, Deserialize)]
pub struct MessagesRequest {
    #[serde(default)]
    pub model: String,
    pub messages: Vec<WireMessage>,
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub system: Option<System>,
    #[serde(default)]
    pub stop_sequences: Vec<String>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub top_p: Option<f32>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    /// Not Anthropic's: a conversation the gateway keeps (also the `x-session-id` header).
    #[serde(default)]
    pub session_id: Option<String>,
    /// Not Anthropic's: serve and keep this answer in the response cache (also `x-cache: on`).
    #[serde(default)]
    pub cache: bool,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum System {
    Text(String),
    Blocks(Vec<Block>),
}

#[derive(Debug, Deserialize)]
pub struct WireMessage {
    pub role: String,
    pub content: Content,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Blocks(Vec<Block>),
}

/// A content block; unknown types are kept as `Other` and skipped.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
    },
    Image {
        source: ImageSource,
    },
    ToolResult {
        #[serde(default)]
        content: Option<Value>,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

fn parts(blocks: Vec<Block>) -> Vec<ContentPart> {
    blocks
        .into_iter()
        .filter_map(|b| match b {
            Block::Text { text } => Some(ContentPart::Text { text }),
            Block::Image {
                source: ImageSource::Base64 { media_type, data },
            } => Some(ContentPart::ImageBase64 { media_type, data }),
            Block::Image {
                source: ImageSource::Url { url },
            } => Some(ContentPart::ImageUrl { url }),
            Block::ToolResult {
                content: Some(Value::String(text)),
            } => Some(ContentPart::Text { text }),
            _ => None,
        })
        .collect()
}

impl MessagesRequest {
    /// Converts to the canonical request.
    pub fn into_canonical(self) -> Result<ChatRequest, ApiError> {
        let max_tokens = self
            .max_tokens
            .ok_or_else(|| ApiError::bad_request("`max_tokens` is required"))?;
        if max_tokens == 0 {
            return Err(ApiError::bad_request("`max_tokens` must be at least 1"));
        }
        if self.messages.is_empty() {
            return Err(ApiError::bad_request(
                "`messages` is empty: send at least one message",
            ));
        }
        let mut messages = Vec::with_capacity(self.messages.len() + 1);
        match self.system {
            Some(System::Text(text)) if !text.is_empty() => messages.push(Message::system(text)),
            Some(System::Blocks(blocks)) => {
                let content = parts(blocks);
                if !content.is_empty() {
                    messages.push(Message {
                        role: Role::System,
                        content,
                    });
                }
            }
            _ => {}
        }
        for (i, m) in self.messages.into_iter().enumerate() {
            let role = match m.role.as_str() {
                "user" => Role::User,
                "assistant" => Role::Assistant,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "messages.{i}.role `{other}` is not supported; use `user` or `assistant` (the system prompt goes in `system`)"
                    )));
                }
            };
            let content = match m.content {
                Content::Text(text) => vec![ContentPart::Text { text }],
                Content::Blocks(blocks) => parts(blocks),
            };
            messages.push(Message { role, content });
        }
        if let Some(t) = self.temperature
            && !(0.0..=1.0).contains(&t)
        {
            return Err(ApiError::bad_request(format!(
                "`temperature` {t} is out of range; use 0 to 1"
            )));
        }
        super::openai::check_top_p(self.top_p)?;
        Ok(ChatRequest {
            model: self.model,
            messages,
            max_tokens: Some(max_tokens),
            temperature: self.temperature,
            top_p: self.top_p,
            stop: self.stop_sequences,
            seed: None,
            stream: self.stream,
            user: self.metadata.and_then(|m| m.user_id),
            metadata: Default::default(),
        })
    }
}

fn message_id() -> String {
    format!("msg_{:024x}", rand::random::<u128>() >> 32)
}

/// The whole-answer body.
pub fn message_body(id: &str, resp: &ChatResponse) -> Value {
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": [{ "type": "text", "text": resp.text }],
        "stop_reason": resp.finish_reason.as_anthropic(),
        "stop_sequence": null,
        "usage": { "input_tokens": resp.usage.input_tokens, "output_tokens": resp.usage.output_tokens },
    })
}

pub async fn messages(
    State(state): State<Arc<AppState>>,
    token: Option<axum::Extension<TokenId>>,
    headers: HeaderMap,
    body: Result<Json<MessagesRequest>, JsonRejection>,
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
    body: Result<Json<MessagesRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let cache = super::openai::wants_cache(&headers, body.cache);
    let session = super::openai::session_id(&headers, body.session_id.clone());
    let req = body.into_canonical()?;
    let stream = req.stream;
    let completion = Completion {
        req,
        prefs: Preferences::default(),
        session,
        cache,
        token,
    };
    let id = message_id();
    if !stream {
        let answered = gateway::complete(&state, completion).await?;
        let mut body = message_body(&id, &answered.response);
        if answered.cached {
            body["cached"] = Value::Bool(true);
        }
        if let Some(receipt) = answered.receipt {
            body["receipt"] = receipt;
        }
        let mut resp = Json(body).into_response();
        if cache || answered.cached {
            super::openai::mark_cache(&mut resp, answered.cached);
        }
        resp.extensions_mut()
            .insert(ModelUsed(answered.response.model));
        return Ok(resp);
    }
    let (events, model) = gateway::stream(&state, completion).await?;
    let mut resp = Sse::new(sse_events(events, id, model.clone())).into_response();
    resp.extensions_mut().insert(ModelUsed(model));
    Ok(resp)
}

fn event(name: &'static str, data: Value) -> Result<Event, Infallible> {
    Ok(Event::default().event(name).data(data.to_string()))
}

/// Canonical events as Anthropic's sequence: `message_start`, `content_block_start`, `ping`,
/// `content_block_delta`…, `content_block_stop`, `message_delta` (stop reason, usage),
/// `message_stop`; an upstream failure mid-stream becomes an `error` event.
fn sse_events(
    mut events: EventStream,
    id: String,
    model: String,
) -> impl futures::Stream<Item = Result<Event, Infallible>> {
    async_stream::stream! {
        yield event("message_start", json!({
            "type": "message_start",
            "message": {
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": { "input_tokens": 0, "output_tokens": 0 },
            },
        }));
        yield event("content_block_start", json!({
            "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" },
        }));
        yield event("ping", json!({ "type": "ping" }));
        let mut usage = Usage::default();
        while let Some(e) = events.next().await {
            match e {
                Ok(StreamEvent::Delta(text)) => {
                    yield event("content_block_delta", json!({
                        "type": "content_block_delta", "index": 0,
                        "delta": { "type": "text_delta", "text": text },
                    }));
                }
                Ok(StreamEvent::Usage(u)) => usage = u,
                Ok(StreamEvent::Done(reason)) => {
                    yield event("content_block_stop", json!({ "type": "content_block_stop", "index": 0 }));
                    yield event("message_delta", json!({
                        "type": "message_delta",
                        "delta": { "stop_reason": reason.as_anthropic(), "stop_sequence": null },
                        "usage": { "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens },
                    }));
                    yield event("message_stop", json!({ "type": "message_stop" }));
                    return;
                }
                Err(e) => {
                    let err = ApiError::from(e);
                    yield event("error", json!({
                        "type": "error",
                        "error": { "type": "api_error", "message": err.message },
                    }));
                    return;
                }
            }
        }
    }
}

/// `POST /v1/messages/count_tokens`: an estimate (about one token per CJK character and per
/// four other characters), as tokenizers differ by model.
pub async fn count_tokens(body: Result<Json<MessagesRequest>, JsonRejection>) -> Response {
    let result = body.map_err(ApiError::from).and_then(|Json(mut b)| {
        b.max_tokens = Some(1);
        b.into_canonical()
    });
    match result {
        Ok(req) => Json(json!({ "input_tokens": crate::router::analyze(&req).input_tokens }))
            .into_response(),
        Err(e) => e.into_shape(Shape::Anthropic),
    }
}
