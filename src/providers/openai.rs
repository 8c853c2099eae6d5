//! Any OpenAI-compatible API: `POST /chat/completions` (whole and SSE streaming with
//! `stream_options.include_usage`) and `GET /models`.

use std::time::Instant as StdInstant;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::http::HttpClient;
use super::{Backend, EventStream, ProviderError, sse};
use crate::types::{ChatRequest, ChatResponse, ContentPart, FinishReason, StreamEvent, Usage};

#[derive(Debug)]
pub struct OpenAi {
    http: HttpClient,
    headers: HeaderMap,
}

impl OpenAi {
    pub fn new(http: HttpClient) -> Self {
        let mut headers = HeaderMap::new();
        if let Some(key) = http.key()
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {key}"))
        {
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        OpenAi { http, headers }
    }
}

/// The request body for `/chat/completions`.
pub fn request_body(req: &ChatRequest, stream: bool) -> Value {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| {
            let content = match m.content.as_slice() {
                [ContentPart::Text { text }] => Value::String(text.clone()),
                parts => Value::Array(parts.iter().map(content_part).collect()),
            };
            json!({ "role": m.role.as_str(), "content": content })
        })
        .collect();
    let mut body = json!({ "model": req.model, "messages": messages });
    let obj = body.as_object_mut().expect("object");
    if let Some(n) = req.max_tokens {
        // Reasoning models reject `max_tokens`; every current OpenAI model accepts the new name.
        let name = if is_reasoning_model(&req.model) {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        obj.insert(name.into(), n.into());
    }
    if let Some(t) = req.temperature {
        obj.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        obj.insert("top_p".into(), json!(p));
    }
    if !req.stop.is_empty() {
        obj.insert("stop".into(), json!(req.stop));
    }
    if let Some(seed) = req.seed {
        obj.insert("seed".into(), seed.into());
    }
    if let Some(user) = &req.user {
        obj.insert("user".into(), user.clone().into());
    }
    if stream {
        obj.insert("stream".into(), true.into());
        obj.insert("stream_options".into(), json!({ "include_usage": true }));
    }
    body
}

fn is_reasoning_model(id: &str) -> bool {
    let id = id.rsplit('/').next().unwrap_or(id);
    ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|p| id.starts_with(p))
}

fn content_part(part: &ContentPart) -> Value {
    match part {
        ContentPart::Text { text } => json!({ "type": "text", "text": text }),
        ContentPart::ImageUrl { url } => {
            json!({ "type": "image_url", "image_url": { "url": url } })
        }
        ContentPart::ImageBase64 { media_type, data } => json!({
            "type": "image_url",
            "image_url": { "url": format!("data:{media_type};base64,{data}") }
        }),
    }
}

fn usage(value: &Value) -> Option<Usage> {
    let u = value.get("usage").filter(|u| u.is_object())?;
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
    Some(Usage {
        input_tokens: n("prompt_tokens"),
        output_tokens: n("completion_tokens"),
    })
}

/// Parses a whole `/chat/completions` response.
pub fn parse_response(body: &[u8]) -> Result<(String, FinishReason, Usage), String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?;
    let choice = value
        .get("choices")
        .and_then(|c| c.get(0))
        .ok_or("the response has no `choices[0]`")?;
    let text = match choice.pointer("/message/content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        Some(_) => return Err("`choices[0].message.content` is not text".into()),
    };
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map_or(FinishReason::Stop, FinishReason::from_wire);
    Ok((text, finish, usage(&value).unwrap_or_default()))
}

impl Backend for OpenAi {
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
                    "chat/completions",
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
                    "chat/completions",
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
                let mut finish: Option<FinishReason> = None;
                while let Some(event) = events.next().await {
                    let event = match event {
                        Ok(event) => event,
                        Err(e) => { yield Err(e); return; }
                    };
                    let data = event.data.trim();
                    if data == "[DONE]" {
                        yield Ok(StreamEvent::Done(finish.take().unwrap_or(FinishReason::Stop)));
                        return;
                    }
                    if data.is_empty() {
                        continue;
                    }
                    let value: Value = match serde_json::from_str(data) {
                        Ok(v) => v,
                        Err(e) => { yield Err(protocol(format!("a stream chunk is not JSON ({e})"))); return; }
                    };
                    if let Some(error) = value.get("error") {
                        let message = error.get("message").and_then(Value::as_str).unwrap_or("unknown error");
                        yield Err(protocol(format!("the upstream reported an error mid-stream: {message}")));
                        return;
                    }
                    if let Some(choice) = value.get("choices").and_then(|c| c.get(0)) {
                        if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str)
                            && !text.is_empty() {
                                yield Ok(StreamEvent::Delta(text.to_owned()));
                            }
                        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                            finish = Some(FinishReason::from_wire(reason));
                        }
                    }
                    if let Some(usage) = usage(&value) {
                        yield Ok(StreamEvent::Usage(usage));
                    }
                }
                // Some servers close without `[DONE]`; that is only an error if no choice ended.
                match finish {
                    Some(reason) => yield Ok(StreamEvent::Done(reason)),
                    None => yield Err(protocol("the stream ended before the answer was complete".into())),
                }
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
    use crate::types::{Message, Role};

    #[test]
    fn body_maps_parts_and_options() {
        let mut req = ChatRequest::simple("gpt-4o", Some("be brief"), "hi");
        req.messages.push(Message {
            role: Role::User,
            content: vec![
                ContentPart::Text {
                    text: "what is this".into(),
                },
                ContentPart::ImageBase64 {
                    media_type: "image/png".into(),
                    data: "AAAA".into(),
                },
            ],
        });
        req.max_tokens = Some(5);
        let body = request_body(&req, true);
        assert_eq!(body["messages"][0]["content"], "be brief");
        assert_eq!(
            body["messages"][2]["content"][1]["image_url"]["url"],
            "data:image/png;base64,AAAA"
        );
        assert_eq!(body["max_tokens"], 5);
        assert_eq!(body["stream_options"]["include_usage"], true);
        req.model = "o3-mini".into();
        assert_eq!(request_body(&req, false)["max_completion_tokens"], 5);
    }

    #[test]
    fn parses_null_content_and_usage() {
        let (text, finish, usage) = parse_response(
            br#"{"choices":[{"message":{"content":null},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
        )
        .unwrap();
        assert_eq!(text, "");
        assert_eq!(finish, FinishReason::Length);
        assert_eq!(usage.total(), 7);
        assert!(parse_response(b"{}").is_err());
    }
}
