//! Anthropic's Messages API (`POST /v1/messages`): its request, response and stream-event
//! shapes as serde structs, and their conversions to and from the canonical types.
//!
//! Clients that speak Anthropic are decoded here ([`decode_request`]) and answered here
//! ([`encode_response`], [`StreamEncoder`]); Anthropic upstreams get their requests from
//! [`encode_request`] and are read back by [`decode_response`] and [`StreamDecoder`].
//!
//! Nothing a client sends is dropped: a block or tool whose type or fields the canonical model
//! does not name is kept verbatim (`ContentPart::Raw`, `Tool::Raw`), unknown top-level fields
//! travel in the request's passthrough, and whatever an Anthropic upstream cannot take is
//! refused with a [`CarryError`] that names the client's field.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{
    DecodeError, Decoded, Encoded, GatewayFields, SseFrame, StreamFailure, check_tool_pairs,
};
use crate::types::{
    BlockKind, CacheControl, CarryError, ChatRequest, ChatResponse, ContentPart, Delta, Finish,
    FinishReason, MediaSource, Message, Passthrough, Protocol, Reasoning, ResponseFormat, Role,
    StreamEvent, Tool, ToolChoice, Usage,
};

/// Anthropic requires `max_tokens`; this is sent when the request does not set it.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The `anthropic-version` header value the gateway speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// This module's protocol, for passthrough and raw parts.
const PROTOCOL: Protocol = Protocol::AnthropicMessages;

/// The tool forced on Anthropic models to get structured output for clients that asked for
/// it with OpenAI's `response_format` (the answer is the tool call's input).
const FOLD_TOOL: &str = "json_response";

/// What to tell a client whose request carries something only OpenAI-kind models take.
const PICK_OPENAI: &str = "pick a model on an OpenAI-compatible provider";

// ---------------------------------------------------------------------------------------------
// Wire structs.

/// A `/v1/messages` request body.
#[derive(Debug, Serialize, Deserialize)]
struct WireRequest {
    #[serde(default)]
    model: String,
    messages: Vec<WireMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    system: Option<SystemPrompt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number"
    )]
    temperature: Option<f64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "number"
    )]
    top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stream: Option<bool>,
    /// `user_id` is the canonical `user`; other keys travel in the passthrough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<WireTool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
    /// Native structured output (`{"type": "json_schema", "schema"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output_format: Option<OutputFormat>,
    /// Gateway field: never sent upstream.
    #[serde(default, skip_serializing)]
    session_id: Option<String>,
    /// Gateway field: never sent upstream.
    #[serde(default, skip_serializing)]
    cache: Option<bool>,
    /// Fields this module does not model, kept for an Anthropic upstream.
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// Writes a sampling parameter as the client most likely wrote it: a whole number without a
/// fraction (`1`, not `1.0`), anything else as the shortest text that reads back the same.
fn number<S: serde::Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => s.serialize_some(&(*v as i64)),
        Some(v) => s.serialize_some(v),
        None => s.serialize_none(),
    }
}

/// One turn of `messages`. The role is a string so a wrong one gets a message naming it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireMessage {
    role: String,
    content: MessageContent,
}

/// A message's content: a string is one text block.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum MessageContent {
    Text(String),
    Blocks(Vec<Block>),
}

/// The top-level `system`: a string, or text blocks (which may carry `cache_control`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum SystemPrompt {
    Text(String),
    Blocks(Vec<Block>),
}

/// A content block: one this module models exactly, or any other JSON kept verbatim (a new
/// block type, or a known one with fields we do not model, such as `citations`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Block {
    Known(KnownBlock),
    Other(Value),
}

/// The content blocks the canonical model carries. `deny_unknown_fields` sends any block with
/// more fields to [`Block::Other`], so nothing is lost when it is decoded.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum KnownBlock {
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    Image {
        source: WireSource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    Document {
        source: WireSource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<ToolResultContent>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    Thinking {
        thinking: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
}

/// A tool result's content: a string is one text block.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum ToolResultContent {
    Text(String),
    Blocks(Vec<Block>),
}

/// Where an image's or document's bytes are.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WireSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    Text {
        media_type: String,
        data: String,
    },
    /// The Files API (`anthropic-beta: files-api-…`).
    File {
        file_id: String,
    },
}

/// A tool: a client-run one (`custom`, the default type), or a server or versioned tool
/// (`web_search_20250305`, `bash_20250124`, …) kept verbatim.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum WireTool {
    Custom(CustomTool),
    Other(Value),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomTool {
    /// `"custom"` when the client wrote it; never sent (it is the default). Only serde reads
    /// it: any other type makes the tool a `Tool::Raw`.
    #[allow(dead_code)]
    #[serde(rename = "type", default, skip_serializing)]
    kind: Option<CustomKind>,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    input_schema: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache_control: Option<CacheControl>,
}

/// The one tool type that is a plain function.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum CustomKind {
    Custom,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum WireToolChoice {
    Auto {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    None {},
}

/// Extended thinking: the two settings the canonical model names, or another kind
/// (`adaptive`, …) kept verbatim in the passthrough.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Thinking {
    Known(KnownThinking),
    Other(Value),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum KnownThinking {
    Enabled { budget_tokens: u32 },
    Disabled {},
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum OutputFormat {
    Known(KnownOutputFormat),
    Other(Value),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum KnownOutputFormat {
    JsonSchema { schema: Value },
}

/// A whole answer (also the `message` of a stream's `message_start`).
#[derive(Debug, Serialize, Deserialize)]
struct WireResponse {
    #[serde(default)]
    id: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

/// Token counts. Anthropic's `input_tokens` excludes the tokens read from or written to the
/// prompt cache; the canonical count includes them.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
struct WireUsage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache_read_input_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache_creation_input_tokens: Option<u32>,
}

impl WireUsage {
    fn to_canonical(self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let write = self.cache_creation_input_tokens.unwrap_or(0);
        Usage {
            input_tokens: self
                .input_tokens
                .unwrap_or(0)
                .saturating_add(read)
                .saturating_add(write),
            output_tokens: self.output_tokens.unwrap_or(0),
            cache_read_tokens: read,
            cache_write_tokens: write,
            reasoning_tokens: 0,
        }
    }

    fn from_canonical(usage: &Usage) -> Self {
        WireUsage {
            input_tokens: Some(usage.uncached_input()),
            output_tokens: Some(usage.output_tokens),
            cache_read_input_tokens: Some(usage.cache_read_tokens),
            cache_creation_input_tokens: Some(usage.cache_write_tokens),
        }
    }

    /// Takes the counts `later` carries (a `message_delta` repeats only some).
    fn update(&mut self, later: WireUsage) {
        self.input_tokens = later.input_tokens.or(self.input_tokens);
        self.output_tokens = later.output_tokens.or(self.output_tokens);
        self.cache_read_input_tokens = later
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
        self.cache_creation_input_tokens = later
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
    }
}

/// One event of a streamed answer; the SSE `event:` name equals `type`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Chunk {
    MessageStart {
        message: Box<WireResponse>,
    },
    ContentBlockStart {
        index: usize,
        /// Read by type, leniently: a `text` block that also has `citations` is still text.
        content_block: Value,
    },
    ContentBlockDelta {
        index: usize,
        delta: WireDelta,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<WireUsage>,
    },
    MessageStop {},
    Ping {},
    Error {
        error: WireError,
    },
}

impl Chunk {
    /// The SSE `event:` name.
    fn name(&self) -> &'static str {
        match self {
            Chunk::MessageStart { .. } => "message_start",
            Chunk::ContentBlockStart { .. } => "content_block_start",
            Chunk::ContentBlockDelta { .. } => "content_block_delta",
            Chunk::ContentBlockStop { .. } => "content_block_stop",
            Chunk::MessageDelta { .. } => "message_delta",
            Chunk::MessageStop {} => "message_stop",
            Chunk::Ping {} => "ping",
            Chunk::Error { .. } => "error",
        }
    }

    fn frame(&self) -> SseFrame {
        SseFrame {
            event: Some(self.name()),
            // Serialising these structs cannot fail: every map key is a string.
            data: serde_json::to_string(self).unwrap_or_default(),
        }
    }
}

/// The event types [`Chunk`] models; any other is skipped (Anthropic may add event types).
const KNOWN_EVENTS: [&str; 8] = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
];

/// A block's delta: the kinds the canonical stream names, or any other (`citations_delta`)
/// verbatim.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum WireDelta {
    Known(KnownDelta),
    Other(Value),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type")]
enum KnownDelta {
    #[serde(rename = "text_delta")]
    Text { text: String },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: String },
    #[serde(rename = "signature_delta")]
    Signature { signature: String },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    stop_sequence: Option<String>,
}

/// An error body (`{"type": "error", "error": {…}}`), whole or in a stream.
#[derive(Debug, Serialize, Deserialize)]
struct WireError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Deserialize)]
struct WireErrorBody {
    error: WireError,
}

// ---------------------------------------------------------------------------------------------
// Client requests.

/// Decodes and validates a client's `/v1/messages` request.
pub fn decode_request(body: &[u8]) -> Result<Decoded, DecodeError> {
    let wire: WireRequest = serde_json::from_slice(body).map_err(|e| diagnose(body, &e))?;
    if wire.messages.is_empty() {
        return Err(DecodeError::new(
            "`messages` is empty; send at least one `{\"role\": \"user\", \"content\": …}` message",
        ));
    }
    if wire.max_tokens.is_none() {
        return Err(DecodeError::new(
            "`max_tokens` is required; send the most tokens the answer may have (e.g. `\"max_tokens\": 1024`)",
        ));
    }
    if wire.max_tokens == Some(0) {
        return Err(DecodeError::new(
            "`max_tokens` is 0; send a positive number of tokens to generate",
        ));
    }
    if let Some(t) = wire.temperature
        && !(0.0..=1.0).contains(&t)
    {
        return Err(DecodeError::new(format!(
            "`temperature` is {t}; Anthropic models take 0 to 1"
        )));
    }
    if let Some(p) = wire.top_p
        && !(0.0..=1.0).contains(&p)
    {
        return Err(DecodeError::new(format!(
            "`top_p` is {p}; send a value from 0 to 1"
        )));
    }

    let mut fields = wire.extra;
    let mut conversation = Vec::with_capacity(wire.messages.len());
    for (i, m) in wire.messages.into_iter().enumerate() {
        let role = match m.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(DecodeError::new(format!(
                    "`messages[{i}].role` is `{other}`; Anthropic messages take `user` or `assistant` (instructions go in the top-level `system`)"
                )));
            }
        };
        if let MessageContent::Blocks(blocks) = &m.content
            && let Some(j) = blocks.iter().position(|b| {
                matches!(
                    b,
                    Block::Known(KnownBlock::Thinking {
                        signature: None,
                        ..
                    })
                )
            })
        {
            // Anthropic refuses it too; an answer of an OpenAI-kind model comes back with
            // `"signature": ""`, which is accepted (and not sent to Anthropic upstreams).
            return Err(DecodeError::new(format!(
                "`messages[{i}].content[{j}]` is a `thinking` block without its `signature`; send the block back exactly as the answer had it"
            )));
        }
        let content = parts_from_content(m.content);
        if role == Role::Assistant
            && let Some(j) = content
                .iter()
                .position(|p| matches!(p, ContentPart::ToolResult { .. }))
        {
            return Err(DecodeError::new(format!(
                "`messages[{i}].content[{j}]` is a `tool_result` in an assistant message; send tool results in the user message after the tool call"
            )));
        }
        conversation.push(Message::new(role, content));
    }

    let mut user = None;
    if let Some(mut metadata) = wire.metadata {
        if let Some(Value::String(id)) = metadata.get("user_id") {
            user = Some(id.clone());
            metadata.remove("user_id");
        }
        // The other keys are Anthropic's alone: they go back only to an Anthropic upstream.
        if !metadata.is_empty() {
            fields.insert("metadata".into(), Value::Object(metadata));
        }
    }

    let mut tools = Vec::new();
    for tool in wire.tools.unwrap_or_default() {
        tools.push(match tool {
            WireTool::Custom(t) => Tool::Function {
                name: t.name,
                description: t.description,
                parameters: t.input_schema,
                strict: t.strict,
                cache_control: t.cache_control,
            },
            WireTool::Other(tool) => Tool::Raw {
                protocol: PROTOCOL,
                tool,
            },
        });
    }

    let (tool_choice, parallel_tool_calls) = match wire.tool_choice {
        None => (None, None),
        Some(WireToolChoice::Auto {
            disable_parallel_tool_use,
        }) => (Some(ToolChoice::Auto), disable_parallel_tool_use),
        Some(WireToolChoice::Any {
            disable_parallel_tool_use,
        }) => (Some(ToolChoice::Required), disable_parallel_tool_use),
        Some(WireToolChoice::Tool {
            name,
            disable_parallel_tool_use,
        }) => (Some(ToolChoice::Tool { name }), disable_parallel_tool_use),
        Some(WireToolChoice::None {}) => (Some(ToolChoice::None), None),
    };
    let parallel_tool_calls = parallel_tool_calls.map(|disable| !disable);

    let reasoning = match wire.thinking {
        None => None,
        Some(Thinking::Known(KnownThinking::Enabled { budget_tokens })) => Some(Reasoning {
            budget_tokens: Some(budget_tokens),
            ..Reasoning::default()
        }),
        Some(Thinking::Known(KnownThinking::Disabled {})) => Some(Reasoning {
            disabled: true,
            ..Reasoning::default()
        }),
        Some(Thinking::Other(thinking)) => {
            fields.insert("thinking".into(), thinking);
            None
        }
    };

    let response_format = match wire.output_format {
        None => None,
        Some(OutputFormat::Known(KnownOutputFormat::JsonSchema { schema })) => {
            Some(ResponseFormat::JsonSchema {
                name: "output".into(),
                schema,
                description: None,
                strict: None,
            })
        }
        Some(OutputFormat::Other(format)) => {
            fields.insert("output_format".into(), format);
            None
        }
    };

    let mut request = ChatRequest {
        model: wire.model,
        messages: conversation,
        max_tokens: wire.max_tokens,
        temperature: wire.temperature,
        top_p: wire.top_p,
        top_k: wire.top_k,
        stop: wire.stop_sequences.unwrap_or_default(),
        seed: None,
        stream: wire.stream.unwrap_or(false),
        user,
        metadata: Default::default(),
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format,
        reasoning,
        n: None,
        logprobs: None,
        top_logprobs: None,
        // Always set, even without fields: it tells the encoder the client spoke Anthropic
        // (native `output_format` rather than a forced tool).
        passthrough: Some((
            PROTOCOL,
            Passthrough {
                fields,
                headers: Vec::new(),
            },
        )),
    };
    // Checked before the system prompt becomes message 0, so the indexes in its messages are
    // the client's.
    check_tool_pairs(&request)?;
    if let Some(system) = wire.system {
        let content = match system {
            SystemPrompt::Text(text) => vec![ContentPart::text(text)],
            SystemPrompt::Blocks(blocks) => blocks.into_iter().map(part_from_block).collect(),
        };
        if !content.is_empty() {
            request
                .messages
                .insert(0, Message::new(Role::System, content));
        }
    }
    Ok(Decoded {
        request,
        gateway: GatewayFields {
            session_id: wire.session_id,
            cache: wire.cache.unwrap_or(false),
            include_usage: false,
        },
    })
}

/// A message for a body that did not deserialise: which message is wrong when one is.
fn diagnose(body: &[u8], err: &serde_json::Error) -> DecodeError {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return DecodeError::new(format!(
            "The body is not JSON ({err}); send an Anthropic messages request"
        ));
    };
    let Some(object) = value.as_object() else {
        return DecodeError::new(
            "The body is not a JSON object; send an Anthropic messages request `{\"model\", \"messages\", …}`",
        );
    };
    match object.get("messages") {
        None => {
            return DecodeError::new(
                "`messages` is missing; send the conversation as `\"messages\": [{\"role\": \"user\", \"content\": …}]`",
            );
        }
        Some(Value::Array(messages)) => {
            for (i, m) in messages.iter().enumerate() {
                let Err(e) = WireMessage::deserialize(m) else {
                    continue;
                };
                return DecodeError::new(match m.get("content") {
                    Some(Value::String(_) | Value::Array(_)) | None => format!(
                        "`messages[{i}]` is not a message ({e}); send `{{\"role\": \"user\" or \"assistant\", \"content\": …}}`"
                    ),
                    Some(_) => format!(
                        "`messages[{i}].content` must be a string or an array of content blocks"
                    ),
                });
            }
        }
        Some(_) => return DecodeError::new("`messages` must be an array of messages"),
    }
    // Every message reads: find the top-level field that does not, alone beside no messages.
    for (key, v) in object {
        if key == "messages" {
            continue;
        }
        let mut alone = Map::new();
        alone.insert("messages".into(), Value::Array(Vec::new()));
        alone.insert(key.clone(), v.clone());
        if let Err(e) = WireRequest::deserialize(&Value::Object(alone)) {
            return DecodeError::new(format!(
                "`{key}` is malformed ({e}); see Anthropic's messages API for its shape"
            ));
        }
    }
    DecodeError::new(format!(
        "The body is not a valid Anthropic messages request: {err}"
    ))
}

fn parts_from_content(content: MessageContent) -> Vec<ContentPart> {
    match content {
        MessageContent::Text(text) => vec![ContentPart::text(text)],
        MessageContent::Blocks(blocks) => blocks.into_iter().map(part_from_block).collect(),
    }
}

fn part_from_block(block: Block) -> ContentPart {
    let known = match block {
        Block::Known(known) => known,
        // A known block naming a field twice reads as JSON readers read it (the last one
        // wins), as `openai_chat` does for parts.
        Block::Other(block) => match serde_json::from_value::<KnownBlock>(block.clone()) {
            Ok(known) => known,
            Err(_) => {
                return ContentPart::Raw {
                    protocol: PROTOCOL,
                    block,
                };
            }
        },
    };
    match known {
        KnownBlock::Text {
            text,
            cache_control,
        } => ContentPart::Text {
            text,
            cache_control,
        },
        KnownBlock::Image {
            source,
            cache_control,
        } => ContentPart::Image {
            source: source.into(),
            detail: None,
            cache_control,
        },
        KnownBlock::Document {
            source,
            title,
            cache_control,
        } => ContentPart::Document {
            source: source.into(),
            title,
            cache_control,
        },
        KnownBlock::ToolUse {
            id,
            name,
            input,
            cache_control,
        } => ContentPart::ToolUse {
            id,
            name,
            input,
            cache_control,
        },
        KnownBlock::ToolResult {
            tool_use_id,
            content,
            is_error,
            cache_control,
        } => ContentPart::ToolResult {
            tool_use_id,
            content: match content {
                None => Vec::new(),
                Some(ToolResultContent::Text(text)) => vec![ContentPart::text(text)],
                Some(ToolResultContent::Blocks(blocks)) => {
                    blocks.into_iter().map(part_from_block).collect()
                }
            },
            is_error: is_error.unwrap_or(false),
            cache_control,
        },
        KnownBlock::Thinking {
            thinking,
            signature,
        } => ContentPart::Thinking {
            text: thinking,
            // An empty signature is no signature (our own responses write `""` for thinking
            // that came unsigned from an OpenAI-kind model).
            signature: signature.filter(|s| !s.is_empty()),
        },
        KnownBlock::RedactedThinking { data } => ContentPart::RedactedThinking { data },
    }
}

impl From<WireSource> for MediaSource {
    fn from(source: WireSource) -> Self {
        match source {
            WireSource::Base64 { media_type, data } => MediaSource::Base64 { media_type, data },
            WireSource::Url { url } => MediaSource::Url { url },
            WireSource::Text { media_type, data } => MediaSource::Text { media_type, data },
            WireSource::File { file_id } => MediaSource::FileId { file_id },
        }
    }
}

impl From<&MediaSource> for WireSource {
    fn from(source: &MediaSource) -> Self {
        match source.clone() {
            MediaSource::Base64 { media_type, data } => WireSource::Base64 { media_type, data },
            MediaSource::Url { url } => WireSource::Url { url },
            MediaSource::Text { media_type, data } => WireSource::Text { media_type, data },
            MediaSource::FileId { file_id } => WireSource::File { file_id },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Upstream requests.

/// Encodes a request for an Anthropic upstream, or says which field it cannot carry.
pub fn encode_request(req: &ChatRequest, stream: bool) -> Result<Encoded, CarryError> {
    // The client spoke Anthropic when the passthrough is ours (the decoder always sets it).
    let own = match &req.passthrough {
        Some((protocol, passthrough)) if *protocol == PROTOCOL => Some(passthrough),
        Some((protocol, passthrough)) => {
            // Another protocol's headers are its versions and betas: meaningless here. Its
            // fields must each have a translation (see `protocol::translated`).
            if let Some(field) = super::untranslatable(*protocol, passthrough) {
                return Err(CarryError::new(
                    field.to_owned(),
                    format!(
                        "is an {} field that Anthropic upstreams do not take; remove it or {PICK_OPENAI}",
                        protocol.as_str()
                    ),
                ));
            }
            None
        }
        None => None,
    };
    if let Some(n) = req.n
        && n > 1
    {
        return Err(CarryError::new(
            "n",
            format!(
                "asks for {n} answers; Anthropic models give one — send `n` = 1 or {PICK_OPENAI}"
            ),
        ));
    }
    if let Some(seed) = req.seed {
        return Err(CarryError::new(
            "seed",
            format!("is {seed}; Anthropic models take no seed — remove it or {PICK_OPENAI}"),
        ));
    }
    if req.logprobs == Some(true) {
        return Err(CarryError::new(
            "logprobs",
            format!(
                "asks for log probabilities, which Anthropic models do not give — remove it or {PICK_OPENAI}"
            ),
        ));
    }
    if !req.metadata.is_empty() {
        return Err(CarryError::new(
            "metadata",
            format!(
                "has keys Anthropic upstreams do not take (their `metadata` holds only a user id: send `user` instead) — remove it or {PICK_OPENAI}"
            ),
        ));
    }
    if let Some(t) = req.temperature
        && !(0.0..=1.0).contains(&t)
    {
        return Err(CarryError::new(
            "temperature",
            format!(
                "is {t}; Anthropic models take 0 to 1 — send a value in that range or {PICK_OPENAI}"
            ),
        ));
    }

    let (system, messages) = encode_messages(&req.messages)?;

    let mut tools = Vec::with_capacity(req.tools.len() + 1);
    for (i, tool) in req.tools.iter().enumerate() {
        tools.push(match tool {
            Tool::Function {
                name,
                description,
                parameters,
                strict,
                cache_control,
            } => WireTool::Custom(CustomTool {
                kind: None,
                name: name.clone(),
                description: description.clone(),
                input_schema: parameters.clone(),
                // Anthropic's structured tool use takes `strict` as OpenAI does.
                strict: *strict,
                cache_control: cache_control.clone(),
            }),
            Tool::Raw { protocol, tool } if *protocol == PROTOCOL => WireTool::Other(tool.clone()),
            Tool::Raw { protocol, tool } => {
                let kind = tool.get("type").and_then(Value::as_str).unwrap_or("?");
                return Err(CarryError::new(
                    format!("tools[{i}]"),
                    format!(
                        "is an {} tool (`{kind}`) that Anthropic upstreams cannot take; remove it or {PICK_OPENAI}",
                        protocol.as_str()
                    ),
                ));
            }
        });
    }

    let disable_parallel = req.parallel_tool_calls.map(|parallel| !parallel);
    let mut tool_choice = match &req.tool_choice {
        // Without tools a parallel-calls setting means nothing, and Anthropic refuses a
        // `tool_choice` without tools.
        None if disable_parallel == Some(true) && !tools.is_empty() => Some(WireToolChoice::Auto {
            disable_parallel_tool_use: Some(true),
        }),
        None => None,
        Some(ToolChoice::Auto) => Some(WireToolChoice::Auto {
            disable_parallel_tool_use: disable_parallel,
        }),
        Some(ToolChoice::Required) => Some(WireToolChoice::Any {
            disable_parallel_tool_use: disable_parallel,
        }),
        Some(ToolChoice::Tool { name }) => Some(WireToolChoice::Tool {
            name: name.clone(),
            disable_parallel_tool_use: disable_parallel,
        }),
        Some(ToolChoice::None) => Some(WireToolChoice::None {}),
    };

    let thinking = match &req.reasoning {
        Some(r) if r.disabled => Some(KnownThinking::Disabled {}),
        // Efforts `minimal` and `none` have no budget: no thinking. (`budget_tokens` is read
        // first because `Reasoning::budget` returns `None` for a budget without an effort.)
        Some(r) => r
            .budget_tokens
            .or_else(|| r.budget())
            .map(|budget_tokens| KnownThinking::Enabled { budget_tokens }),
        None => None,
    };
    let budget = match thinking {
        Some(KnownThinking::Enabled { budget_tokens }) => Some(budget_tokens),
        _ => None,
    };
    let max_tokens = match (req.max_tokens, budget) {
        (Some(max), Some(budget)) if max <= budget => {
            return Err(CarryError::new(
                "max_tokens",
                format!(
                    "is {max} but the thinking budget is {budget} tokens; Anthropic models need `max_tokens` above the budget — raise `max_tokens` or lower the reasoning effort"
                ),
            ));
        }
        (Some(max), _) => max,
        // The budget is part of `max_tokens`: leave the answer the default on top of it.
        (None, Some(budget)) => budget.saturating_add(DEFAULT_MAX_TOKENS),
        (None, None) => DEFAULT_MAX_TOKENS,
    };

    let mut fold_tool = None;
    let mut output_format = None;
    let schema = match &req.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => Some((json!({"type": "object"}), None)),
        Some(ResponseFormat::JsonSchema { schema, strict, .. }) => Some((schema.clone(), *strict)),
    };
    if let Some((schema, strict)) = schema {
        if own.is_some() {
            output_format = Some(OutputFormat::Known(KnownOutputFormat::JsonSchema {
                schema,
            }));
        } else {
            // OpenAI-kind clients ask with `response_format`; Anthropic models answer in that
            // shape reliably when forced to call a tool whose input schema is the format.
            const WHY: &str =
                "asks for JSON output, which Anthropic models give through a forced tool call";
            if budget.is_some() {
                return Err(CarryError::new(
                    "response_format",
                    format!(
                        "{WHY}, and a forced tool cannot be combined with thinking on Anthropic models; drop one of them (`response_format` or the reasoning setting)"
                    ),
                ));
            }
            if !req.tools.is_empty() && req.tool_choice.is_some() {
                return Err(CarryError::new(
                    "response_format",
                    format!(
                        "{WHY}, but the request also sets `tool_choice`; drop one of them or {PICK_OPENAI}"
                    ),
                ));
            }
            if req.tools.iter().any(|t| t.name() == Some(FOLD_TOOL)) {
                return Err(CarryError::new(
                    "response_format",
                    format!(
                        "{WHY} named `{FOLD_TOOL}`, but the request has a tool of that name; rename the tool or {PICK_OPENAI}"
                    ),
                ));
            }
            tools.push(WireTool::Custom(CustomTool {
                kind: None,
                name: FOLD_TOOL.into(),
                description: Some("Answer with the JSON object".into()),
                input_schema: schema,
                strict,
                cache_control: None,
            }));
            tool_choice = Some(WireToolChoice::Tool {
                name: FOLD_TOOL.into(),
                disable_parallel_tool_use: disable_parallel,
            });
            fold_tool = Some(FOLD_TOOL.to_owned());
        }
    }

    let mut wire = WireRequest {
        model: req.model.clone(),
        messages,
        system,
        max_tokens: Some(max_tokens),
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        stop_sequences: (!req.stop.is_empty()).then(|| req.stop.clone()),
        stream: stream.then_some(true),
        metadata: req.user.as_ref().map(|user| {
            let mut metadata = Map::new();
            metadata.insert("user_id".into(), Value::String(user.clone()));
            metadata
        }),
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        thinking: thinking.map(Thinking::Known),
        output_format,
        session_id: None,
        cache: None,
        extra: Map::new(),
    };
    let mut headers = Vec::new();
    if let Some(own) = own {
        // Serialised once, through the flattened `extra`. The pass-through holds fields the
        // wire structs do not model, `metadata` keys besides `user_id`, and `thinking` /
        // `output_format` of shapes they do not model (then the canonical one is unset);
        // what the canonical request sets wins over a stale copy.
        for (key, value) in &own.fields {
            match (key.as_str(), value) {
                ("metadata", Value::Object(theirs)) => {
                    let ours = wire.metadata.get_or_insert_with(Map::new);
                    for (k, v) in theirs {
                        ours.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                ("thinking", _) if wire.thinking.is_some() => {}
                ("output_format", _) if wire.output_format.is_some() => {}
                _ => {
                    wire.extra.insert(key.clone(), value.clone());
                }
            }
        }
        headers.clone_from(&own.headers);
    }
    Ok(Encoded {
        body: serde_json::to_vec(&wire).unwrap_or_default(),
        headers,
        fold_tool,
    })
}

/// The `system` prompt and the turns: instructions go to `system`, tool results to user turns.
fn encode_messages(
    messages: &[Message],
) -> Result<(Option<SystemPrompt>, Vec<WireMessage>), CarryError> {
    let mut system: Vec<Block> = Vec::new();
    let mut out: Vec<WireMessage> = Vec::new();
    // A user turn of tool results being gathered: the results, then any other parts. Anthropic
    // wants all results for one assistant turn in the next user turn, results first.
    let mut results: Option<(Vec<Block>, Vec<Block>)> = None;
    for (i, m) in messages.iter().enumerate() {
        if m.name.is_some() {
            return Err(CarryError::new(
                format!("messages[{i}].name"),
                format!(
                    "is a participant name, which Anthropic messages do not have; remove it or {PICK_OPENAI}"
                ),
            ));
        }
        if m.role.is_instruction() {
            for (j, part) in m.content.iter().enumerate() {
                let at = format!("messages[{i}].content[{j}]");
                match part {
                    // Text, and an Anthropic client's own system blocks kept verbatim.
                    ContentPart::Text { .. } | ContentPart::Raw { .. } => {
                        system.extend(encode_part(part, &at)?);
                    }
                    other => {
                        return Err(CarryError::new(
                            at,
                            format!(
                                "is a `{}` part in a {} message; Anthropic's `system` takes text only — move it to a user message",
                                other.kind(),
                                m.role.as_str()
                            ),
                        ));
                    }
                }
            }
            continue;
        }
        let carries_results = m.role == Role::Tool
            || m.content
                .iter()
                .any(|p| matches!(p, ContentPart::ToolResult { .. }));
        if carries_results {
            if m.role == Role::Assistant {
                return Err(CarryError::new(
                    format!("messages[{i}]"),
                    "is an assistant message with tool results; Anthropic takes tool results in user turns only — send them in a `tool` or user message",
                ));
            }
            let (gathered, others) = results.get_or_insert_with(Default::default);
            for (j, part) in m.content.iter().enumerate() {
                let Some(block) = encode_part(part, &format!("messages[{i}].content[{j}]"))? else {
                    continue;
                };
                if matches!(part, ContentPart::ToolResult { .. }) {
                    gathered.push(block);
                } else {
                    others.push(block);
                }
            }
            continue;
        }
        let mut blocks = Vec::with_capacity(m.content.len());
        for (j, part) in m.content.iter().enumerate() {
            if let Some(block) = encode_part(part, &format!("messages[{i}].content[{j}]"))? {
                blocks.push(block);
            }
        }
        if let Some((mut gathered, others)) = results.take() {
            gathered.extend(others);
            if m.role == Role::User {
                // The user turn right after the results joins them.
                gathered.extend(blocks);
                out.push(WireMessage {
                    role: "user".into(),
                    content: MessageContent::Blocks(gathered),
                });
                continue;
            }
            out.push(WireMessage {
                role: "user".into(),
                content: MessageContent::Blocks(gathered),
            });
        }
        // An assistant turn that held only unsigned thinking has nothing left to send.
        if blocks.is_empty() && !m.content.is_empty() {
            continue;
        }
        out.push(WireMessage {
            role: m.role.as_str().into(),
            content: content_of(blocks),
        });
    }
    if let Some((mut gathered, others)) = results {
        gathered.extend(others);
        out.push(WireMessage {
            role: "user".into(),
            content: MessageContent::Blocks(gathered),
        });
    }
    // One plain text is sent as a string; several stay blocks, as the client sent them.
    let system = match content_of(system) {
        MessageContent::Blocks(blocks) if blocks.is_empty() => None,
        MessageContent::Blocks(blocks) => Some(SystemPrompt::Blocks(blocks)),
        MessageContent::Text(text) => Some(SystemPrompt::Text(text)),
    };
    Ok((system, out))
}

/// A message's blocks: one plain text block is sent as a string.
fn content_of(mut blocks: Vec<Block>) -> MessageContent {
    if let [
        Block::Known(KnownBlock::Text {
            cache_control: None,
            ..
        }),
    ] = blocks.as_slice()
        && let Some(Block::Known(KnownBlock::Text { text, .. })) = blocks.pop()
    {
        return MessageContent::Text(text);
    }
    MessageContent::Blocks(blocks)
}

/// One part as an Anthropic block; `None` for a part deliberately not sent. `at` names it.
fn encode_part(part: &ContentPart, at: &str) -> Result<Option<Block>, CarryError> {
    let known = match part {
        ContentPart::Text {
            text,
            cache_control,
        } => KnownBlock::Text {
            text: text.clone(),
            cache_control: cache_control.clone(),
        },
        ContentPart::Image {
            source,
            detail,
            cache_control,
        } => {
            if let Some(detail) = detail
                && detail != "auto"
            {
                return Err(CarryError::new(
                    format!("{at}.image_url.detail"),
                    format!(
                        "is `{detail}`; Anthropic models have no image detail setting — remove it (or send `auto`) or {PICK_OPENAI}"
                    ),
                ));
            }
            KnownBlock::Image {
                source: source.into(),
                cache_control: cache_control.clone(),
            }
        }
        ContentPart::Document {
            source,
            title,
            cache_control,
        } => KnownBlock::Document {
            source: source.into(),
            title: title.clone(),
            cache_control: cache_control.clone(),
        },
        ContentPart::ToolUse {
            id,
            name,
            input,
            cache_control,
        } => KnownBlock::ToolUse {
            id: id.clone(),
            name: name.clone(),
            input: input.clone(),
            cache_control: cache_control.clone(),
        },
        ContentPart::ToolResult {
            tool_use_id,
            content,
            is_error,
            cache_control,
        } => {
            let mut blocks = Vec::with_capacity(content.len());
            for (k, inner) in content.iter().enumerate() {
                let at = format!("{at}.content[{k}]");
                match inner {
                    ContentPart::Text { .. }
                    | ContentPart::Image { .. }
                    | ContentPart::Document { .. }
                    | ContentPart::Raw { .. } => blocks.extend(encode_part(inner, &at)?),
                    other => {
                        return Err(CarryError::new(
                            at,
                            format!(
                                "is a `{}` inside a tool result; Anthropic tool results carry text, images and documents only — remove it",
                                other.kind()
                            ),
                        ));
                    }
                }
            }
            KnownBlock::ToolResult {
                tool_use_id: tool_use_id.clone(),
                content: match content_of(blocks) {
                    MessageContent::Blocks(blocks) if blocks.is_empty() => None,
                    MessageContent::Blocks(blocks) => Some(ToolResultContent::Blocks(blocks)),
                    MessageContent::Text(text) => Some(ToolResultContent::Text(text)),
                },
                is_error: is_error.then_some(true),
                cache_control: cache_control.clone(),
            }
        }
        ContentPart::Thinking { text, signature } => match signature {
            Some(signature) if !signature.is_empty() => KnownBlock::Thinking {
                thinking: text.clone(),
                signature: Some(signature.clone()),
            },
            // Unsigned thinking came from an OpenAI-kind model: Anthropic would answer
            // "Invalid signature", and it ignores earlier turns' thinking anyway.
            _ => return Ok(None),
        },
        ContentPart::RedactedThinking { data } => {
            KnownBlock::RedactedThinking { data: data.clone() }
        }
        ContentPart::Raw { protocol, block } if *protocol == PROTOCOL => {
            return Ok(Some(Block::Other(block.clone())));
        }
        ContentPart::Raw { protocol, block } => {
            let kind = block.get("type").and_then(Value::as_str).unwrap_or("?");
            return Err(CarryError::new(
                at,
                format!(
                    "is an {} part (`{kind}`) that Anthropic upstreams cannot take; remove it or {PICK_OPENAI}",
                    protocol.as_str()
                ),
            ));
        }
    };
    Ok(Some(Block::Known(known)))
}

// ---------------------------------------------------------------------------------------------
// Whole answers.

/// Reads an Anthropic upstream's whole answer. `model`, `provider` and `latency` are left for
/// the caller.
pub fn decode_response(body: &[u8], sent: &Encoded) -> Result<ChatResponse, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the upstream's answer is not JSON: {e}"))?;
    if value.get("type").and_then(Value::as_str) == Some("error") {
        return Err(match WireErrorBody::deserialize(&value) {
            Ok(WireErrorBody { error }) => format!("{}: {}", error.kind, error.message),
            Err(_) => format!("the upstream sent an error: {value}"),
        });
    }
    let wire = WireResponse::deserialize(value)
        .map_err(|e| format!("the upstream's answer is not an Anthropic message: {e}"))?;
    let mut folded = false;
    let content = wire
        .content
        .into_iter()
        .map(|block| match part_from_block(block) {
            ContentPart::ToolUse { name, input, .. }
                if sent.fold_tool.as_deref() == Some(name.as_str()) =>
            {
                folded = true;
                ContentPart::text(input.to_string())
            }
            part => part,
        })
        .collect();
    Ok(ChatResponse {
        content,
        model: String::new(),
        provider: String::new(),
        finish_reason: finish_reason(wire.stop_reason.as_deref(), folded),
        stop_sequence: wire.stop_sequence,
        usage: wire.usage.to_canonical(),
        logprobs: None,
        more_choices: Vec::new(),
        latency: Duration::ZERO,
        ttft: None,
    })
}

/// A `stop_reason`; the forced structured-output call is a natural end, not a tool call.
fn finish_reason(stop_reason: Option<&str>, folded: bool) -> FinishReason {
    match stop_reason.map(FinishReason::from_wire) {
        None => FinishReason::Stop,
        Some(FinishReason::ToolCalls) if folded => FinishReason::Stop,
        Some(reason) => reason,
    }
}

/// A whole answer for a client, as an Anthropic message. `created` has no Anthropic field;
/// choices after the first cannot occur (Anthropic requests cannot ask for them).
pub fn encode_response(resp: &ChatResponse, id: &str, _created: u64) -> Value {
    let content = resp.content.iter().filter_map(response_block).collect();
    let wire = WireResponse {
        id: id.to_owned(),
        kind: "message".into(),
        role: "assistant".into(),
        model: resp.model.clone(),
        content,
        stop_reason: Some(resp.finish_reason.as_anthropic().to_owned()),
        stop_sequence: resp.stop_sequence.clone(),
        usage: WireUsage::from_canonical(&resp.usage),
    };
    serde_json::to_value(wire).unwrap_or(Value::Null)
}

/// An answer part as a response block; `None` for what an Anthropic client cannot be shown.
fn response_block(part: &ContentPart) -> Option<Block> {
    Some(Block::Known(match part {
        ContentPart::Text { text, .. } => KnownBlock::Text {
            text: text.clone(),
            cache_control: None,
        },
        ContentPart::Thinking { text, signature } => KnownBlock::Thinking {
            thinking: text.clone(),
            // SDKs type `signature` as required; unsigned thinking (from an OpenAI-kind
            // model) gets an empty one, which the decoder reads back as none.
            signature: Some(signature.clone().unwrap_or_default()),
        },
        ContentPart::RedactedThinking { data } => {
            KnownBlock::RedactedThinking { data: data.clone() }
        }
        ContentPart::ToolUse {
            id, name, input, ..
        } => KnownBlock::ToolUse {
            id: id.clone(),
            name: name.clone(),
            input: input.clone(),
            cache_control: None,
        },
        ContentPart::Image { source, .. } => KnownBlock::Image {
            source: source.into(),
            cache_control: None,
        },
        ContentPart::Document { source, title, .. } => KnownBlock::Document {
            source: source.into(),
            title: title.clone(),
            cache_control: None,
        },
        ContentPart::Raw { protocol, block } if *protocol == PROTOCOL => {
            return Some(Block::Other(block.clone()));
        }
        // Another protocol's raw blocks and tool results are not answer content for an
        // Anthropic client.
        ContentPart::Raw { .. } | ContentPart::ToolResult { .. } => return None,
    }))
}

// ---------------------------------------------------------------------------------------------
// Streams.

/// Reads an Anthropic upstream's event stream into canonical events.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// The forced structured-output tool, whose call is streamed as text.
    fold_tool: Option<String>,
    /// Anthropic block index → canonical block index.
    indexes: HashMap<usize, usize>,
    /// Anthropic indexes of folded tool blocks.
    folded: HashSet<usize>,
    next_index: usize,
    usage: WireUsage,
    stop_reason: Option<String>,
    stop_sequence: Option<String>,
    done: bool,
}

impl StreamDecoder {
    pub fn new(sent: &Encoded) -> Self {
        StreamDecoder {
            fold_tool: sent.fold_tool.clone(),
            ..StreamDecoder::default()
        }
    }

    /// One SSE event (its `event:` name, "" when none, and its `data:`) → canonical events.
    pub fn push(&mut self, event: &str, data: &str) -> Result<Vec<StreamEvent>, StreamFailure> {
        let data = data.trim();
        if self.done || data.is_empty() {
            return Ok(Vec::new());
        }
        let mut value: Value = serde_json::from_str(data).map_err(|e| {
            StreamFailure::protocol(format!(
                "the upstream sent an event that is not JSON ({e}): {data:.200}"
            ))
        })?;
        // The JSON `type` is authoritative; the SSE name stands in when it is missing.
        let kind = match value.get("type").and_then(Value::as_str) {
            Some(kind) => kind.to_owned(),
            None => {
                if let Value::Object(object) = &mut value {
                    object.insert("type".into(), Value::String(event.to_owned()));
                }
                event.to_owned()
            }
        };
        if !KNOWN_EVENTS.contains(&kind.as_str()) {
            // Anthropic may add event types; the documented rule is to skip unknown ones.
            return Ok(Vec::new());
        }
        let chunk = Chunk::deserialize(value).map_err(|e| {
            StreamFailure::protocol(format!("the upstream sent a malformed `{kind}` event: {e}"))
        })?;
        let mut out = Vec::new();
        match chunk {
            Chunk::MessageStart { message } => {
                self.usage.update(message.usage);
                out.push(StreamEvent::Usage(self.usage.to_canonical()));
            }
            Chunk::ContentBlockStart {
                index,
                content_block,
            } => self.start(index, content_block, &mut out),
            Chunk::ContentBlockDelta { index, delta } => {
                let canonical = self.canonical(index);
                let delta = match delta {
                    WireDelta::Known(KnownDelta::Text { text }) => Delta::Text(text),
                    WireDelta::Known(KnownDelta::Thinking { thinking }) => {
                        Delta::Thinking(thinking)
                    }
                    WireDelta::Known(KnownDelta::Signature { signature }) => {
                        Delta::Signature(signature)
                    }
                    WireDelta::Known(KnownDelta::InputJson { partial_json })
                        if self.folded.contains(&index) =>
                    {
                        if partial_json.is_empty() {
                            return Ok(out);
                        }
                        Delta::Text(partial_json)
                    }
                    WireDelta::Known(KnownDelta::InputJson { partial_json }) => {
                        Delta::ToolArguments(partial_json)
                    }
                    WireDelta::Other(delta) => Delta::Raw(delta),
                };
                out.push(StreamEvent::Delta {
                    index: canonical,
                    delta,
                });
            }
            Chunk::ContentBlockStop { index } => {
                if let Some(&canonical) = self.indexes.get(&index) {
                    out.push(StreamEvent::BlockStop { index: canonical });
                }
            }
            Chunk::MessageDelta { delta, usage } => {
                if delta.stop_reason.is_some() {
                    self.stop_reason = delta.stop_reason;
                }
                if delta.stop_sequence.is_some() {
                    self.stop_sequence = delta.stop_sequence;
                }
                if let Some(usage) = usage {
                    self.usage.update(usage);
                }
            }
            Chunk::MessageStop {} => {
                self.done = true;
                out.push(StreamEvent::Usage(self.usage.to_canonical()));
                out.push(StreamEvent::Done(Finish {
                    reason: finish_reason(self.stop_reason.as_deref(), !self.folded.is_empty()),
                    stop_sequence: self.stop_sequence.take(),
                }));
            }
            Chunk::Ping {} => {}
            Chunk::Error { error } => {
                return Err(StreamFailure {
                    error_type: (!error.kind.is_empty()).then_some(error.kind),
                    message: error.message,
                });
            }
        }
        Ok(out)
    }

    /// The canonical index of Anthropic block `index`; a block never started gets one now
    /// (its delta opens it).
    fn canonical(&mut self, index: usize) -> usize {
        if let Some(&canonical) = self.indexes.get(&index) {
            return canonical;
        }
        let canonical = self.next_index;
        self.next_index += 1;
        self.indexes.insert(index, canonical);
        canonical
    }

    /// A `content_block_start`, read by the block's type.
    fn start(&mut self, index: usize, block: Value, out: &mut Vec<StreamEvent>) {
        // A start always opens a new canonical block, even for a reused Anthropic index.
        self.indexes.remove(&index);
        let canonical = self.canonical(index);
        let text = |key: &str| {
            block
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let mut deltas = Vec::new();
        let kind = match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                deltas.extend(text("text").map(Delta::Text));
                BlockKind::Text
            }
            Some("thinking") => {
                deltas.extend(text("thinking").map(Delta::Thinking));
                deltas.extend(text("signature").map(Delta::Signature));
                BlockKind::Thinking
            }
            Some("redacted_thinking") if block.get("data").is_some_and(Value::is_string) => {
                BlockKind::RedactedThinking {
                    data: text("data").unwrap_or_default(),
                }
            }
            Some("tool_use")
                if block.get("id").is_some_and(Value::is_string)
                    && block.get("name").is_some_and(Value::is_string) =>
            {
                let id = text("id").unwrap_or_default();
                let name = text("name").unwrap_or_default();
                // The start's `input` is `{}`; anything more is the first arguments.
                let input = block
                    .get("input")
                    .filter(|v| v.as_object().is_none_or(|o| !o.is_empty()))
                    .map(Value::to_string);
                if self.fold_tool.as_deref() == Some(name.as_str()) {
                    self.folded.insert(index);
                    deltas.extend(input.map(Delta::Text));
                    BlockKind::Text
                } else {
                    deltas.extend(input.map(Delta::ToolArguments));
                    BlockKind::ToolUse { id, name }
                }
            }
            _ => BlockKind::Raw {
                protocol: PROTOCOL,
                block,
            },
        };
        out.push(StreamEvent::BlockStart {
            index: canonical,
            choice: 0,
            kind,
        });
        out.extend(deltas.into_iter().map(|delta| StreamEvent::Delta {
            index: canonical,
            delta,
        }));
    }

    /// The upstream closed the stream: complete only after `message_stop`.
    pub fn finish(&mut self) -> Result<Vec<StreamEvent>, StreamFailure> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(StreamFailure::protocol(
                "the stream ended before `message_stop`",
            ))
        }
    }

    /// Whether `message_stop` came.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// Writes canonical events as Anthropic's event stream for a client: one block open at a time,
/// numbered from 0 in the order they open.
#[derive(Debug)]
pub struct StreamEncoder {
    id: String,
    model: String,
    started: bool,
    finished: bool,
    usage: Option<Usage>,
    /// The open block: (canonical index, output index).
    open: Option<(usize, usize)>,
    next_output: usize,
    /// How each canonical block started, to reopen one that gets a delta after it was closed.
    kinds: HashMap<usize, BlockKind>,
    /// Blocks an Anthropic client cannot be shown (other choices, other protocols' raw blocks).
    hidden: HashSet<usize>,
}

impl StreamEncoder {
    /// `created` and `include_usage` have no Anthropic counterpart (usage is always sent).
    pub fn new(id: &str, model: &str, _created: u64, _include_usage: bool) -> Self {
        StreamEncoder {
            id: id.to_owned(),
            model: model.to_owned(),
            started: false,
            finished: false,
            usage: None,
            open: None,
            next_output: 0,
            kinds: HashMap::new(),
            hidden: HashSet::new(),
        }
    }

    pub fn push(&mut self, event: &StreamEvent) -> Vec<SseFrame> {
        let mut frames = Vec::new();
        if self.finished {
            return frames;
        }
        if !self.started {
            self.started = true;
            if let StreamEvent::Usage(usage) = event {
                self.usage = Some(*usage);
            }
            let usage = self.usage.unwrap_or_default();
            let message = WireResponse {
                id: self.id.clone(),
                kind: "message".into(),
                role: "assistant".into(),
                model: self.model.clone(),
                content: Vec::new(),
                stop_reason: None,
                stop_sequence: None,
                usage: WireUsage::from_canonical(&usage),
            };
            frames.push(
                Chunk::MessageStart {
                    message: Box::new(message),
                }
                .frame(),
            );
        }
        match event {
            StreamEvent::BlockStart {
                index,
                choice,
                kind,
            } => {
                let shown = *choice == 0
                    && !matches!(kind, BlockKind::Raw { protocol, .. } if *protocol != PROTOCOL);
                if shown {
                    self.kinds.insert(*index, kind.clone());
                    self.start(*index, kind, &mut frames);
                } else {
                    self.hidden.insert(*index);
                }
            }
            StreamEvent::Delta { index, delta } => {
                if self.hidden.contains(index) {
                    return frames;
                }
                if self.open.map(|(open, _)| open) != Some(*index) {
                    let kind = match self.kinds.get(index) {
                        Some(kind) => kind.clone(),
                        // A delta without a start opens its block; a tool's id and name are
                        // then unknown.
                        None => match delta {
                            Delta::Text(_) => BlockKind::Text,
                            Delta::Thinking(_) | Delta::Signature(_) => BlockKind::Thinking,
                            Delta::ToolArguments(_) => BlockKind::ToolUse {
                                id: String::new(),
                                name: String::new(),
                            },
                            // A raw delta says nothing of its block's kind.
                            Delta::Raw(_) => return frames,
                        },
                    };
                    self.kinds.insert(*index, kind.clone());
                    self.start(*index, &kind, &mut frames);
                }
                let Some((_, output)) = self.open else {
                    return frames;
                };
                let delta = match delta {
                    Delta::Text(text) => WireDelta::Known(KnownDelta::Text { text: text.clone() }),
                    Delta::Thinking(thinking) => WireDelta::Known(KnownDelta::Thinking {
                        thinking: thinking.clone(),
                    }),
                    Delta::Signature(signature) => WireDelta::Known(KnownDelta::Signature {
                        signature: signature.clone(),
                    }),
                    Delta::ToolArguments(partial_json) => WireDelta::Known(KnownDelta::InputJson {
                        partial_json: partial_json.clone(),
                    }),
                    Delta::Raw(delta) => WireDelta::Other(delta.clone()),
                };
                frames.push(
                    Chunk::ContentBlockDelta {
                        index: output,
                        delta,
                    }
                    .frame(),
                );
            }
            StreamEvent::BlockStop { index } => {
                // A block already stopped because another one started is not stopped twice.
                if self.open.map(|(open, _)| open) == Some(*index) {
                    self.stop(&mut frames);
                }
            }
            StreamEvent::Usage(usage) => self.usage = Some(*usage),
            // Anthropic requests cannot ask for several choices or log probabilities.
            StreamEvent::Logprobs { .. } | StreamEvent::ChoiceDone { .. } => {}
            StreamEvent::Done(finish) => {
                self.stop(&mut frames);
                let usage = match self.usage {
                    Some(usage) => WireUsage::from_canonical(&usage),
                    None => WireUsage {
                        output_tokens: Some(0),
                        ..WireUsage::default()
                    },
                };
                frames.push(
                    Chunk::MessageDelta {
                        delta: MessageDeltaBody {
                            stop_reason: Some(finish.reason.as_anthropic().to_owned()),
                            stop_sequence: finish.stop_sequence.clone(),
                        },
                        usage: Some(usage),
                    }
                    .frame(),
                );
                frames.push(Chunk::MessageStop {}.frame());
                self.finished = true;
            }
        }
        frames
    }

    /// Opens canonical block `index` as the next output block, stopping the open one first.
    fn start(&mut self, index: usize, kind: &BlockKind, frames: &mut Vec<SseFrame>) {
        self.stop(frames);
        let block = match kind {
            BlockKind::Text => Block::Known(KnownBlock::Text {
                text: String::new(),
                cache_control: None,
            }),
            // As Anthropic starts them; the signature follows as a `signature_delta`.
            BlockKind::Thinking => Block::Known(KnownBlock::Thinking {
                thinking: String::new(),
                signature: Some(String::new()),
            }),
            BlockKind::RedactedThinking { data } => {
                Block::Known(KnownBlock::RedactedThinking { data: data.clone() })
            }
            BlockKind::ToolUse { id, name } => Block::Known(KnownBlock::ToolUse {
                id: id.clone(),
                name: name.clone(),
                input: json!({}),
                cache_control: None,
            }),
            BlockKind::Raw { block, .. } => Block::Other(block.clone()),
        };
        let output = self.next_output;
        self.next_output += 1;
        self.open = Some((index, output));
        frames.push(
            Chunk::ContentBlockStart {
                index: output,
                content_block: serde_json::to_value(block).unwrap_or(Value::Null),
            }
            .frame(),
        );
        // Where Anthropic sends its first keep-alive: after the first block opens.
        if output == 0 {
            frames.push(Chunk::Ping {}.frame());
        }
    }

    fn stop(&mut self, frames: &mut Vec<SseFrame>) {
        if let Some((_, output)) = self.open.take() {
            frames.push(Chunk::ContentBlockStop { index: output }.frame());
        }
    }

    /// An upstream failure after the stream began: Anthropic's `error` event, and nothing after.
    pub fn error(&mut self, error_type: &str, message: &str) -> Vec<SseFrame> {
        self.finished = true;
        vec![
            Chunk::Error {
                error: WireError {
                    kind: error_type.to_owned(),
                    message: message.to_owned(),
                },
            }
            .frame(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Assembler, Message};

    fn body(value: &Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap()
    }

    /// `max_tokens` is required; tests about other fields get one.
    fn with_max_tokens(mut value: Value) -> Value {
        if let Some(o) = value.as_object_mut() {
            o.entry("max_tokens").or_insert(json!(64));
        }
        value
    }

    fn decode(value: Value) -> Decoded {
        decode_request(&body(&with_max_tokens(value))).unwrap()
    }

    fn decode_err(value: Value) -> String {
        decode_request(&body(&with_max_tokens(value)))
            .unwrap_err()
            .0
    }

    #[test]
    fn max_tokens_is_required_as_anthropic_requires_it() {
        let e =
            decode_request(br#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#)
                .unwrap_err()
                .0;
        assert!(e.contains("`max_tokens` is required"), "{e}");
    }

    fn encoded_json(encoded: &Encoded) -> Value {
        serde_json::from_slice(&encoded.body).unwrap()
    }

    /// What Claude Code and agent SDKs send: cached system blocks, tools (one a server tool),
    /// a history with signed thinking, tool calls and results, images, a document, and fields
    /// and blocks the canonical model does not name.
    fn agent_request() -> Value {
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 16000,
            "stream": true,
            "temperature": 1,
            "system": [
                {"type": "text", "text": "You are a coding agent."},
                {"type": "text", "text": "Repository rules…", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
                {"type": "text", "text": "Cite this.", "citations": {"enabled": true}}
            ],
            "tools": [
                {"name": "read_file", "description": "Read a file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}},
                {"name": "bash", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}, "strict": true},
                {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
                {"name": "edit", "description": "Edit", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}
            ],
            "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
            "thinking": {"type": "enabled", "budget_tokens": 8000},
            "metadata": {"user_id": "user-42", "team": "core"},
            "stop_sequences": ["</done>"],
            "top_k": 40,
            "service_tier": "auto",
            "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
            "session_id": "s-1",
            "cache": true,
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in this screenshot and in the spec?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}, "cache_control": {"type": "ephemeral"}},
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}, "title": "spec.pdf"},
                    {"type": "search_result", "source": "https://x", "title": "X", "content": [{"type": "text", "text": "x"}]}
                ]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "I should read the files.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"},
                    {"type": "text", "text": "Reading both."},
                    {"type": "tool_use", "id": "toolu_01A", "name": "read_file", "input": {"path": "a.rs"}},
                    {"type": "tool_use", "id": "toolu_01B", "name": "bash", "input": {"command": "ls"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "fn main() {}"},
                    {"type": "tool_result", "tool_use_id": "toolu_01B", "is_error": true, "content": [
                        {"type": "text", "text": "ls: permission denied"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
                    ], "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": "Go on."}
                ]},
                {"role": "assistant", "content": [
                    {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
                    {"type": "text", "text": "Done.", "citations": [{"type": "char_location", "cited_text": "x"}]}
                ]},
                {"role": "user", "content": "Thanks"}
            ]
        })
    }

    #[test]
    fn an_agent_request_round_trips_unchanged() {
        let original = agent_request();
        let decoded = decode(original.clone());
        assert_eq!(
            decoded.gateway,
            GatewayFields {
                session_id: Some("s-1".into()),
                cache: true,
                include_usage: false
            }
        );
        let req = &decoded.request;
        assert_eq!(req.messages[0].role, Role::System);
        assert_eq!(req.messages.len(), 6);
        assert_eq!(req.user.as_deref(), Some("user-42"));
        assert_eq!(req.parallel_tool_calls, Some(false));
        assert_eq!(req.temperature, Some(1.0));
        assert_eq!(req.reasoning.as_ref().unwrap().budget_tokens, Some(8000));
        assert!(matches!(req.tools[2], Tool::Raw { .. }));
        assert!(matches!(
            req.tools[1],
            Tool::Function {
                strict: Some(true),
                ..
            }
        ));
        // The unknown block and the text with citations are kept verbatim.
        assert!(matches!(
            req.messages[1].content[4],
            ContentPart::Raw {
                protocol: Protocol::AnthropicMessages,
                ..
            }
        ));
        assert!(matches!(
            req.messages[4].content[1],
            ContentPart::Raw { .. }
        ));
        let (protocol, passthrough) = req.passthrough.as_ref().unwrap();
        assert_eq!(*protocol, Protocol::AnthropicMessages);
        let keys: Vec<&str> = passthrough.fields.keys().map(String::as_str).collect();
        assert_eq!(keys, ["context_management", "metadata", "service_tier"]);

        let encoded = encode_request(req, true).unwrap();
        assert_eq!(encoded.fold_tool, None);
        let mut expected = original;
        let object = expected.as_object_mut().unwrap();
        object.remove("session_id");
        object.remove("cache");
        assert_eq!(encoded_json(&encoded), expected);
    }

    #[test]
    fn passthrough_headers_go_with_the_request() {
        let mut req = decode(json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})).request;
        req.passthrough.as_mut().unwrap().1.headers =
            vec![("anthropic-beta".into(), "files-api-2025-04-14".into())];
        let encoded = encode_request(&req, false).unwrap();
        assert_eq!(
            encoded.headers,
            [(
                "anthropic-beta".to_owned(),
                "files-api-2025-04-14".to_owned()
            )]
        );
        assert_eq!(
            encoded_json(&encoded),
            json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
        );
        // Another protocol's headers are not sent, and its empty passthrough is no error.
        req.passthrough = Some((
            Protocol::OpenAiChat,
            Passthrough {
                fields: Map::new(),
                headers: vec![("openai-beta".into(), "x".into())],
            },
        ));
        assert!(encode_request(&req, false).unwrap().headers.is_empty());
    }

    #[test]
    fn other_thinking_and_output_shapes_travel_in_the_passthrough() {
        let original = json!({
            "model": "m", "max_tokens": 100,
            "thinking": {"type": "adaptive"},
            "output_format": {"type": "json_schema", "schema": {"type": "object"}},
            "tool_choice": {"type": "none"},
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}]
        });
        let req = decode(original.clone()).request;
        assert_eq!(req.reasoning, None);
        assert_eq!(req.tool_choice, Some(ToolChoice::None));
        assert!(
            req.passthrough
                .as_ref()
                .unwrap()
                .1
                .fields
                .contains_key("thinking")
        );
        assert!(matches!(
            req.response_format,
            Some(ResponseFormat::JsonSchema { .. })
        ));
        assert_eq!(
            encoded_json(&encode_request(&req, false).unwrap()),
            original
        );

        let disabled = json!({"model": "m", "max_tokens": 5, "thinking": {"type": "disabled"},
            "messages": [{"role": "user", "content": "hi"}]});
        let req = decode(disabled.clone()).request;
        assert!(req.reasoning.as_ref().unwrap().disabled);
        assert_eq!(
            encoded_json(&encode_request(&req, false).unwrap()),
            disabled
        );
    }

    #[test]
    fn bad_requests_are_refused_with_the_fix() {
        let user = json!([{"role": "user", "content": "hi"}]);
        let e = decode_err(json!({"model": "m", "messages": []}));
        assert!(e.contains("`messages` is empty"), "{e}");
        let e = decode_err(
            json!({"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]}),
        );
        assert!(
            e.contains("`messages[1].role` is `system`") && e.contains("`user` or `assistant`"),
            "{e}"
        );
        let e = decode_err(json!({"model": "m", "max_tokens": 0, "messages": user}));
        assert!(e.contains("`max_tokens` is 0"), "{e}");
        let e = decode_err(json!({"model": "m", "temperature": 1.5, "messages": user}));
        assert!(
            e.contains("`temperature` is 1.5") && e.contains("0 to 1"),
            "{e}"
        );
        let e = decode_err(json!({"model": "m", "top_p": -0.1, "messages": user}));
        assert!(e.contains("`top_p` is -0.1"), "{e}");
        let e = decode_err(
            json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_x", "content": "?"}]}]}),
        );
        assert!(e.contains("messages[0]") && e.contains("`toolu_x`"), "{e}");
        // The system prompt does not shift the indexes the client sees.
        let e = decode_err(json!({"model": "m", "system": "s", "messages": [
            {"role": "user", "content": "a"},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "?"}]}]}));
        assert!(e.starts_with("messages[1]:"), "{e}");
        let e = decode_err(json!({"model": "m", "messages": [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
            {"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]}));
        assert!(
            e.contains("`messages[1].content[0]` is a `tool_result` in an assistant"),
            "{e}"
        );
        let e = decode_err(
            json!({"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": 5}]}),
        );
        assert!(
            e.contains("`messages[1].content` must be a string or an array"),
            "{e}"
        );
        let e = decode_err(json!({"model": "m", "messages": [{"role": "user"}]}));
        assert!(e.contains("`messages[0]` is not a message"), "{e}");
        let e = decode_err(json!({"model": "m"}));
        assert!(e.contains("`messages` is missing"), "{e}");
        let e = decode_err(json!([1, 2]));
        assert!(e.contains("not a JSON object"), "{e}");
        let e = decode_request(b"{\"model\": ").unwrap_err().0;
        assert!(e.contains("not JSON"), "{e}");
        let e = decode_err(
            json!({"model": "m", "tool_choice": {"type": "sometimes"}, "messages": user}),
        );
        assert!(e.contains("`tool_choice` is malformed"), "{e}");
    }

    #[test]
    fn no_input_panics() {
        let inputs: [&[u8]; 8] = [
            b"",
            b"null",
            b"{\"messages\": null}",
            b"{\"messages\": [null]}",
            b"{\"messages\": [{\"role\": 1, \"content\": []}]}",
            b"{\"messages\": [{\"role\": \"user\", \"content\": [null, 1, \"x\", {}]}]}",
            b"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"system\": [{\"type\": 5}], \"tools\": [1, {}], \"metadata\": {\"user_id\": 3}}",
            b"\xff\xfe",
        ];
        for input in inputs {
            if let Ok(decoded) = decode_request(input) {
                let _ = encode_request(&decoded.request, true);
            }
        }
        let sent = Encoded::default();
        let _ = decode_response(b"[]", &sent);
        let _ = decode_response(b"{\"content\": [1, null]}", &sent);
        let mut decoder = StreamDecoder::new(&sent);
        for data in [
            "",
            "x",
            "[]",
            "{}",
            "{\"type\": \"content_block_delta\"}",
            "{\"type\": \"content_block_start\", \"index\": 0, \"content_block\": 7}",
        ] {
            let _ = decoder.push("", data);
        }
    }

    /// A request as an OpenAI client's decoder would make it.
    fn openai_like() -> ChatRequest {
        let mut req =
            ChatRequest::simple("claude", Some("Be brief."), "Weather in Paris and time?");
        req.messages.push(Message::new(
            Role::Developer,
            vec![ContentPart::text("Use tools.")],
        ));
        req.messages.push(Message::new(
            Role::Assistant,
            vec![
                ContentPart::Thinking {
                    text: "unsigned".into(),
                    signature: None,
                },
                ContentPart::text("Checking."),
                ContentPart::ToolUse {
                    id: "call_1".into(),
                    name: "weather".into(),
                    input: json!({"city": "Paris"}),
                    cache_control: None,
                },
                ContentPart::ToolUse {
                    id: "call_2".into(),
                    name: "time".into(),
                    input: json!({}),
                    cache_control: None,
                },
            ],
        ));
        for (id, text) in [("call_1", "18C"), ("call_2", "noon")] {
            req.messages.push(Message::new(
                Role::Tool,
                vec![ContentPart::ToolResult {
                    tool_use_id: id.into(),
                    content: vec![ContentPart::text(text)],
                    is_error: false,
                    cache_control: None,
                }],
            ));
        }
        req.messages.push(Message::new(
            Role::User,
            vec![
                ContentPart::text("And this?"),
                ContentPart::Image {
                    source: MediaSource::from_url("data:image/jpeg;base64,/9j/".into()),
                    detail: Some("auto".into()),
                    cache_control: None,
                },
            ],
        ));
        req.messages.push(Message::new(
            Role::Assistant,
            vec![ContentPart::Thinking {
                text: "only thoughts".into(),
                signature: None,
            }],
        ));
        req.messages.push(Message::user("Well?"));
        req.tools = vec![Tool::Function {
            name: "weather".into(),
            description: Some("Weather".into()),
            parameters: json!({"type": "object"}),
            strict: None,
            cache_control: None,
        }];
        req.parallel_tool_calls = Some(false);
        req.user = Some("u1".into());
        req.stop = vec!["END".into()];
        req.top_p = Some(0.9);
        req.reasoning = Some(Reasoning {
            effort: Some("low".into()),
            ..Reasoning::default()
        });
        req.max_tokens = Some(3000);
        req
    }

    #[test]
    fn an_openai_kind_request_is_translated() {
        let body = encoded_json(&encode_request(&openai_like(), false).unwrap());
        assert_eq!(
            body,
            json!({
                "model": "claude",
                "max_tokens": 3000,
                "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Use tools."}],
                "messages": [
                    {"role": "user", "content": "Weather in Paris and time?"},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                        {"type": "tool_use", "id": "call_2", "name": "time", "input": {}}
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                        {"type": "tool_result", "tool_use_id": "call_2", "content": "noon"},
                        {"type": "text", "text": "And this?"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}}
                    ]},
                    {"role": "user", "content": "Well?"}
                ],
                "tools": [{"name": "weather", "description": "Weather", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "metadata": {"user_id": "u1"},
                "stop_sequences": ["END"],
                "top_p": 0.9
            })
        );
    }

    #[test]
    fn max_tokens_leaves_room_for_thinking() {
        let mut req = ChatRequest::simple("m", None, "hi");
        assert_eq!(
            encoded_json(&encode_request(&req, true).unwrap())["max_tokens"],
            DEFAULT_MAX_TOKENS
        );
        assert_eq!(
            encoded_json(&encode_request(&req, true).unwrap())["stream"],
            true
        );
        req.reasoning = Some(Reasoning {
            effort: Some("high".into()),
            ..Reasoning::default()
        });
        let body = encoded_json(&encode_request(&req, false).unwrap());
        assert_eq!(body["max_tokens"], 4096 + DEFAULT_MAX_TOKENS);
        assert_eq!(
            body["thinking"],
            json!({"type": "enabled", "budget_tokens": 4096})
        );
        req.max_tokens = Some(4096);
        let e = encode_request(&req, false).unwrap_err();
        assert_eq!(e.field, "max_tokens");
        assert!(e.reason.contains("budget is 4096"), "{e}");
        req.reasoning = Some(Reasoning {
            effort: Some("minimal".into()),
            ..Reasoning::default()
        });
        assert!(
            encoded_json(&encode_request(&req, false).unwrap())
                .get("thinking")
                .is_none()
        );
    }

    #[test]
    fn what_anthropic_cannot_carry_is_refused() {
        let base = ChatRequest::simple("m", None, "hi");
        let refuse = |change: &dyn Fn(&mut ChatRequest)| {
            let mut req = base.clone();
            change(&mut req);
            encode_request(&req, false).unwrap_err()
        };
        let e = refuse(&|r| r.n = Some(3));
        assert_eq!(e.field, "n");
        assert!(e.reason.contains("asks for 3 answers"), "{e}");
        assert_eq!(refuse(&|r| r.seed = Some(7)).field, "seed");
        assert_eq!(refuse(&|r| r.logprobs = Some(true)).field, "logprobs");
        assert_eq!(
            refuse(&|r| {
                r.metadata.insert("k".into(), "v".into());
            })
            .field,
            "metadata"
        );
        assert_eq!(refuse(&|r| r.temperature = Some(1.4)).field, "temperature");
        let e = refuse(&|r| {
            let mut fields = Map::new();
            fields.insert("presence_penalty".into(), json!(0.5));
            fields.insert("service_tier".into(), json!("flex"));
            r.passthrough = Some((
                Protocol::OpenAiChat,
                Passthrough {
                    fields,
                    headers: vec![],
                },
            ));
        });
        assert_eq!(e.field, "presence_penalty");
        assert!(
            e.reason
                .contains("OpenAI chat completions field that Anthropic upstreams do not take"),
            "{e}"
        );
        let e = refuse(&|r| {
            r.messages[0].content.push(ContentPart::Raw {
                protocol: Protocol::OpenAiChat,
                block: json!({"type": "input_audio"}),
            })
        });
        assert_eq!(e.field, "messages[0].content[1]");
        assert!(e.reason.contains("`input_audio`"), "{e}");
        let e = refuse(&|r| {
            r.tools.push(Tool::Raw {
                protocol: Protocol::OpenAiChat,
                tool: json!({"type": "custom", "custom": {}}),
            })
        });
        assert_eq!(e.field, "tools[0]");
        let e = refuse(&|r| {
            r.messages[0].content.push(ContentPart::Image {
                source: MediaSource::from_url("https://x/y.png".into()),
                detail: Some("high".into()),
                cache_control: None,
            })
        });
        assert_eq!(e.field, "messages[0].content[1].image_url.detail");
        assert_eq!(
            refuse(&|r| r.messages[0].name = Some("bob".into())).field,
            "messages[0].name"
        );
        let e = refuse(&|r| {
            r.messages.insert(
                0,
                Message::new(
                    Role::System,
                    vec![ContentPart::Image {
                        source: MediaSource::from_url("https://x/y.png".into()),
                        detail: None,
                        cache_control: None,
                    }],
                ),
            )
        });
        assert_eq!(e.field, "messages[0].content[0]");
        let e = refuse(&|r| {
            r.messages.push(Message::new(
                Role::Tool,
                vec![ContentPart::ToolResult {
                    tool_use_id: "t".into(),
                    content: vec![ContentPart::Thinking {
                        text: "x".into(),
                        signature: None,
                    }],
                    is_error: false,
                    cache_control: None,
                }],
            ))
        });
        assert_eq!(e.field, "messages[1].content[0].content[0]");
        // Structured output through the forced tool.
        let json_schema = ResponseFormat::JsonSchema {
            name: "a".into(),
            schema: json!({"type": "object"}),
            description: None,
            strict: None,
        };
        let e = refuse(&|r| {
            r.response_format = Some(json_schema.clone());
            r.reasoning = Some(Reasoning {
                budget_tokens: Some(2000),
                ..Reasoning::default()
            });
        });
        assert_eq!(e.field, "response_format");
        assert!(e.reason.contains("cannot be combined with thinking"), "{e}");
        let e = refuse(&|r| {
            r.response_format = Some(json_schema.clone());
            r.tools.push(Tool::Function {
                name: "f".into(),
                description: None,
                parameters: json!({}),
                strict: None,
                cache_control: None,
            });
            r.tool_choice = Some(ToolChoice::Required);
        });
        assert_eq!(e.field, "response_format");
    }

    #[test]
    fn structured_output_is_folded_into_a_forced_tool_for_openai_clients() {
        let mut req = ChatRequest::simple("m", None, "Give JSON");
        req.response_format = Some(ResponseFormat::JsonSchema {
            name: "answer".into(),
            schema: json!({"type": "object", "properties": {"a": {"type": "integer"}}}),
            description: None,
            strict: Some(true),
        });
        let encoded = encode_request(&req, false).unwrap();
        assert_eq!(encoded.fold_tool.as_deref(), Some("json_response"));
        let body = encoded_json(&encoded);
        assert_eq!(
            body["tools"],
            json!([{"name": "json_response", "description": "Answer with the JSON object",
            "input_schema": {"type": "object", "properties": {"a": {"type": "integer"}}}, "strict": true}])
        );
        assert_eq!(
            body["tool_choice"],
            json!({"type": "tool", "name": "json_response"})
        );
        assert!(body.get("output_format").is_none());

        req.response_format = Some(ResponseFormat::JsonObject);
        assert_eq!(
            encoded_json(&encode_request(&req, false).unwrap())["tools"][0]["input_schema"],
            json!({"type": "object"})
        );
        req.response_format = Some(ResponseFormat::Text);
        let encoded = encode_request(&req, false).unwrap();
        assert_eq!(encoded.fold_tool, None);
        assert!(encoded_json(&encoded).get("tools").is_none());

        // The forced call comes back as text, and the stop is a natural one.
        let sent = Encoded {
            fold_tool: Some("json_response".into()),
            ..Encoded::default()
        };
        let answer = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "c",
            "content": [{"type": "tool_use", "id": "toolu_9", "name": "json_response", "input": {"a": 1}}],
            "stop_reason": "tool_use", "stop_sequence": null, "usage": {"input_tokens": 5, "output_tokens": 7}});
        let resp = decode_response(&body_of(&answer), &sent).unwrap();
        assert_eq!(resp.content, [ContentPart::text("{\"a\":1}")]);
        assert_eq!(resp.finish_reason, FinishReason::Stop);

        let mut decoder = StreamDecoder::new(&sent);
        let mut events = Vec::new();
        for (event, data) in [
            (
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "c", "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 5, "output_tokens": 1}}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_9", "name": "json_response", "input": {}}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"a\": "}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
            ),
            (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 7}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ] {
            events.extend(decoder.push(event, &data.to_string()).unwrap());
        }
        let mut assembler = Assembler::default();
        events.iter().for_each(|e| assembler.push(e));
        let streamed = assembler.into_response();
        assert_eq!(streamed.content, [ContentPart::text("{\"a\": 1}")]);
        assert_eq!(streamed.finish_reason, FinishReason::Stop);
    }

    #[test]
    fn an_anthropic_client_keeps_native_structured_output() {
        let original = json!({"model": "m", "max_tokens": 100,
            "output_format": {"type": "json_schema", "schema": {"type": "object", "properties": {"x": {"type": "string"}}}},
            "messages": [{"role": "user", "content": "hi"}]});
        let req = decode(original.clone()).request;
        assert!(req.wants_json_schema());
        let encoded = encode_request(&req, false).unwrap();
        assert_eq!(encoded.fold_tool, None);
        assert_eq!(encoded_json(&encoded), original);
    }

    fn body_of(value: &Value) -> Vec<u8> {
        body(value)
    }

    /// The whole answer the stream in [`upstream_stream`] builds.
    fn whole_answer() -> Value {
        json!({
            "id": "msg_01XYZ", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [
                {"type": "thinking", "thinking": "Two lookups, in parallel.", "signature": "EqQBCgIYAhIMsig=="},
                {"type": "text", "text": "I'll look both up."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris", "unit": "c"}},
                {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {"tz": "Europe/Paris"}},
                {"type": "tool_use", "id": "toolu_03", "name": "ping", "input": {}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 2048, "output_tokens": 96,
                "service_tier": "standard"}
        })
    }

    /// An upstream stream as Anthropic sends it, as SSE text.
    fn upstream_stream() -> String {
        let events = [
            json!({"type": "message_start", "message": {"id": "msg_01XYZ", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 12, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 2048, "output_tokens": 1}}}),
            json!({"type": "ping"}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Two lookups,"}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": " in parallel."}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIMsig=="}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "I'll look"}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": " both up."}}),
            json!({"type": "content_block_stop", "index": 1}),
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {}}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": \"Pa"}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "ris\", \"unit\": \"c\"}"}}),
            json!({"type": "content_block_stop", "index": 2}),
            json!({"type": "content_block_start", "index": 3, "content_block": {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}}),
            json!({"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": "{\"tz\":"}}),
            json!({"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": " \"Europe/Paris\"}"}}),
            json!({"type": "content_block_stop", "index": 3}),
            json!({"type": "content_block_start", "index": 4, "content_block": {"type": "tool_use", "id": "toolu_03", "name": "ping", "input": {}}}),
            json!({"type": "content_block_stop", "index": 4}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 96}}),
            json!({"type": "message_stop"}),
        ];
        let mut text = String::new();
        for event in events {
            text.push_str(&format!(
                "event: {}\ndata: {}\n\n",
                event["type"].as_str().unwrap(),
                event
            ));
        }
        text
    }

    /// A minimal SSE reader for the tests: text arrives in pieces, events come out whole.
    #[derive(Default)]
    struct Sse {
        buffer: String,
    }

    impl Sse {
        fn feed(&mut self, piece: &str) -> Vec<(String, String)> {
            self.buffer.push_str(piece);
            let mut out = Vec::new();
            while let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut data) = (String::new(), String::new());
                for line in raw.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = v.to_owned();
                    }
                }
                out.push((event, data));
            }
            out
        }
    }

    fn decode_stream(pieces: &[&str]) -> Vec<StreamEvent> {
        let mut sse = Sse::default();
        let mut decoder = StreamDecoder::new(&Encoded::default());
        let mut events = Vec::new();
        for piece in pieces {
            for (event, data) in sse.feed(piece) {
                events.extend(decoder.push(&event, &data).unwrap());
            }
        }
        assert!(decoder.is_done());
        events.extend(decoder.finish().unwrap());
        events
    }

    #[test]
    fn a_streamed_answer_assembles_to_the_whole_answer() {
        let text = upstream_stream();
        let events = decode_stream(&[&text]);
        // Usage first (for the client's `message_start`), then the blocks in order.
        assert_eq!(
            events[0],
            StreamEvent::Usage(Usage {
                input_tokens: 2360,
                output_tokens: 1,
                cache_read_tokens: 2048,
                cache_write_tokens: 300,
                reasoning_tokens: 0
            })
        );
        assert_eq!(
            events[1],
            StreamEvent::BlockStart {
                index: 0,
                choice: 0,
                kind: BlockKind::Thinking
            }
        );
        assert!(events.contains(&StreamEvent::BlockStart {
            index: 4,
            choice: 0,
            kind: BlockKind::ToolUse {
                id: "toolu_03".into(),
                name: "ping".into()
            }
        }));
        assert_eq!(
            events.last(),
            Some(&StreamEvent::Done(Finish::new(FinishReason::ToolCalls)))
        );

        let mut assembler = Assembler::default();
        events.iter().for_each(|e| assembler.push(e));
        let whole = decode_response(&body(&whole_answer()), &Encoded::default()).unwrap();
        assert_eq!(assembler.into_response(), whole);
        assert_eq!(whole.usage.input_tokens, 2360);
        assert_eq!(whole.usage.cache_write_tokens, 300);

        // The same events whatever way the bytes arrive.
        let bytes = text.as_bytes();
        for step in [1, 2, 3, 7, 64, 500] {
            let pieces: Vec<&str> = bytes
                .chunks(step)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            assert_eq!(decode_stream(&pieces), events, "pieces of {step} bytes");
        }
        for cut in 0..text.len() {
            assert_eq!(
                decode_stream(&[&text[..cut], &text[cut..]]),
                events,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn stream_failures_are_reported() {
        let mut decoder = StreamDecoder::new(&Encoded::default());
        assert_eq!(decoder.push("ping", "{\"type\": \"ping\"}").unwrap(), []);
        assert_eq!(
            decoder
                .push("future_event", "{\"type\": \"future_event\"}")
                .unwrap(),
            []
        );
        let e = decoder.push("error", "{\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}").unwrap_err();
        assert_eq!(
            e,
            StreamFailure {
                error_type: Some("overloaded_error".into()),
                message: "Overloaded".into()
            }
        );
        let e = decoder.push("content_block_delta", "not json").unwrap_err();
        assert_eq!(e.error_type, None);
        assert_eq!(
            decoder.finish().unwrap_err(),
            StreamFailure::protocol("the stream ended before `message_stop`")
        );
        // The event name stands in for a missing `type`.
        let mut decoder = StreamDecoder::new(&Encoded::default());
        assert_eq!(decoder.push("message_stop", "{}").unwrap().len(), 2);
        assert!(decoder.is_done());
    }

    #[test]
    fn unknown_blocks_and_deltas_stream_verbatim() {
        let mut decoder = StreamDecoder::new(&Encoded::default());
        let start = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}});
        let events = decoder.push("", &start.to_string()).unwrap();
        assert_eq!(
            events,
            [StreamEvent::BlockStart {
                index: 0,
                choice: 0,
                kind: BlockKind::Raw {
                    protocol: Protocol::AnthropicMessages,
                    block: start["content_block"].clone()
                }
            }]
        );
        let delta =
            json!({"type": "citations_delta", "citation": {"type": "web_search_result_location"}});
        let events = decoder
            .push(
                "",
                &json!({"type": "content_block_delta", "index": 0, "delta": delta}).to_string(),
            )
            .unwrap();
        assert_eq!(
            events,
            [StreamEvent::Delta {
                index: 0,
                delta: Delta::Raw(delta.clone())
            }]
        );
        // A delta for a block that never started opens a new one.
        let events = decoder.push("", &json!({"type": "content_block_delta", "index": 5, "delta": {"type": "text_delta", "text": "x"}}).to_string()).unwrap();
        assert_eq!(events, [StreamEvent::text(1, "x")]);

        let mut encoder = StreamEncoder::new("msg_1", "m", 0, false);
        let frames = encoder.push(&StreamEvent::BlockStart {
            index: 0,
            choice: 0,
            kind: BlockKind::Raw {
                protocol: Protocol::AnthropicMessages,
                block: start["content_block"].clone(),
            },
        });
        assert_eq!(
            serde_json::from_str::<Value>(&frames[1].data).unwrap()["content_block"],
            start["content_block"]
        );
        let frames = encoder.push(&StreamEvent::Delta {
            index: 0,
            delta: Delta::Raw(delta.clone()),
        });
        assert_eq!(
            serde_json::from_str::<Value>(&frames[0].data).unwrap()["delta"],
            delta
        );
    }

    #[test]
    fn whole_answers_are_decoded_and_encoded() {
        let whole = whole_answer();
        let mut resp = decode_response(&body(&whole), &Encoded::default()).unwrap();
        assert_eq!(resp.finish_reason, FinishReason::ToolCalls);
        assert_eq!(
            resp.usage,
            Usage {
                input_tokens: 2360,
                output_tokens: 96,
                cache_read_tokens: 2048,
                cache_write_tokens: 300,
                reasoning_tokens: 0
            }
        );
        assert_eq!(resp.tool_calls().count(), 3);
        assert!(resp.model.is_empty() && resp.provider.is_empty());
        resp.model = "claude-sonnet-4-5".into();
        let mut expected = whole.clone();
        expected["usage"]
            .as_object_mut()
            .unwrap()
            .remove("service_tier");
        assert_eq!(encode_response(&resp, "msg_01XYZ", 0), expected);

        let stopped = json!({"id": "m", "type": "message", "role": "assistant", "model": "c",
            "content": [{"type": "text", "text": "a", "citations": [{"type": "char_location"}]}, {"type": "web_search_tool_result", "tool_use_id": "s", "content": []}],
            "stop_reason": "stop_sequence", "stop_sequence": "END", "usage": {"input_tokens": 1, "output_tokens": 1}});
        let resp = decode_response(&body(&stopped), &Encoded::default()).unwrap();
        assert_eq!(resp.finish_reason, FinishReason::StopSequence);
        assert_eq!(resp.stop_sequence.as_deref(), Some("END"));
        assert!(
            resp.content
                .iter()
                .all(|p| matches!(p, ContentPart::Raw { .. }))
        );
        let encoded = encode_response(&resp, "m", 0);
        assert_eq!(encoded["content"], stopped["content"]);
        assert_eq!(encoded["stop_reason"], "stop_sequence");
        assert_eq!(encoded["stop_sequence"], "END");

        let e = decode_response(
            br#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#,
            &Encoded::default(),
        )
        .unwrap_err();
        assert_eq!(e, "overloaded_error: Overloaded");
        assert!(
            decode_response(b"<html>", &Encoded::default())
                .unwrap_err()
                .contains("not JSON")
        );
    }

    #[test]
    fn openai_kind_answers_are_shown_to_anthropic_clients() {
        let mut resp = ChatResponse::from_text(
            "hi",
            FinishReason::Length,
            Usage {
                input_tokens: 100,
                output_tokens: 5,
                cache_read_tokens: 60,
                cache_write_tokens: 0,
                reasoning_tokens: 2,
            },
        );
        resp.content.insert(
            0,
            ContentPart::Thinking {
                text: "hmm".into(),
                signature: None,
            },
        );
        resp.content.push(ContentPart::Raw {
            protocol: Protocol::OpenAiChat,
            block: json!({"type": "refusal"}),
        });
        resp.model = "gpt".into();
        assert_eq!(
            encode_response(&resp, "msg_x", 0),
            json!({"id": "msg_x", "type": "message", "role": "assistant", "model": "gpt",
                "content": [{"type": "thinking", "thinking": "hmm", "signature": ""}, {"type": "text", "text": "hi"}],
                "stop_reason": "max_tokens", "stop_sequence": null,
                "usage": {"input_tokens": 40, "output_tokens": 5, "cache_read_input_tokens": 60, "cache_creation_input_tokens": 0}})
        );
        // Sent back, the unsigned thinking is not forwarded to Anthropic.
        let req = decode(json!({"model": "m", "max_tokens": 9, "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": ""}, {"type": "text", "text": "hi"}]},
            {"role": "user", "content": "more"}]})).request;
        assert_eq!(
            req.messages[1].content[0],
            ContentPart::Thinking {
                text: "hmm".into(),
                signature: None
            }
        );
        let body = encoded_json(&encode_request(&req, false).unwrap());
        assert_eq!(
            body["messages"][1],
            json!({"role": "assistant", "content": "hi"})
        );
    }

    fn names(frames: &[SseFrame]) -> Vec<&'static str> {
        frames.iter().map(|f| f.event.unwrap()).collect()
    }

    fn data(frame: &SseFrame) -> Value {
        serde_json::from_str(&frame.data).unwrap()
    }

    #[test]
    fn the_stream_encoder_writes_anthropic_events() {
        let mut encoder = StreamEncoder::new("msg_1", "claude", 0, false);
        let events = decode_stream(&[&upstream_stream()]);
        let frames: Vec<SseFrame> = events.iter().flat_map(|e| encoder.push(e)).collect();
        let mut expected = vec!["message_start"];
        for (i, deltas) in [3, 2, 3, 2, 0].into_iter().enumerate() {
            expected.push("content_block_start");
            if i == 0 {
                expected.push("ping");
            }
            expected.extend(std::iter::repeat_n("content_block_delta", deltas));
            expected.push("content_block_stop");
        }
        expected.extend(["message_delta", "message_stop"]);
        assert_eq!(names(&frames), expected);
        assert_eq!(
            data(&frames[0]),
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [],
                "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 2048, "cache_creation_input_tokens": 300}}})
        );
        assert_eq!(
            data(&frames[1])["content_block"],
            json!({"type": "thinking", "thinking": "", "signature": ""})
        );
        assert_eq!(
            data(&frames[11])["content_block"],
            json!({"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {}})
        );
        // The first, empty `partial_json` goes through.
        assert_eq!(
            data(&frames[12])["delta"],
            json!({"type": "input_json_delta", "partial_json": ""})
        );
        assert_eq!(
            data(&frames[frames.len() - 2]),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                "usage": {"input_tokens": 12, "output_tokens": 96, "cache_read_input_tokens": 2048, "cache_creation_input_tokens": 300}})
        );
        assert_eq!(
            data(frames.last().unwrap()),
            json!({"type": "message_stop"})
        );

        // Read back, the client's stream is the same answer.
        let mut decoder = StreamDecoder::new(&Encoded::default());
        let mut again = Assembler::default();
        for frame in &frames {
            for event in decoder.push(frame.event.unwrap(), &frame.data).unwrap() {
                again.push(&event);
            }
        }
        let whole = decode_response(&body(&whole_answer()), &Encoded::default()).unwrap();
        assert_eq!(again.into_response(), whole);
        assert!(encoder.push(&StreamEvent::text(0, "late")).is_empty());
    }

    #[test]
    fn the_stream_encoder_keeps_one_block_open_and_opens_blocks_for_bare_deltas() {
        let mut encoder = StreamEncoder::new("msg_2", "gpt", 0, true);
        let events = [
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Thinking("hm".into()),
            },
            StreamEvent::text(1, "Hi"),
            StreamEvent::BlockStart {
                index: 2,
                choice: 0,
                kind: BlockKind::ToolUse {
                    id: "call_1".into(),
                    name: "f".into(),
                },
            },
            StreamEvent::BlockStart {
                index: 3,
                choice: 1,
                kind: BlockKind::Text,
            },
            StreamEvent::text(3, "other choice"),
            StreamEvent::Delta {
                index: 2,
                delta: Delta::ToolArguments("{}".into()),
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::Delta {
                index: 4,
                delta: Delta::ToolArguments("{\"x\":1}".into()),
            },
            StreamEvent::BlockStop { index: 4 },
            StreamEvent::Logprobs {
                choice: 0,
                logprobs: json!({}),
            },
            StreamEvent::ChoiceDone {
                choice: 1,
                finish: Finish::new(FinishReason::Stop),
            },
            StreamEvent::Usage(Usage {
                input_tokens: 10,
                output_tokens: 4,
                ..Usage::default()
            }),
            StreamEvent::Done(Finish {
                reason: FinishReason::StopSequence,
                stop_sequence: Some("END".into()),
            }),
        ];
        let frames: Vec<SseFrame> = events.iter().flat_map(|e| encoder.push(e)).collect();
        assert_eq!(
            names(&frames),
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let indexes: Vec<Value> = frames
            .iter()
            .filter(|f| f.event != Some("ping"))
            .map(|f| data(f)["index"].clone())
            .collect();
        assert_eq!(
            indexes[1..13],
            [
                json!(0),
                json!(0),
                json!(0),
                json!(1),
                json!(1),
                json!(1),
                json!(2),
                json!(2),
                json!(2),
                json!(3),
                json!(3),
                json!(3)
            ]
        );
        assert_eq!(
            data(&frames[3])["delta"],
            json!({"type": "thinking_delta", "thinking": "hm"})
        );
        assert_eq!(
            data(&frames[11])["content_block"],
            json!({"type": "tool_use", "id": "", "name": "", "input": {}})
        );
        assert_eq!(
            data(&frames[12])["delta"],
            json!({"type": "input_json_delta", "partial_json": "{\"x\":1}"})
        );
        assert_eq!(
            data(&frames[14])["delta"],
            json!({"stop_reason": "stop_sequence", "stop_sequence": "END"})
        );
        assert_eq!(data(&frames[14])["usage"]["input_tokens"], 10);

        // A first `Usage` goes into `message_start`; an error ends the stream.
        let mut encoder = StreamEncoder::new("msg_3", "m", 0, false);
        let frames = encoder.push(&StreamEvent::Usage(Usage {
            input_tokens: 50,
            cache_read_tokens: 20,
            cache_write_tokens: 10,
            ..Usage::default()
        }));
        assert_eq!(names(&frames), ["message_start"]);
        assert_eq!(
            data(&frames[0])["message"]["usage"],
            json!({"input_tokens": 20, "output_tokens": 0, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 10})
        );
        let frames = encoder.error("overloaded_error", "Overloaded");
        assert_eq!(names(&frames), ["error"]);
        assert_eq!(
            data(&frames[0]),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        );
        assert!(encoder.push(&StreamEvent::text(0, "x")).is_empty());
    }

    /// Both protocol modules together: what one decodes, the other carries.
    mod cross {
        use super::*;
        use crate::protocol::openai_chat;

        #[test]
        fn an_openai_client_reaches_an_anthropic_upstream_and_back() {
            let client = json!({
                "model": "claude",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": [
                        {"type": "text", "text": "Weather?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "auto"}}
                    ]},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                    {"role": "user", "content": "Thanks, and in JSON?"}
                ],
                "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
                "parallel_tool_calls": false,
                "max_tokens": 500,
                "temperature": 0.7
            });
            let req = openai_chat::decode_request(&body(&client)).unwrap().request;
            let encoded = encode_request(&req, false).unwrap();
            assert_eq!(
                encoded_json(&encoded),
                json!({
                    "model": "claude",
                    "system": "Be brief.",
                    "max_tokens": 500,
                    "temperature": 0.7,
                    "messages": [
                        {"role": "user", "content": [
                            {"type": "text", "text": "Weather?"},
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
                        ]},
                        {"role": "assistant", "content": [
                            {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}}
                        ]},
                        {"role": "user", "content": [
                            {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                            {"type": "text", "text": "Thanks, and in JSON?"}
                        ]}
                    ],
                    "tools": [{"name": "weather", "input_schema": {"type": "object"}}],
                    "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}
                })
            );

            // The upstream's stream, shown to the OpenAI client and read back by it, is the
            // same answer, thinking signature included.
            let events = decode_stream(&[&upstream_stream()]);
            let mut encoder = openai_chat::StreamEncoder::new("chatcmpl-1", "claude", 1, true);
            let mut decoder = openai_chat::StreamDecoder::new(&Encoded::default());
            let mut assembler = Assembler::default();
            for event in &events {
                for frame in encoder.push(event) {
                    for e in decoder.push("", &frame.data).unwrap() {
                        assembler.push(&e);
                    }
                }
            }
            assert!(decoder.is_done());
            let whole = decode_response(&body(&whole_answer()), &Encoded::default()).unwrap();
            assert_eq!(assembler.into_response().content, whole.content);
        }

        #[test]
        fn an_anthropic_client_reaches_an_openai_upstream() {
            let mut client = agent_request();
            // What only Anthropic upstreams take is refused by name…
            let req = decode(client.clone()).request;
            let e = openai_chat::encode_request(&req, true).unwrap_err();
            assert_eq!(e.field, "context_management");
            // …and a plain agent turn goes through.
            for key in [
                "context_management",
                "service_tier",
                "metadata",
                "tools",
                "tool_choice",
            ] {
                client.as_object_mut().unwrap().remove(key);
            }
            client["system"].as_array_mut().unwrap().pop();
            let messages = client["messages"].as_array_mut().unwrap();
            messages[0]["content"].as_array_mut().unwrap().pop();
            messages[3]["content"].as_array_mut().unwrap().pop();
            let req = decode(client.clone()).request;
            let e = openai_chat::encode_request(&req, true).unwrap_err();
            // The client's `messages[2]`: canonical indexes count the system prompt (see the
            // module report; the canonical message has no client index to name).
            assert_eq!(e.field, "messages[3].content[1].content[1]");
            client["messages"][2]["content"][1]["content"]
                .as_array_mut()
                .unwrap()
                .pop();
            let req = decode(client).request;
            let body = encoded_json(&openai_chat::encode_request(&req, true).unwrap());
            assert_eq!(body["messages"][0]["role"], "system");
            assert_eq!(body["messages"][2]["tool_calls"][1]["id"], "toolu_01B");
            assert_eq!(body["messages"][3]["role"], "tool");
            assert_eq!(body["messages"][3]["tool_call_id"], "toolu_01A");
        }
    }
}
