//! OpenAI's `/chat/completions` wire format (and every compatible server's): typed serde
//! structs for the request, its messages, content parts, tools, tool choice and response
//! format, the whole response and the stream chunks, and the one place they are converted to
//! and from the canonical types in [`crate::types`].
//!
//! What the canonical model does not name is never dropped: unknown top-level fields travel in
//! [`Passthrough`], content parts of unknown types (or known types with fields we do not model)
//! become [`ContentPart::Raw`], tools of other types [`Tool::Raw`], and a `tool_choice` or
//! `response_format` of a shape we do not model goes whole into the passthrough. All of these
//! reach an OpenAI-compatible upstream unchanged and are a [`CarryError`] for any other.
//!
//! [`decode_request`] always sets `passthrough` to OpenAI's, even when it has no field: it says
//! the client spoke OpenAI, so [`encode_request`] writes back what only OpenAI-format clients
//! put in a request (`cache_control` on parts and tools, LiteLLM's extension), and a request
//! that came in OpenAI and goes out OpenAI loses nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{
    DecodeError, Decoded, Encoded, GatewayFields, SseFrame, StreamFailure, check_tool_pairs,
};
use crate::types::{
    BlockKind, CacheControl, CarryError, ChatRequest, ChatResponse, Choice, ContentPart, Delta,
    Finish, FinishReason, MediaSource, Message, Passthrough, Protocol, Reasoning, ResponseFormat,
    Role, StreamEvent, Tool, ToolChoice, Usage, parse_data_url, parse_tool_arguments,
};

/// This module's protocol, for what only it can carry.
const PROTOCOL: Protocol = Protocol::OpenAiChat;

// ---------------------------------------------------------------------------------------------
// Wire types
// ---------------------------------------------------------------------------------------------

/// A `/chat/completions` request body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireRequest {
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub messages: Vec<WireMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// The newer name of `max_tokens`; reasoning models take only this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Not OpenAI's own, but vLLM, llama.cpp and most compatible servers take it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<WireStop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<WireStreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<WireToolEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<WireToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<WireResponseFormatEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    /// Not OpenAI's: a conversation the gateway keeps. Never sent upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Not OpenAI's: use the gateway's response cache. Never sent upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<bool>,
    /// Every other field, kept for the passthrough.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `stop`: one sequence or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireStop {
    One(String),
    Many(Vec<String>),
}

/// `stream_options`. Only `include_usage` means anything: the gateway writes the client's
/// stream itself, so options about the upstream's stream format are the gateway's business.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireStreamOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One message of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireMessage {
    pub role: String,
    /// A string, an array of parts, or `null` (an assistant turn that only calls tools).
    #[serde(default)]
    pub content: Option<WireContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<WireToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// The reasoning of DeepSeek, vLLM, LiteLLM and other OpenAI-compatible servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// LiteLLM's signed (Anthropic) thinking blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_blocks: Option<Vec<WireThinkingBlock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A message's content: a string or parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireContent {
    Text(String),
    Parts(Vec<WirePartEntry>),
}

/// A content part: one we model, or any other exactly as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WirePartEntry {
    Known(WirePart),
    /// A part of another type, or of a known type with fields we do not model.
    Other(Value),
}

/// The content parts the canonical model names. `deny_unknown_fields` sends a known part with
/// extra fields to [`WirePartEntry::Other`], so the extra fields are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WirePart {
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    ImageUrl {
        image_url: WireImageUrl,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    File {
        file: WireFile,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireImageUrl {
    /// An `https://` or `data:` URL.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A `file` part: base64 data as a `data:` URL, or an uploaded file's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// A tool call of an assistant message (request history and responses alike).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireToolCall {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub function: WireFunctionCall,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireFunctionCall {
    #[serde(default)]
    pub name: String,
    /// A JSON text by the specification; some servers send the object itself.
    #[serde(default)]
    pub arguments: Value,
}

/// LiteLLM's `thinking_blocks` entry: `{"type": "thinking", "thinking", "signature"}` or
/// `{"type": "redacted_thinking", "data"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireThinkingBlock {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The one tool (and named tool choice) type OpenAI's chat format models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunctionType {
    Function,
}

/// A tool: a function, or any other type exactly as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireToolEntry {
    Function(WireTool),
    Other(Value),
}

/// `{"type": "function", "function": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireTool {
    #[serde(rename = "type")]
    pub kind: FunctionType,
    pub function: WireFunction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireFunction {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The arguments' JSON schema; absent means no arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `tool_choice`: a mode, one function, or another shape (`allowed_tools`, …) kept whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireToolChoice {
    Mode(WireToolMode),
    Function(WireNamedTool),
    Other(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireToolMode {
    Auto,
    None,
    Required,
}

/// `{"type": "function", "function": {"name"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireNamedTool {
    #[serde(rename = "type")]
    pub kind: FunctionType,
    pub function: WireToolName,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireToolName {
    pub name: String,
}

/// `response_format`: one we model, or another shape kept whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WireResponseFormatEntry {
    Known(WireResponseFormat),
    Other(Value),
}

/// The variants are structs (`Text {}`) so that `deny_unknown_fields` applies to them too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WireResponseFormat {
    Text {},
    JsonObject {},
    JsonSchema { json_schema: WireJsonSchema },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireJsonSchema {
    pub name: String,
    pub schema: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// A whole `chat.completion` answer. Decoding is lenient: fields we do not read are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireResponse {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub choices: Vec<WireChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireChoice {
    #[serde(default)]
    pub index: u32,
    pub message: WireResponseMessage,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
}

/// The answer's message. `content` is written as `null` when there is no text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireResponseMessage {
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub content: Option<WireContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// OpenRouter's and newer vLLM's name for `reasoning_content`; read, never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_blocks: Option<Vec<WireThinkingBlock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<WireToolCall>>,
}

/// Token counts; every field may be absent or `null` from some server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub total_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<WirePromptDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<WireCompletionDetails>,
    /// LiteLLM's count of prompt tokens written to an Anthropic cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WirePromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireCompletionDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

/// One `chat.completion.chunk` of a stream (or an in-stream `{"error": …}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireChunk {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub choices: Vec<WireChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<WireUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireChunkChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: WireDelta,
    /// Written as `null` until the choice ends.
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Read, never written (see [`WireResponseMessage::reasoning`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_blocks: Option<Vec<WireThinkingBlock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<WireToolCallDelta>>,
}

/// A fragment of a streamed tool call; `index` is the call's ordinal within its choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireToolCallDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<WireFunctionDelta>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WireFunctionDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A fragment of the arguments' JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
}

// ---------------------------------------------------------------------------------------------
// Requests from clients
// ---------------------------------------------------------------------------------------------

/// Decodes and validates a client's `/chat/completions` body.
pub fn decode_request(body: &[u8]) -> Result<Decoded, DecodeError> {
    // Straight into the typed structs (one pass over a body that may be 100 KB); only a body
    // that does not fit them is parsed again, to say which field is wrong.
    let wire: WireRequest = match serde_json::from_slice(body) {
        Ok(wire) => wire,
        Err(e) => return Err(diagnose(body, &e)),
    };
    let WireRequest {
        model,
        messages: wire_messages,
        max_tokens,
        max_completion_tokens,
        temperature,
        top_p,
        top_k,
        stop,
        seed,
        stream,
        stream_options,
        user,
        metadata,
        tools: wire_tools,
        tool_choice: wire_tool_choice,
        parallel_tool_calls,
        response_format: wire_response_format,
        reasoning_effort,
        n,
        logprobs,
        top_logprobs,
        session_id,
        cache,
        extra,
    } = wire;

    if wire_messages.is_empty() {
        return Err(DecodeError::new(
            "`messages` is empty: send at least one message",
        ));
    }
    // The newer name wins: clients that send both mean it for reasoning models.
    let (max_name, max_tokens) = match max_completion_tokens {
        Some(m) => ("max_completion_tokens", Some(m)),
        None => ("max_tokens", max_tokens),
    };
    if max_tokens == Some(0) {
        return Err(DecodeError::new(format!(
            "`{max_name}` is 0: send at least 1, or omit it for the model's default"
        )));
    }
    if let Some(t) = temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(DecodeError::new(format!(
            "`temperature` is {t}, out of range: send a value from 0 to 2"
        )));
    }
    if let Some(p) = top_p
        && !(0.0..=1.0).contains(&p)
    {
        return Err(DecodeError::new(format!(
            "`top_p` is {p}, out of range: send a value from 0 to 1"
        )));
    }
    if n == Some(0) {
        return Err(DecodeError::new(
            "`n` is 0: send at least 1, or omit it for one answer",
        ));
    }

    let messages = wire_messages
        .into_iter()
        .enumerate()
        .map(|(i, m)| decode_message(i, m))
        .collect::<Result<Vec<_>, _>>()?;

    let mut passthrough = extra;
    let tools = wire_tools
        .unwrap_or_default()
        .into_iter()
        .map(decode_tool)
        .collect();
    let tool_choice = match wire_tool_choice {
        None => None,
        Some(WireToolChoice::Mode(WireToolMode::Auto)) => Some(ToolChoice::Auto),
        Some(WireToolChoice::Mode(WireToolMode::None)) => Some(ToolChoice::None),
        Some(WireToolChoice::Mode(WireToolMode::Required)) => Some(ToolChoice::Required),
        Some(WireToolChoice::Function(named)) => Some(ToolChoice::Tool {
            name: named.function.name,
        }),
        // `allowed_tools` and other shapes the canonical model lacks: whole, for OpenAI only.
        Some(WireToolChoice::Other(v)) => {
            passthrough.insert("tool_choice".into(), v);
            None
        }
    };
    let response_format = match wire_response_format {
        None => None,
        Some(WireResponseFormatEntry::Known(WireResponseFormat::Text {})) => {
            Some(ResponseFormat::Text)
        }
        Some(WireResponseFormatEntry::Known(WireResponseFormat::JsonObject {})) => {
            Some(ResponseFormat::JsonObject)
        }
        Some(WireResponseFormatEntry::Known(WireResponseFormat::JsonSchema { json_schema })) => {
            Some(ResponseFormat::JsonSchema {
                name: json_schema.name,
                schema: json_schema.schema,
                description: json_schema.description,
                strict: json_schema.strict,
            })
        }
        Some(WireResponseFormatEntry::Other(v)) => {
            passthrough.insert("response_format".into(), v);
            None
        }
    };

    let request = ChatRequest {
        model,
        messages,
        max_tokens,
        temperature,
        top_p,
        top_k,
        stop: match stop {
            None => Vec::new(),
            Some(WireStop::One(s)) => vec![s],
            Some(WireStop::Many(v)) => v,
        },
        seed,
        stream: stream.unwrap_or(false),
        user,
        metadata: metadata.unwrap_or_default(),
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format,
        reasoning: reasoning_effort.map(|effort| Reasoning {
            effort: Some(effort),
            ..Reasoning::default()
        }),
        n,
        logprobs,
        top_logprobs,
        // Always set, even when empty: it records that the client spoke OpenAI (module doc).
        passthrough: Some((
            PROTOCOL,
            Passthrough {
                fields: passthrough,
                headers: Vec::new(),
            },
        )),
    };
    check_tool_pairs(&request)?;
    Ok(Decoded {
        request,
        gateway: GatewayFields {
            session_id,
            cache: cache.unwrap_or(false),
            include_usage: stream_options
                .and_then(|o| o.include_usage)
                .unwrap_or(false),
        },
    })
}

/// Turns a serde error on the whole body into one that names the field: each top-level field
/// and each message is tried alone, so the client learns which one is wrong.
/// Why a body did not deserialise: not JSON, not an object, or which field is wrong.
fn diagnose(body: &[u8], e: &serde_json::Error) -> DecodeError {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => {
            return DecodeError::new(format!(
                "the body is not valid JSON ({e}); send a chat completion request object"
            ));
        }
    };
    match &value {
        Value::Object(fields) => locate_error(fields, e),
        _ => {
            DecodeError::new("the body is not a JSON object; send a chat completion request object")
        }
    }
}

fn locate_error(fields: &Map<String, Value>, e: &serde_json::Error) -> DecodeError {
    if let Some(Value::Array(messages)) = fields.get("messages") {
        for (i, m) in messages.iter().enumerate() {
            let Value::Object(m_fields) = m else {
                return DecodeError::new(format!(
                    "`messages[{i}]` is not an object; send `{{\"role\": …, \"content\": …}}`"
                ));
            };
            if let Err(e) = serde_json::from_value::<WireMessage>(m.clone()) {
                let base = Map::from_iter([("role".to_owned(), Value::from("user"))]);
                return match probe::<WireMessage>(&base, m_fields) {
                    Some((key, e)) => DecodeError::new(format!(
                        "`messages[{i}].{key}` is malformed: {}",
                        describe(&key, &e)
                    )),
                    None => DecodeError::new(format!("`messages[{i}]` is malformed: {e}")),
                };
            }
        }
    }
    let base = Map::from_iter([("messages".to_owned(), Value::Array(Vec::new()))]);
    match probe::<WireRequest>(&base, fields) {
        Some((key, e)) => DecodeError::new(format!("`{key}` is malformed: {}", describe(&key, &e))),
        None => DecodeError::new(format!("the body is not a chat completion request: {e}")),
    }
}

/// The first field of `fields` that `T` rejects when it is added alone to `base`.
fn probe<T: DeserializeOwned>(
    base: &Map<String, Value>,
    fields: &Map<String, Value>,
) -> Option<(String, serde_json::Error)> {
    fields.iter().find_map(|(key, value)| {
        let mut one = base.clone();
        one.insert(key.clone(), value.clone());
        serde_json::from_value::<T>(Value::Object(one))
            .err()
            .map(|e| (key.clone(), e))
    })
}

/// What a field should be, for the fields whose serde error would name an internal type.
fn describe(key: &str, e: &serde_json::Error) -> String {
    match key {
        "content" => "send a string, an array of content parts, or null".into(),
        "stop" => "send a string or an array of strings".into(),
        _ => e.to_string(),
    }
}

/// Whether a field carries nothing (SDKs echo `"refusal": null`, `"annotations": []`).
fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Whether an optional list has an entry (SDKs echo empty ones, such as `"tool_calls": []`).
fn listed<T>(list: Option<&[T]>) -> bool {
    list.is_some_and(|l| !l.is_empty())
}

fn decode_message(i: usize, m: WireMessage) -> Result<Message, DecodeError> {
    let role = match m.role.as_str() {
        "system" => Role::System,
        "developer" => Role::Developer,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => {
            return Err(DecodeError::new(format!(
                "`messages[{i}].role` is `{other}`; use `system`, `developer`, `user`, `assistant` or `tool`"
            )));
        }
    };
    // The canonical message has no place for other fields, and dropping them would change
    // what the model sees: refuse rather than lose them.
    if let Some((key, _)) = m.extra.iter().find(|(_, v)| !is_empty_value(v)) {
        return Err(DecodeError::new(format!(
            "`messages[{i}].{key}` is not a message field the gateway can carry; remove it"
        )));
    }
    let only = |field: &str, set: bool, allowed: Role| -> Result<(), DecodeError> {
        if set && role != allowed {
            return Err(DecodeError::new(format!(
                "`messages[{i}].{field}` belongs on `{}` messages, not `{}` ones; remove it",
                allowed.as_str(),
                role.as_str()
            )));
        }
        Ok(())
    };
    only(
        "tool_calls",
        listed(m.tool_calls.as_deref()),
        Role::Assistant,
    )?;
    only(
        "reasoning_content",
        m.reasoning_content.is_some(),
        Role::Assistant,
    )?;
    only(
        "thinking_blocks",
        listed(m.thinking_blocks.as_deref()),
        Role::Assistant,
    )?;
    only("refusal", m.refusal.is_some(), Role::Assistant)?;
    only("tool_call_id", m.tool_call_id.is_some(), Role::Tool)?;

    let mut parts = match m.content {
        None => Vec::new(),
        Some(WireContent::Text(text)) => vec![ContentPart::text(text)],
        Some(WireContent::Parts(parts)) => parts.into_iter().map(decode_part).collect(),
    };
    let content = match role {
        Role::Tool => {
            let tool_use_id = m.tool_call_id.filter(|id| !id.is_empty()).ok_or_else(|| {
                DecodeError::new(format!(
                    "`messages[{i}]` is a `tool` message without `tool_call_id`; send the id of the call it answers"
                ))
            })?;
            vec![ContentPart::ToolResult {
                tool_use_id,
                content: parts,
                is_error: false,
                cache_control: None,
            }]
        }
        Role::Assistant => {
            let calls = m.tool_calls.unwrap_or_default();
            // `"content": ""` beside tool calls means "no text"; an empty text part would be
            // refused by targets that reject empty blocks (Anthropic).
            if !calls.is_empty() && parts.iter().all(|p| p.as_text() == Some("")) {
                parts.clear();
            }
            let mut content = decode_thinking(i, m.thinking_blocks, m.reasoning_content)?;
            content.append(&mut parts);
            if let Some(refusal) = m.refusal {
                content.push(ContentPart::text(refusal));
            }
            for (j, call) in calls.into_iter().enumerate() {
                content.push(decode_history_call(i, j, call)?);
            }
            content
        }
        _ => parts,
    };
    Ok(Message {
        role,
        content,
        name: m.name,
    })
}

/// An assistant message's reasoning: LiteLLM's `thinking_blocks` (which keep the signatures)
/// when present, else `reasoning_content`.
fn decode_thinking(
    i: usize,
    blocks: Option<Vec<WireThinkingBlock>>,
    reasoning: Option<String>,
) -> Result<Vec<ContentPart>, DecodeError> {
    let blocks = blocks.unwrap_or_default();
    if blocks.is_empty() {
        return Ok(reasoning
            .map(|text| {
                vec![ContentPart::Thinking {
                    text,
                    signature: None,
                }]
            })
            .unwrap_or_default());
    }
    // A client that rebuilt the message from a stream holds the thinking text in
    // `reasoning_content` and the signature in a `thinking_blocks` entry with empty text (how
    // the stream sends it): the signature belongs to that text.
    let mut reasoning = reasoning.filter(|r| !r.is_empty());
    let unfilled = blocks
        .iter()
        .filter(|b| b.kind == "thinking" && b.thinking.as_deref() == Some(""))
        .count();
    let fill = (unfilled == 1).then(|| reasoning.take()).flatten();
    let mut fill = fill;
    blocks
        .into_iter()
        .map(|mut b| {
            if b.kind == "thinking" && b.thinking.as_deref() == Some("") && fill.is_some() {
                b.thinking = fill.take();
            }
            b
        })
        .enumerate()
        .map(|(j, b)| {
            // Anthropic cannot cache thinking blocks on their own, so LiteLLM's
            // `cache_control` on one means nothing; anything else we would lose.
            let extra = b
                .extra
                .iter()
                .find(|(k, v)| k.as_str() != "cache_control" && !is_empty_value(v));
            let bad = |what: &str| {
                DecodeError::new(format!(
                    "`messages[{i}].thinking_blocks[{j}]` {what}; send `{{\"type\": \"thinking\", \"thinking\", \"signature\"}}` or `{{\"type\": \"redacted_thinking\", \"data\"}}`"
                ))
            };
            if let Some((key, _)) = extra {
                return Err(bad(&format!("has the unknown field `{key}`")));
            }
            match (b.kind.as_str(), b.thinking, b.data) {
                ("thinking", Some(text), None) => Ok(ContentPart::Thinking {
                    text,
                    // An empty signature is none: Anthropic would reject it as invalid.
                    signature: b.signature.filter(|s| !s.is_empty()),
                }),
                ("redacted_thinking", None, Some(data)) if b.signature.is_none() => {
                    Ok(ContentPart::RedactedThinking { data })
                }
                (kind, _, _) => Err(bad(&format!("(type `{kind}`) is malformed"))),
            }
        })
        .collect()
}

/// A tool call of the request's history. Its arguments must be JSON: the target model would
/// read anything else as a call it never made.
fn decode_history_call(i: usize, j: usize, call: WireToolCall) -> Result<ContentPart, DecodeError> {
    let at = format!("messages[{i}].tool_calls[{j}]");
    if let Some(kind) = call.kind.as_deref().filter(|k| *k != "function") {
        return Err(DecodeError::new(format!(
            "`{at}.type` is `{kind}`; only `function` tool calls are supported"
        )));
    }
    // `index` is a streaming artifact some clients keep when they assemble a stream.
    if let Some((key, _)) = call
        .extra
        .iter()
        .find(|(k, v)| k.as_str() != "index" && !is_empty_value(v))
    {
        return Err(DecodeError::new(format!(
            "`{at}.{key}` is not a tool call field the gateway can carry; remove it"
        )));
    }
    let parsed = match call.function.arguments {
        Value::String(text) if text.trim().is_empty() => Value::Object(Map::new()),
        Value::String(text) => serde_json::from_str(&text).map_err(|e| {
            DecodeError::new(format!(
                "`{at}.function.arguments` is not valid JSON ({e}): send the arguments object as a JSON string, e.g. `\"{{\\\"city\\\": \\\"Paris\\\"}}\"`"
            ))
        })?,
        other => other,
    };
    // Function arguments are an object on every protocol (a JSON string literal here would
    // also read back as text that is not JSON).
    let input = match parsed {
        Value::Null => Value::Object(Map::new()),
        object @ Value::Object(_) => object,
        other => {
            return Err(DecodeError::new(format!(
                "`{at}.function.arguments` is `{other}`, not an object; send the arguments object as a JSON string"
            )));
        }
    };
    Ok(ContentPart::ToolUse {
        id: call.id,
        name: call.function.name,
        input,
        cache_control: None,
    })
}

fn decode_part(entry: WirePartEntry) -> ContentPart {
    let raw = |block: Value| ContentPart::Raw {
        protocol: PROTOCOL,
        block,
    };
    let part = match entry {
        WirePartEntry::Known(part) => part,
        // A known part that names a field twice (`"text": "A", "text": "B"`) is kept as JSON
        // readers (and so upstreams) read it: the last one wins. Read that way it may be a
        // part we model after all, so it means the same here as once it is re-encoded.
        WirePartEntry::Other(block) => match serde_json::from_value::<WirePart>(block.clone()) {
            Ok(part) => part,
            Err(_) => return raw(block),
        },
    };
    match part {
        WirePart::Text {
            text,
            cache_control,
        } => ContentPart::Text {
            text,
            cache_control,
        },
        WirePart::ImageUrl {
            image_url,
            cache_control,
        } => ContentPart::Image {
            source: MediaSource::from_url(image_url.url),
            detail: image_url.detail,
            cache_control,
        },
        WirePart::File {
            file,
            cache_control,
        } => {
            let source = match (&file.file_data, &file.file_id) {
                (Some(data), None) => {
                    parse_data_url(data).map(|(media_type, data)| MediaSource::Base64 {
                        media_type: media_type.to_owned(),
                        data: data.to_owned(),
                    })
                }
                (None, Some(id)) => Some(MediaSource::FileId {
                    file_id: id.clone(),
                }),
                _ => None,
            };
            match source {
                Some(source) => ContentPart::Document {
                    source,
                    title: file.filename,
                    cache_control,
                },
                // Both or neither of data and id, or data that is not a `data:` URL: not a
                // shape we model, so it goes verbatim to OpenAI upstreams only.
                None => {
                    let part = WirePart::File {
                        file,
                        cache_control,
                    };
                    raw(serde_json::to_value(part).unwrap_or(Value::Null))
                }
            }
        }
    }
}

fn decode_tool(entry: WireToolEntry) -> Tool {
    match entry {
        WireToolEntry::Function(WireTool {
            function,
            cache_control,
            ..
        }) => Tool::Function {
            name: function.name,
            description: function.description,
            // OpenAI reads a function without `parameters` as one without arguments; other
            // targets need the schema spelt out.
            parameters: function
                .parameters
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
            strict: function.strict,
            cache_control,
        },
        WireToolEntry::Other(tool) => Tool::Raw {
            protocol: PROTOCOL,
            tool,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Requests to upstreams
// ---------------------------------------------------------------------------------------------

/// Encodes a canonical request for an OpenAI-compatible upstream, or says which field it
/// cannot carry.
pub fn encode_request(req: &ChatRequest, stream: bool) -> Result<Encoded, CarryError> {
    let own = matches!(req.passthrough, Some((PROTOCOL, _)));
    let mut headers = Vec::new();
    let mut passthrough_fields = None;
    if let Some((protocol, passthrough)) = &req.passthrough {
        if *protocol == PROTOCOL {
            headers = passthrough.headers.clone();
            passthrough_fields = Some(&passthrough.fields);
        } else if let Some(field) = super::untranslatable(*protocol, passthrough) {
            return Err(CarryError::new(
                field,
                format!(
                    "is {} field that OpenAI-compatible upstreams do not take; remove it or pick a model on {} provider",
                    a_protocol(*protocol),
                    a_provider(*protocol)
                ),
            ));
        }
        // Another protocol's headers are its versions and betas: meaningless here.
    }

    let ctx = Ctx { own };
    let mut messages = Vec::new();
    for (i, m) in req.messages.iter().enumerate() {
        encode_message(ctx, i, m, &mut messages)?;
    }
    let tools = req
        .tools
        .iter()
        .enumerate()
        .map(|(i, t)| encode_tool(ctx, i, t))
        .collect::<Result<Vec<_>, _>>()?;

    let (max_tokens, max_completion_tokens) = match req.max_tokens {
        // Reasoning models reject `max_tokens`; older compatible servers know only it.
        Some(n) if is_reasoning_model(&req.model) => (None, Some(n)),
        other => (other, None),
    };
    let mut wire = WireRequest {
        model: req.model.clone(),
        messages,
        max_tokens,
        max_completion_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        stop: (!req.stop.is_empty()).then(|| WireStop::Many(req.stop.clone())),
        seed: req.seed,
        stream: stream.then_some(true),
        stream_options: stream.then(|| WireStreamOptions {
            include_usage: Some(true),
            extra: Map::new(),
        }),
        user: req.user.clone(),
        metadata: (!req.metadata.is_empty()).then(|| req.metadata.clone()),
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice: req.tool_choice.as_ref().map(encode_tool_choice),
        parallel_tool_calls: req.parallel_tool_calls,
        // `effective_*`: Anthropic's `output_config` and adaptive thinking, translated.
        response_format: req
            .effective_response_format()
            .as_ref()
            .map(encode_response_format),
        // An Anthropic `thinking: disabled` has no common OpenAI spelling (`none` exists on
        // some models only): send nothing and let the model's default apply.
        reasoning_effort: req
            .effective_reasoning()
            .as_ref()
            .filter(|r| !r.disabled)
            .and_then(Reasoning::effort),
        n: req.n,
        logprobs: req.logprobs,
        top_logprobs: req.top_logprobs,
        session_id: None,
        cache: None,
        extra: Map::new(),
    };
    if let Some(fields) = passthrough_fields {
        // Serialised once, through the flattened `extra`. The pass-through holds only fields
        // the wire structs do not model, and `tool_choice` / `response_format` of shapes they
        // do not model (then the canonical one is unset); a set modelled field wins.
        wire.extra = fields
            .iter()
            .filter(|(key, _)| match key.as_str() {
                "tool_choice" => wire.tool_choice.is_none(),
                "response_format" => wire.response_format.is_none(),
                _ => true,
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    let body = serde_json::to_vec(&wire)
        .map_err(|e| CarryError::new("messages", format!("cannot be written as JSON ({e})")))?;
    Ok(Encoded {
        body,
        headers,
        fold_tool: None,
    })
}

/// Whether the model id (after an optional `provider/` prefix) is an OpenAI reasoning model,
/// which takes `max_completion_tokens` only.
pub(crate) fn is_reasoning_model(id: &str) -> bool {
    let id = id.rsplit('/').next().unwrap_or(id);
    ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|p| id.starts_with(p))
}

fn a_protocol(p: Protocol) -> String {
    match p {
        Protocol::AnthropicMessages => "an Anthropic messages".into(),
        Protocol::OpenAiChat => "an OpenAI chat".into(),
    }
}

fn a_provider(p: Protocol) -> &'static str {
    match p {
        Protocol::AnthropicMessages => "an Anthropic",
        Protocol::OpenAiChat => "an OpenAI-compatible",
    }
}

/// What the encoders need to know about the request as a whole.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    /// The client spoke OpenAI, so what it wrote goes back as written. Its `cache_control`
    /// marks are kept; from another protocol they are dropped: OpenAI-kind targets cache
    /// prompts automatically, so the marks mean nothing there, and strict servers reject
    /// unknown part fields.
    own: bool,
}

impl Ctx {
    fn cache(self, cache_control: &Option<CacheControl>) -> Option<CacheControl> {
        cache_control.clone().filter(|_| self.own)
    }
}

/// Appends the OpenAI messages for canonical message `i`: one `tool` message per tool
/// result, then the other parts.
fn encode_message(
    ctx: Ctx,
    i: usize,
    m: &Message,
    out: &mut Vec<WireMessage>,
) -> Result<(), CarryError> {
    let mut rest: Vec<(usize, &ContentPart)> = Vec::new();
    let mut had_results = false;
    for (j, part) in m.content.iter().enumerate() {
        let ContentPart::ToolResult {
            tool_use_id,
            content,
            // OpenAI tool messages have no error flag: the content says what went wrong, and
            // is sent as it is.
            is_error: _,
            cache_control: _,
        } = part
        else {
            rest.push((j, part));
            continue;
        };
        had_results = true;
        // Index paths as the client wrote them: an OpenAI tool message's parts are its
        // `content[k]`; elsewhere (Anthropic) the result is one block of the message.
        let at = |k: usize| match m.role {
            Role::Tool => format!("messages[{i}].content[{k}]"),
            _ => format!("messages[{i}].content[{j}].content[{k}]"),
        };
        out.push(WireMessage {
            role: "tool".into(),
            content: Some(encode_tool_result(ctx, content, at)?),
            name: m.name.clone().filter(|_| m.role == Role::Tool),
            tool_call_id: Some(tool_use_id.clone()),
            ..empty_message()
        });
    }
    if had_results && rest.is_empty() {
        return Ok(());
    }
    let role = match m.role {
        _ if had_results => "user",
        Role::Tool => "user",
        role => role.as_str(),
    };
    let mut msg = WireMessage {
        role: role.into(),
        name: m.name.clone(),
        ..empty_message()
    };
    let mut parts = Vec::new();
    let mut reasoning: Option<String> = None;
    let mut calls = Vec::new();
    for (j, part) in rest {
        let at = || format!("messages[{i}].content[{j}]");
        match part {
            ContentPart::Thinking { text, .. } if m.role == Role::Assistant => {
                // The signature is valid only for the Anthropic model that made it; an
                // OpenAI-kind upstream takes the text alone.
                reasoning.get_or_insert_with(String::new).push_str(text);
            }
            // Encrypted reasoning is opaque to every other provider (and Anthropic ignores
            // earlier turns' thinking anyway): there is nothing an OpenAI upstream could read.
            ContentPart::RedactedThinking { .. } if m.role == Role::Assistant => {}
            ContentPart::ToolUse {
                id, name, input, ..
            } if m.role == Role::Assistant => calls.push(WireToolCall {
                id: id.clone(),
                kind: Some("function".into()),
                function: WireFunctionCall {
                    name: name.clone(),
                    arguments: Value::String(arguments_text(input)),
                },
                extra: Map::new(),
            }),
            part => parts.push(encode_part(ctx, part, at)?),
        }
    }
    let only_text = match parts.as_slice() {
        [
            WirePartEntry::Known(WirePart::Text {
                text,
                cache_control: None,
            }),
        ] => Some(text.clone()),
        _ => None,
    };
    msg.content = match only_text {
        Some(text) => Some(WireContent::Text(text)),
        // An assistant turn that only calls tools (or only thought) has `null` content.
        None if parts.is_empty() && m.role == Role::Assistant => None,
        None if parts.is_empty() => Some(WireContent::Text(String::new())),
        None => Some(WireContent::Parts(parts)),
    };
    msg.reasoning_content = reasoning;
    msg.tool_calls = (!calls.is_empty()).then_some(calls);
    out.push(msg);
    Ok(())
}

fn empty_message() -> WireMessage {
    WireMessage {
        role: String::new(),
        content: None,
        name: None,
        tool_calls: None,
        tool_call_id: None,
        reasoning_content: None,
        thinking_blocks: None,
        refusal: None,
        extra: Map::new(),
    }
}

/// A tool call's arguments as OpenAI's JSON text. Arguments that were not JSON were kept as
/// a string (see [`parse_tool_arguments`]) and go back as they were written.
fn arguments_text(input: &Value) -> String {
    match input {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A tool result's content: a string for one text part, else text parts.
fn encode_tool_result(
    ctx: Ctx,
    content: &[ContentPart],
    at: impl Fn(usize) -> String,
) -> Result<WireContent, CarryError> {
    if let [
        ContentPart::Text {
            text,
            cache_control,
        },
    ] = content
        && ctx.cache(cache_control).is_none()
    {
        return Ok(WireContent::Text(text.clone()));
    }
    if content.is_empty() {
        return Ok(WireContent::Text(String::new()));
    }
    let mut parts = Vec::with_capacity(content.len());
    for (k, part) in content.iter().enumerate() {
        match part {
            ContentPart::Text { .. } | ContentPart::Raw { .. } => {
                parts.push(encode_part(ctx, part, || at(k))?)
            }
            // An OpenAI client's own tool message goes as it wrote it: the upstream judges.
            ContentPart::Image { .. } | ContentPart::Document { .. } if ctx.own => {
                parts.push(encode_part(ctx, part, || at(k))?)
            }
            other => {
                return Err(CarryError::new(
                    at(k),
                    format!(
                        "is {} inside a tool result; OpenAI tool messages carry text only — describe it in text, or pick a model on an Anthropic provider",
                        a_kind(other.kind())
                    ),
                ));
            }
        }
    }
    Ok(WireContent::Parts(parts))
}

fn a_kind(kind: &str) -> String {
    match kind {
        "image" => "an image".into(),
        other => format!("a `{other}` part"),
    }
}

/// A content part other than tool calls, results and thinking.
fn encode_part(
    ctx: Ctx,
    part: &ContentPart,
    at: impl Fn() -> String,
) -> Result<WirePartEntry, CarryError> {
    let known = match part {
        ContentPart::Text {
            text,
            cache_control,
        } => WirePart::Text {
            text: text.clone(),
            cache_control: ctx.cache(cache_control),
        },
        ContentPart::Image {
            source,
            detail,
            cache_control,
        } => {
            let url = source.to_url().ok_or_else(|| {
                CarryError::new(
                    at(),
                    "is an image given by file id or as text; OpenAI-compatible upstreams take images by URL or base64 data — send it as one of those",
                )
            })?;
            WirePart::ImageUrl {
                image_url: WireImageUrl {
                    url,
                    detail: detail.clone(),
                },
                cache_control: ctx.cache(cache_control),
            }
        }
        ContentPart::Document {
            source,
            title,
            cache_control,
        } => {
            let (file_data, file_id) = match source {
                MediaSource::Base64 { .. } => (source.to_url(), None),
                MediaSource::FileId { file_id } => (None, Some(file_id.clone())),
                MediaSource::Url { .. } => {
                    return Err(CarryError::new(
                        at(),
                        "is a document given by URL; OpenAI-compatible upstreams take files as base64 data or a file id — send its bytes as base64, or pick a model on an Anthropic provider",
                    ));
                }
                MediaSource::Text { .. } => {
                    return Err(CarryError::new(
                        at(),
                        "is a plain-text document; OpenAI-compatible upstreams have no text documents — send its text as a text part, or pick a model on an Anthropic provider",
                    ));
                }
            };
            WirePart::File {
                file: WireFile {
                    file_data,
                    file_id,
                    filename: title.clone(),
                },
                cache_control: ctx.cache(cache_control),
            }
        }
        ContentPart::Raw { protocol, block } if *protocol == PROTOCOL => {
            return Ok(WirePartEntry::Other(block.clone()));
        }
        ContentPart::Raw { protocol, block } => {
            let kind = block
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            return Err(CarryError::new(
                at(),
                format!(
                    "is {} `{kind}` block that OpenAI-compatible upstreams do not take; remove it or pick a model on {} provider",
                    a_protocol(*protocol),
                    a_provider(*protocol)
                ),
            ));
        }
        ContentPart::ToolUse { .. } => {
            return Err(CarryError::new(
                at(),
                "is a tool call outside an assistant message; move it to the assistant turn that made it",
            ));
        }
        ContentPart::ToolResult { .. } => {
            return Err(CarryError::new(
                at(),
                "is a tool result nested where OpenAI has no place for it; send it at the top of a message",
            ));
        }
        ContentPart::Thinking { .. } | ContentPart::RedactedThinking { .. } => {
            return Err(CarryError::new(
                at(),
                "is model reasoning outside an assistant message; remove it",
            ));
        }
    };
    Ok(WirePartEntry::Known(known))
}

fn encode_tool(ctx: Ctx, i: usize, tool: &Tool) -> Result<WireToolEntry, CarryError> {
    match tool {
        Tool::Function {
            name,
            description,
            parameters,
            strict,
            cache_control,
        } => Ok(WireToolEntry::Function(WireTool {
            kind: FunctionType::Function,
            function: WireFunction {
                name: name.clone(),
                description: description.clone(),
                parameters: Some(parameters.clone()),
                strict: *strict,
            },
            cache_control: ctx.cache(cache_control),
        })),
        Tool::Raw { protocol, tool } if *protocol == PROTOCOL => {
            Ok(WireToolEntry::Other(tool.clone()))
        }
        Tool::Raw {
            protocol,
            tool: raw,
        } => {
            let kind = raw.get("type").and_then(Value::as_str).unwrap_or("unknown");
            let name = tool.name().unwrap_or("unnamed");
            Err(CarryError::new(
                format!("tools[{i}]"),
                format!(
                    "is {} `{kind}` tool (`{name}`) that OpenAI-compatible upstreams do not take; remove it or pick a model on {} provider",
                    a_protocol(*protocol),
                    a_provider(*protocol)
                ),
            ))
        }
    }
}

fn encode_tool_choice(choice: &ToolChoice) -> WireToolChoice {
    match choice {
        ToolChoice::Auto => WireToolChoice::Mode(WireToolMode::Auto),
        ToolChoice::None => WireToolChoice::Mode(WireToolMode::None),
        ToolChoice::Required => WireToolChoice::Mode(WireToolMode::Required),
        ToolChoice::Tool { name } => WireToolChoice::Function(WireNamedTool {
            kind: FunctionType::Function,
            function: WireToolName { name: name.clone() },
        }),
    }
}

fn encode_response_format(format: &ResponseFormat) -> WireResponseFormatEntry {
    WireResponseFormatEntry::Known(match format {
        ResponseFormat::Text => WireResponseFormat::Text {},
        ResponseFormat::JsonObject => WireResponseFormat::JsonObject {},
        ResponseFormat::JsonSchema {
            name,
            schema,
            description,
            strict,
        } => WireResponseFormat::JsonSchema {
            json_schema: WireJsonSchema {
                name: name.clone(),
                schema: schema.clone(),
                description: description.clone(),
                strict: *strict,
            },
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Whole responses
// ---------------------------------------------------------------------------------------------

/// Decodes an upstream's whole answer. `sent` is unused: OpenAI-compatible targets have
/// native structured output, so [`encode_request`] never forces a tool to fold back.
pub fn decode_response(body: &[u8], _sent: &Encoded) -> Result<ChatResponse, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON ({e})"))?;
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        let (_, message) = error_parts(error);
        return Err(format!("the upstream answered with an error: {message}"));
    }
    let wire: WireResponse = serde_json::from_value(value)
        .map_err(|e| format!("the body is not an OpenAI chat completion ({e})"))?;
    let mut choices = wire.choices;
    choices.sort_by_key(|c| c.index);
    let mut choices = choices.into_iter().map(decode_choice);
    let first = choices.next().ok_or("the response has no `choices[0]`")?;
    Ok(ChatResponse {
        content: first.content,
        model: String::new(),
        provider: String::new(),
        finish_reason: first.finish.reason,
        stop_sequence: first.finish.stop_sequence,
        usage: wire.usage.as_ref().map(usage_from_wire).unwrap_or_default(),
        logprobs: first.logprobs,
        more_choices: choices.collect(),
        latency: Duration::ZERO,
        ttft: None,
    })
}

fn decode_choice(choice: WireChoice) -> Choice {
    let m = choice.message;
    let mut content = Vec::new();
    match m.thinking_blocks.filter(|b| !b.is_empty()) {
        Some(blocks) => {
            for b in blocks {
                match (b.kind.as_str(), b.thinking, b.data) {
                    ("redacted_thinking", _, Some(data)) => {
                        content.push(ContentPart::RedactedThinking { data })
                    }
                    (_, Some(text), _) => content.push(ContentPart::Thinking {
                        text,
                        signature: b.signature.filter(|s| !s.is_empty()),
                    }),
                    _ => {}
                }
            }
        }
        None => {
            if let Some(text) = m
                .reasoning_content
                .or(m.reasoning)
                .filter(|t| !t.is_empty())
            {
                content.push(ContentPart::Thinking {
                    text,
                    signature: None,
                });
            }
        }
    }
    match m.content {
        Some(WireContent::Text(text)) if !text.is_empty() => content.push(ContentPart::text(text)),
        Some(WireContent::Parts(parts)) => {
            for part in parts {
                // Lenient: a text part with extras (annotations, …) is still the answer's text.
                let text = match &part {
                    WirePartEntry::Known(WirePart::Text { text, .. }) => Some(text.clone()),
                    WirePartEntry::Other(v) => {
                        v.get("text").and_then(Value::as_str).map(str::to_owned)
                    }
                    WirePartEntry::Known(_) => None,
                };
                match text {
                    Some(text) if text.is_empty() => {}
                    Some(text) => content.push(ContentPart::text(text)),
                    None => content.push(decode_part(part)),
                }
            }
        }
        _ => {}
    }
    if let Some(refusal) = m.refusal.filter(|r| !r.is_empty()) {
        content.push(ContentPart::text(refusal));
    }
    for call in m.tool_calls.unwrap_or_default() {
        let input = match call.function.arguments {
            Value::String(text) => parse_tool_arguments(&text),
            Value::Null => Value::Object(Map::new()),
            other => other,
        };
        content.push(ContentPart::ToolUse {
            id: call.id,
            name: call.function.name,
            input,
            cache_control: None,
        });
    }
    Choice {
        content,
        finish: Finish::new(
            choice
                .finish_reason
                .as_deref()
                .map_or(FinishReason::Stop, FinishReason::from_wire),
        ),
        logprobs: choice.logprobs.filter(|l| !l.is_null()),
    }
}

/// Encodes a whole answer for an OpenAI client.
pub fn encode_response(resp: &ChatResponse, id: &str, created: u64) -> Value {
    let mut choices = vec![encode_choice(
        0,
        &resp.content,
        &resp.finish_reason,
        resp.logprobs.clone(),
    )];
    for (k, c) in resp.more_choices.iter().enumerate() {
        choices.push(encode_choice(
            u32::try_from(k + 1).unwrap_or(u32::MAX),
            &c.content,
            &c.finish.reason,
            c.logprobs.clone(),
        ));
    }
    let wire = WireResponse {
        id: id.to_owned(),
        object: "chat.completion".into(),
        created,
        model: resp.model.clone(),
        choices,
        usage: Some(usage_to_wire(&resp.usage)),
    };
    // Serialising these types cannot fail: every map key is a string.
    serde_json::to_value(wire).unwrap_or(Value::Null)
}

fn encode_choice(
    index: u32,
    parts: &[ContentPart],
    finish: &FinishReason,
    logprobs: Option<Value>,
) -> WireChoice {
    let mut text: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut blocks = Vec::new();
    let mut signed = false;
    let mut calls = Vec::new();
    for part in parts {
        match part {
            ContentPart::Text { text: t, .. } => text.get_or_insert_with(String::new).push_str(t),
            ContentPart::Thinking { text: t, signature } => {
                reasoning.get_or_insert_with(String::new).push_str(t);
                signed |= signature.is_some();
                blocks.push(thinking_block(t.clone(), signature.clone()));
            }
            ContentPart::RedactedThinking { data } => {
                signed = true;
                blocks.push(redacted_block(data.clone()));
            }
            ContentPart::ToolUse {
                id, name, input, ..
            } => calls.push(WireToolCall {
                id: id.clone(),
                kind: Some("function".into()),
                function: WireFunctionCall {
                    name: name.clone(),
                    arguments: Value::String(arguments_text(input)),
                },
                extra: Map::new(),
            }),
            // Images, documents and other protocols' blocks have no place in an OpenAI
            // answer (only same-protocol Anthropic requests produce the latter).
            _ => {}
        }
    }
    let content = match text {
        Some(text) => Some(WireContent::Text(text)),
        None if !calls.is_empty() => None,
        None => Some(WireContent::Text(String::new())),
    };
    WireChoice {
        index,
        message: WireResponseMessage {
            role: "assistant".into(),
            content,
            refusal: None,
            reasoning_content: reasoning,
            reasoning: None,
            // Signed or redacted thinking goes back to the client so that it can send it
            // again, and an Anthropic upstream gets its signature in the next turn.
            thinking_blocks: signed.then_some(blocks),
            tool_calls: (!calls.is_empty()).then_some(calls),
        },
        finish_reason: Some(finish.as_openai().to_owned()),
        logprobs,
    }
}

fn thinking_block(thinking: String, signature: Option<String>) -> WireThinkingBlock {
    WireThinkingBlock {
        kind: "thinking".into(),
        thinking: Some(thinking),
        signature,
        data: None,
        extra: Map::new(),
    }
}

fn redacted_block(data: String) -> WireThinkingBlock {
    WireThinkingBlock {
        kind: "redacted_thinking".into(),
        thinking: None,
        signature: None,
        data: Some(data),
        extra: Map::new(),
    }
}

fn usage_from_wire(u: &WireUsage) -> Usage {
    fn count(n: Option<u64>) -> u32 {
        n.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
    }
    Usage {
        input_tokens: count(u.prompt_tokens),
        output_tokens: count(u.completion_tokens),
        cache_read_tokens: count(
            u.prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens),
        ),
        cache_write_tokens: count(u.cache_creation_input_tokens),
        reasoning_tokens: count(
            u.completion_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens),
        ),
    }
}

fn usage_to_wire(u: &Usage) -> WireUsage {
    WireUsage {
        prompt_tokens: Some(u.input_tokens.into()),
        completion_tokens: Some(u.output_tokens.into()),
        total_tokens: Some(u.total().into()),
        prompt_tokens_details: Some(WirePromptDetails {
            cached_tokens: Some(u.cache_read_tokens.into()),
        }),
        completion_tokens_details: Some(WireCompletionDetails {
            reasoning_tokens: Some(u.reasoning_tokens.into()),
        }),
        cache_creation_input_tokens: (u.cache_write_tokens > 0)
            .then_some(u.cache_write_tokens.into()),
    }
}

/// An OpenAI error object's `type` and message (some servers send a bare string).
fn error_parts(error: &Value) -> (Option<String>, String) {
    match error {
        Value::String(message) => (None, message.clone()),
        _ => (
            error.get("type").and_then(Value::as_str).map(str::to_owned),
            error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| error.to_string(), str::to_owned),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Streams from upstreams
// ---------------------------------------------------------------------------------------------

/// Which block of a choice a fragment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Text,
    Thinking,
    /// The tool call of this ordinal within the choice.
    Tool(u64),
    /// A redacted-thinking block (whole at its start), tagged with its block index so that no
    /// later fragment matches it.
    Redacted(usize),
}

/// A tool call whose name has not come yet: OpenAI sends id and name in the first fragment,
/// but some servers split them, and the block can only start with its name.
#[derive(Debug, Default)]
struct PendingTool {
    id: String,
    name: String,
    args: String,
}

#[derive(Debug, Default)]
struct ChoiceState {
    /// Open blocks; at most one for choice 0.
    open: Vec<(Slot, usize)>,
    /// Block index of every tool call opened, by ordinal.
    tools: HashMap<u64, usize>,
    pending: BTreeMap<u64, PendingTool>,
    /// The last thinking block, for a signature that comes after it closed.
    last_thinking: Option<usize>,
    finish: Option<Finish>,
    /// `ChoiceDone` was sent (choices after the first).
    ended: bool,
}

/// Turns an upstream's `chat.completion.chunk` stream into canonical events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    next_index: usize,
    choices: BTreeMap<u32, ChoiceState>,
    done: bool,
}

impl StreamDecoder {
    /// `sent` is unused: OpenAI requests never force a tool to fold back into text.
    pub fn new(_sent: &Encoded) -> Self {
        StreamDecoder::default()
    }

    /// One SSE event (its `event:` name, "" when none, and its `data:`) → canonical events.
    pub fn push(&mut self, _event: &str, data: &str) -> Result<Vec<StreamEvent>, StreamFailure> {
        let data = data.trim();
        if self.done || data.is_empty() {
            return Ok(Vec::new());
        }
        if data == "[DONE]" {
            return Ok(self.end());
        }
        let chunk: WireChunk = serde_json::from_str(data).map_err(|e| {
            let shown: String = data.chars().take(200).collect();
            StreamFailure::protocol(format!(
                "a stream chunk is not JSON of a `chat.completion.chunk` ({e}): {shown}"
            ))
        })?;
        if let Some(error) = chunk.error.as_ref().filter(|e| !e.is_null()) {
            let (error_type, message) = error_parts(error);
            return Err(StreamFailure {
                error_type,
                message,
            });
        }
        let mut out = Vec::new();
        for choice in chunk.choices {
            self.choice(choice, &mut out);
        }
        // Usage comes in its own chunk before `[DONE]` (or on every chunk, from some
        // servers): a later one replaces an earlier one.
        if let Some(usage) = &chunk.usage {
            out.push(StreamEvent::Usage(usage_from_wire(usage)));
        }
        Ok(out)
    }

    /// The upstream closed the stream: the closing events if choice 0 had finished (some
    /// servers omit `[DONE]`), else an error.
    pub fn finish(&mut self) -> Result<Vec<StreamEvent>, StreamFailure> {
        if self.done {
            return Ok(Vec::new());
        }
        if self.choices.get(&0).is_some_and(|c| c.finish.is_some()) {
            return Ok(self.end());
        }
        Err(StreamFailure::protocol(
            "the stream ended before the answer was complete",
        ))
    }

    /// Whether `[DONE]` was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn choice(&mut self, c: WireChunkChoice, out: &mut Vec<StreamEvent>) {
        let choice = c.index;
        let d = c.delta;
        let blocks = d.thinking_blocks.unwrap_or_default();
        // LiteLLM repeats the text of `reasoning_content` in `thinking_blocks`: take it from
        // the blocks only when a server sends them alone.
        let thinking = d.reasoning_content.or(d.reasoning).or_else(|| {
            Some(
                blocks
                    .iter()
                    .filter_map(|b| b.thinking.as_deref())
                    .collect(),
            )
        });
        if let Some(text) = thinking.filter(|t: &String| !t.is_empty()) {
            let index = self.block(choice, Slot::Thinking, BlockKind::Thinking, out);
            self.state(choice).last_thinking = Some(index);
            out.push(StreamEvent::Delta {
                index,
                delta: Delta::Thinking(text),
            });
        }
        for b in blocks {
            if b.kind == "redacted_thinking" {
                if let Some(data) = b.data {
                    let slot = Slot::Redacted(self.next_index);
                    self.block(choice, slot, BlockKind::RedactedThinking { data }, out);
                }
                continue;
            }
            let Some(signature) = b.signature.filter(|s| !s.is_empty()) else {
                continue;
            };
            let state = self.state(choice);
            let open = state
                .open
                .iter()
                .find(|(s, _)| *s == Slot::Thinking)
                .map(|(_, i)| *i);
            let index = match open.or(state.last_thinking) {
                Some(index) => index,
                None => self.block(choice, Slot::Thinking, BlockKind::Thinking, out),
            };
            out.push(StreamEvent::Delta {
                index,
                delta: Delta::Signature(signature),
            });
        }
        for text in [d.content, d.refusal].into_iter().flatten() {
            if text.is_empty() {
                continue;
            }
            let index = self.block(choice, Slot::Text, BlockKind::Text, out);
            out.push(StreamEvent::text(index, text));
        }
        for (j, call) in d.tool_calls.unwrap_or_default().into_iter().enumerate() {
            self.tool_fragment(choice, j, call, out);
        }
        if let Some(logprobs) = c.logprobs.filter(|l| !l.is_null()) {
            out.push(StreamEvent::Logprobs { choice, logprobs });
        }
        if let Some(reason) = c.finish_reason {
            let finish = Finish::new(FinishReason::from_wire(&reason));
            self.state(choice).finish = Some(finish.clone());
            if choice > 0 {
                self.close_choice(choice, out);
                let state = self.state(choice);
                if !state.ended {
                    state.ended = true;
                    out.push(StreamEvent::ChoiceDone { choice, finish });
                }
            }
        }
    }

    fn tool_fragment(
        &mut self,
        choice: u32,
        position: usize,
        call: WireToolCallDelta,
        out: &mut Vec<StreamEvent>,
    ) {
        // Servers that omit `index` send one call per chunk position.
        let ordinal = call.index.unwrap_or(position as u64);
        let (name, args) = match call.function {
            Some(f) => (
                f.name,
                match f.arguments {
                    Some(Value::String(s)) => s,
                    None | Some(Value::Null) => String::new(),
                    Some(other) => other.to_string(),
                },
            ),
            None => (None, String::new()),
        };
        // A call already open (or closed, for a late fragment): its arguments go to its block.
        if let Some(&index) = self.state(choice).tools.get(&ordinal) {
            if !args.is_empty() {
                out.push(StreamEvent::Delta {
                    index,
                    delta: Delta::ToolArguments(args),
                });
            }
            return;
        }
        let state = self.state(choice);
        let pending = state.pending.entry(ordinal).or_default();
        if let Some(id) = call.id.filter(|id| !id.is_empty()) {
            pending.id = id;
        }
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            pending.name = name;
        }
        pending.args.push_str(&args);
        if !pending.name.is_empty() {
            self.open_tool(choice, ordinal, out);
        }
    }

    /// Opens the block of a pending tool call, with the arguments it has gathered.
    fn open_tool(&mut self, choice: u32, ordinal: u64, out: &mut Vec<StreamEvent>) {
        let Some(pending) = self.state(choice).pending.remove(&ordinal) else {
            return;
        };
        let kind = BlockKind::ToolUse {
            id: pending.id,
            name: pending.name,
        };
        let index = self.block(choice, Slot::Tool(ordinal), kind, out);
        self.state(choice).tools.insert(ordinal, index);
        if !pending.args.is_empty() {
            out.push(StreamEvent::Delta {
                index,
                delta: Delta::ToolArguments(pending.args),
            });
        }
    }

    fn state(&mut self, choice: u32) -> &mut ChoiceState {
        self.choices.entry(choice).or_default()
    }

    /// The block of `slot` in `choice`, opened (with `kind`) if it is not open. Choice 0 has
    /// one block open at a time, as Anthropic clients need: a new block closes the previous.
    fn block(
        &mut self,
        choice: u32,
        slot: Slot,
        kind: BlockKind,
        out: &mut Vec<StreamEvent>,
    ) -> usize {
        let next = &mut self.next_index;
        let state = self.choices.entry(choice).or_default();
        if let Some(&(_, index)) = state.open.iter().find(|(s, _)| *s == slot) {
            return index;
        }
        if choice == 0 {
            for (_, index) in state.open.drain(..) {
                out.push(StreamEvent::BlockStop { index });
            }
        }
        let index = *next;
        *next += 1;
        out.push(StreamEvent::BlockStart {
            index,
            choice,
            kind,
        });
        state.open.push((slot, index));
        index
    }

    /// Opens what is pending of `choice` (calls whose name never came keep what they have),
    /// then closes its blocks.
    fn close_choice(&mut self, choice: u32, out: &mut Vec<StreamEvent>) {
        let ordinals: Vec<u64> = self.state(choice).pending.keys().copied().collect();
        for ordinal in ordinals {
            self.open_tool(choice, ordinal, out);
        }
        for (_, index) in self.state(choice).open.drain(..) {
            out.push(StreamEvent::BlockStop { index });
        }
    }

    /// The end of the stream: close every block, finish the other choices, then `Done`.
    fn end(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        let choices: Vec<u32> = self.choices.keys().copied().collect();
        for choice in choices {
            self.close_choice(choice, &mut out);
            let state = self.state(choice);
            if choice > 0 && !state.ended {
                state.ended = true;
                let finish = state
                    .finish
                    .clone()
                    .unwrap_or_else(|| Finish::new(FinishReason::Stop));
                out.push(StreamEvent::ChoiceDone { choice, finish });
            }
        }
        let finish = self
            .choices
            .get(&0)
            .and_then(|c| c.finish.clone())
            .unwrap_or_else(|| Finish::new(FinishReason::Stop));
        out.push(StreamEvent::Done(finish));
        self.done = true;
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Streams to clients
// ---------------------------------------------------------------------------------------------

/// What an open block of the client's stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    Text,
    Thinking,
    /// A tool call of this ordinal within its choice (the `tool_calls[].index`).
    Tool(u32),
    /// Shown whole at its start (redacted thinking) or not at all (other protocols' blocks).
    Other,
}

/// Turns canonical events into an OpenAI client's `chat.completion.chunk` stream.
#[derive(Debug)]
pub struct StreamEncoder {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    /// Stream block index → (choice, what it is).
    blocks: HashMap<usize, (u32, Shown)>,
    /// Tool calls opened so far per choice (the next ordinal).
    tools: HashMap<u32, u32>,
    /// Choices whose role chunk was sent.
    started: BTreeSet<u32>,
    usage: Option<Usage>,
    /// `[DONE]` or an error was sent: nothing may follow.
    finished: bool,
    /// Tool calls (block index → choice, ordinal) whose arguments so far are empty: a call
    /// without arguments must still reach the client as `{}`.
    argless: HashMap<usize, (u32, u32)>,
}

impl StreamEncoder {
    /// `include_usage`: the client asked for `stream_options.include_usage`.
    pub fn new(id: &str, model: &str, created: u64, include_usage: bool) -> Self {
        StreamEncoder {
            id: id.to_owned(),
            model: model.to_owned(),
            created,
            include_usage,
            blocks: HashMap::new(),
            tools: HashMap::new(),
            started: BTreeSet::new(),
            usage: None,
            finished: false,
            argless: HashMap::new(),
        }
    }

    /// The frames for one canonical event.
    pub fn push(&mut self, event: &StreamEvent) -> Vec<SseFrame> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        match event {
            StreamEvent::BlockStart {
                index,
                choice,
                kind,
            } => {
                self.start(*choice, &mut out);
                let shown = match kind {
                    BlockKind::Text => Shown::Text,
                    BlockKind::Thinking => Shown::Thinking,
                    BlockKind::RedactedThinking { data } => {
                        let delta = WireDelta {
                            thinking_blocks: Some(vec![redacted_block(data.clone())]),
                            ..WireDelta::default()
                        };
                        out.push(self.chunk(*choice, delta, None, None));
                        Shown::Other
                    }
                    BlockKind::ToolUse { id, name } => {
                        let ordinal = self.next_tool(*choice);
                        out.push(self.tool_start(*choice, ordinal, id, name, ""));
                        self.argless.insert(*index, (*choice, ordinal));
                        Shown::Tool(ordinal)
                    }
                    // Only same-protocol Anthropic requests produce these; an OpenAI client
                    // has no way to show them.
                    BlockKind::Raw { .. } => Shown::Other,
                };
                self.blocks.insert(*index, (*choice, shown));
            }
            StreamEvent::Delta { index, delta } => self.delta(*index, delta, &mut out),
            StreamEvent::BlockStop { index } => self.close_argless(Some(*index), &mut out),
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            StreamEvent::Logprobs { choice, logprobs } => {
                self.start(*choice, &mut out);
                out.push(self.chunk(*choice, WireDelta::default(), None, Some(logprobs.clone())));
            }
            StreamEvent::ChoiceDone { choice, finish } => {
                self.start(*choice, &mut out);
                let reason = finish.reason.as_openai().to_owned();
                out.push(self.chunk(*choice, WireDelta::default(), Some(reason), None));
            }
            StreamEvent::Done(finish) => {
                self.close_argless(None, &mut out);
                self.start(0, &mut out);
                let reason = finish.reason.as_openai().to_owned();
                out.push(self.chunk(0, WireDelta::default(), Some(reason), None));
                if self.include_usage {
                    let chunk = WireChunk {
                        usage: Some(usage_to_wire(&self.usage.unwrap_or_default())),
                        ..self.envelope()
                    };
                    out.push(frame(&chunk));
                }
                out.push(SseFrame {
                    event: None,
                    data: "[DONE]".into(),
                });
                self.finished = true;
            }
        }
        out
    }

    /// An upstream failure after the stream began: one `{"error": …}` frame, then nothing.
    pub fn error(&mut self, error_type: &str, message: &str) -> Vec<SseFrame> {
        if self.finished {
            return Vec::new();
        }
        self.finished = true;
        let body = serde_json::json!({
            "error": { "message": message, "type": error_type }
        });
        vec![SseFrame {
            event: None,
            data: body.to_string(),
        }]
    }

    fn delta(&mut self, index: usize, delta: &Delta, out: &mut Vec<SseFrame>) {
        let (choice, shown) = match self.blocks.get(&index) {
            Some(&block) => block,
            None => {
                // A delta without a start opens its block (of choice 0, as in the
                // `Assembler`), keeping the fragment.
                self.start(0, out);
                let shown = match delta {
                    Delta::Text(_) => Shown::Text,
                    Delta::Thinking(_) | Delta::Signature(_) => Shown::Thinking,
                    Delta::ToolArguments(args) => {
                        // No id or name ever came: the client gets the call as it is.
                        let ordinal = self.next_tool(0);
                        out.push(self.tool_start(0, ordinal, "", "", args));
                        self.blocks.insert(index, (0, Shown::Tool(ordinal)));
                        return;
                    }
                    Delta::Raw(_) => Shown::Other,
                };
                self.blocks.insert(index, (0, shown));
                (0, shown)
            }
        };
        let wire = match (delta, shown) {
            (Delta::Text(t), _) if !t.is_empty() => WireDelta {
                content: Some(t.clone()),
                ..WireDelta::default()
            },
            (Delta::Thinking(t), _) if !t.is_empty() => WireDelta {
                reasoning_content: Some(t.clone()),
                ..WireDelta::default()
            },
            (Delta::Signature(s), _) if !s.is_empty() => WireDelta {
                thinking_blocks: Some(vec![thinking_block(String::new(), Some(s.clone()))]),
                ..WireDelta::default()
            },
            (Delta::ToolArguments(a), Shown::Tool(ordinal)) if !a.is_empty() => {
                self.argless.remove(&index);
                WireDelta {
                    tool_calls: Some(vec![WireToolCallDelta {
                        index: Some(ordinal.into()),
                        function: Some(WireFunctionDelta {
                            name: None,
                            arguments: Some(Value::String(a.clone())),
                        }),
                        ..WireToolCallDelta::default()
                    }]),
                    ..WireDelta::default()
                }
            }
            // Empty fragments carry nothing, and other protocols' deltas cannot be shown.
            _ => return,
        };
        out.push(self.chunk(choice, wire, None, None));
    }

    /// Sends `{}` as the arguments of block `index` (or of every open call) when none came:
    /// Anthropic streams a call without input as one empty `partial_json`, and OpenAI
    /// clients parse the joined arguments as JSON.
    fn close_argless(&mut self, index: Option<usize>, out: &mut Vec<SseFrame>) {
        let mut calls: Vec<(usize, (u32, u32))> = match index {
            Some(i) => self
                .argless
                .remove(&i)
                .map(|c| (i, c))
                .into_iter()
                .collect(),
            None => self.argless.drain().collect(),
        };
        calls.sort_unstable();
        for (_, (choice, ordinal)) in calls {
            let delta = WireDelta {
                tool_calls: Some(vec![WireToolCallDelta {
                    index: Some(ordinal.into()),
                    function: Some(WireFunctionDelta {
                        name: None,
                        arguments: Some(Value::String("{}".into())),
                    }),
                    ..WireToolCallDelta::default()
                }]),
                ..WireDelta::default()
            };
            out.push(self.chunk(choice, delta, None, None));
        }
    }

    fn next_tool(&mut self, choice: u32) -> u32 {
        let next = self.tools.entry(choice).or_default();
        let ordinal = *next;
        *next += 1;
        ordinal
    }

    fn tool_start(&self, choice: u32, ordinal: u32, id: &str, name: &str, args: &str) -> SseFrame {
        let delta = WireDelta {
            tool_calls: Some(vec![WireToolCallDelta {
                index: Some(ordinal.into()),
                id: Some(id.to_owned()),
                kind: Some("function".into()),
                function: Some(WireFunctionDelta {
                    name: Some(name.to_owned()),
                    arguments: Some(Value::String(args.to_owned())),
                }),
            }]),
            ..WireDelta::default()
        };
        self.chunk(choice, delta, None, None)
    }

    /// The role chunk of choice 0 (always the first frame) and of `choice`, once each.
    fn start(&mut self, choice: u32, out: &mut Vec<SseFrame>) {
        for c in [0, choice] {
            if self.started.insert(c) {
                let delta = WireDelta {
                    role: Some("assistant".into()),
                    content: Some(String::new()),
                    ..WireDelta::default()
                };
                out.push(self.chunk(c, delta, None, None));
            }
        }
    }

    fn envelope(&self) -> WireChunk {
        WireChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            ..WireChunk::default()
        }
    }

    fn chunk(
        &self,
        choice: u32,
        delta: WireDelta,
        finish_reason: Option<String>,
        logprobs: Option<Value>,
    ) -> SseFrame {
        let chunk = WireChunk {
            choices: vec![WireChunkChoice {
                index: choice,
                delta,
                finish_reason,
                logprobs,
            }],
            ..self.envelope()
        };
        frame(&chunk)
    }
}

fn frame(chunk: &WireChunk) -> SseFrame {
    SseFrame {
        event: None,
        // Serialising these types cannot fail: every map key is a string.
        data: serde_json::to_string(chunk).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `openai_request` fuzzer: a text part naming `text` twice was kept as an
    /// unknown part, then read back as text once re-encoded. It is text (the last value, as
    /// JSON readers take it) from the start.
    #[test]
    fn a_part_naming_a_field_twice_reads_as_json_readers_read_it() {
        let body = br#"{"model":"m1","messages":[{"role":"user","content":[{"type":"text","text":"A","text":"B"}]}]}"#;
        let req = decode_request(body).unwrap().request;
        assert_eq!(req.messages[0].content, vec![ContentPart::text("B")]);
        let again = decode_request(&encode_request(&req, false).unwrap().body)
            .unwrap()
            .request;
        assert_eq!(again.messages, req.messages);
    }
    use crate::types::Assembler;
    use serde_json::json;

    fn decode(body: Value) -> Decoded {
        decode_request(body.to_string().as_bytes()).unwrap()
    }

    fn decode_err(body: Value) -> String {
        decode_request(body.to_string().as_bytes()).unwrap_err().0
    }

    fn body_of(encoded: &Encoded) -> Value {
        serde_json::from_slice(&encoded.body).unwrap()
    }

    /// What a coding agent sends mid-task: cached system prompt, tools, a history with
    /// parallel tool calls and their results, signed thinking (LiteLLM's `thinking_blocks`),
    /// images, a PDF, and fields and parts the canonical model does not name.
    fn agent_request() -> Value {
        json!({
            "model": "gpt-4.1",
            "messages": [
                {"role": "system", "content": [
                    {"type": "text", "text": "You are a careful agent.", "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": "Repository: llm-cooperation."}
                ]},
                {"role": "developer", "content": "Prefer small diffs."},
                {"role": "user", "name": "ana", "content": [
                    {"type": "text", "text": "What is in these?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x", "filename": "spec.pdf"}},
                    {"type": "file", "file": {"file_id": "file-abc123"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                    {"type": "text", "text": "and this", "annotations": [{"k": 1}]}
                ]},
                {"role": "assistant", "content": null,
                 "thinking_blocks": [{"type": "thinking", "thinking": "Look at both files.", "signature": "sig-abc"}],
                 "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"src/a.rs\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"src/b.rs\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "fn a() {}"},
                {"role": "tool", "tool_call_id": "call_2", "content": [
                    {"type": "text", "text": "fn b() {}"}, {"type": "text", "text": "// end"}
                ]},
                {"role": "assistant", "content": "Both are stubs.", "reasoning_content": "Nothing to see."},
                {"role": "user", "content": "Run the tests."}
            ],
            "tools": [
                {"type": "function", "function": {"name": "read_file", "description": "Read a file",
                    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
                    "strict": true}},
                {"type": "function", "function": {"name": "run", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
                    "cache_control": {"type": "ephemeral"}},
                {"type": "custom", "custom": {"name": "apply_patch", "description": "Apply a patch"}}
            ],
            "tool_choice": "auto",
            "parallel_tool_calls": false,
            "response_format": {"type": "json_schema", "json_schema": {"name": "plan", "schema": {"type": "object"}, "strict": true}},
            "reasoning_effort": "low",
            "max_tokens": 2048,
            "temperature": 0.7,
            "top_p": 0.9,
            "top_k": 40,
            "stop": ["END", "STOP"],
            "seed": 7,
            "user": "user-42",
            "metadata": {"task": "t1"},
            "n": 1,
            "logprobs": true,
            "top_logprobs": 2,
            "stream": true,
            "stream_options": {"include_usage": true},
            "session_id": "s-1",
            "cache": true,
            "frequency_penalty": 0.5,
            "service_tier": "flex",
            "prediction": {"type": "content", "content": "fn a() {}"}
        })
    }

    #[test]
    fn same_protocol_round_trip_loses_nothing() {
        let original = agent_request();
        let decoded = decode(original.clone());
        assert_eq!(
            decoded.gateway,
            GatewayFields {
                session_id: Some("s-1".into()),
                cache: true,
                include_usage: true
            }
        );
        let req = &decoded.request;
        assert_eq!(req.temperature, Some(0.7));
        assert_eq!(req.max_tokens, Some(2048));
        assert_eq!(
            req.reasoning.as_ref().unwrap().effort.as_deref(),
            Some("low")
        );
        let (protocol, passthrough) = req.passthrough.as_ref().unwrap();
        assert_eq!(*protocol, Protocol::OpenAiChat);
        assert_eq!(
            passthrough.fields.keys().collect::<Vec<_>>(),
            ["frequency_penalty", "prediction", "service_tier"]
        );
        assert!(matches!(req.tools[2], Tool::Raw { .. }));
        // The unknown part type and the text part with an unknown field are kept verbatim.
        let user = &req.messages[2].content;
        assert!(
            matches!(&user[5], ContentPart::Raw { block, .. } if block["type"] == "input_audio")
        );
        assert!(
            matches!(&user[6], ContentPart::Raw { block, .. } if block["annotations"][0]["k"] == 1)
        );
        assert!(matches!(
            &user[1],
            ContentPart::Image {
                source: MediaSource::Base64 { .. },
                ..
            }
        ));
        assert_eq!(
            req.messages[3].content[0],
            ContentPart::Thinking {
                text: "Look at both files.".into(),
                signature: Some("sig-abc".into())
            }
        );

        let encoded = encode_request(req, true).unwrap();
        assert!(encoded.fold_tool.is_none());
        let mut expected = original;
        let obj = expected.as_object_mut().unwrap();
        // Gateway-only fields never go upstream.
        obj.remove("session_id");
        obj.remove("cache");
        // The one intended change: upstreams get the thinking text as `reasoning_content`;
        // the signature is only valid for Anthropic (see `encode_message`).
        let assistant = &mut expected["messages"][3];
        assistant.as_object_mut().unwrap().remove("thinking_blocks");
        assistant["reasoning_content"] = json!("Look at both files.");
        assert_eq!(body_of(&encoded), expected);
    }

    #[test]
    fn round_trip_without_stream_and_with_other_spellings() {
        let body = json!({
            "model": "openai/o3-mini",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "now", "arguments": ""}, "index": 0}
                ], "refusal": null},
                {"role": "tool", "tool_call_id": "c", "content": "12:00"}
            ],
            "max_tokens": 5,
            "max_completion_tokens": 9,
            "stop": "END",
            "tool_choice": {"type": "function", "function": {"name": "now"}},
            "response_format": {"type": "json_object"},
            "stream": false
        });
        let decoded = decode(body);
        assert_eq!(decoded.request.max_tokens, Some(9));
        assert_eq!(decoded.request.stop, ["END"]);
        let out = body_of(&encode_request(&decoded.request, false).unwrap());
        assert_eq!(
            out,
            json!({
                "model": "openai/o3-mini",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "now", "arguments": "{}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "c", "content": "12:00"}
                ],
                "max_completion_tokens": 9,
                "stop": ["END"],
                "tool_choice": {"type": "function", "function": {"name": "now"}},
                "response_format": {"type": "json_object"}
            })
        );
    }

    #[test]
    fn unmodelled_tool_choice_and_response_format_go_through_whole() {
        let choice =
            json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}});
        let format = json!({"type": "json_schema", "json_schema": {"name": "x"}});
        let decoded = decode(json!({
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "tool_choice": choice,
            "response_format": format
        }));
        assert!(decoded.request.tool_choice.is_none());
        assert!(decoded.request.response_format.is_none());
        let out = body_of(&encode_request(&decoded.request, false).unwrap());
        assert_eq!(out["tool_choice"], choice);
        assert_eq!(out["response_format"], format);
    }

    #[test]
    fn validation_errors_name_the_field_and_the_fix() {
        let user = json!([{"role": "user", "content": "hi"}]);
        let cases = [
            (json!({"model": "m", "messages": []}), "`messages` is empty"),
            (json!({"model": "m"}), "`messages` is empty"),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "function", "content": "b"}]}),
                "`messages[1].role` is `function`; use `system`, `developer`, `user`, `assistant` or `tool`",
            ),
            (
                json!({"model": "m", "messages": user, "max_tokens": 0}),
                "`max_tokens` is 0",
            ),
            (
                json!({"model": "m", "messages": user, "max_completion_tokens": 0}),
                "`max_completion_tokens` is 0",
            ),
            (
                json!({"model": "m", "messages": user, "temperature": 2.5}),
                "`temperature` is 2.5, out of range: send a value from 0 to 2",
            ),
            (
                json!({"model": "m", "messages": user, "top_p": 1.5}),
                "`top_p` is 1.5, out of range: send a value from 0 to 1",
            ),
            (json!({"model": "m", "messages": user, "n": 0}), "`n` is 0"),
            (
                json!({"model": "m", "messages": user, "max_tokens": "lots"}),
                "`max_tokens` is malformed",
            ),
            (
                json!({"model": "m", "messages": user, "stop": 5}),
                "`stop` is malformed: send a string or an array of strings",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": 5}]}),
                "`messages[1].content` is malformed: send a string, an array of content parts, or null",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "a"}, "hello"]}),
                "`messages[1]` is not an object",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": null,
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{bad"}}]}]}),
                "`messages[1].tool_calls[0].function.arguments` is not valid JSON",
            ),
            (
                json!({"model": "m", "messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}),
                "messages[0]: the tool result for `nope` answers no earlier tool call",
            ),
            (
                json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}),
                "`messages[0]` is a `tool` message without `tool_call_id`",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x", "audio": {"id": "a1"}}]}),
                "`messages[0].audio` is not a message field the gateway can carry",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x", "tool_call_id": "c"}]}),
                "`messages[0].tool_call_id` belongs on `tool` messages",
            ),
            (
                json!({"model": "m", "messages": [{"role": "assistant", "content": "x",
                    "thinking_blocks": [{"type": "thinking", "thinking": "t", "mood": "calm"}]}]}),
                "`messages[0].thinking_blocks[0]` has the unknown field `mood`",
            ),
        ];
        for (body, want) in cases {
            let got = decode_err(body.clone());
            assert!(got.contains(want), "{body}\n  got: {got}\n want: {want}");
        }
        let e = decode_request(b"{not json").unwrap_err().0;
        assert!(e.contains("not valid JSON"), "{e}");
        let e = decode_request(b"[1]").unwrap_err().0;
        assert!(e.contains("not a JSON object"), "{e}");
    }

    #[test]
    fn tool_arguments_must_be_an_object() {
        for (args, ok) in [
            (json!("{\"a\":1}"), true),
            (json!(""), true),
            (json!("null"), true),
            (json!({"a": 1}), true),
            (json!("\"text\""), false),
            (json!("[1]"), false),
            (json!(5), false),
        ] {
            let body = json!({"model": "m", "messages": [
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}]}
            ]});
            let got = decode_request(body.to_string().as_bytes());
            assert_eq!(got.is_ok(), ok, "{args}: {got:?}");
            if let Err(e) = got {
                assert!(
                    e.0.contains("`messages[0].tool_calls[0].function.arguments`"),
                    "{e}"
                );
            }
        }
    }

    /// What `fuzz/fuzz_targets/openai_request.rs` checks: a request the gateway accepts goes
    /// to an OpenAI upstream, and that body decodes to the same conversation.
    #[test]
    fn accepted_requests_re_encode_to_the_same_conversation() {
        let conversation = |req: &ChatRequest| -> Vec<(Role, String)> {
            req.messages
                .iter()
                .map(|m| (m.role, m.joined_text()))
                .collect()
        };
        let bodies = [
            agent_request(),
            json!({"model": "o1", "max_completion_tokens": 3, "messages": [
                {"role": "user", "content": []},
                {"role": "assistant", "content": "", "refusal": "no", "tool_calls": [
                    {"id": "a", "function": {"name": "f", "arguments": {"x": [1]}}}]},
                {"role": "tool", "tool_call_id": "a", "content": [
                    {"type": "image_url", "image_url": {"url": "data:;base64,"}},
                    {"type": "text", "text": "t"}, {"type": "input_audio"}]},
                {"role": "assistant", "content": null,
                 "thinking_blocks": [{"type": "redacted_thinking", "data": "x"}]},
                {"role": "system", "content": null}
            ]}),
        ];
        for body in bodies {
            let req = decode(body).request;
            let encoded = encode_request(&req, req.stream).unwrap();
            let again = decode_request(&encoded.body).unwrap().request;
            assert_eq!(conversation(&again), conversation(&req));
            assert_eq!(again.max_tokens, req.max_tokens);
            assert_eq!(again.stop, req.stop);
            assert_eq!(again.tools, req.tools);
            assert_eq!(again.passthrough, req.passthrough);
        }
    }

    #[test]
    fn empty_echoed_message_fields_are_accepted() {
        // What the OpenAI SDK's `message.model_dump()` echoes back.
        let decoded = decode(json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello", "refusal": null, "audio": null,
             "function_call": null, "annotations": []}
        ]}));
        assert_eq!(
            decoded.request.messages[1].content,
            [ContentPart::text("hello")]
        );
    }

    #[test]
    fn decoding_never_panics_on_odd_input() {
        let odd = [
            json!(null),
            json!({"messages": null}),
            json!({"messages": [{}]}),
            json!({"messages": [{"role": "assistant", "tool_calls": [{"function": {}}]}]}),
            json!({"messages": [{"role": "assistant", "tool_calls": "x"}]}),
            json!({"messages": [{"role": "user", "content": [{"type": "file", "file": {}}]}]}),
            json!({"messages": [{"role": "user", "content": [null, 1, "a"]}]}),
            json!({"messages": [{"role": "user", "content": "a"}], "tools": [null, {"type": "function"}]}),
            json!({"messages": [{"role": "user", "content": "a"}], "temperature": -1e308}),
        ];
        for body in odd {
            let _ = decode_request(body.to_string().as_bytes());
        }
        for bytes in [&b""[..], b"\xff\xfe", b"{\"messages\": [", b"0"] {
            let _ = decode_request(bytes);
        }
    }

    /// A canonical request as the Anthropic decoder makes it.
    fn anthropic_style_request() -> ChatRequest {
        let cached = Some(json!({"type": "ephemeral"}));
        ChatRequest {
            model: "deepseek-reasoner".into(),
            messages: vec![
                Message::new(
                    Role::System,
                    vec![ContentPart::Text {
                        text: "Be brief.".into(),
                        cache_control: cached.clone(),
                    }],
                ),
                Message::user("Weather in Paris and Rome?"),
                Message::new(
                    Role::Assistant,
                    vec![
                        ContentPart::Thinking {
                            text: "Two lookups.".into(),
                            signature: Some("sig".into()),
                        },
                        ContentPart::RedactedThinking {
                            data: "opaque".into(),
                        },
                        ContentPart::text("Checking."),
                        ContentPart::ToolUse {
                            id: "toolu_1".into(),
                            name: "weather".into(),
                            input: json!({"city": "Paris"}),
                            cache_control: None,
                        },
                        ContentPart::ToolUse {
                            id: "toolu_2".into(),
                            name: "weather".into(),
                            input: json!({"city": "Rome"}),
                            cache_control: None,
                        },
                    ],
                ),
                Message::new(
                    Role::User,
                    vec![
                        ContentPart::ToolResult {
                            tool_use_id: "toolu_1".into(),
                            content: vec![ContentPart::text("18C")],
                            is_error: false,
                            cache_control: cached.clone(),
                        },
                        ContentPart::ToolResult {
                            tool_use_id: "toolu_2".into(),
                            content: vec![ContentPart::text("timeout"), ContentPart::text("retry")],
                            is_error: true,
                            cache_control: None,
                        },
                        ContentPart::Text {
                            text: "Thanks.".into(),
                            cache_control: cached.clone(),
                        },
                    ],
                ),
            ],
            max_tokens: Some(1000),
            tools: vec![Tool::Function {
                name: "weather".into(),
                description: None,
                parameters: json!({"type": "object"}),
                strict: None,
                cache_control: cached,
            }],
            reasoning: Some(Reasoning {
                budget_tokens: Some(5000),
                ..Reasoning::default()
            }),
            passthrough: Some((
                Protocol::AnthropicMessages,
                Passthrough {
                    fields: Map::new(),
                    headers: vec![("anthropic-beta".into(), "x".into())],
                },
            )),
            ..ChatRequest::default()
        }
    }

    #[test]
    fn other_protocols_requests_follow_the_canonical_mapping() {
        let encoded = encode_request(&anthropic_style_request(), false).unwrap();
        // Anthropic's headers mean nothing to an OpenAI upstream.
        assert!(encoded.headers.is_empty());
        assert_eq!(
            body_of(&encoded),
            json!({
                "model": "deepseek-reasoner",
                "messages": [
                    // No `cache_control`: OpenAI-kind targets cache by themselves.
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Weather in Paris and Rome?"},
                    // The signature and the redacted block are Anthropic's only.
                    {"role": "assistant", "content": "Checking.", "reasoning_content": "Two lookups.",
                     "tool_calls": [
                        {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                        {"id": "toolu_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
                    // `is_error` has no OpenAI field: the content goes as it is.
                    {"role": "tool", "tool_call_id": "toolu_2", "content": [
                        {"type": "text", "text": "timeout"}, {"type": "text", "text": "retry"}
                    ]},
                    {"role": "user", "content": "Thanks."}
                ],
                "max_tokens": 1000,
                "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
                "reasoning_effort": "medium"
            })
        );
    }

    #[test]
    fn own_passthrough_headers_are_sent() {
        let mut req = ChatRequest::simple("m", None, "hi");
        req.passthrough = Some((
            Protocol::OpenAiChat,
            Passthrough {
                fields: Map::new(),
                headers: vec![("openai-beta".into(), "assistants=v2".into())],
            },
        ));
        let encoded = encode_request(&req, true).unwrap();
        assert_eq!(
            encoded.headers,
            [("openai-beta".to_owned(), "assistants=v2".to_owned())]
        );
        let body = body_of(&encoded);
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"], json!({"include_usage": true}));
    }

    #[test]
    fn what_openai_cannot_carry_is_a_carry_error() {
        let base = || ChatRequest::simple("gpt-4.1", None, "hi");
        let with_part = |part: ContentPart| {
            let mut req = base();
            req.messages[0].content.push(part);
            req
        };
        let raw_anthropic = ContentPart::Raw {
            protocol: Protocol::AnthropicMessages,
            block: json!({"type": "server_tool_use", "id": "s"}),
        };
        let mut passthrough = base();
        passthrough.passthrough = Some((
            Protocol::AnthropicMessages,
            Passthrough {
                fields: Map::from_iter([
                    ("thinking".to_owned(), json!({"type": "adaptive"})),
                    ("container".to_owned(), json!("c")),
                ]),
                headers: Vec::new(),
            },
        ));
        let mut raw_tool = base();
        raw_tool.tools.push(Tool::Raw {
            protocol: Protocol::AnthropicMessages,
            tool: json!({"type": "web_search_20250305", "name": "web_search"}),
        });
        let mut image_result = base();
        image_result.messages.push(Message::new(
            Role::Assistant,
            vec![ContentPart::ToolUse {
                id: "t".into(),
                name: "shot".into(),
                input: json!({}),
                cache_control: None,
            }],
        ));
        image_result.messages.push(Message::new(
            Role::User,
            vec![ContentPart::ToolResult {
                tool_use_id: "t".into(),
                content: vec![
                    ContentPart::text("here"),
                    ContentPart::Image {
                        source: MediaSource::from_url("data:image/png;base64,AA".into()),
                        detail: None,
                        cache_control: None,
                    },
                ],
                is_error: false,
                cache_control: None,
            }],
        ));
        let cases = [
            (
                passthrough,
                "container",
                "is an Anthropic messages field that OpenAI-compatible upstreams do not take",
            ),
            (
                with_part(raw_anthropic),
                "messages[0].content[1]",
                "`server_tool_use` block",
            ),
            (
                raw_tool,
                "tools[0]",
                "`web_search_20250305` tool (`web_search`)",
            ),
            (
                image_result,
                "messages[2].content[0].content[1]",
                "OpenAI tool messages carry text only",
            ),
            (
                with_part(ContentPart::Document {
                    source: MediaSource::Url {
                        url: "https://x/a.pdf".into(),
                    },
                    title: None,
                    cache_control: None,
                }),
                "messages[0].content[1]",
                "document given by URL",
            ),
            (
                with_part(ContentPart::Document {
                    source: MediaSource::Text {
                        media_type: "text/plain".into(),
                        data: "x".into(),
                    },
                    title: None,
                    cache_control: None,
                }),
                "messages[0].content[1]",
                "plain-text document",
            ),
            (
                with_part(ContentPart::Image {
                    source: MediaSource::FileId {
                        file_id: "f".into(),
                    },
                    detail: None,
                    cache_control: None,
                }),
                "messages[0].content[1]",
                "image given by file id",
            ),
        ];
        for (req, field, reason) in cases {
            let e = encode_request(&req, false).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.reason.contains(reason), "{e}");
        }
    }

    /// A whole answer with reasoning, text, two tool calls, logprobs, cache usage and a
    /// second choice.
    fn whole_answer() -> Value {
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-x",
            "choices": [
                {"index": 1, "message": {"role": "assistant", "content": "Other answer."}, "finish_reason": "length"},
                {"index": 0, "message": {
                    "role": "assistant",
                    "content": "Let me check both.",
                    "reasoning_content": "The user wants two cities.",
                    "tool_calls": [
                        {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"c\"}"}},
                        {"id": "call_b", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
                    ]
                 }, "finish_reason": "tool_calls",
                 "logprobs": {"content": [{"token": "Let", "logprob": -0.1}]}}
            ],
            "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160,
                      "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 12},
                      "cache_creation_input_tokens": 5}
        })
    }

    #[test]
    fn whole_responses_decode_in_canonical_order() {
        let resp =
            decode_response(whole_answer().to_string().as_bytes(), &Encoded::default()).unwrap();
        assert_eq!(
            resp.content,
            [
                ContentPart::Thinking {
                    text: "The user wants two cities.".into(),
                    signature: None
                },
                ContentPart::text("Let me check both."),
                ContentPart::ToolUse {
                    id: "call_a".into(),
                    name: "weather".into(),
                    input: json!({"city": "Paris", "unit": "c"}),
                    cache_control: None
                },
                ContentPart::ToolUse {
                    id: "call_b".into(),
                    name: "weather".into(),
                    input: json!({"city": "Rome"}),
                    cache_control: None
                },
            ]
        );
        assert_eq!(resp.finish_reason, FinishReason::ToolCalls);
        assert_eq!(
            resp.usage,
            Usage {
                input_tokens: 120,
                output_tokens: 40,
                cache_read_tokens: 100,
                cache_write_tokens: 5,
                reasoning_tokens: 12
            }
        );
        assert_eq!(
            resp.logprobs.as_ref().unwrap()["content"][0]["token"],
            "Let"
        );
        assert_eq!(resp.more_choices.len(), 1);
        assert_eq!(
            resp.more_choices[0].content,
            [ContentPart::text("Other answer.")]
        );
        assert_eq!(resp.more_choices[0].finish.reason, FinishReason::Length);
        assert!(resp.model.is_empty() && resp.latency.is_zero());
    }

    #[test]
    fn whole_responses_round_trip_and_keep_signatures_for_the_client() {
        let mut resp =
            decode_response(whole_answer().to_string().as_bytes(), &Encoded::default()).unwrap();
        resp.model = "gpt-x".into();
        let body = encode_response(&resp, "chatcmpl-9", 77);
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(
            body["choices"][0]["message"]["reasoning_content"],
            "The user wants two cities."
        );
        assert!(
            body["choices"][0]["message"]
                .get("thinking_blocks")
                .is_none()
        );
        assert_eq!(
            body["usage"],
            json!({"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160,
                   "prompt_tokens_details": {"cached_tokens": 100},
                   "completion_tokens_details": {"reasoning_tokens": 12},
                   "cache_creation_input_tokens": 5})
        );
        let mut again = decode_response(body.to_string().as_bytes(), &Encoded::default()).unwrap();
        again.model = "gpt-x".into();
        assert_eq!(again, resp);

        // An Anthropic answer: signed and redacted thinking go back as `thinking_blocks`.
        let signed = ChatResponse {
            content: vec![
                ContentPart::Thinking {
                    text: "hm".into(),
                    signature: Some("sig".into()),
                },
                ContentPart::RedactedThinking { data: "enc".into() },
                ContentPart::ToolUse {
                    id: "toolu_1".into(),
                    name: "f".into(),
                    // Arguments the model wrote that are not JSON are kept as written.
                    input: Value::String("{oops".into()),
                    cache_control: None,
                },
            ],
            ..ChatResponse::from_text("", FinishReason::ToolCalls, Usage::default())
        };
        let body = encode_response(&signed, "id", 1);
        let message = &body["choices"][0]["message"];
        assert_eq!(message["content"], Value::Null);
        assert_eq!(
            message["thinking_blocks"],
            json!([{"type": "thinking", "thinking": "hm", "signature": "sig"},
                   {"type": "redacted_thinking", "data": "enc"}])
        );
        assert_eq!(message["tool_calls"][0]["function"]["arguments"], "{oops");
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        let back = decode_response(body.to_string().as_bytes(), &Encoded::default()).unwrap();
        assert_eq!(back.content, signed.content);
    }

    #[test]
    fn error_bodies_are_errors() {
        let e = decode_response(
            br#"{"error": {"message": "model overloaded", "type": "server_error"}}"#,
            &Encoded::default(),
        )
        .unwrap_err();
        assert!(e.contains("model overloaded"), "{e}");
        assert!(decode_response(b"{\"choices\": []}", &Encoded::default()).is_err());
        assert!(decode_response(b"nope", &Encoded::default()).is_err());
    }

    /// The stream an upstream sends for the answer of `whole_answer` (choice 0), LiteLLM
    /// style with a signature, every fragment cut into pieces of `cut` characters.
    fn upstream_stream(cut: usize) -> Vec<String> {
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            .to_string()
        };
        let pieces = |s: &str| -> Vec<String> {
            s.chars()
                .collect::<Vec<_>>()
                .chunks(cut)
                .map(|c| c.iter().collect())
                .collect()
        };
        let mut out = vec![chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        )];
        for p in pieces("The user wants two cities.") {
            out.push(chunk(json!({"reasoning_content": p}), Value::Null));
        }
        out.push(chunk(
            json!({"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": "sig-1"}]}),
            Value::Null,
        ));
        for p in pieces("Let me check both.") {
            out.push(chunk(json!({"content": p}), Value::Null));
        }
        for (k, (id, args)) in [
            ("call_a", "{\"city\":\"Paris\",\"unit\":\"c\"}"),
            ("call_b", "{\"city\":\"Rome\"}"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut parts = pieces(args).into_iter();
            // The first fragment carries the id, the name and (here) a first piece.
            out.push(chunk(
                json!({"tool_calls": [{"index": k, "id": id, "type": "function",
                        "function": {"name": "weather", "arguments": parts.next().unwrap()}}]}),
                Value::Null,
            ));
            for p in parts {
                out.push(chunk(
                    json!({"tool_calls": [{"index": k, "function": {"arguments": p}}]}),
                    Value::Null,
                ));
            }
        }
        out.push(chunk(json!({}), json!("tool_calls")));
        out.push(
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
                   "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160,
                             "prompt_tokens_details": {"cached_tokens": 100},
                             "completion_tokens_details": {"reasoning_tokens": 12}}})
            .to_string(),
        );
        out.push("[DONE]".into());
        out
    }

    fn decode_stream(events: &[String]) -> Vec<StreamEvent> {
        let mut decoder = StreamDecoder::new(&Encoded::default());
        let mut out = Vec::new();
        for data in events {
            assert!(!decoder.is_done());
            out.extend(decoder.push("", data).unwrap());
        }
        assert!(decoder.is_done());
        out.extend(decoder.finish().unwrap());
        out
    }

    fn assemble(events: &[StreamEvent]) -> ChatResponse {
        let mut a = Assembler::default();
        for e in events {
            a.push(e);
        }
        a.into_response()
    }

    #[test]
    fn streams_assemble_to_the_whole_answer_however_they_are_cut() {
        let mut whole = whole_answer();
        whole["choices"].as_array_mut().unwrap().remove(0);
        whole["choices"][0]
            .as_object_mut()
            .unwrap()
            .remove("logprobs");
        whole["choices"][0]["message"]["thinking_blocks"] = json!([{"type": "thinking", "thinking": "The user wants two cities.", "signature": "sig-1"}]);
        whole["usage"]
            .as_object_mut()
            .unwrap()
            .remove("cache_creation_input_tokens");
        let expected = decode_response(whole.to_string().as_bytes(), &Encoded::default()).unwrap();
        assert_eq!(
            expected.content[0],
            ContentPart::Thinking {
                text: "The user wants two cities.".into(),
                signature: Some("sig-1".into())
            }
        );
        for cut in [1, 2, 3, 7, 100] {
            let events = decode_stream(&upstream_stream(cut));
            assert_eq!(assemble(&events), expected, "cut {cut}");
        }
    }

    #[test]
    fn stream_blocks_are_sequential_and_numbered_in_order() {
        let events = decode_stream(&upstream_stream(100));
        let skeleton: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::BlockStart { index, kind, .. } => {
                    Some(format!("start {index} {kind:?}"))
                }
                StreamEvent::BlockStop { index } => Some(format!("stop {index}")),
                StreamEvent::Usage(_) => Some("usage".into()),
                StreamEvent::Done(f) => Some(format!("done {:?}", f.reason)),
                _ => None,
            })
            .collect();
        assert_eq!(
            skeleton,
            [
                "start 0 Thinking",
                "stop 0",
                "start 1 Text",
                "stop 1",
                "start 2 ToolUse { id: \"call_a\", name: \"weather\" }",
                "stop 2",
                "start 3 ToolUse { id: \"call_b\", name: \"weather\" }",
                "usage",
                "stop 3",
                "done ToolCalls"
            ]
        );
        // The arguments piece in the same fragment as the id is kept.
        assert!(events.contains(&StreamEvent::Delta {
            index: 2,
            delta: Delta::ToolArguments("{\"city\":\"Paris\",\"unit\":\"c\"}".into())
        }));
    }

    #[test]
    fn stream_end_errors_and_several_choices() {
        // No `[DONE]`, but choice 0 finished: the closing events.
        let mut d = StreamDecoder::new(&Encoded::default());
        d.push(
            "",
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
        )
        .unwrap();
        d.push(
            "",
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        )
        .unwrap();
        let end = d.finish().unwrap();
        assert_eq!(
            end,
            [
                StreamEvent::BlockStop { index: 0 },
                StreamEvent::Done(Finish::new(FinishReason::Stop))
            ]
        );
        // Cut short: an error.
        let mut d = StreamDecoder::new(&Encoded::default());
        d.push("", r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#)
            .unwrap();
        assert_eq!(
            d.finish().unwrap_err(),
            StreamFailure::protocol("the stream ended before the answer was complete")
        );
        // An in-stream error keeps the upstream's type.
        let mut d = StreamDecoder::new(&Encoded::default());
        let e = d
            .push(
                "",
                r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
            )
            .unwrap_err();
        assert_eq!(e.error_type.as_deref(), Some("server_error"));
        assert_eq!(e.message, "overloaded");
        assert!(d.push("", "not json").is_err());

        // Two choices: choice 1's blocks stay open beside choice 0's and it ends on its own.
        let mut d = StreamDecoder::new(&Encoded::default());
        let mut events = Vec::new();
        for data in [
            r#"{"choices":[{"index":0,"delta":{"content":"A"}},{"index":1,"delta":{"content":"B"}}]}"#,
            r#"{"choices":[{"index":1,"delta":{"content":"b"},"logprobs":{"content":[{"token":"b"}]},"finish_reason":"length"}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ] {
            events.extend(d.push("", data).unwrap());
        }
        assert!(events.contains(&StreamEvent::ChoiceDone {
            choice: 1,
            finish: Finish::new(FinishReason::Length)
        }));
        let resp = assemble(&events);
        assert_eq!(resp.text(), "Aa");
        assert_eq!(resp.more_choices[0].content, [ContentPart::text("Bb")]);
        assert_eq!(resp.more_choices[0].finish.reason, FinishReason::Length);
        assert!(resp.more_choices[0].logprobs.is_some());
    }

    #[test]
    fn tool_fragments_before_the_name_are_kept() {
        let mut d = StreamDecoder::new(&Encoded::default());
        let mut events = Vec::new();
        for data in [
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"x1","function":{"arguments":"{\"a\""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":":1}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ] {
            events.extend(d.push("", data).unwrap());
        }
        let resp = assemble(&events);
        assert_eq!(
            resp.tool_calls().collect::<Vec<_>>(),
            [("x1", "f", &json!({"a": 1}))]
        );
    }

    #[test]
    fn small_shapes_round_trip_and_thinking_blocks_stream_alone() {
        // A lone tool-result text part with LiteLLM's `cache_control` stays an array.
        let body = json!({"model": "m", "messages": [
            {"role": "user", "content": "go", "tool_calls": []},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": [
                {"type": "text", "text": "big output", "cache_control": {"type": "ephemeral"}}]}
        ]});
        let decoded = decode(body.clone());
        let mut expected = body;
        expected["messages"][0]
            .as_object_mut()
            .unwrap()
            .remove("tool_calls");
        assert_eq!(
            body_of(&encode_request(&decoded.request, false).unwrap()),
            expected
        );

        // A server that streams `thinking_blocks` without `reasoning_content`.
        let mut d = StreamDecoder::new(&Encoded::default());
        let mut events = Vec::new();
        for data in [
            r#"{"choices":[{"index":0,"delta":{"thinking_blocks":[{"type":"thinking","thinking":"hm"}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"thinking_blocks":[{"type":"thinking","thinking":"","signature":"s"}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"thinking_blocks":[{"type":"redacted_thinking","data":"enc"}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ] {
            events.extend(d.push("", data).unwrap());
        }
        assert_eq!(
            assemble(&events).content,
            [
                ContentPart::Thinking {
                    text: "hm".into(),
                    signature: Some("s".into())
                },
                ContentPart::RedactedThinking { data: "enc".into() },
                ContentPart::text("ok"),
            ]
        );
    }

    fn frames_json(frames: &[SseFrame]) -> Vec<Value> {
        frames
            .iter()
            .map(|f| {
                assert!(f.event.is_none());
                serde_json::from_str(&f.data).unwrap_or(Value::String(f.data.clone()))
            })
            .collect()
    }

    #[test]
    fn stream_encoder_writes_openai_chunks() {
        let tool = |index, id: &str| StreamEvent::BlockStart {
            index,
            choice: 0,
            kind: BlockKind::ToolUse {
                id: id.into(),
                name: "weather".into(),
            },
        };
        let args = |index, a: &str| StreamEvent::Delta {
            index,
            delta: Delta::ToolArguments(a.into()),
        };
        let events = [
            StreamEvent::Usage(Usage {
                input_tokens: 50,
                ..Usage::default()
            }),
            StreamEvent::BlockStart {
                index: 0,
                choice: 0,
                kind: BlockKind::Thinking,
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Thinking("hm".into()),
            },
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Signature("sig".into()),
            },
            StreamEvent::BlockStop { index: 0 },
            // A delta without a start opens its block.
            StreamEvent::text(1, "Hi"),
            StreamEvent::BlockStop { index: 1 },
            tool(2, "toolu_a"),
            // Anthropic's first `partial_json` is empty.
            args(2, ""),
            args(2, "{\"city\":"),
            args(2, "\"Paris\"}"),
            StreamEvent::BlockStop { index: 2 },
            tool(3, "toolu_b"),
            args(3, "{}"),
            StreamEvent::BlockStop { index: 3 },
            StreamEvent::Usage(Usage {
                input_tokens: 50,
                output_tokens: 9,
                cache_read_tokens: 40,
                ..Usage::default()
            }),
            StreamEvent::Done(Finish::new(FinishReason::ToolCalls)),
            StreamEvent::text(1, "after the end"),
        ];
        let mut enc = StreamEncoder::new("chatcmpl-1", "gpt-x", 5, true);
        let frames: Vec<SseFrame> = events.iter().flat_map(|e| enc.push(e)).collect();
        let chunks = frames_json(&frames);
        let deltas: Vec<Value> = chunks
            .iter()
            .filter_map(|c| c.get("choices").and_then(|c| c.get(0)))
            .map(|c| {
                assert_eq!(c["index"], 0);
                json!([c["delta"], c["finish_reason"]])
            })
            .collect();
        assert_eq!(
            deltas,
            [
                json!([{"role": "assistant", "content": ""}, null]),
                json!([{"reasoning_content": "hm"}, null]),
                json!([{"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": "sig"}]}, null]),
                json!([{"content": "Hi"}, null]),
                json!([{"tool_calls": [{"index": 0, "id": "toolu_a", "type": "function",
                                        "function": {"name": "weather", "arguments": ""}}]}, null]),
                json!([{"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}, null]),
                json!([{"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}, null]),
                json!([{"tool_calls": [{"index": 1, "id": "toolu_b", "type": "function",
                                        "function": {"name": "weather", "arguments": ""}}]}, null]),
                json!([{"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}, null]),
                json!([{}, "tool_calls"]),
            ]
        );
        let first = &chunks[0];
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(first["id"], "chatcmpl-1");
        assert_eq!(first["model"], "gpt-x");
        assert_eq!(first["created"], 5);
        let n = chunks.len();
        assert_eq!(chunks[n - 2]["choices"], json!([]));
        assert_eq!(
            chunks[n - 2]["usage"],
            json!({"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59,
                   "prompt_tokens_details": {"cached_tokens": 40},
                   "completion_tokens_details": {"reasoning_tokens": 0}})
        );
        assert_eq!(chunks[n - 1], Value::String("[DONE]".into()));
    }

    #[test]
    fn stream_encoder_output_decodes_to_the_same_answer() {
        // Canonical events → client frames → (as if from an upstream) canonical events.
        let original = decode_stream(&upstream_stream(3));
        let mut enc = StreamEncoder::new("id", "m", 1, true);
        let frames: Vec<String> = original
            .iter()
            .flat_map(|e| enc.push(e))
            .map(|f| f.data)
            .collect();
        let again = decode_stream(&frames);
        assert_eq!(assemble(&again), assemble(&original));
    }

    #[test]
    fn stream_encoder_handles_choices_logprobs_and_errors() {
        let mut enc = StreamEncoder::new("id", "m", 1, false);
        let mut frames = Vec::new();
        for e in [
            StreamEvent::BlockStart {
                index: 0,
                choice: 1,
                kind: BlockKind::Text,
            },
            StreamEvent::text(0, "B"),
            StreamEvent::Logprobs {
                choice: 1,
                logprobs: json!({"content": []}),
            },
            StreamEvent::ChoiceDone {
                choice: 1,
                finish: Finish::new(FinishReason::Length),
            },
            // Not shown to OpenAI clients.
            StreamEvent::BlockStart {
                index: 1,
                choice: 0,
                kind: BlockKind::Raw {
                    protocol: Protocol::AnthropicMessages,
                    block: json!({"type": "server_tool_use"}),
                },
            },
            StreamEvent::Delta {
                index: 1,
                delta: Delta::Raw(json!({"type": "citations_delta"})),
            },
        ] {
            frames.extend(enc.push(&e));
        }
        let chunks = frames_json(&frames);
        let shape: Vec<Value> = chunks
            .iter()
            .map(|c| {
                let choice = &c["choices"][0];
                json!([
                    choice["index"],
                    choice["delta"],
                    choice["finish_reason"],
                    choice.get("logprobs")
                ])
            })
            .collect();
        assert_eq!(
            shape,
            [
                json!([0, {"role": "assistant", "content": ""}, null, null]),
                json!([1, {"role": "assistant", "content": ""}, null, null]),
                json!([1, {"content": "B"}, null, null]),
                json!([1, {}, null, {"content": []}]),
                json!([1, {}, "length", null]),
            ]
        );
        let error = enc.error("overloaded_error", "try later");
        assert_eq!(
            frames_json(&error),
            [json!({"error": {"message": "try later", "type": "overloaded_error"}})]
        );
        assert!(
            enc.push(&StreamEvent::Done(Finish::new(FinishReason::Stop)))
                .is_empty()
        );
        assert!(enc.error("x", "y").is_empty());
    }

    #[test]
    fn stream_encoder_synthesizes_a_tool_without_start() {
        let mut enc = StreamEncoder::new("id", "m", 1, false);
        let frames = enc.push(&StreamEvent::Delta {
            index: 4,
            delta: Delta::ToolArguments("{\"a\":1}".into()),
        });
        let chunks = frames_json(&frames);
        assert_eq!(
            chunks[1]["choices"][0]["delta"],
            json!({"tool_calls": [{"index": 0, "id": "", "type": "function",
                                   "function": {"name": "", "arguments": "{\"a\":1}"}}]})
        );
    }

    /// Both protocol modules together: what a client of one sends reaches an upstream of
    /// the other, and answers stream back.
    mod cross {
        use super::*;
        use crate::protocol::anthropic_messages as anthropic;

        #[test]
        fn an_openai_client_reaches_an_anthropic_upstream() {
            // OpenAI-only fields are refused by name.
            let decoded = decode(agent_request());
            let e = anthropic::encode_request(&decoded.request, false).unwrap_err();
            assert_eq!(e.field, "frequency_penalty", "{e}");

            let decoded = decode(json!({
                "model": "claude-x",
                "messages": [
                    {"role": "system", "content": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]},
                    {"role": "user", "content": "Weather in Paris and Rome?"},
                    {"role": "assistant", "content": null,
                     "thinking_blocks": [{"type": "thinking", "thinking": "Two lookups.", "signature": "sig"}],
                     "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                        {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                    {"role": "tool", "tool_call_id": "call_2", "content": "21C"},
                    {"role": "user", "content": "Which is warmer?"}
                ],
                "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
                "tool_choice": "required",
                "parallel_tool_calls": false,
                "max_tokens": 512
            }));
            let body = body_of(&anthropic::encode_request(&decoded.request, false).unwrap());
            assert_eq!(
                body["system"],
                json!([{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}])
            );
            assert_eq!(
                body["tool_choice"],
                json!({"type": "any", "disable_parallel_tool_use": true})
            );
            assert_eq!(body["tools"][0]["input_schema"], json!({"type": "object"}));
            let messages = body["messages"].as_array().unwrap();
            assert_eq!(messages.len(), 3, "{body}");
            assert_eq!(
                messages[1]["content"][0],
                json!({"type": "thinking", "thinking": "Two lookups.", "signature": "sig"})
            );
            assert_eq!(messages[1]["content"][2]["id"], "call_2");
            // Both results and the next user text merge into one user turn, in order.
            let last: Vec<&str> = messages[2]["content"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["type"].as_str().unwrap())
                .collect();
            assert_eq!(last, ["tool_result", "tool_result", "text"]);
            assert_eq!(messages[2]["content"][1]["tool_use_id"], "call_2");
        }

        #[test]
        fn an_anthropic_client_reaches_an_openai_upstream() {
            let body = json!({
                "model": "gpt-4.1",
                "max_tokens": 300,
                "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
                "messages": [
                    {"role": "user", "content": "Weather in Paris?"},
                    {"role": "assistant", "content": [
                        {"type": "thinking", "thinking": "Look it up.", "signature": "sig"},
                        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                        {"type": "text", "text": "Thanks."}
                    ]}
                ],
                "tools": [{"name": "weather", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "tool", "name": "weather"}
            });
            let decoded = anthropic::decode_request(body.to_string().as_bytes()).unwrap();
            let out = body_of(&encode_request(&decoded.request, false).unwrap());
            assert_eq!(
                out["messages"],
                json!([
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Weather in Paris?"},
                    {"role": "assistant", "content": null, "reasoning_content": "Look it up.", "tool_calls": [
                        {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
                    {"role": "user", "content": "Thanks."}
                ])
            );
            assert_eq!(
                out["tool_choice"],
                json!({"type": "function", "function": {"name": "weather"}})
            );
            assert_eq!(out["max_tokens"], 300);
        }

        #[test]
        fn streams_cross_both_ways() {
            // OpenAI upstream → Anthropic client → (as if from an Anthropic upstream) canonical.
            let original = decode_stream(&upstream_stream(4));
            let mut enc = anthropic::StreamEncoder::new("msg_1", "m", 1, false);
            let frames: Vec<SseFrame> = original.iter().flat_map(|e| enc.push(e)).collect();
            let mut dec = anthropic::StreamDecoder::new(&Encoded::default());
            let mut via_anthropic = Vec::new();
            for f in &frames {
                via_anthropic.extend(dec.push(f.event.unwrap_or(""), &f.data).unwrap());
            }
            assert!(dec.is_done());
            via_anthropic.extend(dec.finish().unwrap());
            let expected = assemble(&original);
            let mut got = assemble(&via_anthropic);
            // Anthropic's stream carries no reasoning-token count.
            got.usage.reasoning_tokens = expected.usage.reasoning_tokens;
            assert_eq!(got, expected);

            // And back: those canonical events → OpenAI client → canonical.
            let mut enc = StreamEncoder::new("id", "m", 1, true);
            let frames: Vec<String> = via_anthropic
                .iter()
                .flat_map(|e| enc.push(e))
                .map(|f| f.data)
                .collect();
            let mut back = assemble(&decode_stream(&frames));
            back.usage.reasoning_tokens = expected.usage.reasoning_tokens;
            assert_eq!(back, expected);
        }
    }
}
