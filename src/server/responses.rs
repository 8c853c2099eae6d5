//! OpenAI's Responses API: `POST /v1/responses` (whole and streamed), bridged to any model
//! through the canonical types (see `protocol::openai_responses` for what crosses and what
//! is refused); `GET` and `DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items`
//! for stored responses.
//!
//! A response with `store` (the API's default) is kept in the shared state for
//! `responses_ttl_minutes`: the Response object, its input items and the whole conversation
//! (without the instructions, which the API does not carry over). `previous_response_id`
//! puts that conversation before the new input, so a conversation continues on any replica
//! sharing the state. Stored responses belong to the gateway token that made them.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::Sse;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::body::JsonBody;
use super::gateway::{self, Completion, TokenId, scoped};
use super::middleware::ModelUsed;
use super::openai::{Encoder, session_id, sse_events, wants_cache, whole_answer};
use super::{ApiError, AppState};
use crate::protocol::{SseFrame, now_secs, openai_responses};
use crate::router::Preferences;
use crate::types::{Assembler, ContentPart, Message, Role, StreamEvent};

impl Encoder for openai_responses::StreamEncoder {
    fn push(&mut self, event: &StreamEvent) -> Vec<SseFrame> {
        openai_responses::StreamEncoder::push(self, event)
    }
    fn fail(&mut self, error: &ApiError) -> Vec<SseFrame> {
        self.error(error.kind, &error.message)
    }
}

/// What is kept of a stored response.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    response: Value,
    input_items: Vec<Value>,
    /// The conversation up to and including this response's output, without instructions.
    conversation: Vec<Message>,
}

fn not_found(id: &str, param: Option<&str>) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        match param {
            Some(p) => format!(
                "`{p}`: no stored response `{id}` (it expired after `responses_ttl_minutes`, was deleted, was made with `store: false` or under another token)"
            ),
            None => format!("No stored response `{id}`"),
        },
    );
    e.kind = "invalid_request_error";
    e
}

async fn load(state: &AppState, token: &Option<TokenId>, id: &str) -> Option<Stored> {
    let text = state.shared.response_get(&scoped(token, id)).await?;
    serde_json::from_str(&text).ok()
}

async fn save(state: &AppState, token: &Option<TokenId>, stored: &Stored) {
    let Some(id) = stored.response["id"].as_str() else {
        return;
    };
    if let Ok(text) = serde_json::to_string(stored) {
        state
            .shared
            .response_put(&scoped(token, id), text, state.policies.responses_ttl)
            .await;
    }
}

/// The conversation to keep: the request's messages without instructions, then the answer.
fn conversation(messages: &[Message], answer: Vec<ContentPart>) -> Vec<Message> {
    let mut kept: Vec<Message> = messages
        .iter()
        .filter(|m| m.role != Role::System)
        .cloned()
        .collect();
    if !answer.is_empty() {
        kept.push(Message::new(Role::Assistant, answer));
    }
    kept
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
    let token = token.map(|t| t.0);
    if let Some(model) = native_model(&state, body.get()) {
        return forward(&state, &model, body.get()).await;
    }
    let openai_responses::DecodedResponses {
        decoded,
        echo,
        input_items,
    } = openai_responses::decode_request(body.get().as_bytes())
        .map_err(|e| ApiError::bad_request(e.0))?;
    let mut req = decoded.request;
    if let Some(previous) = &echo.previous_response_id {
        let stored = load(&state, &token, previous)
            .await
            .ok_or_else(|| not_found(previous, Some("previous_response_id")))?;
        req.messages = super::sessions::with_history(stored.conversation, req.messages);
        crate::protocol::check_tool_pairs(&req).map_err(|e| {
            ApiError::bad_request(format!("{} (the conversation continues `{previous}`)", e.0))
        })?;
    }
    let cache = wants_cache(&headers, decoded.gateway.cache);
    let session = session_id(&headers, decoded.gateway.session_id);
    let id = openai_responses::new_id("resp");
    let created = now_secs();
    let stream = req.stream;
    let store = echo.store;
    let messages = if store {
        req.messages.clone()
    } else {
        Vec::new()
    };
    let completion = Completion {
        req,
        prefs: Preferences::default(),
        session,
        cache,
        token: token.clone(),
    };
    if !stream {
        let answered = gateway::complete(&state, completion).await?;
        let body = openai_responses::encode_response(&answered.response, &id, created, &echo);
        if store {
            let stored = Stored {
                response: body.clone(),
                input_items,
                conversation: conversation(&messages, answered.response.content.clone()),
            };
            save(&state, &token, &stored).await;
        }
        return Ok(whole_answer(body, answered, cache));
    }
    let (mut events, model) = gateway::stream(&state, completion).await?;
    let mut encoder = openai_responses::StreamEncoder::new(&id, &model, created, echo);
    let state = state.clone();
    // The protocol's frames, and the response stored once it has completed.
    let body = async_stream::stream! {
        let mut answer = Assembler::default();
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => {
                    let done = matches!(event, StreamEvent::Done(_));
                    if store {
                        answer.push(&event);
                    }
                    for e in sse_events(Encoder::push(&mut encoder, &event)) {
                        yield e;
                    }
                    if done {
                        if let Some(response) = encoder.final_response() {
                            let stored = Stored {
                                response: response.clone(),
                                input_items,
                                conversation: conversation(
                                    &messages,
                                    std::mem::take(&mut answer).into_response().content,
                                ),
                            };
                            save(&state, &token, &stored).await;
                        }
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
    };
    let mut resp = Sse::new(body).into_response();
    resp.extensions_mut().insert(ModelUsed(model));
    Ok(resp)
}

/// The request's model when it goes to its providers' own Responses API (see
/// `Router::responses_native`).
fn native_model(state: &AppState, body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Model {
        model: String,
    }
    let live = state.live();
    // Reading the model costs a pass over the body: only when some provider is native.
    if !live.router.any_responses_native() {
        return None;
    }
    let Model { model } = serde_json::from_str(body).ok()?;
    live.router.responses_native(&model).then_some(model)
}

/// Forwards the request as it came (the model renamed per deployment) and passes the
/// answer back untouched; a stream that breaks ends with an `error` event.
async fn forward(state: &Arc<AppState>, model: &str, body: &str) -> Result<Response, ApiError> {
    let body: Value = serde_json::from_str(body)
        .map_err(|e| ApiError::bad_request(format!("The body is not JSON ({e})")))?;
    for field in ["session_id", "cache"] {
        if body.get(field).is_some() {
            return Err(ApiError::bad_request(format!(
                "`{field}` is a gateway field that `{model}` cannot take: its provider serves the Responses API itself, and the request goes there as it is; remove it (use `previous_response_id` to continue a conversation)"
            )));
        }
    }
    let live = state.live();
    let routed = live.router.forward_responses(model, body).await?;
    let mut resp = match routed.value {
        crate::providers::RawAnswer::Whole(bytes) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        crate::providers::RawAnswer::Stream(stream) => {
            let body = stream.map(|chunk| {
                Ok::<_, std::convert::Infallible>(match chunk {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        let e = ApiError::from(e);
                        bytes::Bytes::from(format!(
                            "event: error\ndata: {}\n\n",
                            json!({ "type": "error", "code": e.kind, "message": e.message })
                        ))
                    }
                })
            });
            (
                [(axum::http::header::CONTENT_TYPE, "text/event-stream")],
                axum::body::Body::from_stream(body),
            )
                .into_response()
        }
    };
    resp.extensions_mut().insert(ModelUsed(model.to_owned()));
    Ok(resp)
}

/// `GET /v1/responses/{id}`.
pub async fn retrieve(
    State(state): State<Arc<AppState>>,
    token: Option<axum::Extension<TokenId>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let token = token.map(|t| t.0);
    let stored = load(&state, &token, &id)
        .await
        .ok_or_else(|| not_found(&id, None))?;
    Ok(Json(stored.response))
}

/// `DELETE /v1/responses/{id}`.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    token: Option<axum::Extension<TokenId>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let token = token.map(|t| t.0);
    if !state.shared.response_delete(&scoped(&token, &id)).await {
        return Err(not_found(&id, None));
    }
    Ok(Json(
        json!({ "id": id, "object": "response", "deleted": true }),
    ))
}

/// Paging of `input_items`, as the API defines it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsQuery {
    #[serde(default)]
    order: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    include: Option<Vec<String>>,
}

/// `GET /v1/responses/{id}/input_items`: newest first unless `order=asc`, `limit` (1–100,
/// default 20) items after the item `after`.
pub async fn input_items(
    State(state): State<Arc<AppState>>,
    token: Option<axum::Extension<TokenId>>,
    Path(id): Path<String>,
    query: Result<Query<ItemsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(format!(
            "{e}; the query takes `order` (asc|desc), `limit` (1–100) and `after` (an item id)"
        ))
    })?;
    let _ = q.include;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` is {limit}; use 1 to 100"
        )));
    }
    let token = token.map(|t| t.0);
    let stored = load(&state, &token, &id)
        .await
        .ok_or_else(|| not_found(&id, None))?;
    let mut items = stored.input_items;
    match q.order.as_deref() {
        None | Some("desc") => items.reverse(),
        Some("asc") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`order` is `{other}`; use `asc` or `desc`"
            )));
        }
    }
    if let Some(after) = &q.after {
        let at = items
            .iter()
            .position(|i| i["id"].as_str() == Some(after))
            .ok_or_else(|| ApiError::bad_request(format!("`after`: no input item `{after}`")))?;
        items.drain(..=at);
    }
    let has_more = items.len() > limit;
    items.truncate(limit);
    Ok(Json(json!({
        "object": "list",
        "data": items,
        "first_id": items.first().map(|i| i["id"].clone()),
        "last_id": items.last().map(|i| i["id"].clone()),
        "has_more": has_more,
    })))
}
