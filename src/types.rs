//! The canonical request, response and stream types.
//!
//! Every protocol (OpenAI, Anthropic, the native API, the local runner) converts to and from
//! these types exactly once, so routing and cooperation never see a wire format.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One part of a message: text or an image (multimodal requests route to vision models).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text {
        text: String,
    },
    /// An image reachable by URL (`https://…` or a `data:` URL).
    ImageUrl {
        url: String,
    },
    /// Raw base64 image bytes with their media type (`image/png`, …).
    ImageBase64 {
        media_type: String,
        data: String,
    },
}

/// A chat message: a role and its content parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<ContentPart>,
}

impl Message {
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Message {
            role,
            content: vec![ContentPart::Text { text: text.into() }],
        }
    }

    pub fn system(text: impl Into<String>) -> Self {
        Self::text(Role::System, text)
    }

    pub fn user(text: impl Into<String>) -> Self {
        Self::text(Role::User, text)
    }

    pub fn assistant(text: impl Into<String>) -> Self {
        Self::text(Role::Assistant, text)
    }

    /// The text parts joined with newlines (images are skipped).
    pub fn joined_text(&self) -> String {
        let mut out = String::new();
        for part in &self.content {
            if let ContentPart::Text { text } = part {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(text);
            }
        }
        out
    }

    /// Whether any part is an image.
    pub fn has_image(&self) -> bool {
        self.content
            .iter()
            .any(|p| !matches!(p, ContentPart::Text { .. }))
    }
}

/// A chat request in canonical form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// A configured model name, `auto`, or (once resolved) the upstream model id.
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl ChatRequest {
    /// A one-turn request: an optional system prompt and one user message.
    pub fn simple(model: impl Into<String>, system: Option<&str>, prompt: &str) -> Self {
        let mut messages = Vec::with_capacity(2);
        if let Some(system) = system {
            messages.push(Message::system(system));
        }
        messages.push(Message::user(prompt));
        ChatRequest {
            model: model.into(),
            messages,
            ..Default::default()
        }
    }
}

/// Token counts reported by the upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

impl Usage {
    pub fn total(&self) -> u32 {
        self.input_tokens + self.output_tokens
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A natural end or a stop sequence.
    Stop,
    /// `max_tokens` was reached.
    Length,
    ContentFilter,
    ToolCalls,
    /// Anything else the upstream said, kept verbatim.
    Other(String),
}

impl FinishReason {
    /// Maps OpenAI's `finish_reason` and Anthropic's `stop_reason` values.
    pub fn from_wire(value: &str) -> Self {
        match value {
            "stop" | "end_turn" | "stop_sequence" => FinishReason::Stop,
            "length" | "max_tokens" => FinishReason::Length,
            "content_filter" | "refusal" => FinishReason::ContentFilter,
            "tool_calls" | "tool_use" | "function_call" => FinishReason::ToolCalls,
            other => FinishReason::Other(other.to_owned()),
        }
    }

    /// The OpenAI spelling.
    pub fn as_openai(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::Other(s) => s,
        }
    }

    /// The Anthropic spelling.
    pub fn as_anthropic(&self) -> &str {
        match self {
            FinishReason::Stop => "end_turn",
            FinishReason::Length => "max_tokens",
            FinishReason::ContentFilter => "refusal",
            FinishReason::ToolCalls => "tool_use",
            FinishReason::Other(s) => s,
        }
    }
}

/// A finished answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatResponse {
    pub text: String,
    /// The configured model name that answered.
    pub model: String,
    /// The provider that served it.
    pub provider: String,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    /// Wall time from sending the request to the last byte.
    #[serde(rename = "latency_ms", serialize_with = "ser_ms")]
    pub latency: Duration,
    /// Time to the first token, when the answer was streamed.
    #[serde(rename = "ttft_ms", serialize_with = "ser_opt_ms")]
    pub ttft: Option<Duration>,
}

/// One event of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// More text.
    Delta(String),
    /// Token counts (usually once, near the end).
    Usage(Usage),
    /// The end of the answer.
    Done(FinishReason),
}

/// Serialises a duration as fractional milliseconds.
pub fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(duration_ms(*d))
}

fn ser_opt_ms<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&duration_ms(*d)),
        None => s.serialize_none(),
    }
}

/// A duration in milliseconds rounded to microseconds.
pub fn duration_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons_map_both_protocols() {
        assert_eq!(FinishReason::from_wire("end_turn"), FinishReason::Stop);
        assert_eq!(FinishReason::from_wire("max_tokens"), FinishReason::Length);
        assert_eq!(
            FinishReason::from_wire("length").as_anthropic(),
            "max_tokens"
        );
        assert_eq!(FinishReason::from_wire("weird").as_openai(), "weird");
    }

    #[test]
    fn joined_text_skips_images() {
        let m = Message {
            role: Role::User,
            content: vec![
                ContentPart::Text { text: "a".into() },
                ContentPart::ImageUrl {
                    url: "http://x".into(),
                },
                ContentPart::Text { text: "b".into() },
            ],
        };
        assert_eq!(m.joined_text(), "a\nb");
        assert!(m.has_image());
    }
}
