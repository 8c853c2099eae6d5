//! OpenAI's Responses API (`POST /v1/responses`), bridged: a request is decoded into the
//! canonical [`ChatRequest`] (and goes to any model, OpenAI-chat or Anthropic kind, through
//! that protocol's module); the canonical answer is encoded back as a Response object with
//! output items, or as the Responses event stream.
//!
//! What crosses, and how:
//! - `input` (a string, or items: messages with `input_text`/`input_image`/`input_file`/
//!   `output_text`/`refusal` parts, `function_call`, `function_call_output`, `reasoning`) and
//!   `instructions` become messages; consecutive assistant-side items (reasoning, text, calls)
//!   become one assistant message, as chat protocols want.
//! - Function `tools`, `tool_choice`, `parallel_tool_calls`, `text.format` (json_object,
//!   json_schema with strict), `reasoning.effort`, `max_output_tokens`, `temperature`,
//!   `top_p`, `user`, `metadata` map onto the canonical fields. `reasoning.summary` is honoured
//!   by returning the model's reasoning as summary text.
//! - `include: ["reasoning.encrypted_content"]`: reasoning items carry `encrypted_content`, an
//!   opaque token of this gateway that holds the reasoning and its signature, so a client that
//!   replays it (Codex, the Agents SDK) gives an Anthropic model back its signed thinking.
//! - `text.verbosity`, `prompt_cache_key`, `safety_identifier`, `service_tier` are OpenAI
//!   chat-completions fields too: they go to OpenAI-kind models as they are. Elsewhere
//!   `prompt_cache_key` steers replica affinity and the others are refused with a 400.
//! - `store` (default true) keeps the response, its input items and the conversation in the
//!   shared state (so another replica can continue it); `previous_response_id` continues one
//!   (see `server::responses`).
//! - Refused with a 400 naming the field (the bridge cannot honour them; never dropped):
//!   hosted tools (web search, file search, computer use, …), `item_reference`, `background`,
//!   `prompt`, `conversation`, `truncation: "auto"`, `max_tool_calls`, and any other field the
//!   API does not define.
//!
//! `client_metadata` (identifiers of the client, which Codex sends) asks nothing of the
//! model and no upstream API takes it: it goes to the gateway's debug log.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{DecodeError, Decoded, GatewayFields, SseFrame, check_tool_pairs};
use crate::types::{
    BlockKind, ChatRequest, ContentPart, Delta, FinishReason, MediaSource, Message, Passthrough,
    Protocol, Reasoning, ResponseFormat, Role, StreamEvent, Tool, ToolChoice, Usage,
};

/// Marks `encrypted_content` this gateway wrote (the reasoning and its signature as JSON).
const SEALED: &str = "llmc-reasoning-v1:";

/// The request as the Responses API defines it; polymorphic parts stay JSON values and are
/// checked field by field below.
#[derive(Debug, Deserialize)]
struct WireRequest {
    model: String,
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default)]
    tools: Vec<Value>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    text: Option<Map<String, Value>>,
    #[serde(default)]
    reasoning: Option<Map<String, Value>>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    max_output_tokens: Option<u32>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    store: Option<bool>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    top_logprobs: Option<u32>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<Map<String, Value>>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    truncation: Option<String>,
    /// The gateway's own fields.
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    cache: bool,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// OpenAI chat-completions fields a Responses request may carry under the same name: they
/// go to OpenAI-kind models verbatim (as a chat-protocol pass-through).
const CHAT_FIELDS: [&str; 3] = ["prompt_cache_key", "safety_identifier", "service_tier"];

/// What the Response object echoes of the request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Echo {
    pub instructions: Option<String>,
    pub tools: Vec<Value>,
    pub tool_choice: Value,
    pub parallel_tool_calls: bool,
    pub text: Value,
    pub reasoning: Value,
    pub max_output_tokens: Option<u32>,
    pub metadata: BTreeMap<String, String>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub user: Option<String>,
    /// Reasoning items carry `encrypted_content`.
    pub include_encrypted: bool,
    /// Keep the response for `previous_response_id` and `GET /v1/responses/{id}` (the API's
    /// default).
    pub store: bool,
    /// The stored response this one continues.
    pub previous_response_id: Option<String>,
}

/// A Responses request, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedResponses {
    pub decoded: Decoded,
    pub echo: Echo,
    /// The input as items with ids, for `GET /v1/responses/{id}/input_items`.
    pub input_items: Vec<Value>,
}

fn refuse(field: &str, why: &str) -> DecodeError {
    DecodeError::new(format!("`{field}` {why}"))
}

/// Decodes and checks a `POST /v1/responses` body.
pub fn decode_request(body: &[u8]) -> Result<DecodedResponses, DecodeError> {
    let w: WireRequest = serde_json::from_slice(body).map_err(|e| {
        DecodeError::new(format!(
            "The body is not a Responses request ({e}); see https://platform.openai.com/docs/api-reference/responses/create"
        ))
    })?;
    if w.model.trim().is_empty() {
        return Err(refuse(
            "model",
            "is empty; name a configured model or `auto`",
        ));
    }
    let mut pass = Map::new();
    let mut previous = None;
    for (key, value) in w.extra {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "previous_response_id" => match value {
                Value::String(id) if !id.is_empty() => previous = Some(id),
                _ => {
                    return Err(refuse(
                        "previous_response_id",
                        "must be the id of a stored response (`resp_…`)",
                    ));
                }
            },
            "background" if value == Value::Bool(false) => {}
            "background" => {
                return Err(refuse(
                    "background",
                    "(background responses) is not supported by this gateway; send the request without it and keep the connection open (or stream)",
                ));
            }
            "max_tool_calls" | "prompt" | "conversation" => {
                return Err(refuse(
                    &key,
                    "is not supported by this gateway's Responses bridge; remove it",
                ));
            }
            k if CHAT_FIELDS.contains(&k) => {
                pass.insert(key, value);
            }
            // Identifiers of the client for the provider's own records (Codex sends its
            // session and turn ids): nothing the model is asked to do. The gateway keeps them
            // in its debug log; no upstream API takes them.
            "client_metadata" if value.is_object() => {
                tracing::debug!(client_metadata = %value, "Responses request");
            }
            _ => {
                return Err(refuse(
                    &key,
                    "is not a Responses API field this gateway can carry; remove it",
                ));
            }
        }
    }
    if let Some(t) = w.truncation.as_deref()
        && t != "disabled"
    {
        return Err(refuse(
            "truncation",
            "is `auto`, which would drop input the gateway cannot choose; send `disabled` (the default) and trim the input yourself",
        ));
    }
    if let Some(options) = &w.stream_options
        && let Some(key) = options.keys().find(|k| *k != "include_obfuscation")
    {
        return Err(refuse(
            &format!("stream_options.{key}"),
            "is not a stream option this gateway knows; remove it",
        ));
    }
    let mut include_encrypted = false;
    for (i, item) in w.include.iter().enumerate() {
        match item.as_str() {
            "reasoning.encrypted_content" => include_encrypted = true,
            other => {
                return Err(refuse(
                    &format!("include[{i}]"),
                    &format!(
                        "is `{other}`, which this gateway cannot add to the answer; it supports `reasoning.encrypted_content`"
                    ),
                ));
            }
        }
    }

    let mut messages = Vec::new();
    if let Some(text) = w.instructions.as_ref().filter(|t| !t.is_empty()) {
        messages.push(Message::system(text));
    }
    let mut input_items = Vec::new();
    match w.input {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => {
            input_items.push(
                json!({ "type": "message", "id": new_id("msg"), "role": "user",
                "content": [{ "type": "input_text", "text": text }] }),
            );
            messages.push(Message::user(text));
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                let mut listed = item.clone();
                if let Some(obj) = listed.as_object_mut()
                    && !obj.contains_key("id")
                {
                    let prefix = match obj.get("type").and_then(Value::as_str) {
                        Some("function_call") => "fc",
                        Some("function_call_output") => "fco",
                        Some("reasoning") => "rs",
                        _ => "msg",
                    };
                    obj.insert("id".into(), Value::String(new_id(prefix)));
                }
                input_items.push(listed);
                decode_item(i, item, &mut messages)?;
            }
        }
        Some(other) => {
            return Err(refuse(
                "input",
                &format!("is `{other}`; send a string or a list of input items"),
            ));
        }
    }
    if previous.is_none() && messages.iter().all(|m| m.role.is_instruction()) {
        return Err(refuse(
            "input",
            "has no message for the model to answer; send a string or input items",
        ));
    }

    let mut tools = Vec::new();
    for (i, tool) in w.tools.iter().enumerate() {
        tools.push(decode_tool(i, tool)?);
    }
    let tool_choice = w.tool_choice.as_ref().map(decode_tool_choice).transpose()?;

    let mut response_format = None;
    let mut text_echo = json!({ "format": { "type": "text" } });
    if let Some(text) = &w.text {
        for (key, value) in text {
            match key.as_str() {
                "format" => {
                    response_format = decode_format(value)?;
                    text_echo["format"] = value.clone();
                }
                "verbosity" => {
                    pass.insert("verbosity".into(), value.clone());
                    text_echo["verbosity"] = value.clone();
                }
                other => {
                    return Err(refuse(
                        &format!("text.{other}"),
                        "is not a text option this gateway can carry; remove it",
                    ));
                }
            }
        }
    }
    let mut reasoning = None;
    let mut reasoning_echo = json!({ "effort": null, "summary": null });
    if let Some(r) = &w.reasoning {
        for (key, value) in r {
            match key.as_str() {
                "effort" => {
                    if let Some(effort) = value.as_str() {
                        reasoning = Some(Reasoning {
                            effort: Some(effort.to_owned()),
                            ..Reasoning::default()
                        });
                    } else if !value.is_null() {
                        return Err(refuse(
                            "reasoning.effort",
                            "must be a string such as `low`, `medium` or `high`",
                        ));
                    }
                    reasoning_echo["effort"] = value.clone();
                }
                // The model's reasoning comes back as summary text whatever is asked.
                "summary" | "generate_summary" => reasoning_echo["summary"] = value.clone(),
                other => {
                    return Err(refuse(
                        &format!("reasoning.{other}"),
                        "is not a reasoning option this gateway can carry; remove it",
                    ));
                }
            }
        }
    }

    let request = ChatRequest {
        model: w.model,
        messages,
        max_tokens: w.max_output_tokens,
        temperature: w.temperature,
        top_p: w.top_p,
        stream: w.stream,
        user: w.user.clone(),
        metadata: w.metadata.clone(),
        tools,
        tool_choice,
        parallel_tool_calls: w.parallel_tool_calls,
        response_format,
        reasoning,
        logprobs: w.top_logprobs.map(|_| true),
        top_logprobs: w.top_logprobs,
        passthrough: Some((
            Protocol::OpenAiChat,
            Passthrough {
                fields: pass,
                headers: Vec::new(),
            },
        )),
        ..ChatRequest::default()
    };
    // With a previous response, results may answer calls made there: checked once merged.
    if previous.is_none() {
        check_tool_pairs(&request)
            .map_err(|e| DecodeError::new(e.0.replace("messages[", "input[")))?;
    }
    let echo = Echo {
        instructions: w.instructions,
        tools: w.tools,
        tool_choice: w.tool_choice.unwrap_or_else(|| json!("auto")),
        parallel_tool_calls: w.parallel_tool_calls.unwrap_or(true),
        text: text_echo,
        reasoning: reasoning_echo,
        max_output_tokens: w.max_output_tokens,
        metadata: w.metadata,
        temperature: w.temperature,
        top_p: w.top_p,
        user: w.user,
        include_encrypted,
        store: w.store.unwrap_or(true),
        previous_response_id: previous,
    };
    Ok(DecodedResponses {
        input_items,
        decoded: Decoded {
            request,
            gateway: GatewayFields {
                session_id: w.session_id,
                cache: w.cache,
                include_usage: true,
            },
        },
        echo,
    })
}

fn str_field<'a>(item: &'a Value, key: &str) -> Option<&'a str> {
    item.get(key).and_then(Value::as_str)
}

/// Appends `part` to the conversation as the assistant's: to the last message when it is the
/// assistant's and has no tool call yet after which text would be out of order, else to a
/// new assistant message.
fn push_assistant(messages: &mut Vec<Message>, part: ContentPart) {
    match messages.last_mut() {
        Some(m) if m.role == Role::Assistant => m.content.push(part),
        _ => messages.push(Message::new(Role::Assistant, vec![part])),
    }
}

fn decode_item(i: usize, item: Value, messages: &mut Vec<Message>) -> Result<(), DecodeError> {
    let at = format!("input[{i}]");
    let kind = match str_field(&item, "type") {
        Some(kind) => kind.to_owned(),
        None if item.get("role").is_some() => "message".to_owned(),
        None => {
            return Err(refuse(
                &at,
                "has no `type` (and no `role`); send a message, `function_call`, `function_call_output` or `reasoning` item",
            ));
        }
    };
    let allowed = |keys: &[&str]| -> Result<(), DecodeError> {
        if let Some(obj) = item.as_object()
            && let Some(key) = obj
                .keys()
                .find(|k| !keys.contains(&k.as_str()) && !obj[k.as_str()].is_null())
        {
            return Err(refuse(
                &format!("{at}.{key}"),
                &format!("is not a field of a `{kind}` item the gateway can carry; remove it"),
            ));
        }
        Ok(())
    };
    match kind.as_str() {
        "message" => {
            allowed(&["type", "role", "content", "id", "status"])?;
            let role = match str_field(&item, "role") {
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                Some("system") => Role::System,
                Some("developer") => Role::Developer,
                other => {
                    return Err(refuse(
                        &format!("{at}.role"),
                        &format!(
                            "is `{}`; use `user`, `assistant`, `system` or `developer`",
                            other.unwrap_or("missing")
                        ),
                    ));
                }
            };
            let parts = match item.get("content") {
                Some(Value::String(text)) => vec![ContentPart::text(text.clone())],
                Some(Value::Array(parts)) => parts
                    .iter()
                    .enumerate()
                    .map(|(j, p)| decode_part(&format!("{at}.content[{j}]"), p))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => {
                    return Err(refuse(
                        &format!("{at}.content"),
                        "must be a string or a list of content parts",
                    ));
                }
            };
            if role == Role::Assistant {
                for part in parts {
                    push_assistant(messages, part);
                }
            } else {
                messages.push(Message::new(role, parts));
            }
        }
        "function_call" => {
            allowed(&["type", "call_id", "name", "arguments", "id", "status"])?;
            let call_id = str_field(&item, "call_id")
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    refuse(
                        &format!("{at}.call_id"),
                        "is missing; send the call id the model gave",
                    )
                })?;
            let name = str_field(&item, "name").ok_or_else(|| {
                refuse(
                    &format!("{at}.name"),
                    "is missing; send the function's name",
                )
            })?;
            let input = match item.get("arguments") {
                None | Some(Value::Null) => Value::Object(Map::new()),
                Some(Value::String(text)) if text.trim().is_empty() => Value::Object(Map::new()),
                Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                    Ok(object @ Value::Object(_)) => object,
                    Ok(other) => {
                        return Err(refuse(
                            &format!("{at}.arguments"),
                            &format!(
                                "is `{other}`, not an object; send the arguments object as a JSON string"
                            ),
                        ));
                    }
                    // Kept as written (a model may produce broken JSON); it goes back as is.
                    Err(_) => Value::String(text.clone()),
                },
                Some(_) => {
                    return Err(refuse(
                        &format!("{at}.arguments"),
                        "must be the arguments object as a JSON string",
                    ));
                }
            };
            push_assistant(
                messages,
                ContentPart::ToolUse {
                    id: call_id.to_owned(),
                    name: name.to_owned(),
                    input,
                    cache_control: None,
                },
            );
        }
        "function_call_output" => {
            allowed(&["type", "call_id", "output", "id", "status"])?;
            let call_id = str_field(&item, "call_id")
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    refuse(
                        &format!("{at}.call_id"),
                        "is missing; send the id of the call this output answers",
                    )
                })?;
            let content = match item.get("output") {
                Some(Value::String(text)) => vec![ContentPart::text(text.clone())],
                Some(Value::Array(parts)) => parts
                    .iter()
                    .enumerate()
                    .map(|(j, p)| decode_part(&format!("{at}.output[{j}]"), p))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => {
                    return Err(refuse(
                        &format!("{at}.output"),
                        "must be a string or a list of content parts",
                    ));
                }
            };
            messages.push(Message::new(
                Role::Tool,
                vec![ContentPart::ToolResult {
                    tool_use_id: call_id.to_owned(),
                    content,
                    is_error: false,
                    cache_control: None,
                }],
            ));
        }
        "reasoning" => {
            allowed(&[
                "type",
                "id",
                "summary",
                "encrypted_content",
                "content",
                "status",
            ])?;
            let summary: String = item
                .get("summary")
                .and_then(Value::as_array)
                .map(|parts| {
                    parts
                        .iter()
                        .filter_map(|p| str_field(p, "text"))
                        .collect::<Vec<_>>()
                        .join("\n\n")
                })
                .unwrap_or_default();
            let part = match str_field(&item, "encrypted_content") {
                Some(sealed) => unseal(sealed).ok_or_else(|| {
                    refuse(
                        &format!("{at}.encrypted_content"),
                        "was not written by this gateway: OpenAI's encrypted reasoning can only be read by OpenAI's Responses API, not by the chat or Anthropic models behind this bridge; remove the reasoning item",
                    )
                })?,
                None => ContentPart::Thinking {
                    text: summary,
                    signature: None,
                },
            };
            push_assistant(messages, part);
        }
        "item_reference" => {
            return Err(refuse(
                &at,
                "is an `item_reference`, which needs stored responses; this gateway keeps none yet, so send the item itself",
            ));
        }
        other => {
            return Err(refuse(
                &format!("{at}.type"),
                &format!(
                    "is `{other}`, an item this gateway's bridge cannot carry; send messages, `function_call`, `function_call_output` or `reasoning` items"
                ),
            ));
        }
    }
    Ok(())
}

fn decode_part(at: &str, part: &Value) -> Result<ContentPart, DecodeError> {
    let kind = str_field(part, "type").unwrap_or("");
    match kind {
        "input_text" | "output_text" | "text" => {
            let text = str_field(part, "text")
                .ok_or_else(|| refuse(&format!("{at}.text"), "is missing"))?;
            Ok(ContentPart::text(text))
        }
        "refusal" => Ok(ContentPart::text(str_field(part, "refusal").unwrap_or(""))),
        "input_image" => {
            let source = match (str_field(part, "image_url"), str_field(part, "file_id")) {
                (Some(url), _) => MediaSource::from_url(url.to_owned()),
                (None, Some(id)) => MediaSource::FileId {
                    file_id: id.to_owned(),
                },
                _ => {
                    return Err(refuse(
                        at,
                        "is an `input_image` without `image_url` or `file_id`",
                    ));
                }
            };
            Ok(ContentPart::Image {
                source,
                detail: str_field(part, "detail").map(str::to_owned),
                cache_control: None,
            })
        }
        "input_file" => {
            let source = match (
                str_field(part, "file_data"),
                str_field(part, "file_id"),
                str_field(part, "file_url"),
            ) {
                (Some(data), _, _) => MediaSource::from_url(data.to_owned()),
                (None, Some(id), _) => MediaSource::FileId {
                    file_id: id.to_owned(),
                },
                (None, None, Some(url)) => MediaSource::Url {
                    url: url.to_owned(),
                },
                _ => {
                    return Err(refuse(
                        at,
                        "is an `input_file` without `file_data`, `file_id` or `file_url`",
                    ));
                }
            };
            Ok(ContentPart::Document {
                source,
                title: str_field(part, "filename").map(str::to_owned),
                cache_control: None,
            })
        }
        other => Err(refuse(
            &format!("{at}.type"),
            &format!(
                "is `{other}`; send `input_text`, `input_image`, `input_file` or `output_text` parts"
            ),
        )),
    }
}

fn decode_tool(i: usize, tool: &Value) -> Result<Tool, DecodeError> {
    let at = format!("tools[{i}]");
    match str_field(tool, "type") {
        Some("function") => {
            if let Some(obj) = tool.as_object()
                && let Some(key) = obj.keys().find(|k| {
                    !matches!(
                        k.as_str(),
                        "type" | "name" | "description" | "parameters" | "strict"
                    )
                })
            {
                return Err(refuse(
                    &format!("{at}.{key}"),
                    "is not a function tool field the gateway can carry; remove it",
                ));
            }
            let name = str_field(tool, "name")
                .filter(|n| !n.is_empty())
                .ok_or_else(|| refuse(&format!("{at}.name"), "is missing"))?;
            Ok(Tool::Function {
                name: name.to_owned(),
                description: str_field(tool, "description").map(str::to_owned),
                parameters: tool
                    .get("parameters")
                    .filter(|p| !p.is_null())
                    .cloned()
                    .unwrap_or_else(|| json!({ "type": "object", "properties": {} })),
                strict: tool.get("strict").and_then(Value::as_bool),
                cache_control: None,
            })
        }
        Some(other) => Err(refuse(
            &format!("{at}.type"),
            &format!(
                "is `{other}`, a tool the provider hosts; this gateway bridges Responses to chat and Anthropic models, which cannot run it. Use function tools, or call OpenAI's Responses API directly for hosted tools"
            ),
        )),
        None => Err(refuse(
            &format!("{at}.type"),
            "is missing; send `{\"type\": \"function\", \"name\": …, \"parameters\": …}`",
        )),
    }
}

fn decode_tool_choice(choice: &Value) -> Result<ToolChoice, DecodeError> {
    match choice {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            other => Err(refuse(
                "tool_choice",
                &format!("is `{other}`; use `auto`, `none`, `required` or a named function"),
            )),
        },
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => o
            .get("name")
            .and_then(Value::as_str)
            .map(|name| ToolChoice::Tool {
                name: name.to_owned(),
            })
            .ok_or_else(|| refuse("tool_choice.name", "is missing")),
        other => Err(refuse(
            "tool_choice",
            &format!(
                "is `{other}`; this gateway takes `auto`, `none`, `required` or `{{\"type\": \"function\", \"name\": …}}`"
            ),
        )),
    }
}

fn decode_format(format: &Value) -> Result<Option<ResponseFormat>, DecodeError> {
    match str_field(format, "type") {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(ResponseFormat::JsonObject)),
        Some("json_schema") => {
            let schema = format
                .get("schema")
                .filter(|s| s.is_object())
                .cloned()
                .ok_or_else(|| {
                    refuse(
                        "text.format.schema",
                        "is missing or not an object; send the JSON schema",
                    )
                })?;
            Ok(Some(ResponseFormat::JsonSchema {
                name: str_field(format, "name").unwrap_or("response").to_owned(),
                schema,
                description: str_field(format, "description").map(str::to_owned),
                strict: format.get("strict").and_then(Value::as_bool),
            }))
        }
        other => Err(refuse(
            "text.format.type",
            &format!(
                "is `{}`; use `text`, `json_object` or `json_schema`",
                other.unwrap_or("missing")
            ),
        )),
    }
}

/// Reasoning as this gateway's `encrypted_content`.
fn seal(text: &str, signature: Option<&str>) -> String {
    format!(
        "{SEALED}{}",
        json!({ "text": text, "signature": signature })
    )
}

fn unseal(sealed: &str) -> Option<ContentPart> {
    let v: Value = serde_json::from_str(sealed.strip_prefix(SEALED)?).ok()?;
    Some(ContentPart::Thinking {
        text: v.get("text")?.as_str()?.to_owned(),
        signature: v
            .get("signature")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// A new id with `prefix` (`resp`, `msg`, `fc`, `rs`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{:032x}", rand::random::<u128>())
}

fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "input_tokens_details": { "cached_tokens": u.cache_read_tokens },
        "output_tokens": u.output_tokens,
        "output_tokens_details": { "reasoning_tokens": u.reasoning_tokens },
        "total_tokens": u.total(),
    })
}

/// `completed`, or `incomplete` with its reason.
fn status_of(reason: &FinishReason) -> (&'static str, Value) {
    match reason {
        FinishReason::Length => ("incomplete", json!({ "reason": "max_output_tokens" })),
        FinishReason::ContentFilter => ("incomplete", json!({ "reason": "content_filter" })),
        _ => ("completed", Value::Null),
    }
}

/// The Response object around `output`.
fn response_object(
    id: &str,
    created: u64,
    model: &str,
    echo: &Echo,
    status: &str,
    output: Vec<Value>,
    usage: Option<&Usage>,
) -> Value {
    json!({
        "id": id,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": null,
        "incomplete_details": null,
        "instructions": echo.instructions,
        "max_output_tokens": echo.max_output_tokens,
        "model": model,
        "output": output,
        "parallel_tool_calls": echo.parallel_tool_calls,
        "previous_response_id": echo.previous_response_id,
        "reasoning": echo.reasoning,
        "store": echo.store,
        "temperature": echo.temperature,
        "text": echo.text,
        "tool_choice": echo.tool_choice,
        "tools": echo.tools,
        "top_p": echo.top_p,
        "truncation": "disabled",
        "usage": usage.map(usage_json),
        "user": echo.user,
        "metadata": echo.metadata,
    })
}

fn reasoning_item(id: &str, text: &str, signature: Option<&str>, echo: &Echo) -> Value {
    let mut item = json!({
        "type": "reasoning",
        "id": id,
        "summary": if text.is_empty() { json!([]) } else { json!([{ "type": "summary_text", "text": text }]) },
    });
    if echo.include_encrypted {
        item["encrypted_content"] = Value::String(seal(text, signature));
    }
    item
}

fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({
        "type": "message",
        "id": id,
        "status": status,
        "role": "assistant",
        "content": [{ "type": "output_text", "text": text, "annotations": [], "logprobs": [] }],
    })
}

fn call_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({
        "type": "function_call",
        "id": id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    })
}

fn arguments_text(input: &Value) -> String {
    match input {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A whole answer as a Response object.
pub fn encode_response(
    resp: &crate::types::ChatResponse,
    id: &str,
    created: u64,
    echo: &Echo,
) -> Value {
    let mut output = Vec::new();
    // Consecutive text parts make one message item.
    let mut text = String::new();
    let flush = |text: &mut String, output: &mut Vec<Value>| {
        if !text.is_empty() {
            output.push(message_item(&new_id("msg"), text, "completed"));
            text.clear();
        }
    };
    for part in &resp.content {
        match part {
            ContentPart::Text { text: t, .. } => text.push_str(t),
            ContentPart::Thinking { text: t, signature } => {
                flush(&mut text, &mut output);
                output.push(reasoning_item(&new_id("rs"), t, signature.as_deref(), echo));
            }
            ContentPart::ToolUse {
                id: call_id,
                name,
                input,
                ..
            } => {
                flush(&mut text, &mut output);
                output.push(call_item(
                    &new_id("fc"),
                    call_id,
                    name,
                    &arguments_text(input),
                    "completed",
                ));
            }
            // Nothing else comes back from a chat or Anthropic model through the canonical
            // answer except blocks only those protocols know, which a Responses client cannot
            // read: they go out as text-free reasoning so the count of items stays honest.
            other => {
                flush(&mut text, &mut output);
                output.push(json!({ "type": "reasoning", "id": new_id("rs"), "summary": [],
                    "encrypted_content": seal(&serde_json::to_string(other).unwrap_or_default(), None) }));
            }
        }
    }
    flush(&mut text, &mut output);
    let (status, incomplete) = status_of(&resp.finish_reason);
    let mut body = response_object(
        id,
        created,
        &resp.model,
        echo,
        status,
        output,
        Some(&resp.usage),
    );
    body["incomplete_details"] = incomplete;
    body
}

/// An output item being streamed.
#[derive(Debug)]
struct Open {
    output_index: usize,
    item_id: String,
    kind: BlockKind,
    /// Text, reasoning text or arguments so far.
    text: String,
    signature: Option<String>,
}

/// Canonical stream events → the Responses event stream: `response.created`,
/// `response.in_progress`, per block `output_item.added` … deltas … `output_item.done`, and
/// `response.completed` (or `response.incomplete`, or `response.failed` on an error).
#[derive(Debug)]
pub struct StreamEncoder {
    id: String,
    model: String,
    created: u64,
    echo: Echo,
    seq: u64,
    started: bool,
    /// Block index → the item it streams.
    open: BTreeMap<usize, Open>,
    /// Finished items, in output order.
    done: Vec<(usize, Value)>,
    next_output: usize,
    usage: Usage,
    finished: bool,
    /// The Response object the stream ended with.
    last: Option<Value>,
}

impl StreamEncoder {
    /// The Response object of `response.completed` (or `.incomplete`), once sent.
    pub fn final_response(&self) -> Option<&Value> {
        self.last.as_ref()
    }

    pub fn new(id: &str, model: &str, created: u64, echo: Echo) -> Self {
        StreamEncoder {
            id: id.to_owned(),
            model: model.to_owned(),
            created,
            echo,
            seq: 0,
            started: false,
            open: BTreeMap::new(),
            done: Vec::new(),
            next_output: 0,
            usage: Usage::default(),
            finished: false,
            last: None,
        }
    }

    fn frame(&mut self, event: &'static str, mut data: Value) -> SseFrame {
        data["type"] = Value::String(event.to_owned());
        data["sequence_number"] = Value::from(self.seq);
        self.seq += 1;
        SseFrame {
            event: Some(event),
            data: data.to_string(),
        }
    }

    fn output(&self) -> Vec<Value> {
        let mut done = self.done.clone();
        done.sort_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, item)| item).collect()
    }

    fn start(&mut self, out: &mut Vec<SseFrame>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = response_object(
            &self.id,
            self.created,
            &self.model,
            &self.echo,
            "in_progress",
            Vec::new(),
            None,
        );
        let created = self.frame("response.created", json!({ "response": response.clone() }));
        out.push(created);
        let progress = self.frame("response.in_progress", json!({ "response": response }));
        out.push(progress);
    }

    fn open_block(&mut self, index: usize, kind: BlockKind, out: &mut Vec<SseFrame>) {
        let output_index = self.next_output;
        self.next_output += 1;
        let (item_id, item) = match &kind {
            BlockKind::Text => {
                let id = new_id("msg");
                let item = json!({ "type": "message", "id": id, "status": "in_progress",
                    "role": "assistant", "content": [] });
                (id, item)
            }
            BlockKind::ToolUse { id: call_id, name } => {
                let id = new_id("fc");
                let item = call_item(&id, call_id, name, "", "in_progress");
                (id, item)
            }
            _ => {
                let id = new_id("rs");
                let item = json!({ "type": "reasoning", "id": id, "summary": [] });
                (id, item)
            }
        };
        let added = self.frame(
            "response.output_item.added",
            json!({ "output_index": output_index, "item": item }),
        );
        out.push(added);
        match &kind {
            BlockKind::Text => {
                let part = self.frame(
                    "response.content_part.added",
                    json!({ "item_id": item_id, "output_index": output_index, "content_index": 0,
                        "part": { "type": "output_text", "text": "", "annotations": [], "logprobs": [] } }),
                );
                out.push(part);
            }
            BlockKind::Thinking => {
                let part = self.frame(
                    "response.reasoning_summary_part.added",
                    json!({ "item_id": item_id, "output_index": output_index, "summary_index": 0,
                        "part": { "type": "summary_text", "text": "" } }),
                );
                out.push(part);
            }
            _ => {}
        }
        let text = match &kind {
            BlockKind::RedactedThinking { data } => data.clone(),
            _ => String::new(),
        };
        self.open.insert(
            index,
            Open {
                output_index,
                item_id,
                kind,
                text,
                signature: None,
            },
        );
    }

    fn close_block(&mut self, index: usize, out: &mut Vec<SseFrame>) {
        let Some(o) = self.open.remove(&index) else {
            return;
        };
        let (oi, id) = (o.output_index, o.item_id.clone());
        let item = match &o.kind {
            BlockKind::Text => {
                let done = self.frame(
                    "response.output_text.done",
                    json!({ "item_id": id, "output_index": oi, "content_index": 0, "text": o.text, "logprobs": [] }),
                );
                out.push(done);
                let part = self.frame(
                    "response.content_part.done",
                    json!({ "item_id": id, "output_index": oi, "content_index": 0,
                        "part": { "type": "output_text", "text": o.text, "annotations": [], "logprobs": [] } }),
                );
                out.push(part);
                message_item(&id, &o.text, "completed")
            }
            BlockKind::ToolUse { id: call_id, name } => {
                let done = self.frame(
                    "response.function_call_arguments.done",
                    json!({ "item_id": id, "output_index": oi, "name": name, "arguments": o.text }),
                );
                out.push(done);
                call_item(&id, call_id, name, &o.text, "completed")
            }
            BlockKind::Thinking => {
                let done = self.frame(
                    "response.reasoning_summary_text.done",
                    json!({ "item_id": id, "output_index": oi, "summary_index": 0, "text": o.text }),
                );
                out.push(done);
                let part = self.frame(
                    "response.reasoning_summary_part.done",
                    json!({ "item_id": id, "output_index": oi, "summary_index": 0,
                        "part": { "type": "summary_text", "text": o.text } }),
                );
                out.push(part);
                reasoning_item(&id, &o.text, o.signature.as_deref(), &self.echo)
            }
            BlockKind::RedactedThinking { .. } | BlockKind::Raw { .. } => {
                json!({ "type": "reasoning", "id": id, "summary": [],
                    "encrypted_content": seal(&o.text, None) })
            }
        };
        let done = self.frame(
            "response.output_item.done",
            json!({ "output_index": oi, "item": item.clone() }),
        );
        out.push(done);
        self.done.push((oi, item));
    }

    /// The frames for one canonical event.
    pub fn push(&mut self, event: &StreamEvent) -> Vec<SseFrame> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        self.start(&mut out);
        match event {
            StreamEvent::BlockStart { index, kind, .. } => {
                if !self.open.contains_key(index) {
                    self.open_block(*index, kind.clone(), &mut out);
                }
            }
            StreamEvent::Delta { index, delta } => {
                if !self.open.contains_key(index) {
                    let kind = match delta {
                        Delta::Thinking(_) | Delta::Signature(_) => BlockKind::Thinking,
                        _ => BlockKind::Text,
                    };
                    self.open_block(*index, kind, &mut out);
                }
                let o = self.open.get_mut(index).expect("opened above");
                let (oi, id) = (o.output_index, o.item_id.clone());
                match delta {
                    Delta::Text(t) => {
                        o.text.push_str(t);
                        let f = self.frame(
                            "response.output_text.delta",
                            json!({ "item_id": id, "output_index": oi, "content_index": 0, "delta": t, "logprobs": [] }),
                        );
                        out.push(f);
                    }
                    Delta::Thinking(t) => {
                        o.text.push_str(t);
                        let f = self.frame(
                            "response.reasoning_summary_text.delta",
                            json!({ "item_id": id, "output_index": oi, "summary_index": 0, "delta": t }),
                        );
                        out.push(f);
                    }
                    Delta::Signature(s) => {
                        o.signature.get_or_insert_with(String::new).push_str(s);
                    }
                    Delta::ToolArguments(a) => {
                        o.text.push_str(a);
                        let f = self.frame(
                            "response.function_call_arguments.delta",
                            json!({ "item_id": id, "output_index": oi, "delta": a }),
                        );
                        out.push(f);
                    }
                    Delta::Raw(v) => o.text.push_str(&v.to_string()),
                }
            }
            StreamEvent::BlockStop { index } => self.close_block(*index, &mut out),
            StreamEvent::Usage(u) => self.usage = *u,
            // `n` and logprobs are not part of a Responses request decoded here.
            StreamEvent::Logprobs { .. } | StreamEvent::ChoiceDone { .. } => {}
            StreamEvent::Done(finish) => {
                let open: Vec<usize> = self.open.keys().copied().collect();
                for index in open {
                    self.close_block(index, &mut out);
                }
                let (status, incomplete) = status_of(&finish.reason);
                let mut response = response_object(
                    &self.id,
                    self.created,
                    &self.model,
                    &self.echo,
                    status,
                    self.output(),
                    Some(&self.usage),
                );
                response["incomplete_details"] = incomplete;
                let event = if status == "completed" {
                    "response.completed"
                } else {
                    "response.incomplete"
                };
                let f = self.frame(event, json!({ "response": response.clone() }));
                out.push(f);
                self.last = Some(response);
                self.finished = true;
            }
        }
        out
    }

    /// An upstream failure after the stream began: `response.failed` with the error's code.
    pub fn error(&mut self, error_type: &str, message: &str) -> Vec<SseFrame> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        self.start(&mut out);
        let code = match error_type {
            "rate_limited" | "rate_limit_error" => "rate_limit_exceeded",
            "overloaded" | "overloaded_error" => "server_is_overloaded",
            "timeout" | "timeout_error" => "timeout",
            "bad_request" | "invalid_request_error" if message.contains("context") => {
                "context_length_exceeded"
            }
            _ => "server_error",
        };
        let mut response = response_object(
            &self.id,
            self.created,
            &self.model,
            &self.echo,
            "failed",
            self.output(),
            Some(&self.usage),
        );
        response["error"] = json!({ "code": code, "message": message });
        let f = self.frame("response.failed", json!({ "response": response }));
        out.push(f);
        self.finished = true;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(v: Value) -> Result<DecodedResponses, DecodeError> {
        decode_request(v.to_string().as_bytes())
    }

    #[test]
    fn a_tool_loop_input_becomes_chat_messages() {
        let d = decode(json!({
            "model": "m",
            "instructions": "be brief",
            "input": [
                { "role": "user", "content": "weather in Paris?" },
                { "type": "reasoning", "id": "rs_1", "summary": [{ "type": "summary_text", "text": "call it" }] },
                { "type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{\"city\":\"Paris\"}" },
                { "type": "function_call_output", "call_id": "call_1", "output": "sunny" }
            ],
            "tools": [{ "type": "function", "name": "weather", "parameters": { "type": "object" } }]
        }))
        .unwrap();
        let m = &d.decoded.request.messages;
        assert_eq!(m.len(), 4, "{m:?}");
        assert_eq!(m[0].role, Role::System);
        assert_eq!(m[2].role, Role::Assistant);
        assert_eq!(
            m[2].content.len(),
            2,
            "reasoning and the call in one message"
        );
        assert!(
            matches!(&m[2].content[1], ContentPart::ToolUse { input, .. } if input["city"] == "Paris")
        );
        assert!(
            matches!(&m[3].content[0], ContentPart::ToolResult { tool_use_id, .. } if tool_use_id == "call_1")
        );
        assert_eq!(d.decoded.request.tools.len(), 1);
    }

    #[test]
    fn what_the_bridge_cannot_honour_is_a_400_naming_it() {
        for (body, field) in [
            (
                json!({ "model": "m", "input": "hi", "previous_response_id": 7 }),
                "previous_response_id",
            ),
            (
                json!({ "model": "m", "input": "hi", "tools": [{ "type": "web_search" }] }),
                "tools[0].type",
            ),
            (
                json!({ "model": "m", "input": "hi", "truncation": "auto" }),
                "truncation",
            ),
            (
                json!({ "model": "m", "input": "hi", "frobnicate": 1 }),
                "frobnicate",
            ),
            (
                json!({ "model": "m", "input": [{ "type": "item_reference", "id": "x" }] }),
                "input[0]",
            ),
            (
                json!({ "model": "m", "input": "hi", "include": ["file_search_call.results"] }),
                "include[0]",
            ),
            (
                json!({ "model": "m", "input": [{ "type": "reasoning", "summary": [], "encrypted_content": "gAAAA" }] }),
                "input[0].encrypted_content",
            ),
        ] {
            let e = decode(body).unwrap_err();
            assert!(e.0.contains(&format!("`{field}`")), "{field}: {e}");
        }
    }

    #[test]
    fn sealed_reasoning_round_trips_with_its_signature() {
        let sealed = seal("thought", Some("sig"));
        assert_eq!(
            unseal(&sealed),
            Some(ContentPart::Thinking {
                text: "thought".into(),
                signature: Some("sig".into())
            })
        );
    }

    #[test]
    fn the_stream_has_every_event_in_order() {
        let mut e = StreamEncoder::new("resp_1", "m", 0, Echo::default());
        let mut frames = Vec::new();
        for ev in [
            StreamEvent::Delta {
                index: 0,
                delta: Delta::Thinking("hm".into()),
            },
            StreamEvent::BlockStop { index: 0 },
            StreamEvent::BlockStart {
                index: 1,
                choice: 0,
                kind: BlockKind::Text,
            },
            StreamEvent::text(1, "Hi"),
            StreamEvent::BlockStop { index: 1 },
            StreamEvent::BlockStart {
                index: 2,
                choice: 0,
                kind: BlockKind::ToolUse {
                    id: "c1".into(),
                    name: "f".into(),
                },
            },
            StreamEvent::Delta {
                index: 2,
                delta: Delta::ToolArguments("{}".into()),
            },
            StreamEvent::BlockStop { index: 2 },
            StreamEvent::Done(FinishReason::ToolCalls.into()),
        ] {
            frames.extend(e.push(&ev));
        }
        let names: Vec<&str> = frames.iter().map(|f| f.event.unwrap()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let seqs: Vec<u64> = frames
            .iter()
            .map(|f| {
                serde_json::from_str::<Value>(&f.data).unwrap()["sequence_number"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(seqs, (0..frames.len() as u64).collect::<Vec<_>>());
        let last: Value = serde_json::from_str(&frames.last().unwrap().data).unwrap();
        assert_eq!(last["response"]["output"].as_array().unwrap().len(), 3);
    }
}
