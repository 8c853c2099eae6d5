//! Anthropic's Messages API: `POST /messages` with `x-api-key` and `anthropic-version`, the
//! streaming event sequence, and the system prompt as a top-level field.

use std::time::Instant as StdInstant;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::http::HttpClient;
use super::{Backend, EventStream, ProviderError, sse};
use crate::types::{
    ChatRequest, ChatResponse, ContentPart, FinishReason, Role, StreamEvent, Usage,
};

/// The API version sent with every request.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Anthropic requires `max_tokens`; this is used when neither the request nor the model sets it.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

#[derive(Debug)]
pub struct Anthropic {
    http: HttpClient,
    headers: HeaderMap,
}

impl Anthropic {
    pub fn new(http: HttpClient) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        if let Some(key) = http.key()
            && let Ok(mut value) = HeaderValue::from_str(key)
        {
            value.set_sensitive(true);
            headers.insert("x-api-key", value);
        }
        Anthropic { http, headers }
    }
}

/// The request body for `/messages`: system messages join into `system`.
pub fn request_body(req: &ChatRequest, stream: bool) -> Value {
    let system: Vec<String> = req
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.joined_text())
        .collect();
    let messages: Vec<Value> = req
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .map(|m| {
            let content = match m.content.as_slice() {
                [ContentPart::Text { text }] => Value::String(text.clone()),
                parts => Value::Array(parts.iter().map(content_block).collect()),
            };
            json!({ "role": m.role.as_str(), "content": content })
        })
        .collect();
    let mut body = json!({
        "model": req.model,
        "messages": messages,
        "max_tokens": req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
    });
    let obj = body.as_object_mut().expect("object");
    if !system.is_empty() {
        obj.insert("system".into(), system.join("\n\n").into());
    }
    if let Some(t) = req.temperature {
        obj.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        obj.insert("top_p".into(), json!(p));
    }
    if !req.stop.is_empty() {
        obj.insert("stop_sequences".into(), json!(req.stop));
    }
    if let Some(user) = &req.user {
        obj.insert("metadata".into(), json!({ "user_id": user }));
    }
    if stream {
        obj.insert("stream".into(), true.into());
    }
    body
}

fn content_block(part: &ContentPart) -> Value {
    match part {
        ContentPart::Text { text } => json!({ "type": "text", "text": text }),
        ContentPart::ImageUrl { url } => match parse_data_url(url) {
            Some((media_type, data)) => json!({
                "type": "image",
                "source": { "type": "base64", "media_type": media_type, "data": data }
            }),
            None => json!({ "type": "image", "source": { "type": "url", "url": url } }),
        },
        ContentPart::ImageBase64 { media_type, data } => json!({
            "type": "image",
            "source": { "type": "base64", "media_type": media_type, "data": data }
        }),
    }
}

/// `data:image/png;base64,AAAA` → (`image/png`, `AAAA`).
pub fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type, data))
}

fn usage_of(value: Option<&Value>) -> Usage {
    let n = |k: &str| {
        value
            .and_then(|u| u.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0) as u32
    };
    Usage {
        input_tokens: n("input_tokens"),
        output_tokens: n("output_tokens"),
    }
}

/// Parses a whole `/messages` response.
pub fn parse_response(body: &[u8]) -> Result<(String, FinishReason, Usage), String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?;
    let blocks = value
        .get("content")
        .and_then(Value::as_array)
        .ok_or("the response has no `content` array")?;
    let text = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect::<String>();
    let finish = value
        .get("stop_reason")
        .and_then(Value::as_str)
        .map_or(FinishReason::Stop, FinishReason::from_wire);
    Ok((text, finish, usage_of(value.get("usage"))))
}

impl Backend for Anthropic {
    fn name(&self) -> &str {
        &self.http.provider
    }

    fn chat(&self, req: ChatRequest) -> BoxFuture<'_, Result<ChatResponse, ProviderError>> {
        Box::pin(async move {
            let started = StdInstant::now();
            let deadline = Instant::now() + self.http.policy.total;
            let body = Bytes::from(serde_json::to_vec(&request_body(&req, false)).expect("json"));
            let resp = self
                .http
                .send(
                    reqwest::Method::POST,
                    "messages",
                    &self.headers,
                    Some(body),
                    deadline,
                )
                .await?;
            let bytes = self.http.read_body(resp, deadline).await?;
            let (text, finish_reason, usage) =
                parse_response(&bytes).map_err(|m| self.http.protocol(m))?;
            Ok(ChatResponse {
                text,
                model: req.model,
                provider: self.http.provider.clone(),
                finish_reason,
                usage,
                latency: started.elapsed(),
                ttft: None,
            })
        })
    }

    fn chat_stream(&self, req: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
        Box::pin(async move {
            let deadline = Instant::now() + self.http.policy.total;
            let body = Bytes::from(serde_json::to_vec(&request_body(&req, true)).expect("json"));
            let resp = self
                .http
                .send(
                    reqwest::Method::POST,
                    "messages",
                    &self.headers,
                    Some(body),
                    deadline,
                )
                .await?;
            let provider = self.http.provider.clone();
            let mut events = sse::events(provider.clone(), self.http.body_stream(resp, deadline));
            // Error events quote upstream text, which may echo the key.
            let redact = self.http.redactor();
            let protocol = move |message: String| ProviderError::Protocol {
                provider: provider.clone(),
                message: redact(&message),
            };
            Ok(async_stream::stream! {
                let mut usage = Usage::default();
                let mut finish = FinishReason::Stop;
                while let Some(event) = events.next().await {
                    let event = match event {
                        Ok(event) => event,
                        Err(e) => { yield Err(e); return; }
                    };
                    if event.data.trim().is_empty() {
                        continue;
                    }
                    let value: Value = match serde_json::from_str(&event.data) {
                        Ok(v) => v,
                        Err(e) => { yield Err(protocol(format!("a stream event is not JSON ({e})"))); return; }
                    };
                    let kind = value.get("type").and_then(Value::as_str).unwrap_or(event.event.as_str());
                    match kind {
                        "message_start" => {
                            usage = usage_of(value.pointer("/message/usage"));
                        }
                        "content_block_delta" => {
                            if let Some(text) = value.pointer("/delta/text").and_then(Value::as_str)
                                && !text.is_empty() {
                                    yield Ok(StreamEvent::Delta(text.to_owned()));
                                }
                        }
                        "message_delta" => {
                            if let Some(reason) = value.pointer("/delta/stop_reason").and_then(Value::as_str) {
                                finish = FinishReason::from_wire(reason);
                            }
                            let delta = usage_of(value.get("usage"));
                            usage.output_tokens = delta.output_tokens.max(usage.output_tokens);
                            if delta.input_tokens > 0 {
                                usage.input_tokens = delta.input_tokens;
                            }
                        }
                        "message_stop" => {
                            yield Ok(StreamEvent::Usage(usage));
                            yield Ok(StreamEvent::Done(finish));
                            return;
                        }
                        "error" => {
                            let message = value.pointer("/error/message").and_then(Value::as_str).unwrap_or("unknown error");
                            yield Err(protocol(format!("the upstream reported an error mid-stream: {message}")));
                            return;
                        }
                        // ping, content_block_start/stop, and future event types.
                        _ => {}
                    }
                }
                yield Err(protocol("the stream ended before `message_stop`".into()));
            }
            .boxed())
        })
    }

    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, ProviderError>> {
        Box::pin(self.http.model_ids(&self.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_prompt_moves_to_top_level() {
        let mut req = ChatRequest::simple("claude", Some("be brief"), "hi");
        req.stop = vec!["END".into()];
        let body = request_body(&req, false);
        assert_eq!(body["system"], "be brief");
        assert_eq!(body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(body["max_tokens"], DEFAULT_MAX_TOKENS);
        assert_eq!(body["stop_sequences"][0], "END");
    }

    #[test]
    fn data_urls_become_base64_sources() {
        assert_eq!(
            parse_data_url("data:image/png;base64,AAAA"),
            Some(("image/png", "AAAA"))
        );
        assert_eq!(parse_data_url("https://x/y.png"), None);
    }
}
