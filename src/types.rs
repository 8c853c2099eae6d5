//! The canonical request, response and stream types.
//!
//! Every protocol (OpenAI chat, Anthropic messages, the native API, the local runner) converts
//! to and from these types exactly once, in `protocol/`, so routing and cooperation never see
//! a wire format. They are a superset of what the wire formats carry, in the shape of content
//! blocks: what one protocol has and another lacks is either translated by the target's
//! encoder or refused there with a [`CarryError`] that names the field — never dropped.
//!
//! Numbers are kept as the client wrote them: sampling parameters are `f64` (a JSON number
//! round-trips through `f64` to the same shortest text), and fields the model does not name
//! travel in [`Passthrough`] untouched to an upstream of the protocol they came in.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A wire protocol, for what only that protocol can carry (unknown fields, block types,
/// headers, thinking signatures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// OpenAI's `/chat/completions` (and every compatible server).
    OpenAiChat,
    /// Anthropic's `/messages`.
    AnthropicMessages,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenAiChat => "OpenAI chat completions",
            Protocol::AnthropicMessages => "Anthropic messages",
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    /// OpenAI's name for system instructions on newer models; Anthropic has only `system`.
    Developer,
    User,
    Assistant,
    /// Results of tool calls (OpenAI's `tool` messages; Anthropic carries them in user turns).
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    /// System or developer: instructions rather than conversation.
    pub fn is_instruction(self) -> bool {
        matches!(self, Role::System | Role::Developer)
    }
}

/// Where an image's or document's bytes are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MediaSource {
    /// An `https://…` URL (a `data:` URL is parsed into [`MediaSource::Base64`]).
    Url { url: String },
    /// Base64 bytes with their media type (`image/png`, `application/pdf`, …).
    Base64 { media_type: String, data: String },
    /// Plain text (Anthropic's text documents).
    Text { media_type: String, data: String },
    /// A file uploaded to the provider's file store.
    FileId { file_id: String },
}

impl MediaSource {
    /// `data:image/png;base64,AAAA` becomes base64 bytes; any other URL stays a URL.
    pub fn from_url(url: String) -> Self {
        match parse_data_url(&url) {
            Some((media_type, data)) => MediaSource::Base64 {
                media_type: media_type.to_owned(),
                data: data.to_owned(),
            },
            None => MediaSource::Url { url },
        }
    }

    /// As one URL (base64 as a `data:` URL); `None` for file ids and text.
    pub fn to_url(&self) -> Option<String> {
        match self {
            MediaSource::Url { url } => Some(url.clone()),
            MediaSource::Base64 { media_type, data } => {
                Some(format!("data:{media_type};base64,{data}"))
            }
            MediaSource::Text { .. } | MediaSource::FileId { .. } => None,
        }
    }
}

/// `data:image/png;base64,AAAA` → (`image/png`, `AAAA`).
pub fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type, data))
}

/// Anthropic's prompt-caching marker (`{"type": "ephemeral", "ttl": "1h"}`), kept verbatim.
pub type CacheControl = Value;

/// One part of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    Image {
        source: MediaSource,
        /// OpenAI's `detail` (`low`, `high`, `auto`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// A PDF or other file (OpenAI `file` parts, Anthropic `document` blocks).
    Document {
        source: MediaSource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// The model calls a tool. `input` is the arguments object.
    ToolUse {
        id: String,
        name: String,
        input: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// What a tool returned for the call `tool_use_id`.
    ToolResult {
        tool_use_id: String,
        content: Vec<ContentPart>,
        #[serde(default)]
        is_error: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// The model's reasoning. `signature` is opaque and valid only for the protocol that
    /// produced it (Anthropic's signed thinking); OpenAI-compatible `reasoning_content` has
    /// none.
    Thinking {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// Reasoning the provider encrypted; only its own protocol can read it back.
    RedactedThinking { data: String },
    /// A block of a type (or with fields) the canonical model does not name, exactly as the
    /// client wrote it. It goes only to an upstream of `protocol`; elsewhere it is a 400.
    Raw { protocol: Protocol, block: Value },
}

impl ContentPart {
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart::Text {
            text: text.into(),
            cache_control: None,
        }
    }

    /// The part's text, for text parts.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ContentPart::Text { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The wire name of the part's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ContentPart::Text { .. } => "text",
            ContentPart::Image { .. } => "image",
            ContentPart::Document { .. } => "document",
            ContentPart::ToolUse { .. } => "tool_use",
            ContentPart::ToolResult { .. } => "tool_result",
            ContentPart::Thinking { .. } => "thinking",
            ContentPart::RedactedThinking { .. } => "redacted_thinking",
            ContentPart::Raw { .. } => "raw",
        }
    }
}

/// The text parts of `parts` joined without separators (how a streamed answer reads).
pub fn text_of(parts: &[ContentPart]) -> String {
    let mut out = String::new();
    for part in parts {
        if let ContentPart::Text { text, .. } = part {
            out.push_str(text);
        }
    }
    out
}

/// A chat message: a role and its content parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<ContentPart>,
    /// OpenAI's participant `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    pub fn new(role: Role, content: Vec<ContentPart>) -> Self {
        Message {
            role,
            content,
            name: None,
        }
    }

    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self::new(role, vec![ContentPart::text(text)])
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

    /// The text parts joined with newlines (tool results' text included; images skipped).
    pub fn joined_text(&self) -> String {
        let mut out = String::new();
        fn walk(parts: &[ContentPart], out: &mut String) {
            for part in parts {
                match part {
                    ContentPart::Text { text, .. } => {
                        if !out.is_empty() {
                            out.push('\n');
                        }
                        out.push_str(text);
                    }
                    ContentPart::ToolResult { content, .. } => walk(content, out),
                    _ => {}
                }
            }
        }
        walk(&self.content, &mut out);
        out
    }

    /// Whether any part is an image.
    pub fn has_image(&self) -> bool {
        self.content.iter().any(|p| match p {
            ContentPart::Image { .. } => true,
            ContentPart::ToolResult { content, .. } => content
                .iter()
                .any(|p| matches!(p, ContentPart::Image { .. })),
            _ => false,
        })
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Tool {
    /// A function the client runs: OpenAI `{"type": "function", "function": {…}}`, Anthropic
    /// `{"name", "description", "input_schema"}`.
    Function {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// The arguments' JSON schema.
        parameters: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strict: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    /// A provider-hosted or otherwise unmodelled tool (Anthropic's `web_search_…`, `bash_…`),
    /// as the client wrote it; it goes only to an upstream of `protocol`.
    Raw { protocol: Protocol, tool: Value },
}

impl Tool {
    pub fn name(&self) -> Option<&str> {
        match self {
            Tool::Function { name, .. } => Some(name),
            Tool::Raw { tool, .. } => tool.get("name").and_then(Value::as_str),
        }
    }
}

/// Which tool the model must use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call (OpenAI `required`, Anthropic `any`).
    Required,
    /// This tool (OpenAI `{"type": "function", "function": {"name"}}`, Anthropic
    /// `{"type": "tool", "name"}`).
    Tool { name: String },
}

/// The shape the answer must have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching `schema`.
    JsonSchema {
        name: String,
        schema: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strict: Option<bool>,
    },
}

/// How much the model should reason before answering.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reasoning {
    /// OpenAI's `reasoning_effort` (`minimal`, `low`, `medium`, `high`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    /// Anthropic's `thinking.budget_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u32>,
    /// Anthropic's `thinking: {"type": "disabled"}`.
    #[serde(default)]
    pub disabled: bool,
}

impl Reasoning {
    /// Whether the request asks for reasoning at all.
    pub fn enabled(&self) -> bool {
        !self.disabled && (self.effort.is_some() || self.budget_tokens.is_some())
    }

    /// A thinking budget for targets that take one: the budget, or one derived from the
    /// effort (the mapping LiteLLM and OpenRouter use).
    pub fn budget(&self) -> Option<u32> {
        if let Some(b) = self.budget_tokens {
            return Some(b);
        }
        match self.effort.as_deref()? {
            "minimal" | "none" => None,
            "low" => Some(1024),
            "medium" => Some(2048),
            _ => Some(4096),
        }
    }

    /// An effort for targets that take one: the effort, or one derived from the budget.
    pub fn effort(&self) -> Option<String> {
        self.effort.clone().or_else(|| {
            self.budget_tokens.map(|b| {
                match b {
                    0..=1024 => "low",
                    1025..=8192 => "medium",
                    _ => "high",
                }
                .to_owned()
            })
        })
    }
}

/// What a request carries that only its own protocol understands: unknown top-level fields
/// and protocol headers (`anthropic-beta`). Forwarded untouched to an upstream of the same
/// protocol; any other upstream gets a 400 naming the first field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Passthrough {
    pub fields: Map<String, Value>,
    /// Header names lowercased.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
}

impl Passthrough {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.headers.is_empty()
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
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default)]
    pub stream: bool,
    /// An end-user id (OpenAI `user`, Anthropic `metadata.user_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// OpenAI's `metadata` (string pairs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)`: at most one tool call per turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    /// How many answers (OpenAI `n`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    /// Fields and headers only the protocol the request came in understands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passthrough: Option<(Protocol, Passthrough)>,
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

    /// Whether any message carries an image.
    pub fn has_image(&self) -> bool {
        self.messages.iter().any(Message::has_image)
    }

    /// Whether the request needs tool support: tools offered, or tool calls and results in
    /// its history.
    pub fn uses_tools(&self) -> bool {
        !self.tools.is_empty()
            || self.messages.iter().any(|m| {
                m.content.iter().any(|p| {
                    matches!(
                        p,
                        ContentPart::ToolUse { .. } | ContentPart::ToolResult { .. }
                    )
                })
            })
    }

    /// Whether the answer must follow a JSON schema.
    pub fn wants_json_schema(&self) -> bool {
        matches!(
            self.effective_response_format(),
            Some(ResponseFormat::JsonSchema { .. })
        )
    }

    /// Whether the request asks for reasoning.
    pub fn wants_reasoning(&self) -> bool {
        self.effective_reasoning().is_some_and(|r| r.enabled())
    }

    /// The fields Anthropic keeps in `output_config` and adaptive `thinking` (which Claude
    /// Code sends), when the request came in Anthropic's protocol.
    fn anthropic_field(&self, key: &str) -> Option<&Value> {
        match &self.passthrough {
            Some((Protocol::AnthropicMessages, pass)) => pass.fields.get(key),
            _ => None,
        }
    }

    /// The reasoning asked for: the canonical field, else what Anthropic's adaptive
    /// `thinking` and `output_config.effort` mean (for upstreams of another protocol; an
    /// Anthropic upstream gets those fields as they came).
    pub fn effective_reasoning(&self) -> Option<Reasoning> {
        if self.reasoning.is_some() {
            return self.reasoning.clone();
        }
        let effort = self
            .anthropic_field("output_config")
            .and_then(|c| c.get("effort"))
            .and_then(Value::as_str);
        let adaptive = self
            .anthropic_field("thinking")
            .and_then(|t| t.get("type"))
            .and_then(Value::as_str)
            == Some("adaptive");
        (adaptive || effort.is_some()).then(|| Reasoning {
            effort: Some(effort.unwrap_or("medium").to_owned()),
            ..Reasoning::default()
        })
    }

    /// The response format asked for: the canonical field, else Anthropic's
    /// `output_config.format` (`{"type": "json_schema", "schema"}`).
    pub fn effective_response_format(&self) -> Option<ResponseFormat> {
        if self.response_format.is_some() {
            return self.response_format.clone();
        }
        let format = self.anthropic_field("output_config")?.get("format")?;
        (format.get("type").and_then(Value::as_str) == Some("json_schema")).then(|| {
            ResponseFormat::JsonSchema {
                name: "output".into(),
                schema: format.get("schema").cloned().unwrap_or(Value::Null),
                description: None,
                strict: Some(true),
            }
        })
    }
}

/// Token counts reported by the upstream.
///
/// `input_tokens` counts every prompt token, cached ones included (OpenAI's
/// `prompt_tokens`); Anthropic's `input_tokens` is the part that was neither read from nor
/// written to the cache, so its encoder subtracts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// Prompt tokens read from the provider's cache.
    #[serde(default)]
    pub cache_read_tokens: u32,
    /// Prompt tokens written to the provider's cache.
    #[serde(default)]
    pub cache_write_tokens: u32,
    /// Output tokens spent reasoning (part of `output_tokens`).
    #[serde(default)]
    pub reasoning_tokens: u32,
}

impl Usage {
    pub fn total(&self) -> u32 {
        self.input_tokens.saturating_add(self.output_tokens)
    }

    /// Tokens of a prompt only plain input (neither cache read nor written).
    pub fn uncached_input(&self) -> u32 {
        self.input_tokens
            .saturating_sub(self.cache_read_tokens)
            .saturating_sub(self.cache_write_tokens)
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A natural end.
    Stop,
    /// One of the request's stop sequences matched (the response says which).
    StopSequence,
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
            "stop" | "end_turn" => FinishReason::Stop,
            "stop_sequence" => FinishReason::StopSequence,
            "length" | "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
            "content_filter" | "refusal" => FinishReason::ContentFilter,
            "tool_calls" | "tool_use" | "function_call" => FinishReason::ToolCalls,
            other => FinishReason::Other(other.to_owned()),
        }
    }

    /// The OpenAI spelling.
    pub fn as_openai(&self) -> &str {
        match self {
            FinishReason::Stop | FinishReason::StopSequence => "stop",
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
            FinishReason::StopSequence => "stop_sequence",
            FinishReason::Length => "max_tokens",
            FinishReason::ContentFilter => "refusal",
            FinishReason::ToolCalls => "tool_use",
            FinishReason::Other(s) => s,
        }
    }
}

/// How one answer ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finish {
    pub reason: FinishReason,
    /// The stop sequence that matched, when the upstream says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequence: Option<String>,
}

impl Finish {
    pub fn new(reason: FinishReason) -> Self {
        Finish {
            reason,
            stop_sequence: None,
        }
    }
}

impl From<FinishReason> for Finish {
    fn from(reason: FinishReason) -> Self {
        Finish::new(reason)
    }
}

/// One answer of a response that asked for several (`n > 1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Choice {
    pub content: Vec<ContentPart>,
    pub finish: Finish,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
}

/// A finished answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatResponse {
    /// The answer's parts, in order: thinking, text, tool calls.
    pub content: Vec<ContentPart>,
    /// The configured model name that answered.
    pub model: String,
    /// The provider that served it.
    pub provider: String,
    pub finish_reason: FinishReason,
    /// The stop sequence that matched, when `finish_reason` is `StopSequence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_sequence: Option<String>,
    pub usage: Usage,
    /// OpenAI's `logprobs` of the first choice, verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    /// Choices after the first, when the request asked for `n > 1`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub more_choices: Vec<Choice>,
    /// Wall time from sending the request to the last byte.
    #[serde(rename = "latency_ms", serialize_with = "ser_ms")]
    pub latency: Duration,
    /// Time to the first token, when the answer was streamed.
    #[serde(rename = "ttft_ms", serialize_with = "ser_opt_ms")]
    pub ttft: Option<Duration>,
}

impl ChatResponse {
    /// A text answer.
    pub fn from_text(text: impl Into<String>, finish_reason: FinishReason, usage: Usage) -> Self {
        ChatResponse {
            content: vec![ContentPart::text(text)],
            model: String::new(),
            provider: String::new(),
            finish_reason,
            stop_sequence: None,
            usage,
            logprobs: None,
            more_choices: Vec::new(),
            latency: Duration::ZERO,
            ttft: None,
        }
    }

    /// The answer's text parts, joined.
    pub fn text(&self) -> String {
        text_of(&self.content)
    }

    /// The tool calls the answer makes.
    pub fn tool_calls(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        self.content.iter().filter_map(|p| match p {
            ContentPart::ToolUse {
                id, name, input, ..
            } => Some((id.as_str(), name.as_str(), input)),
            _ => None,
        })
    }

    pub fn finish(&self) -> Finish {
        Finish {
            reason: self.finish_reason.clone(),
            stop_sequence: self.stop_sequence.clone(),
        }
    }

    /// The answer as a stream (a cached or cooperative answer replayed to a streaming
    /// client): each part one block, whole.
    pub fn to_events(&self) -> Vec<StreamEvent> {
        let mut events = Vec::new();
        let mut index = 0;
        let choices = std::iter::once((0u32, &self.content, self.finish())).chain(
            self.more_choices
                .iter()
                .enumerate()
                .map(|(i, c)| (i as u32 + 1, &c.content, c.finish.clone())),
        );
        let mut finishes = Vec::new();
        for (choice, content, finish) in choices {
            for part in content {
                let (kind, deltas) = match part {
                    ContentPart::Text { text, .. } => {
                        (BlockKind::Text, vec![Delta::Text(text.clone())])
                    }
                    ContentPart::Thinking { text, signature } => (
                        BlockKind::Thinking,
                        std::iter::once(Delta::Thinking(text.clone()))
                            .chain(signature.clone().map(Delta::Signature))
                            .collect(),
                    ),
                    ContentPart::RedactedThinking { data } => {
                        (BlockKind::RedactedThinking { data: data.clone() }, vec![])
                    }
                    ContentPart::ToolUse {
                        id, name, input, ..
                    } => (
                        BlockKind::ToolUse {
                            id: id.clone(),
                            name: name.clone(),
                        },
                        vec![Delta::ToolArguments(input.to_string())],
                    ),
                    ContentPart::Raw { protocol, block } => (
                        BlockKind::Raw {
                            protocol: *protocol,
                            block: block.clone(),
                        },
                        vec![],
                    ),
                    // Answers hold no images, documents or tool results.
                    _ => continue,
                };
                events.push(StreamEvent::BlockStart {
                    index,
                    choice,
                    kind,
                });
                events.extend(
                    deltas
                        .into_iter()
                        .map(|delta| StreamEvent::Delta { index, delta }),
                );
                events.push(StreamEvent::BlockStop { index });
                index += 1;
            }
            finishes.push((choice, finish));
        }
        events.push(StreamEvent::Usage(self.usage));
        let mut done = None;
        for (choice, finish) in finishes {
            if choice == 0 {
                done = Some(finish);
            } else {
                events.push(StreamEvent::ChoiceDone { choice, finish });
            }
        }
        events.push(StreamEvent::Done(
            done.unwrap_or_else(|| Finish::new(FinishReason::Stop)),
        ));
        events
    }
}

/// What kind of block a stream opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockKind {
    Text,
    Thinking,
    RedactedThinking {
        data: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    /// A block type only `protocol` knows (Anthropic's `server_tool_use`, …), verbatim.
    Raw {
        protocol: Protocol,
        block: Value,
    },
}

/// A piece of a streamed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    Text(String),
    Thinking(String),
    /// The thinking block's signature (Anthropic sends it last, whole).
    Signature(String),
    /// A fragment of a tool call's arguments JSON; the fragments concatenated are the object.
    ToolArguments(String),
    /// A delta object of a [`BlockKind::Raw`] block, verbatim.
    Raw(Value),
}

/// One event of a streamed answer.
///
/// Blocks are numbered in the order they open, across choices; a `Delta` for a block that
/// was never opened opens it (encoders synthesize the start, keeping the fragment).
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    BlockStart {
        index: usize,
        /// The answer this block belongs to (0 unless `n > 1`).
        choice: u32,
        kind: BlockKind,
    },
    Delta {
        index: usize,
        delta: Delta,
    },
    BlockStop {
        index: usize,
    },
    /// Token counts (usually once, near the end; a later one replaces an earlier one).
    Usage(Usage),
    /// Log probabilities of a piece of choice `choice`, verbatim (OpenAI's `logprobs`).
    Logprobs {
        choice: u32,
        logprobs: Value,
    },
    /// Choice `choice` (> 0) ended; the stream goes on for the others.
    ChoiceDone {
        choice: u32,
        finish: Finish,
    },
    /// The end of the answer (choice 0's finish).
    Done(Finish),
}

impl StreamEvent {
    /// A piece of text for block `index`.
    pub fn text(index: usize, text: impl Into<String>) -> Self {
        StreamEvent::Delta {
            index,
            delta: Delta::Text(text.into()),
        }
    }

    /// The text this event adds to the answer, if any.
    pub fn text_delta(&self) -> Option<&str> {
        match self {
            StreamEvent::Delta {
                delta: Delta::Text(t),
                ..
            } => Some(t),
            _ => None,
        }
    }

    /// Whether this event is the answer's first output (text, thinking or a tool call).
    pub fn is_output(&self) -> bool {
        matches!(
            self,
            StreamEvent::Delta { .. } | StreamEvent::BlockStart { .. }
        )
    }
}

/// Builds a whole answer from stream events (the gateway's cache, sessions and the CLI).
#[derive(Debug, Clone, Default)]
pub struct Assembler {
    /// Open and closed blocks by stream index: (choice, part).
    blocks: Vec<(usize, u32, ContentPart)>,
    /// Tool arguments JSON by stream index, parsed when the block stops.
    args: BTreeMap<usize, String>,
    pub usage: Usage,
    pub finish: Option<Finish>,
    finishes: BTreeMap<u32, Finish>,
    logprobs: BTreeMap<u32, Vec<Value>>,
}

impl Assembler {
    pub fn push(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::BlockStart {
                index,
                choice,
                kind,
            } => {
                let part = match kind {
                    BlockKind::Text => ContentPart::text(""),
                    BlockKind::Thinking => ContentPart::Thinking {
                        text: String::new(),
                        signature: None,
                    },
                    BlockKind::RedactedThinking { data } => {
                        ContentPart::RedactedThinking { data: data.clone() }
                    }
                    BlockKind::ToolUse { id, name } => ContentPart::ToolUse {
                        id: id.clone(),
                        name: name.clone(),
                        input: Value::Object(Map::new()),
                        cache_control: None,
                    },
                    BlockKind::Raw { protocol, block } => ContentPart::Raw {
                        protocol: *protocol,
                        block: block.clone(),
                    },
                };
                self.blocks.push((*index, *choice, part));
            }
            StreamEvent::Delta { index, delta } => {
                if !self.blocks.iter().any(|(i, _, _)| i == index) {
                    let part = match delta {
                        Delta::Text(_) => ContentPart::text(""),
                        Delta::Thinking(_) | Delta::Signature(_) => ContentPart::Thinking {
                            text: String::new(),
                            signature: None,
                        },
                        Delta::ToolArguments(_) => ContentPart::ToolUse {
                            id: String::new(),
                            name: String::new(),
                            input: Value::Object(Map::new()),
                            cache_control: None,
                        },
                        Delta::Raw(_) => return,
                    };
                    self.blocks.push((*index, 0, part));
                }
                let Some((_, _, part)) = self.blocks.iter_mut().find(|(i, _, _)| i == index) else {
                    return;
                };
                match (part, delta) {
                    (ContentPart::Text { text, .. }, Delta::Text(t)) => text.push_str(t),
                    (ContentPart::Thinking { text, .. }, Delta::Thinking(t)) => text.push_str(t),
                    (ContentPart::Thinking { signature, .. }, Delta::Signature(s)) => {
                        signature.get_or_insert_with(String::new).push_str(s)
                    }
                    (ContentPart::ToolUse { .. }, Delta::ToolArguments(a)) => {
                        self.args.entry(*index).or_default().push_str(a)
                    }
                    _ => {}
                }
            }
            StreamEvent::BlockStop { index } => self.close(*index),
            StreamEvent::Usage(u) => self.usage = *u,
            StreamEvent::Logprobs { choice, logprobs } => {
                self.logprobs
                    .entry(*choice)
                    .or_default()
                    .push(logprobs.clone());
            }
            StreamEvent::ChoiceDone { choice, finish } => {
                self.finishes.insert(*choice, finish.clone());
            }
            StreamEvent::Done(finish) => self.finish = Some(finish.clone()),
        }
    }

    fn close(&mut self, index: usize) {
        let Some(args) = self.args.remove(&index) else {
            return;
        };
        if let Some((_, _, ContentPart::ToolUse { input, .. })) =
            self.blocks.iter_mut().find(|(i, _, _)| *i == index)
        {
            *input = parse_tool_arguments(&args);
        }
    }

    /// The text so far of choice 0.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (_, choice, part) in &self.blocks {
            if let (0, ContentPart::Text { text, .. }) = (choice, part) {
                out.push_str(text);
            }
        }
        out
    }

    /// The parts of choice `choice`, tool arguments parsed.
    pub fn content(&mut self, choice: u32) -> Vec<ContentPart> {
        let open: Vec<usize> = self.args.keys().copied().collect();
        for index in open {
            self.close(index);
        }
        self.blocks
            .iter()
            .filter(|(_, c, _)| *c == choice)
            .map(|(_, _, p)| p.clone())
            .collect()
    }

    /// The whole answer. `model`, `provider` and timings are the caller's to fill.
    pub fn into_response(mut self) -> ChatResponse {
        let content = self.content(0);
        let finish = self
            .finish
            .clone()
            .unwrap_or_else(|| Finish::new(FinishReason::Stop));
        let choices: Vec<u32> = self
            .blocks
            .iter()
            .map(|(_, c, _)| *c)
            .chain(self.finishes.keys().copied())
            .filter(|c| *c > 0)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let more_choices = choices
            .into_iter()
            .map(|c| Choice {
                content: self.content(c),
                finish: self
                    .finishes
                    .get(&c)
                    .cloned()
                    .unwrap_or_else(|| Finish::new(FinishReason::Stop)),
                logprobs: self.logprobs.remove(&c).map(merge_logprobs),
            })
            .collect();
        ChatResponse {
            content,
            model: String::new(),
            provider: String::new(),
            finish_reason: finish.reason,
            stop_sequence: finish.stop_sequence,
            usage: self.usage,
            logprobs: self.logprobs.remove(&0).map(merge_logprobs),
            more_choices,
            latency: Duration::ZERO,
            ttft: None,
        }
    }
}

/// Streamed `logprobs` pieces (`{"content": [...]}`) as one object.
fn merge_logprobs(pieces: Vec<Value>) -> Value {
    let mut content = Vec::new();
    for piece in pieces {
        if let Some(Value::Array(items)) = piece.get("content") {
            content.extend(items.iter().cloned());
        }
    }
    serde_json::json!({ "content": content })
}

/// A tool call's arguments text as an object: empty text (a tool without arguments, or
/// upstreams that stream `""`) is `{}`; text that is not JSON is kept as a string so nothing
/// the model wrote is lost.
pub fn parse_tool_arguments(args: &str) -> Value {
    if args.trim().is_empty() {
        return Value::Object(Map::new());
    }
    serde_json::from_str(args).unwrap_or_else(|_| Value::String(args.to_owned()))
}

/// A canonical request cannot be carried to a target: the field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {reason}")]
pub struct CarryError {
    /// The field as the client named it (`n`, `messages[2].content[0]`, `tools[1]`).
    pub field: String,
    /// Why, and what to do instead.
    pub reason: String,
}

impl CarryError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CarryError {
            field: field.into(),
            reason: reason.into(),
        }
    }
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
        assert_eq!(
            FinishReason::from_wire("stop_sequence").as_anthropic(),
            "stop_sequence"
        );
        assert_eq!(FinishReason::from_wire("stop_sequence").as_openai(), "stop");
        assert_eq!(
            FinishReason::from_wire("refusal").as_openai(),
            "content_filter"
        );
        assert_eq!(
            FinishReason::from_wire("tool_calls").as_anthropic(),
            "tool_use"
        );
    }

    #[test]
    fn joined_text_skips_images() {
        let m = Message::new(
            Role::User,
            vec![
                ContentPart::text("a"),
                ContentPart::Image {
                    source: MediaSource::from_url("http://x".into()),
                    detail: None,
                    cache_control: None,
                },
                ContentPart::text("b"),
            ],
        );
        assert_eq!(m.joined_text(), "a\nb");
        assert!(m.has_image());
    }

    #[test]
    fn data_urls_become_base64_sources() {
        assert_eq!(
            parse_data_url("data:image/png;base64,AAAA"),
            Some(("image/png", "AAAA"))
        );
        assert_eq!(parse_data_url("https://x/y.png"), None);
        let source = MediaSource::from_url("data:image/png;base64,AAAA".into());
        assert_eq!(source.to_url().unwrap(), "data:image/png;base64,AAAA");
    }

    #[test]
    fn empty_tool_arguments_are_an_empty_object() {
        assert_eq!(parse_tool_arguments(""), serde_json::json!({}));
        assert_eq!(parse_tool_arguments(" "), serde_json::json!({}));
        assert_eq!(
            parse_tool_arguments(r#"{"a":1}"#),
            serde_json::json!({"a": 1})
        );
        assert_eq!(parse_tool_arguments("{bad"), Value::String("{bad".into()));
    }

    #[test]
    fn assembler_builds_blocks_from_fragments() {
        let mut a = Assembler::default();
        let events = [
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
            StreamEvent::BlockStart {
                index: 2,
                choice: 0,
                kind: BlockKind::ToolUse {
                    id: "call_1".into(),
                    name: "get".into(),
                },
            },
            StreamEvent::Delta {
                index: 2,
                delta: Delta::ToolArguments("".into()),
            },
            StreamEvent::Delta {
                index: 2,
                delta: Delta::ToolArguments("{\"x\":".into()),
            },
            StreamEvent::Delta {
                index: 2,
                delta: Delta::ToolArguments("1}".into()),
            },
            StreamEvent::BlockStop { index: 2 },
            StreamEvent::BlockStart {
                index: 3,
                choice: 0,
                kind: BlockKind::ToolUse {
                    id: "call_2".into(),
                    name: "now".into(),
                },
            },
            StreamEvent::Done(Finish::new(FinishReason::ToolCalls)),
        ];
        for e in &events {
            a.push(e);
        }
        assert_eq!(a.text(), "Hi");
        let resp = a.into_response();
        assert_eq!(resp.content.len(), 4);
        assert_eq!(
            resp.content[0],
            ContentPart::Thinking {
                text: "hm".into(),
                signature: Some("sig".into())
            }
        );
        let calls: Vec<_> = resp.tool_calls().collect();
        assert_eq!(calls[0].2, &serde_json::json!({"x": 1}));
        assert_eq!(calls[1].2, &serde_json::json!({}));
        assert_eq!(resp.finish_reason, FinishReason::ToolCalls);
    }
}

/// What to embed: texts, or token arrays (OpenAI's pre-tokenized input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbedInput {
    Texts(Vec<String>),
    Tokens(Vec<Vec<u32>>),
}

impl EmbedInput {
    pub fn len(&self) -> usize {
        match self {
            EmbedInput::Texts(t) => t.len(),
            EmbedInput::Tokens(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An embeddings request in canonical form.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedRequest {
    /// A configured embedding model (or, once resolved, the upstream id); `auto` or empty
    /// picks the first embedding model.
    pub model: String,
    pub input: EmbedInput,
    /// Fewer dimensions than the model's own (models that support it).
    pub dimensions: Option<u32>,
    pub user: Option<String>,
}

/// Vectors, one per input, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedResponse {
    pub vectors: Vec<Vec<f32>>,
    /// The configured model name.
    pub model: String,
    pub provider: String,
    /// Input tokens (`output_tokens` stays 0).
    pub usage: Usage,
    pub latency: Duration,
}
