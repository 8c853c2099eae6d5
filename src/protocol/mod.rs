//! The wire protocols, each in one module: typed serde structs for requests, responses and
//! stream chunks, and the conversions to and from the canonical types in [`crate::types`].
//!
//! Both sides use them: the server decodes what clients send and encodes what they get back;
//! the provider clients encode what upstreams get and decode what they answer. So a field is
//! translated in exactly one place, and what a target cannot carry is refused there with a
//! [`CarryError`] naming the field — never dropped.
//!
//! Each module offers the same functions:
//! - `decode_request(body) -> Result<Decoded, DecodeError>` (a client's request; validated);
//! - `encode_request(&ChatRequest, stream) -> Result<Encoded, CarryError>` (for an upstream);
//! - `decode_response(body, &Encoded) -> Result<ChatResponse, String>` (an upstream's answer);
//! - `encode_response(&ChatResponse, id, created) -> Value` (for a client);
//! - `StreamDecoder` (upstream SSE → canonical events) and `StreamEncoder` (canonical events →
//!   client SSE), small state machines fed one SSE event at a time.

pub mod anthropic_messages;
pub mod openai_chat;
pub mod openai_embeddings;
pub mod openai_responses;
pub mod verbatim;

use std::collections::HashSet;

pub use crate::types::{CarryError, Protocol};
use crate::types::{ChatRequest, ContentPart, Role};

/// Fields a client may add to either protocol's request for the gateway itself; they are
/// removed before the request goes upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayFields {
    /// A conversation the gateway keeps (also the `x-session-id` header).
    pub session_id: Option<String>,
    /// Serve and keep this answer in the response cache (also `x-cache: on`).
    pub cache: bool,
    /// OpenAI `stream_options.include_usage`: end the stream with a usage chunk.
    pub include_usage: bool,
}

/// A client's request, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub request: ChatRequest,
    pub gateway: GatewayFields,
}

/// A client's request is malformed or asks for something impossible: a 400 with this
/// message, which names the field and says what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl DecodeError {
    pub fn new(message: impl Into<String>) -> Self {
        DecodeError(message.into())
    }
}

/// A request encoded for an upstream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Encoded {
    /// The JSON body.
    pub body: Vec<u8>,
    /// Protocol headers to add (e.g. a client's `anthropic-beta`), names lowercased.
    pub headers: Vec<(String, String)>,
    /// When the target has no native structured output, the request forces a tool of this
    /// name whose input is the answer; the decoders fold that call back into text.
    pub fold_tool: Option<String>,
}

/// The upstream reported an error inside a stream (or the stream broke its protocol).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StreamFailure {
    /// The upstream's error type when it sent one (`overloaded_error`, `rate_limit_error`, …);
    /// `None` for a stream that is not the protocol.
    pub error_type: Option<String>,
    pub message: String,
}

impl StreamFailure {
    /// A stream that does not follow the protocol.
    pub fn protocol(message: impl Into<String>) -> Self {
        StreamFailure {
            error_type: None,
            message: message.into(),
        }
    }
}

/// One server-sent event to write to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseFrame {
    /// The `event:` line (Anthropic names its events; OpenAI sends data only).
    pub event: Option<&'static str>,
    pub data: String,
}

/// Checks what no protocol allows: every tool result answers a tool call made earlier in the
/// conversation, and tool call ids are unique. Used by both decoders.
pub fn check_tool_pairs(req: &ChatRequest) -> Result<(), DecodeError> {
    let mut calls: HashSet<&str> = HashSet::new();
    let mut answered: HashSet<&str> = HashSet::new();
    for (i, m) in req.messages.iter().enumerate() {
        for part in &m.content {
            match part {
                ContentPart::ToolUse { id, .. } => {
                    if m.role != Role::Assistant {
                        return Err(DecodeError::new(format!(
                            "messages[{i}]: a tool call (`{id}`) can only be in an assistant message"
                        )));
                    }
                    if id.is_empty() {
                        return Err(DecodeError::new(format!(
                            "messages[{i}]: a tool call has an empty id; send the id the model gave"
                        )));
                    }
                    if !calls.insert(id) {
                        return Err(DecodeError::new(format!(
                            "messages[{i}]: the tool call id `{id}` is used twice; each call needs its own id"
                        )));
                    }
                }
                ContentPart::ToolResult { tool_use_id, .. } => {
                    if !calls.contains(tool_use_id.as_str()) {
                        return Err(DecodeError::new(format!(
                            "messages[{i}]: the tool result for `{tool_use_id}` answers no earlier tool call; send the assistant message with that call first"
                        )));
                    }
                    if !answered.insert(tool_use_id) {
                        return Err(DecodeError::new(format!(
                            "messages[{i}]: the tool call `{tool_use_id}` has two results; send one per call"
                        )));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Refuses a body whose top-level object names a field twice (`{"model": "a", "model":
/// "b"}`): the typed structs keep unknown fields in a map, where the last one would win
/// silently. Values are skipped, not parsed, so this costs one fast pass.
pub fn check_duplicate_keys(body: &[u8]) -> Result<(), DecodeError> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
            let mut seen: HashSet<std::borrow::Cow<'de, str>> = HashSet::new();
            let mut duplicate = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                map.next_value::<IgnoredAny>()?;
                if duplicate.is_none() && !seen.insert(key.clone()) {
                    duplicate = Some(key.into_owned());
                }
            }
            Ok(duplicate)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    // Anything that is not an object is left to the decoder, which says what is wrong.
    if let Ok(Some(key)) = (&mut de).deserialize_map(Keys) {
        return Err(DecodeError::new(format!(
            "duplicate field `{key}`: the body names it twice; send it once"
        )));
    }
    Ok(())
}

/// Whether a passthrough field of `origin` also lives, translated, in the canonical request
/// (the decoder put its meaning there), so an upstream of another protocol is served by the
/// translation while one of `origin` gets the field as the client wrote it.
///
/// Anthropic's `thinking: {"type": "adaptive"}` and `output_config` (`effort`, `format`) are
/// reasoning and a response format; `context_management` that only keeps every thinking
/// turn (`clear_thinking_*` with `keep: "all"`, what Claude Code sends) asks for nothing a
/// stateless target would do differently. Other edits change the conversation and are
/// refused for other targets.
pub fn translated(origin: Protocol, key: &str, value: &serde_json::Value) -> bool {
    use serde_json::Value;
    if origin == Protocol::OpenAiChat {
        // A cache-routing hint: OpenAI keeps requests with one key on one cache; elsewhere
        // the gateway's prefix-affinity balancing does the same across replicas (see
        // `router::affinity_key`), and Anthropic caches by the `cache_control` breakpoints
        // the request carries.
        return key == "prompt_cache_key" && value.is_string();
    }
    match key {
        "thinking" => value.get("type").and_then(Value::as_str) == Some("adaptive"),
        "output_config" => value
            .as_object()
            .is_some_and(|o| o.keys().all(|k| k == "effort" || k == "format")),
        "context_management" => value
            .get("edits")
            .and_then(Value::as_array)
            .is_some_and(|edits| {
                edits.iter().all(|e| {
                    e.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.starts_with("clear_thinking"))
                        && e.get("keep").and_then(Value::as_str) == Some("all")
                })
            }),
        _ => false,
    }
}

/// The first passthrough field of `origin` that an upstream of another protocol cannot be
/// given, translated or otherwise.
pub fn untranslatable(origin: Protocol, pass: &crate::types::Passthrough) -> Option<&str> {
    pass.fields
        .iter()
        .find(|(k, v)| !translated(origin, k, v))
        .map(|(k, _)| k.as_str())
}

/// The unix time in seconds, for `created` fields.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Message;
    use serde_json::json;

    fn call(id: &str) -> ContentPart {
        ContentPart::ToolUse {
            id: id.into(),
            name: "f".into(),
            input: json!({}),
            cache_control: None,
        }
    }

    fn result(id: &str) -> ContentPart {
        ContentPart::ToolResult {
            tool_use_id: id.into(),
            content: vec![ContentPart::text("ok")],
            is_error: false,
            cache_control: None,
        }
    }

    #[test]
    fn duplicate_top_level_keys_are_refused() {
        let e = check_duplicate_keys(br#"{"model": "a", "x": {"model": 1}, "model": "b"}"#)
            .unwrap_err();
        assert!(e.0.contains("duplicate field `model`"), "{e}");
        check_duplicate_keys(br#"{"model": "a", "x": {"model": 1, "y": [1, {"x": 2}]}}"#).unwrap();
        check_duplicate_keys(b"[1, 2]").unwrap();
        check_duplicate_keys(br#"{"a\u0041": 1, "aA": 2}"#).unwrap_err();
    }

    #[test]
    fn tool_results_must_answer_earlier_calls() {
        let mut req = ChatRequest::simple("m", None, "hi");
        req.messages
            .push(Message::new(Role::Assistant, vec![call("a"), call("b")]));
        req.messages
            .push(Message::new(Role::Tool, vec![result("a"), result("b")]));
        check_tool_pairs(&req).unwrap();
        req.messages
            .push(Message::new(Role::Tool, vec![result("zzz")]));
        let e = check_tool_pairs(&req).unwrap_err();
        assert!(e.0.contains("`zzz`"), "{e}");
        req.messages.pop();
        req.messages
            .push(Message::new(Role::Tool, vec![result("a")]));
        assert!(
            check_tool_pairs(&req)
                .unwrap_err()
                .0
                .contains("two results")
        );
    }
}
