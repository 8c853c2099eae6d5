//! Protocol conformance: the four paths — an OpenAI client to an `openai`-kind provider, an
//! Anthropic client to an `anthropic`-kind provider, and both cross paths — whole and
//! streamed, each checked on both sides: the body (and headers) the fake upstream received,
//! and what the client got. Plain reqwest and serde_json: this is the wire contract.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::gateway::InProcess;
use crate::common::upstream::{Behavior, FakeUpstream, INPUT_TOKENS, Recorded, Reply};

/// An `openai`-kind model.
const GPT: &str = "gpt-x";
/// An `anthropic`-kind model.
const CLAUDE: &str = "claude-x";
/// The same, configured with `tools = false`.
const GPT_NO_TOOLS: &str = "gpt-plain";
const CLAUDE_NO_TOOLS: &str = "claude-plain";
const OPENAI_PROVIDER: &str = "prov-openai";
const ANTHROPIC_PROVIDER: &str = "prov-anthropic";

/// The protocol a client speaks (the route it calls).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Client {
    OpenAi,
    Anthropic,
}

impl Client {
    fn path(self) -> &'static str {
        match self {
            Client::OpenAi => "/v1/chat/completions",
            Client::Anthropic => "/v1/messages",
        }
    }
}

/// The upstream path a model's provider kind calls.
fn upstream_path(model: &str) -> &'static str {
    if model.starts_with("claude") {
        "/v1/messages"
    } else {
        "/v1/chat/completions"
    }
}

fn upstream_model(model: &str) -> String {
    format!("up-{model}")
}

fn config_text(up: &FakeUpstream) -> String {
    let url = up.base_url();
    let mut text = format!(
        r#"[defaults]
max_retries = 0
connect_timeout_secs = 2.0
first_byte_timeout_secs = 10.0
total_timeout_secs = 20.0

[providers.{OPENAI_PROVIDER}]
kind = "openai"
base_url = "{url}"
needs_key = false

[providers.{ANTHROPIC_PROVIDER}]
kind = "anthropic"
base_url = "{url}"
needs_key = false
"#
    );
    for (name, provider, tools) in [
        (GPT, OPENAI_PROVIDER, true),
        (CLAUDE, ANTHROPIC_PROVIDER, true),
        (GPT_NO_TOOLS, OPENAI_PROVIDER, false),
        (CLAUDE_NO_TOOLS, ANTHROPIC_PROVIDER, false),
    ] {
        let upstream = upstream_model(name);
        text.push_str(&format!(
            "\n[[models]]\nname = \"{name}\"\nprovider = \"{provider}\"\nupstream = \"{upstream}\"\ntasks = [\"chat\", \"vision\"]\n"
        ));
        if !tools {
            text.push_str("tools = false\n");
        }
    }
    text
}

/// A gateway in-process in front of one fake upstream that serves both provider kinds.
struct Gw {
    up: FakeUpstream,
    url: String,
    client: reqwest::Client,
    _gw: InProcess,
}

impl Gw {
    async fn start() -> Gw {
        let up = FakeUpstream::start();
        let gw = InProcess::start(&config_text(&up), &[]).await;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Gw {
            up,
            url: gw.url.clone(),
            client,
            _gw: gw,
        }
    }

    /// Sends `body` to the client protocol's route, with `headers` on top of the ones the
    /// official SDKs send.
    async fn send(&self, client: Client, body: &Value, headers: &[(&str, &str)]) -> Resp {
        let mut req = self
            .client
            .post(format!("{}{}", self.url, client.path()))
            .json(body);
        if client == Client::Anthropic {
            req = req.header("anthropic-version", "2023-06-01");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        Resp {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            text: resp.text().await.unwrap(),
            request: body.clone(),
        }
    }

    /// Scripts `reply`, sends `body` (with `stream` set) and returns the answer in the
    /// client's whole-response shape (a stream is accumulated into it), after checking the
    /// status is 200 and the upstream was called on the model's protocol.
    async fn exchange(&self, client: Client, body: &Value, reply: Reply, stream: bool) -> Value {
        let (answer, _) = self.exchange_raw(client, body, reply, stream).await;
        answer
    }

    /// As [`Gw::exchange`], also returning the raw response.
    async fn exchange_raw(
        &self,
        client: Client,
        body: &Value,
        reply: Reply,
        stream: bool,
    ) -> (Value, Resp) {
        self.up.push([Behavior::Reply(reply)]);
        let mut body = body.clone();
        body["stream"] = json!(stream);
        let before = self.up.request_count();
        let resp = self.send(client, &body, &[]).await;
        resp.expect_ok();
        assert_eq!(
            self.up.request_count(),
            before + 1,
            "one upstream request per client request"
        );
        let model = body["model"].as_str().unwrap();
        let sent = self.up.last();
        assert_eq!(
            sent.path,
            upstream_path(model),
            "{model} is served on its kind's protocol"
        );
        assert_eq!(sent.body["model"], json!(upstream_model(model)));
        assert_eq!(
            sent.body["stream"].as_bool().unwrap_or(false),
            stream,
            "the upstream streams iff the client asked: {}",
            sent.body
        );
        let answer = match (client, stream) {
            (Client::OpenAi, false) => resp.json(),
            (Client::OpenAi, true) => openai_accumulate(&resp.sse()),
            (Client::Anthropic, false) => resp.json(),
            (Client::Anthropic, true) => anthropic_accumulate(&resp.sse()),
        };
        (answer, resp)
    }

    /// Sends a request the gateway must refuse before calling the upstream, and returns the
    /// error message after checking the status and the protocol's error shape.
    async fn refused(&self, client: Client, body: &Value) -> String {
        let before = self.up.request_count();
        let resp = self.send(client, body, &[]).await;
        assert_eq!(resp.status, 400, "{}", resp.text);
        assert_eq!(
            self.up.request_count(),
            before,
            "a refused request never reaches the upstream"
        );
        resp.error_message(client)
    }
}

/// A gateway's answer.
struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    request: Value,
}

impl Resp {
    #[track_caller]
    fn expect_ok(&self) {
        assert_eq!(
            self.status, 200,
            "request {}\nanswer {}",
            self.request, self.text
        );
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The SSE events: `(event name or "", data as JSON or as a string)`.
    fn sse(&self) -> Vec<(String, Value)> {
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("text/event-stream"),
            "a stream is text/event-stream, got {content_type:?}: {}",
            self.text
        );
        sse(&self.text)
    }

    /// The error message, after checking the error is in `client`'s protocol shape.
    #[track_caller]
    fn error_message(&self, client: Client) -> String {
        let body = self.json();
        match client {
            Client::OpenAi => {
                assert!(body["error"].is_object(), "OpenAI error shape: {body}");
                assert!(body.get("type").is_none(), "OpenAI error shape: {body}");
            }
            Client::Anthropic => {
                assert_eq!(body["type"], "error", "Anthropic error shape: {body}");
                assert!(
                    body["error"]["type"].is_string(),
                    "Anthropic error shape: {body}"
                );
            }
        }
        body["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("the error has a message: {body}"))
            .to_owned()
    }
}

/// Events of an SSE body: blank lines separate events; `event:` names one, `data:` lines
/// carry its data (JSON when it parses, else the text, e.g. `[DONE]`).
fn sse(body: &str) -> Vec<(String, Value)> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|block| {
            let mut name = String::new();
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            if data.is_empty() {
                return None; // a comment or keep-alive
            }
            let data = data.join("\n");
            Some((
                name,
                serde_json::from_str(&data).unwrap_or(Value::String(data)),
            ))
        })
        .collect()
}

/// An OpenAI stream accumulated into the whole `chat.completion` shape, checking on the way
/// that `choices[].index` stays 0, that a new tool call's `index` is its ordinal, and that
/// the stream ends with `[DONE]`.
fn openai_accumulate(events: &[(String, Value)]) -> Value {
    let mut content: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut calls: Vec<Value> = Vec::new();
    let mut thinking_blocks: Vec<Value> = Vec::new();
    let mut finish = Value::Null;
    let mut usage = Value::Null;
    let mut done = false;
    for (_, data) in events {
        if data == "[DONE]" {
            done = true;
            continue;
        }
        assert!(!done, "data after [DONE]: {data}");
        assert!(
            data.get("error").is_none(),
            "an error in the stream: {data}"
        );
        assert_eq!(data["object"], "chat.completion.chunk", "{data}");
        if let Some(u) = data.get("usage").filter(|u| !u.is_null()) {
            usage = u.clone();
        }
        let choices = data["choices"]
            .as_array()
            .unwrap_or_else(|| panic!("a chunk has choices: {data}"));
        for choice in choices {
            assert_eq!(choice["index"], 0, "choices[].index stays 0: {data}");
            let delta = &choice["delta"];
            if let Some(t) = delta["content"].as_str() {
                content.get_or_insert_default().push_str(t);
            }
            if let Some(t) = delta["reasoning_content"].as_str() {
                reasoning.get_or_insert_default().push_str(t);
            }
            for block in delta["thinking_blocks"].as_array().into_iter().flatten() {
                let thinking = block["thinking"].as_str().unwrap_or_default();
                let signature = block["signature"].as_str().unwrap_or_default();
                if thinking_blocks.is_empty()
                    || (!thinking.is_empty()
                        && !thinking_blocks.last().unwrap()["signature"]
                            .as_str()
                            .unwrap()
                            .is_empty())
                {
                    thinking_blocks
                        .push(json!({ "type": "thinking", "thinking": "", "signature": "" }));
                }
                let last = thinking_blocks.last_mut().unwrap();
                let text = format!("{}{thinking}", last["thinking"].as_str().unwrap());
                last["thinking"] = json!(text);
                if !signature.is_empty() {
                    last["signature"] = json!(signature);
                }
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("tool_calls[].index: {data}"))
                    as usize;
                let fragment = call["function"]["arguments"].as_str().unwrap_or_default();
                if let Some(id) = call["id"].as_str() {
                    assert_eq!(
                        index,
                        calls.len(),
                        "a new tool call's index is its ordinal: {data}"
                    );
                    assert_eq!(call["type"], "function", "{data}");
                    calls.push(json!({
                        "id": id, "type": "function",
                        "function": { "name": call["function"]["name"], "arguments": fragment },
                    }));
                } else {
                    let open = calls
                        .get_mut(index)
                        .unwrap_or_else(|| panic!("a fragment of a call never opened: {data}"));
                    let args = format!(
                        "{}{fragment}",
                        open["function"]["arguments"].as_str().unwrap()
                    );
                    open["function"]["arguments"] = json!(args);
                }
            }
            if !choice["finish_reason"].is_null() {
                assert!(finish.is_null(), "one finish_reason: {data}");
                finish = choice["finish_reason"].clone();
            }
        }
    }
    assert!(done, "the stream ends with [DONE]: {events:?}");
    let mut message = json!({ "role": "assistant", "content": content });
    if let Some(r) = reasoning {
        message["reasoning_content"] = json!(r);
    }
    if !calls.is_empty() {
        message["tool_calls"] = json!(calls);
    }
    if !thinking_blocks.is_empty() {
        message["thinking_blocks"] = json!(thinking_blocks);
    }
    json!({
        "object": "chat.completion",
        "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
        "usage": usage,
    })
}

/// An Anthropic stream accumulated into the whole `message` shape, checking the event
/// grammar on the way (`message_start`, blocks opened, delta'd and closed in index order,
/// `message_delta`, `message_stop`). A tool's input is its `partial_json`s joined, `{}` when
/// empty (as the SDKs do).
fn anthropic_accumulate(events: &[(String, Value)]) -> Value {
    let names: Vec<&str> = events
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| *n != "ping")
        .collect();
    assert_eq!(names.first(), Some(&"message_start"), "{events:?}");
    assert_eq!(names.last(), Some(&"message_stop"), "{events:?}");
    assert_eq!(
        names.iter().filter(|n| **n == "message_delta").count(),
        1,
        "one message_delta: {names:?}"
    );
    let mut message = Value::Null;
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial: Vec<String> = Vec::new();
    let mut open: Option<usize> = None;
    for (name, data) in events {
        assert_eq!(data["type"].as_str(), Some(name.as_str()), "{name}: {data}");
        match name.as_str() {
            "message_start" => message = data["message"].clone(),
            "content_block_start" => {
                assert_eq!(open, None, "a block opens after the last closed: {data}");
                assert_eq!(data["index"], json!(blocks.len()), "{data}");
                open = Some(blocks.len());
                blocks.push(data["content_block"].clone());
                partial.push(String::new());
            }
            "content_block_delta" => {
                let i = open.unwrap_or_else(|| panic!("a delta outside a block: {data}"));
                assert_eq!(data["index"], json!(i), "{data}");
                let delta = &data["delta"];
                let block = &mut blocks[i];
                let append = |block: &mut Value, key: &str, piece: &Value| {
                    let joined = format!(
                        "{}{}",
                        block[key].as_str().unwrap_or_default(),
                        piece.as_str().unwrap()
                    );
                    block[key] = json!(joined);
                };
                match delta["type"].as_str().unwrap() {
                    "text_delta" => append(block, "text", &delta["text"]),
                    "thinking_delta" => append(block, "thinking", &delta["thinking"]),
                    "signature_delta" => append(block, "signature", &delta["signature"]),
                    "input_json_delta" => {
                        partial[i].push_str(delta["partial_json"].as_str().unwrap())
                    }
                    other => panic!("unknown delta {other}: {data}"),
                }
            }
            "content_block_stop" => {
                let i = open
                    .take()
                    .unwrap_or_else(|| panic!("a stray stop: {data}"));
                assert_eq!(data["index"], json!(i), "{data}");
                if blocks[i]["type"] == "tool_use" {
                    let json_text = partial[i].trim();
                    blocks[i]["input"] = if json_text.is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(json_text).unwrap_or_else(|e| {
                            panic!("a tool's partial_json joined is JSON ({e}): {json_text}")
                        })
                    };
                }
            }
            "message_delta" => {
                assert_eq!(open, None, "message_delta after the blocks closed");
                message["stop_reason"] = data["delta"]["stop_reason"].clone();
                message["stop_sequence"] = data["delta"]["stop_sequence"].clone();
                if let Some(usage) = data["usage"].as_object() {
                    for (k, v) in usage {
                        message["usage"][k] = v.clone();
                    }
                }
            }
            "message_stop" | "ping" => {}
            "error" => panic!("an error event: {data}"),
            other => panic!("unknown event {other}: {data}"),
        }
    }
    message["content"] = json!(blocks);
    message
}

/// The events named `name`.
fn named<'a>(events: &'a [(String, Value)], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, d)| d)
        .collect()
}

/// Whether `message` names `word` as a word of its own (not inside another word).
fn names(message: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    message.match_indices(word).any(|(i, _)| {
        let before = message[..i].chars().next_back();
        let after = message[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// A tool result's content as text, whichever form it took (string or text blocks).
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|p| {
                assert_eq!(p["type"], "text", "{content}");
                p["text"].as_str().unwrap().to_owned()
            })
            .collect(),
        other => panic!("not text content: {other}"),
    }
}

/// The OpenAI tool call's arguments, parsed (they are JSON text).
fn arguments(call: &Value) -> Value {
    let text = call["function"]["arguments"]
        .as_str()
        .unwrap_or_else(|| panic!("arguments are a string: {call}"));
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("arguments are JSON ({e}): {text:?} in {call}"))
}

fn openai_tools() -> Value {
    json!([
        { "type": "function", "function": {
            "name": "get_weather", "description": "The weather in a city",
            "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] },
        }},
        { "type": "function", "function": {
            "name": "now", "description": "The time",
            "parameters": { "type": "object", "properties": {} },
        }},
    ])
}

fn anthropic_tools() -> Value {
    json!([
        { "name": "get_weather", "description": "The weather in a city",
          "input_schema": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] } },
        { "name": "now", "description": "The time",
          "input_schema": { "type": "object", "properties": {} } },
    ])
}

/// Thinking, text and two tool calls (the second without arguments), in small fragments.
fn rich_tool_reply(signature: &str) -> Reply {
    Reply::new()
        .with_thinking("I should call both tools.", signature)
        .with_text("Let me check.")
        .with_tool_call("call_w1", "get_weather", r#"{"city": "Paris"}"#)
        .with_tool_call("call_n2", "now", "")
        .with_finish("tool_calls")
        .with_fragment(3)
}

fn openai_request(model: &str) -> Value {
    json!({
        "model": model, "max_tokens": 1000,
        "messages": [
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": "Weather in Paris, and the time?" },
        ],
    })
}

fn anthropic_request(model: &str) -> Value {
    json!({
        "model": model, "max_tokens": 1000, "system": "Be brief.",
        "messages": [{ "role": "user", "content": "Weather in Paris, and the time?" }],
    })
}

fn request(client: Client, model: &str) -> Value {
    match client {
        Client::OpenAi => openai_request(model),
        Client::Anthropic => anthropic_request(model),
    }
}

// ---------------------------------------------------------------------------------------
// Plain text on the four paths.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_round_trips_on_the_four_paths_whole_and_streamed() {
    let gw = Gw::start().await;
    for client in [Client::OpenAi, Client::Anthropic] {
        for model in [GPT, CLAUDE] {
            for stream in [false, true] {
                let reply = Reply::text("The answer is forty-two.").with_fragment(4);
                let what = format!("{client:?} client, {model}, stream {stream}");
                let got = gw
                    .exchange(client, &request(client, model), reply, stream)
                    .await;
                let sent = gw.up.last().body;
                // The system prompt reaches the upstream in its protocol's place.
                if model == CLAUDE {
                    assert_eq!(text_of(&sent["system"]), "Be brief.", "{what}: {sent}");
                    assert!(
                        sent["messages"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .all(|m| m["role"] != "system"),
                        "{what}: {sent}"
                    );
                } else {
                    assert_eq!(sent["messages"][0]["role"], "system", "{what}: {sent}");
                    assert_eq!(
                        text_of(&sent["messages"][0]["content"]),
                        "Be brief.",
                        "{what}"
                    );
                }
                match client {
                    Client::OpenAi => {
                        assert_eq!(got["object"], "chat.completion", "{what}");
                        assert_eq!(
                            got["choices"][0]["message"]["content"], "The answer is forty-two.",
                            "{what}: {got}"
                        );
                        assert_eq!(got["choices"][0]["finish_reason"], "stop", "{what}");
                    }
                    Client::Anthropic => {
                        assert_eq!(got["type"], "message", "{what}: {got}");
                        assert_eq!(got["role"], "assistant", "{what}");
                        assert_eq!(
                            got["content"],
                            json!([{ "type": "text", "text": "The answer is forty-two." }]),
                            "{what}"
                        );
                        assert_eq!(got["stop_reason"], "end_turn", "{what}");
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_request_without_max_tokens_reaches_an_anthropic_upstream_with_one() {
    let gw = Gw::start().await;
    let mut body = openai_request(CLAUDE);
    body.as_object_mut().unwrap().remove("max_tokens");
    let got = gw
        .exchange(Client::OpenAi, &body, Reply::text("ok"), false)
        .await;
    assert_eq!(got["choices"][0]["message"]["content"], "ok");
    let sent = gw.up.last().body;
    assert!(
        sent["max_tokens"].as_u64().is_some_and(|n| n > 0),
        "Anthropic requires max_tokens: {sent}"
    );
}

/// A request for an upstream of its own protocol goes out as the client wrote it: the same
/// bytes (spacing, key order, number spellings, escapes, fields the gateway does not know),
/// only `model` replaced — and, for an OpenAI stream, the usage chunk the gateway accounts
/// with asked for. A request the gateway must read (here: one continuing a session) is
/// decoded instead, and still reaches the upstream with the same meaning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_protocol_requests_go_out_byte_for_byte() {
    let gw = Gw::start().await;
    // (client, model, the body as sent, as the upstream must get it), each without its
    // closing brace. Members are copied as written; only the separators between them are the
    // gateway's.
    let cases = [
        (
            Client::OpenAi,
            GPT,
            r#"{ "model" : "gpt-x", "temperature": 0.70, "top_p": 1e-1, "messages": [{"role": "user", "content": "caf\u00e9 \"x\""}], "x_vendor": {"b": 1, "a": [2.50]}"#,
            r#"{"model":"up-gpt-x","temperature":0.70,"top_p":1e-1,"messages":[{"role": "user", "content": "caf\u00e9 \"x\""}],"x_vendor":{"b": 1, "a": [2.50]}"#,
        ),
        (
            Client::Anthropic,
            CLAUDE,
            r#"{"max_tokens":64,  "model":"claude-x","system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"caf\u00e9"}],"temperature":0.70"#,
            r#"{"max_tokens":64,"model":"up-claude-x","system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"caf\u00e9"}],"temperature":0.70"#,
        ),
    ];
    for (client, model, start, out) in cases {
        assert_eq!(upstream_model(model), format!("up-{model}"));
        for stream in [false, true] {
            let (body, mut expected) = if stream {
                (
                    format!("{start}, \"stream\": true}}"),
                    format!("{out},\"stream\":true}}"),
                )
            } else {
                (format!("{start}}}"), format!("{out}}}"))
            };
            let mut req = gw
                .client
                .post(format!("{}{}", gw.url, client.path()))
                .header("content-type", "application/json")
                .header("anthropic-beta", "some-beta-2025-01-01")
                .body(body.clone());
            if client == Client::Anthropic {
                req = req.header("anthropic-version", "2023-06-01");
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200, "{client:?} stream {stream}");
            let _ = resp.text().await.unwrap();
            let sent = gw.up.last();
            if stream && client == Client::OpenAi {
                expected.pop();
                expected.push_str(r#","stream_options":{"include_usage":true}}"#);
            }
            let raw = String::from_utf8_lossy(&sent.raw);
            assert_eq!(raw, expected, "{client:?} stream {stream}");
            assert_eq!(
                sent.header("anthropic-beta"),
                (client == Client::Anthropic).then_some("some-beta-2025-01-01"),
                "{client:?}: the protocol's headers travel with it"
            );
        }
        // A session needs the conversation: decoded, re-encoded, the same meaning.
        let body = format!("{start}}}");
        let mut req = gw
            .client
            .post(format!("{}{}", gw.url, client.path()))
            .header("x-session-id", "s-1")
            .body(body.clone());
        if client == Client::Anthropic {
            req = req.header("anthropic-version", "2023-06-01");
        }
        assert_eq!(req.send().await.unwrap().status(), 200);
        let sent = gw.up.last();
        assert_ne!(
            String::from_utf8_lossy(&sent.raw),
            body,
            "decoded, not forwarded"
        );
        assert_eq!(sent.body["temperature"], json!(0.7), "{client:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temperature_reaches_the_upstream_as_written_on_the_four_paths() {
    let gw = Gw::start().await;
    for client in [Client::OpenAi, Client::Anthropic] {
        for model in [GPT, CLAUDE] {
            let mut body = request(client, model);
            body["temperature"] = json!(0.7);
            body["top_p"] = json!(0.9);
            gw.exchange(client, &body, Reply::text("ok"), false).await;
            let sent = gw.up.last().body;
            assert_eq!(
                sent["temperature"],
                json!(0.7),
                "{client:?} → {model}: {sent}"
            );
            assert_eq!(sent["top_p"], json!(0.9), "{client:?} → {model}: {sent}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tools: definitions, tool_choice, parallel_tool_calls, tool calls in the answer.

/// Checks an OpenAI client's answer carrying [`rich_tool_reply`]'s two calls. The second
/// call's arguments were `""` upstream: an OpenAI client gets `{}` across protocols; from
/// an OpenAI upstream (`verbatim`) `""` may also pass as the upstream sent it.
fn assert_openai_tool_calls(got: &Value, what: &str, verbatim: bool) {
    let choice = &got["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{what}: {got}");
    let calls = choice["message"]["tool_calls"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: tool_calls: {got}"));
    assert_eq!(calls.len(), 2, "{what}: {got}");
    assert_eq!(calls[0]["id"], "call_w1", "{what}: tool ids kept");
    assert_eq!(calls[0]["type"], "function", "{what}");
    assert_eq!(calls[0]["function"]["name"], "get_weather", "{what}");
    assert_eq!(arguments(&calls[0]), json!({ "city": "Paris" }), "{what}");
    assert_eq!(calls[1]["id"], "call_n2", "{what}: tool ids kept");
    assert_eq!(calls[1]["function"]["name"], "now", "{what}");
    let empty = &calls[1]["function"]["arguments"];
    if !(verbatim && empty == "") {
        assert_eq!(
            empty
                .as_str()
                .and_then(|a| serde_json::from_str::<Value>(a).ok()),
            Some(json!({})),
            "{what}: a tool without arguments gets {{}}, got {empty}"
        );
    }
    assert_eq!(
        choice["message"]["content"], "Let me check.",
        "{what}: {got}"
    );
    assert_eq!(
        choice["message"]["reasoning_content"], "I should call both tools.",
        "{what}: {got}"
    );
}

/// Checks an Anthropic client's answer carrying [`rich_tool_reply`]'s blocks.
fn assert_anthropic_tool_uses(got: &Value, what: &str, signature: Option<&str>) {
    assert_eq!(got["stop_reason"], "tool_use", "{what}: {got}");
    let content = got["content"].as_array().unwrap();
    let kinds: Vec<&str> = content
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["thinking", "text", "tool_use", "tool_use"],
        "{what}: {got}"
    );
    assert_eq!(
        content[0]["thinking"], "I should call both tools.",
        "{what}"
    );
    if let Some(signature) = signature {
        assert_eq!(content[0]["signature"], signature, "{what}");
    }
    assert_eq!(content[1]["text"], "Let me check.", "{what}");
    assert_eq!(content[2]["id"], "call_w1", "{what}: tool ids kept");
    assert_eq!(content[2]["name"], "get_weather", "{what}");
    assert_eq!(content[2]["input"], json!({ "city": "Paris" }), "{what}");
    assert_eq!(content[3]["id"], "call_n2", "{what}");
    assert_eq!(content[3]["name"], "now", "{what}");
    assert_eq!(
        content[3]["input"],
        json!({}),
        "{what}: a tool without arguments has input {{}}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_tools_to_an_openai_upstream_go_through_untouched() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let mut body = openai_request(GPT);
        body["tools"] = openai_tools();
        body["tool_choice"] = json!("required");
        body["parallel_tool_calls"] = json!(false);
        let got = gw
            .exchange(Client::OpenAi, &body, rich_tool_reply(""), stream)
            .await;
        let sent = gw.up.last().body;
        assert_eq!(sent["tools"], openai_tools(), "{sent}");
        assert_eq!(sent["tool_choice"], "required");
        assert_eq!(sent["parallel_tool_calls"], false);
        assert_openai_tool_calls(&got, &format!("stream {stream}"), true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_tools_to_an_anthropic_upstream_are_translated_and_calls_come_back() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let mut body = openai_request(CLAUDE);
        body["tools"] = openai_tools();
        body["tool_choice"] = json!("required");
        body["parallel_tool_calls"] = json!(false);
        let got = gw
            .exchange(Client::OpenAi, &body, rich_tool_reply("sig-1"), stream)
            .await;
        let sent = gw.up.last().body;
        let tools = sent["tools"].as_array().unwrap_or_else(|| panic!("{sent}"));
        let expected = anthropic_tools();
        assert_eq!(tools.len(), 2, "{sent}");
        for (tool, want) in tools.iter().zip(expected.as_array().unwrap()) {
            for key in ["name", "description", "input_schema"] {
                assert_eq!(tool[key], want[key], "tool {key}: {sent}");
            }
            assert!(tool.get("function").is_none(), "{sent}");
        }
        assert_eq!(sent["tool_choice"]["type"], "any", "required ↔ any: {sent}");
        assert_eq!(
            sent["tool_choice"]["disable_parallel_tool_use"], true,
            "parallel_tool_calls: false ↔ disable_parallel_tool_use: {sent}"
        );
        assert!(sent.get("parallel_tool_calls").is_none(), "{sent}");
        assert_openai_tool_calls(&got, &format!("stream {stream}"), false);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_named_tool_choice_becomes_an_anthropic_tool_choice() {
    let gw = Gw::start().await;
    let mut body = openai_request(CLAUDE);
    body["tools"] = openai_tools();
    body["tool_choice"] = json!({ "type": "function", "function": { "name": "get_weather" } });
    gw.exchange(
        Client::OpenAi,
        &body,
        Reply::tool_call("call_1", "get_weather", r#"{"city":"Oslo"}"#),
        false,
    )
    .await;
    let sent = gw.up.last().body;
    assert_eq!(sent["tool_choice"]["type"], "tool", "{sent}");
    assert_eq!(sent["tool_choice"]["name"], "get_weather", "{sent}");
    assert_ne!(sent["tool_choice"]["disable_parallel_tool_use"], true);

    body["tool_choice"] = json!("auto");
    gw.exchange(Client::OpenAi, &body, Reply::text("ok"), false)
        .await;
    let sent = gw.up.last().body;
    assert_eq!(sent["tool_choice"]["type"], "auto", "{sent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_tools_to_an_openai_upstream_are_translated_and_calls_come_back() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let mut body = anthropic_request(GPT);
        body["tools"] = anthropic_tools();
        body["tool_choice"] = json!({ "type": "any", "disable_parallel_tool_use": true });
        let got = gw
            .exchange(Client::Anthropic, &body, rich_tool_reply(""), stream)
            .await;
        let sent = gw.up.last().body;
        assert_eq!(sent["tools"], openai_tools(), "{sent}");
        assert_eq!(sent["tool_choice"], "required", "any ↔ required: {sent}");
        assert_eq!(
            sent["parallel_tool_calls"], false,
            "disable_parallel_tool_use ↔ parallel_tool_calls: false: {sent}"
        );
        assert_anthropic_tool_uses(&got, &format!("stream {stream}"), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_named_tool_choice_becomes_an_openai_function_choice() {
    let gw = Gw::start().await;
    let mut body = anthropic_request(GPT);
    body["tools"] = anthropic_tools();
    body["tool_choice"] = json!({ "type": "tool", "name": "get_weather" });
    gw.exchange(
        Client::Anthropic,
        &body,
        Reply::tool_call("call_1", "get_weather", r#"{"city":"Oslo"}"#),
        false,
    )
    .await;
    let sent = gw.up.last().body;
    assert_eq!(
        sent["tool_choice"],
        json!({ "type": "function", "function": { "name": "get_weather" } }),
        "{sent}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_tools_to_an_anthropic_upstream_go_through_untouched() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let mut body = anthropic_request(CLAUDE);
        let mut tools = anthropic_tools();
        tools[1]["cache_control"] = json!({ "type": "ephemeral" });
        body["tools"] = tools.clone();
        body["tool_choice"] = json!({ "type": "any", "disable_parallel_tool_use": true });
        let got = gw
            .exchange(Client::Anthropic, &body, rich_tool_reply("sig-1"), stream)
            .await;
        let sent = gw.up.last().body;
        assert_eq!(sent["tools"], tools, "{sent}");
        assert_eq!(sent["tool_choice"], body["tool_choice"], "{sent}");
        assert_anthropic_tool_uses(&got, &format!("stream {stream}"), Some("sig-1"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_openai_tool_call_indexes_are_ordinals_from_an_anthropic_upstream() {
    // Thinking and text come first, so the tool_use blocks are Anthropic blocks 2 and 3:
    // an OpenAI client must see tool_calls[].index 0 and 1, in fragments.
    let gw = Gw::start().await;
    let mut body = openai_request(CLAUDE);
    body["tools"] = openai_tools();
    body["stream"] = json!(true);
    gw.up.push([Behavior::Reply(rich_tool_reply("sig-1"))]);
    let resp = gw.send(Client::OpenAi, &body, &[]).await;
    resp.expect_ok();
    let events = resp.sse();
    let mut indexes: Vec<u64> = Vec::new();
    let mut openings = 0;
    for (_, data) in &events {
        for call in data["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            indexes.push(call["index"].as_u64().unwrap());
            if call.get("id").is_some_and(|id| !id.is_null()) {
                openings += 1;
            }
        }
    }
    assert_eq!(openings, 2, "each call opens once: {}", resp.text);
    assert!(
        indexes.iter().all(|i| *i < 2),
        "indexes are ordinals, not block indexes: {indexes:?}"
    );
    assert!(
        indexes.iter().filter(|i| **i == 0).count() > 1,
        "the arguments come in fragments: {}",
        resp.text
    );
    let got = openai_accumulate(&events);
    assert_openai_tool_calls(&got, "streamed", false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_tool_without_arguments_gives_an_openai_client_an_empty_object() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let mut body = openai_request(CLAUDE);
        body["tools"] = openai_tools();
        let got = gw
            .exchange(
                Client::OpenAi,
                &body,
                Reply::tool_call("toolu_now", "now", ""),
                stream,
            )
            .await;
        let call = &got["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["id"], "toolu_now", "stream {stream}: {got}");
        assert_eq!(
            call["function"]["arguments"], "{}",
            "stream {stream}: \"\" becomes {{}}: {got}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_anthropic_stream_from_an_openai_upstream_has_the_blocks_in_order() {
    // What an OpenAI upstream streams as reasoning, content and tool_calls becomes
    // thinking, text and tool_use blocks, each opened, filled and closed.
    let gw = Gw::start().await;
    let mut body = anthropic_request(GPT);
    body["tools"] = anthropic_tools();
    body["stream"] = json!(true);
    gw.up.push([Behavior::Reply(rich_tool_reply(""))]);
    let resp = gw.send(Client::Anthropic, &body, &[]).await;
    resp.expect_ok();
    let events = resp.sse();
    let starts = named(&events, "content_block_start");
    let kinds: Vec<&Value> = starts.iter().map(|d| &d["content_block"]["type"]).collect();
    assert_eq!(
        kinds,
        [
            &json!("thinking"),
            &json!("text"),
            &json!("tool_use"),
            &json!("tool_use")
        ],
        "{}",
        resp.text
    );
    assert_eq!(starts[2]["content_block"]["id"], "call_w1");
    assert_eq!(starts[2]["content_block"]["name"], "get_weather");
    assert_eq!(starts[3]["content_block"]["id"], "call_n2");
    let got = anthropic_accumulate(&events);
    assert_anthropic_tool_uses(&got, "streamed", None);
}

// ---------------------------------------------------------------------------------------
// Tool results in the history.

fn openai_tool_history(model: &str) -> Value {
    json!({
        "model": model, "max_tokens": 1000,
        "tools": openai_tools(),
        "messages": [
            { "role": "user", "content": "Weather in Paris, and the time?" },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "call_w1", "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } },
                { "id": "call_n2", "type": "function", "function": { "name": "now", "arguments": "{}" } },
            ]},
            { "role": "tool", "tool_call_id": "call_w1", "content": "Sunny, 21 C" },
            { "role": "tool", "tool_call_id": "call_n2", "content": "12:00" },
        ],
    })
}

fn anthropic_tool_history(model: &str) -> Value {
    json!({
        "model": model, "max_tokens": 1000,
        "tools": anthropic_tools(),
        "messages": [
            { "role": "user", "content": "Weather in Paris, and the time?" },
            { "role": "assistant", "content": [
                { "type": "text", "text": "Let me check." },
                { "type": "tool_use", "id": "toolu_w1", "name": "get_weather", "input": { "city": "Paris" } },
                { "type": "tool_use", "id": "toolu_n2", "name": "now", "input": {} },
            ]},
            { "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": "toolu_w1", "content": "Sunny, 21 C" },
                { "type": "tool_result", "tool_use_id": "toolu_n2", "content": [{ "type": "text", "text": "12:00" }] },
            ]},
        ],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_tool_messages_become_one_user_message_of_tool_results() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let got = gw
            .exchange(
                Client::OpenAi,
                &openai_tool_history(CLAUDE),
                Reply::text("Sunny, at noon."),
                stream,
            )
            .await;
        assert_eq!(got["choices"][0]["message"]["content"], "Sunny, at noon.");
        let sent = gw.up.last().body;
        let messages = sent["messages"].as_array().unwrap();
        let roles: Vec<&str> = messages
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["user", "assistant", "user"], "{sent}");
        let uses: Vec<&Value> = messages[1]["content"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .collect();
        assert_eq!(
            uses,
            [
                &json!({ "type": "tool_use", "id": "call_w1", "name": "get_weather", "input": { "city": "Paris" } }),
                &json!({ "type": "tool_use", "id": "call_n2", "name": "now", "input": {} }),
            ],
            "{sent}"
        );
        let results = messages[2]["content"].as_array().unwrap();
        assert_eq!(results.len(), 2, "one result per tool_use: {sent}");
        assert_eq!(results[0]["type"], "tool_result");
        assert_eq!(results[0]["tool_use_id"], "call_w1");
        assert_eq!(text_of(&results[0]["content"]), "Sunny, 21 C");
        assert_eq!(results[1]["type"], "tool_result");
        assert_eq!(results[1]["tool_use_id"], "call_n2");
        assert_eq!(text_of(&results[1]["content"]), "12:00");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_tool_results_become_openai_tool_messages() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let got = gw
            .exchange(
                Client::Anthropic,
                &anthropic_tool_history(GPT),
                Reply::text("Sunny, at noon."),
                stream,
            )
            .await;
        assert_eq!(got["content"][0]["text"], "Sunny, at noon.", "{got}");
        let sent = gw.up.last().body;
        let messages = sent["messages"].as_array().unwrap();
        let roles: Vec<&str> = messages
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["user", "assistant", "tool", "tool"], "{sent}");
        let assistant = &messages[1];
        assert_eq!(text_of(&assistant["content"]), "Let me check.", "{sent}");
        let calls = assistant["tool_calls"].as_array().unwrap();
        assert_eq!(calls.len(), 2, "{sent}");
        assert_eq!(calls[0]["id"], "toolu_w1");
        assert_eq!(calls[0]["type"], "function");
        assert_eq!(calls[0]["function"]["name"], "get_weather");
        assert_eq!(arguments(&calls[0]), json!({ "city": "Paris" }));
        assert_eq!(calls[1]["id"], "toolu_n2");
        assert_eq!(arguments(&calls[1]), json!({}));
        assert_eq!(messages[2]["tool_call_id"], "toolu_w1");
        assert_eq!(text_of(&messages[2]["content"]), "Sunny, 21 C");
        assert_eq!(messages[3]["tool_call_id"], "toolu_n2");
        assert_eq!(text_of(&messages[3]["content"]), "12:00");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_histories_reach_a_same_protocol_upstream_untouched() {
    let gw = Gw::start().await;
    let body = openai_tool_history(GPT);
    gw.exchange(Client::OpenAi, &body, Reply::text("ok"), false)
        .await;
    assert_eq!(gw.up.last().body["messages"], body["messages"]);
    let mut body = anthropic_tool_history(CLAUDE);
    // A tool result's block with cache_control and one that is an error.
    body["messages"][2]["content"][0]["is_error"] = json!(true);
    body["messages"][2]["content"][1]["content"][0]["cache_control"] =
        json!({ "type": "ephemeral" });
    gw.exchange(Client::Anthropic, &body, Reply::text("ok"), false)
        .await;
    assert_eq!(
        plain_tool_results(&gw.up.last().body["messages"]),
        plain_tool_results(&body["messages"])
    );
}

/// Anthropic messages with each tool result's content that is one bare text block written
/// as the string it means (the API takes both; a gateway may normalize one to the other).
fn plain_tool_results(messages: &Value) -> Value {
    let mut messages = messages.clone();
    for message in messages.as_array_mut().unwrap() {
        for block in message["content"].as_array_mut().into_iter().flatten() {
            let content = &block["content"];
            if block["type"] == "tool_result"
                && content.as_array().is_some_and(|parts| {
                    parts.len() == 1
                        && parts[0]["type"] == "text"
                        && parts[0].as_object().unwrap().len() == 2
                })
            {
                block["content"] = content[0]["text"].clone();
            }
        }
    }
    messages
}

// ---------------------------------------------------------------------------------------
// Thinking and reasoning.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_thinking_reaches_an_openai_client_as_reasoning_content_with_its_signature() {
    // The client gets the thinking as `reasoning_content` and the signature in
    // `thinking_blocks`; sending that assistant message back as it came gives the upstream
    // the signed thinking block again (a streamed `thinking_blocks` entry may leave the text
    // to `reasoning_content`).
    let gw = Gw::start().await;
    for stream in [false, true] {
        let reply = Reply::new()
            .with_thinking("Six times seven.", "sig-ABC")
            .with_text("42")
            .with_fragment(4);
        let got = gw
            .exchange(Client::OpenAi, &openai_request(CLAUDE), reply, stream)
            .await;
        let message = &got["choices"][0]["message"];
        assert_eq!(message["content"], "42", "stream {stream}: {got}");
        assert_eq!(
            message["reasoning_content"], "Six times seven.",
            "stream {stream}: {got}"
        );
        let blocks = message["thinking_blocks"]
            .as_array()
            .unwrap_or_else(|| panic!("stream {stream}: thinking_blocks: {got}"));
        assert_eq!(blocks.len(), 1, "stream {stream}: {got}");
        assert_eq!(blocks[0]["type"], "thinking");
        assert_eq!(blocks[0]["signature"], "sig-ABC", "stream {stream}");
        if !stream || blocks[0]["thinking"] != "" {
            assert_eq!(blocks[0]["thinking"], "Six times seven.", "stream {stream}");
        }

        let mut body = openai_request(CLAUDE);
        let messages = body["messages"].as_array_mut().unwrap();
        messages.push(message.clone());
        messages.push(json!({ "role": "user", "content": "And times two?" }));
        gw.exchange(Client::OpenAi, &body, Reply::text("84"), false)
            .await;
        let sent = gw.up.last().body;
        let assistant = &sent["messages"][1];
        assert_eq!(assistant["role"], "assistant", "{sent}");
        assert_eq!(
            assistant["content"][0],
            json!({ "type": "thinking", "thinking": "Six times seven.", "signature": "sig-ABC" }),
            "stream {stream}: the signed thinking goes back as it came: {sent}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_client_sends_thinking_blocks_back_to_an_anthropic_upstream() {
    let gw = Gw::start().await;
    let body = json!({
        "model": CLAUDE, "max_tokens": 1000,
        "messages": [
            { "role": "user", "content": "Six times seven?" },
            { "role": "assistant", "content": "42", "reasoning_content": "Six times seven.",
              "thinking_blocks": [{ "type": "thinking", "thinking": "Six times seven.", "signature": "sig-ABC" }] },
            { "role": "user", "content": "And times two?" },
        ],
    });
    gw.exchange(Client::OpenAi, &body, Reply::text("84"), false)
        .await;
    let sent = gw.up.last().body;
    let assistant = &sent["messages"][1];
    assert_eq!(assistant["role"], "assistant", "{sent}");
    assert_eq!(
        assistant["content"][0],
        json!({ "type": "thinking", "thinking": "Six times seven.", "signature": "sig-ABC" }),
        "the signed thinking goes back first: {sent}"
    );
    assert_eq!(assistant["content"][1]["type"], "text", "{sent}");
    assert_eq!(assistant["content"][1]["text"], "42", "{sent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_reasoning_is_not_sent_to_an_anthropic_upstream() {
    let gw = Gw::start().await;
    let body = json!({
        "model": CLAUDE, "max_tokens": 1000,
        "messages": [
            { "role": "user", "content": "Six times seven?" },
            { "role": "assistant", "content": "42", "reasoning_content": "Six times seven." },
            { "role": "user", "content": "And times two?" },
        ],
    });
    gw.exchange(Client::OpenAi, &body, Reply::text("84"), false)
        .await;
    let sent = gw.up.last().body;
    let assistant = &sent["messages"][1];
    assert_eq!(text_of_blocks(&assistant["content"]), "42", "{sent}");
    assert!(
        !sent.to_string().contains("\"thinking\""),
        "an unsigned thinking block would be refused upstream: {sent}"
    );
}

/// The text of a message's content, whether a string or blocks (non-text blocks skipped).
fn text_of_blocks(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .map(|b| b["text"].as_str().unwrap())
            .collect(),
        other => panic!("not message content: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anthropic_signature_is_not_sent_to_an_openai_upstream() {
    let gw = Gw::start().await;
    let body = json!({
        "model": GPT, "max_tokens": 1000,
        "messages": [
            { "role": "user", "content": "Six times seven?" },
            { "role": "assistant", "content": [
                { "type": "thinking", "thinking": "Six times seven.", "signature": "sig-ABC" },
                { "type": "text", "text": "42" },
            ]},
            { "role": "user", "content": "And times two?" },
        ],
    });
    gw.exchange(Client::Anthropic, &body, Reply::text("84"), false)
        .await;
    let sent = gw.up.last().body;
    assert!(!sent.to_string().contains("sig-ABC"), "{sent}");
    let assistant = &sent["messages"][1];
    assert_eq!(assistant["role"], "assistant", "{sent}");
    assert_eq!(text_of_blocks(&assistant["content"]), "42", "{sent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_reasoning_content_reaches_an_anthropic_client_as_thinking() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let reply = Reply::new()
            .with_thinking("Six times seven.", "")
            .with_text("42")
            .with_reasoning_tokens(5)
            .with_fragment(4);
        let got = gw
            .exchange(Client::Anthropic, &anthropic_request(GPT), reply, stream)
            .await;
        let content = got["content"].as_array().unwrap();
        assert_eq!(content.len(), 2, "stream {stream}: {got}");
        assert_eq!(content[0]["type"], "thinking", "stream {stream}: {got}");
        assert_eq!(
            content[0]["thinking"], "Six times seven.",
            "stream {stream}"
        );
        assert_eq!(content[1], json!({ "type": "text", "text": "42" }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thinking_goes_through_between_anthropic_client_and_upstream() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let mut body = anthropic_request(CLAUDE);
        body["max_tokens"] = json!(4000);
        body["thinking"] = json!({ "type": "enabled", "budget_tokens": 2048 });
        body["messages"] = json!([
            { "role": "user", "content": "Six times seven?" },
            { "role": "assistant", "content": [
                { "type": "thinking", "thinking": "Six times seven.", "signature": "sig-OLD" },
                { "type": "redacted_thinking", "data": "opaque==" },
                { "type": "text", "text": "42" },
            ]},
            { "role": "user", "content": "And times two?" },
        ]);
        let reply = Reply::new()
            .with_thinking("Doubling.", "sig-NEW")
            .with_text("84");
        let (got, resp) = gw
            .exchange_raw(Client::Anthropic, &body, reply, stream)
            .await;
        let sent = gw.up.last().body;
        assert_eq!(sent["thinking"], body["thinking"], "{sent}");
        assert_eq!(sent["messages"], body["messages"], "{sent}");
        assert_eq!(
            got["content"],
            json!([
                { "type": "thinking", "thinking": "Doubling.", "signature": "sig-NEW" },
                { "type": "text", "text": "84" },
            ]),
            "stream {stream}"
        );
        if stream {
            let deltas = named(&resp.sse(), "content_block_delta")
                .into_iter()
                .map(|d| d["delta"]["type"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>();
            assert_eq!(
                deltas.iter().filter(|t| *t == "signature_delta").count(),
                1,
                "{deltas:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasoning_content_and_reasoning_tokens_go_through_between_openai_client_and_upstream() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let mut body = openai_request(GPT);
        body["reasoning_effort"] = json!("high");
        body["stream_options"] = json!({ "include_usage": true });
        let reply = Reply::new()
            .with_thinking("Six times seven.", "")
            .with_text("42")
            .with_reasoning_tokens(5)
            .with_cache(3, 0);
        let output = reply.output_tokens();
        let got = gw.exchange(Client::OpenAi, &body, reply, stream).await;
        let sent = gw.up.last().body;
        assert_eq!(sent["reasoning_effort"], "high", "{sent}");
        let message = &got["choices"][0]["message"];
        assert_eq!(message["reasoning_content"], "Six times seven.", "{got}");
        assert_eq!(message["content"], "42");
        let usage = &got["usage"];
        assert_eq!(
            usage["completion_tokens_details"]["reasoning_tokens"], 5,
            "stream {stream}: {got}"
        );
        assert_eq!(usage["completion_tokens"], output, "stream {stream}: {got}");
        assert_eq!(usage["prompt_tokens"], INPUT_TOKENS + 3, "stream {stream}");
        assert_eq!(
            usage["prompt_tokens_details"]["cached_tokens"], 3,
            "stream {stream}: {got}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasoning_effort_becomes_a_thinking_budget_for_an_anthropic_upstream() {
    let gw = Gw::start().await;
    let mut budgets = Vec::new();
    for effort in ["low", "high"] {
        let mut body = openai_request(CLAUDE);
        body["max_tokens"] = json!(16000);
        body["reasoning_effort"] = json!(effort);
        let reply = Reply::new().with_thinking("Hmm.", "sig-1").with_text("ok");
        let got = gw.exchange(Client::OpenAi, &body, reply, false).await;
        assert_eq!(got["choices"][0]["message"]["reasoning_content"], "Hmm.");
        let sent = gw.up.last().body;
        assert_eq!(sent["thinking"]["type"], "enabled", "{effort}: {sent}");
        let budget = sent["thinking"]["budget_tokens"]
            .as_u64()
            .unwrap_or_else(|| panic!("{effort}: a budget: {sent}"));
        let max_tokens = sent["max_tokens"].as_u64().unwrap();
        assert!(
            (1024..max_tokens).contains(&budget),
            "{effort}: Anthropic needs 1024 <= budget_tokens < max_tokens: {sent}"
        );
        assert!(sent.get("reasoning_effort").is_none(), "{sent}");
        budgets.push(budget);
    }
    assert!(
        budgets[0] < budgets[1],
        "more effort, more budget: {budgets:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thinking_budget_becomes_a_reasoning_effort_for_an_openai_upstream() {
    let order = ["minimal", "low", "medium", "high"];
    let gw = Gw::start().await;
    let mut efforts = Vec::new();
    for budget in [1024, 30000] {
        let mut body = anthropic_request(GPT);
        body["max_tokens"] = json!(32000);
        body["thinking"] = json!({ "type": "enabled", "budget_tokens": budget });
        gw.exchange(Client::Anthropic, &body, Reply::text("ok"), false)
            .await;
        let sent = gw.up.last().body;
        let effort = sent["reasoning_effort"]
            .as_str()
            .unwrap_or_else(|| panic!("{budget}: an effort: {sent}"));
        let rank = order
            .iter()
            .position(|e| *e == effort)
            .unwrap_or_else(|| panic!("{budget}: a known effort: {sent}"));
        assert!(sent.get("thinking").is_none(), "{sent}");
        efforts.push(rank);
    }
    assert!(
        efforts[0] < efforts[1],
        "more budget, more effort: {efforts:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Usage, caching and stop reasons.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_cache_usage_reaches_an_openai_client_in_its_fields() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let mut body = openai_request(CLAUDE);
        body["stream_options"] = json!({ "include_usage": true });
        let reply = Reply::text("ok").with_cache(3, 2);
        let output = reply.output_tokens();
        let got = gw.exchange(Client::OpenAi, &body, reply, stream).await;
        let usage = &got["usage"];
        assert_eq!(
            usage["prompt_tokens"],
            INPUT_TOKENS + 3 + 2,
            "prompt_tokens counts all input, cached or not (stream {stream}): {got}"
        );
        assert_eq!(
            usage["prompt_tokens_details"]["cached_tokens"], 3,
            "stream {stream}: {got}"
        );
        assert_eq!(usage["completion_tokens"], output, "stream {stream}: {got}");
        assert_eq!(
            usage["total_tokens"],
            INPUT_TOKENS + 3 + 2 + output,
            "stream {stream}: {got}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_cache_usage_reaches_an_anthropic_client_in_its_fields() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let reply = Reply::text("ok").with_cache(3, 0);
        let output = reply.output_tokens();
        let (got, resp) = gw
            .exchange_raw(Client::Anthropic, &anthropic_request(GPT), reply, stream)
            .await;
        if stream {
            let sent = gw.up.last().body;
            assert_eq!(
                sent["stream_options"]["include_usage"], true,
                "usage must be asked for: {sent}"
            );
            let start = named(&resp.sse(), "message_start")[0].clone();
            let usage = &start["message"]["usage"];
            for key in [
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            ] {
                assert!(
                    usage[key].is_u64(),
                    "message_start usage has {key}: {start}"
                );
            }
        }
        let usage = &got["usage"];
        assert_eq!(
            usage["input_tokens"], INPUT_TOKENS,
            "input_tokens excludes the cached (stream {stream}): {got}"
        );
        assert_eq!(
            usage["cache_read_input_tokens"], 3,
            "stream {stream}: {got}"
        );
        assert_eq!(usage["output_tokens"], output, "stream {stream}: {got}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_cache_usage_goes_through_to_an_anthropic_client() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let reply = Reply::text("ok").with_cache(3, 2);
        let output = reply.output_tokens();
        let (got, resp) = gw
            .exchange_raw(Client::Anthropic, &anthropic_request(CLAUDE), reply, stream)
            .await;
        let expected = json!({
            "input_tokens": INPUT_TOKENS, "output_tokens": output,
            "cache_read_input_tokens": 3, "cache_creation_input_tokens": 2,
        });
        for (k, v) in expected.as_object().unwrap() {
            assert_eq!(&got["usage"][k], v, "{k} (stream {stream}): {got}");
        }
        if stream {
            let start = named(&resp.sse(), "message_start")[0].clone();
            let usage = &start["message"]["usage"];
            assert_eq!(usage["input_tokens"], INPUT_TOKENS, "{start}");
            assert_eq!(usage["cache_read_input_tokens"], 3, "{start}");
            assert_eq!(usage["cache_creation_input_tokens"], 2, "{start}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_reasons_are_mapped_on_the_cross_paths() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        // Anthropic upstream → OpenAI client.
        let cases = [
            (Reply::text("cut").with_finish("length"), "length"),
            (Reply::text("until").with_stop_sequence("END"), "stop"),
            (Reply::tool_call("c1", "now", ""), "tool_calls"),
            (Reply::text("done"), "stop"),
            (
                Reply::text("I can't").with_finish("refusal"),
                "content_filter",
            ),
        ];
        for (reply, want) in cases {
            let mut body = openai_request(CLAUDE);
            body["tools"] = openai_tools();
            let got = gw.exchange(Client::OpenAi, &body, reply, stream).await;
            assert_eq!(
                got["choices"][0]["finish_reason"], want,
                "stream {stream}: {got}"
            );
        }
        // OpenAI upstream → Anthropic client.
        let cases = [
            (Reply::text("cut").with_finish("length"), "max_tokens"),
            (Reply::tool_call("c1", "now", ""), "tool_use"),
            (Reply::text("done"), "end_turn"),
        ];
        for (reply, want) in cases {
            let mut body = anthropic_request(GPT);
            body["tools"] = anthropic_tools();
            let got = gw.exchange(Client::Anthropic, &body, reply, stream).await;
            assert_eq!(got["stop_reason"], want, "stream {stream}: {got}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matched_stop_sequence_comes_back_with_its_value() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let mut body = anthropic_request(CLAUDE);
        body["stop_sequences"] = json!(["END", "STOP"]);
        let got = gw
            .exchange(
                Client::Anthropic,
                &body,
                Reply::text("until").with_stop_sequence("END"),
                stream,
            )
            .await;
        assert_eq!(gw.up.last().body["stop_sequences"], json!(["END", "STOP"]));
        assert_eq!(
            got["stop_reason"], "stop_sequence",
            "stream {stream}: {got}"
        );
        assert_eq!(got["stop_sequence"], "END", "stream {stream}: {got}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_length_finish_goes_through_to_an_openai_client() {
    let gw = Gw::start().await;
    for stream in [false, true] {
        let got = gw
            .exchange(
                Client::OpenAi,
                &openai_request(GPT),
                Reply::text("cut").with_finish("length"),
                stream,
            )
            .await;
        assert_eq!(got["choices"][0]["finish_reason"], "length", "{got}");
    }
}

// ---------------------------------------------------------------------------------------
// Structured output.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_schema_to_an_anthropic_upstream_is_a_forced_tool_folded_back_into_text() {
    let schema = json!({
        "type": "object",
        "properties": { "city": { "type": "string" }, "temp": { "type": "integer" } },
        "required": ["city", "temp"], "additionalProperties": false,
    });
    let gw = Gw::start().await;
    for stream in [false, true] {
        let mut body = openai_request(CLAUDE);
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": { "name": "weather", "strict": true, "schema": schema },
        });
        let reply = Reply::tool_call(
            "toolu_j",
            "json_response",
            r#"{"city": "Paris", "temp": 21}"#,
        )
        .with_fragment(4);
        let got = gw.exchange(Client::OpenAi, &body, reply, stream).await;
        let sent = gw.up.last().body;
        let tools = sent["tools"].as_array().unwrap_or_else(|| panic!("{sent}"));
        let tool = tools
            .iter()
            .find(|t| t["name"] == "json_response")
            .unwrap_or_else(|| panic!("a json_response tool: {sent}"));
        assert_eq!(tool["input_schema"], schema, "{sent}");
        assert_eq!(
            sent["tool_choice"]["type"], "tool",
            "the tool is forced: {sent}"
        );
        assert_eq!(sent["tool_choice"]["name"], "json_response", "{sent}");
        let message = &got["choices"][0]["message"];
        let text = message["content"]
            .as_str()
            .unwrap_or_else(|| panic!("stream {stream}: text content: {got}"));
        assert_eq!(
            serde_json::from_str::<Value>(text).unwrap(),
            json!({ "city": "Paris", "temp": 21 }),
            "stream {stream}"
        );
        assert!(
            message["tool_calls"].is_null()
                || message["tool_calls"].as_array().is_some_and(Vec::is_empty),
            "stream {stream}: no tool call shows: {got}"
        );
        assert_eq!(
            got["choices"][0]["finish_reason"], "stop",
            "stream {stream}: {got}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_schema_to_an_openai_upstream_goes_through() {
    let gw = Gw::start().await;
    let mut body = openai_request(GPT);
    body["response_format"] = json!({
        "type": "json_schema",
        "json_schema": { "name": "w", "strict": true, "schema": { "type": "object", "properties": {} } },
    });
    gw.exchange(Client::OpenAi, &body, Reply::text("{}"), false)
        .await;
    assert_eq!(
        gw.up.last().body["response_format"],
        body["response_format"]
    );
}

// ---------------------------------------------------------------------------------------
// Same protocol in and out loses nothing.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_fields_and_parts_the_gateway_does_not_know_reach_an_openai_upstream() {
    let gw = Gw::start().await;
    let body = json!({
        "model": GPT, "max_tokens": 1000,
        "messages": [
            { "role": "developer", "content": "Be brief." },
            { "role": "user", "content": [
                { "type": "text", "text": "hi" },
                { "type": "future_part", "future_part": { "a": [1, 2] } },
            ], "name": "alice" },
        ],
        "vendor_extension": { "x": [1, 2, { "y": null }] },
        "frequency_penalty": 0.25, "presence_penalty": -0.5,
        "logit_bias": { "50256": -100 }, "seed": 7, "user": "u-1",
        "logprobs": true, "top_logprobs": 2, "n": 2,
        "service_tier": "flex", "metadata": { "k": "v" }, "store": false,
        "stop": ["END"],
    });
    gw.exchange(Client::OpenAi, &body, Reply::text("ok"), false)
        .await;
    let sent = gw.up.last().body;
    for (key, value) in body.as_object().unwrap() {
        if key != "model" && key != "stream" {
            assert_eq!(&sent[key], value, "{key} untouched: {sent}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_fields_blocks_and_cache_control_reach_an_anthropic_upstream() {
    let gw = Gw::start().await;
    let body = json!({
        "model": CLAUDE, "max_tokens": 1000,
        "system": [
            { "type": "text", "text": "You are a careful assistant.", "cache_control": { "type": "ephemeral" } },
            { "type": "text", "text": "Be brief." },
        ],
        "messages": [
            { "role": "user", "content": [
                { "type": "text", "text": "hi", "cache_control": { "type": "ephemeral", "ttl": "1h" } },
                { "type": "future_block", "payload": { "a": [1, 2] } },
                { "type": "document", "source": { "type": "base64", "media_type": "application/pdf", "data": "JVBERi0=" } },
            ]},
        ],
        "vendor_extension": { "x": [1, 2, { "y": null }] },
        "metadata": { "user_id": "u-1" }, "top_k": 5, "service_tier": "auto",
    });
    let headers = [(
        "anthropic-beta",
        "prompt-caching-2024-07-31,future-2099-01-01",
    )];
    let mut whole = body.clone();
    whole["stream"] = json!(false);
    gw.up.push([Behavior::Reply(Reply::text("ok"))]);
    let resp = gw.send(Client::Anthropic, &whole, &headers).await;
    resp.expect_ok();
    let seen: Recorded = gw.up.last();
    for (key, value) in body.as_object().unwrap() {
        if key != "model" {
            assert_eq!(&seen.body[key], value, "{key} untouched: {}", seen.body);
        }
    }
    assert_eq!(
        seen.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31,future-2099-01-01"),
        "anthropic-beta is forwarded"
    );
    assert!(seen.header("anthropic-version").is_some());
}

// ---------------------------------------------------------------------------------------
// Images.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_images_become_anthropic_image_blocks() {
    let gw = Gw::start().await;
    let body = json!({
        "model": CLAUDE, "max_tokens": 100,
        "messages": [{ "role": "user", "content": [
            { "type": "text", "text": "What is this?" },
            { "type": "image_url", "image_url": { "url": "data:image/png;base64,iVBORw0KGgo=" } },
            { "type": "image_url", "image_url": { "url": "https://example.com/cat.jpg" } },
        ]}],
    });
    gw.exchange(Client::OpenAi, &body, Reply::text("A cat."), false)
        .await;
    let sent = gw.up.last().body;
    let content = &sent["messages"][0]["content"];
    assert_eq!(
        content[0],
        json!({ "type": "text", "text": "What is this?" }),
        "{sent}"
    );
    assert_eq!(
        content[1],
        json!({ "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo=" } }),
        "{sent}"
    );
    assert_eq!(
        content[2],
        json!({ "type": "image", "source": { "type": "url", "url": "https://example.com/cat.jpg" } }),
        "{sent}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_images_become_openai_image_urls() {
    let gw = Gw::start().await;
    let body = json!({
        "model": GPT, "max_tokens": 100,
        "messages": [{ "role": "user", "content": [
            { "type": "text", "text": "What is this?" },
            { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo=" } },
            { "type": "image", "source": { "type": "url", "url": "https://example.com/cat.jpg" } },
        ]}],
    });
    gw.exchange(Client::Anthropic, &body, Reply::text("A cat."), false)
        .await;
    let sent = gw.up.last().body;
    let content = &sent["messages"][0]["content"];
    assert_eq!(
        content[0],
        json!({ "type": "text", "text": "What is this?" }),
        "{sent}"
    );
    assert_eq!(content[1]["type"], "image_url", "{sent}");
    assert_eq!(
        content[1]["image_url"]["url"], "data:image/png;base64,iVBORw0KGgo=",
        "{sent}"
    );
    assert_eq!(content[2]["type"], "image_url", "{sent}");
    assert_eq!(
        content[2]["image_url"]["url"], "https://example.com/cat.jpg",
        "{sent}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdf_documents_are_translated_both_ways() {
    let gw = Gw::start().await;
    let body = json!({
        "model": CLAUDE, "max_tokens": 100,
        "messages": [{ "role": "user", "content": [
            { "type": "text", "text": "Summarize" },
            { "type": "file", "file": { "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0=" } },
        ]}],
    });
    gw.exchange(Client::OpenAi, &body, Reply::text("ok"), false)
        .await;
    let sent = gw.up.last().body;
    let document = &sent["messages"][0]["content"][1];
    assert_eq!(document["type"], "document", "{sent}");
    assert_eq!(
        document["source"],
        json!({ "type": "base64", "media_type": "application/pdf", "data": "JVBERi0=" }),
        "{sent}"
    );

    let body = json!({
        "model": GPT, "max_tokens": 100,
        "messages": [{ "role": "user", "content": [
            { "type": "text", "text": "Summarize" },
            { "type": "document", "source": { "type": "base64", "media_type": "application/pdf", "data": "JVBERi0=" } },
        ]}],
    });
    gw.exchange(Client::Anthropic, &body, Reply::text("ok"), false)
        .await;
    let sent = gw.up.last().body;
    let file = &sent["messages"][0]["content"][1];
    assert_eq!(file["type"], "file", "{sent}");
    assert_eq!(
        file["file"]["file_data"], "data:application/pdf;base64,JVBERi0=",
        "{sent}"
    );
}

// ---------------------------------------------------------------------------------------
// Never a silent drop: 400s naming the field and the model.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_an_anthropic_model_cannot_carry_is_a_400_naming_field_and_model() {
    let gw = Gw::start().await;
    for (field, value) in [
        ("n", json!(3)),
        ("logprobs", json!(true)),
        ("frequency_penalty", json!(0.5)),
    ] {
        for stream in [false, true] {
            let mut body = openai_request(CLAUDE);
            body[field] = value.clone();
            body["stream"] = json!(stream);
            let message = gw.refused(Client::OpenAi, &body).await;
            assert!(
                names(&message, field),
                "{field} (stream {stream}): the message names the field: {message}"
            );
            assert!(
                names(&message, CLAUDE),
                "{field} (stream {stream}): the message names the model: {message}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anthropic_only_field_to_an_openai_model_is_a_400_in_anthropic_shape() {
    let gw = Gw::start().await;
    let mut body = anthropic_request(GPT);
    body["vendor_extension"] = json!({ "x": 1 });
    let message = gw.refused(Client::Anthropic, &body).await;
    assert!(names(&message, "vendor_extension"), "{message}");
    assert!(names(&message, GPT), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_to_a_model_without_tools_are_a_400_in_the_clients_shape() {
    let gw = Gw::start().await;
    for model in [GPT_NO_TOOLS, CLAUDE_NO_TOOLS] {
        let mut body = openai_request(model);
        body["tools"] = openai_tools();
        let message = gw.refused(Client::OpenAi, &body).await;
        assert!(names(&message, "tools"), "{model}: {message}");
        assert!(names(&message, model), "{model}: {message}");

        let mut body = anthropic_request(model);
        body["tools"] = anthropic_tools();
        let message = gw.refused(Client::Anthropic, &body).await;
        assert!(names(&message, "tools"), "{model}: {message}");
        assert!(names(&message, model), "{model}: {message}");
    }
    // Without tools the same models answer.
    for model in [GPT_NO_TOOLS, CLAUDE_NO_TOOLS] {
        gw.exchange(
            Client::OpenAi,
            &openai_request(model),
            Reply::text("ok"),
            false,
        )
        .await;
    }
}

// ---------------------------------------------------------------------------------------
// Upstream errors keep their meaning; request ids.

/// A fresh gateway (no cooldown left by an earlier failure) whose upstream answers the next
/// request with `behavior`; returns the answer to `client` asking `model`.
async fn failing(behavior: Behavior, client: Client, model: &str) -> Resp {
    let gw = Gw::start().await;
    gw.up.push([behavior]);
    let resp = gw.send(client, &request(client, model), &[]).await;
    assert_eq!(gw.up.request_count(), 1, "max_retries = 0: one try");
    resp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_401_is_a_502_naming_the_provider_and_its_key() {
    for (model, provider) in [(GPT, OPENAI_PROVIDER), (CLAUDE, ANTHROPIC_PROVIDER)] {
        for client in [Client::OpenAi, Client::Anthropic] {
            let resp = failing(Behavior::status(401), client, model).await;
            assert_eq!(resp.status, 502, "{client:?} → {model}: {}", resp.text);
            let message = resp.error_message(client);
            assert!(names(&message, provider), "{model}: {message}");
            assert!(message.to_lowercase().contains("key"), "{model}: {message}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_404_is_a_404() {
    for model in [GPT, CLAUDE] {
        for client in [Client::OpenAi, Client::Anthropic] {
            let resp = failing(
                Behavior::status_with_message(404, "The model `x` does not exist"),
                client,
                model,
            )
            .await;
            assert_eq!(resp.status, 404, "{client:?} → {model}: {}", resp.text);
            resp.error_message(client);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_429_stays_429_with_retry_after() {
    for model in [GPT, CLAUDE] {
        for client in [Client::OpenAi, Client::Anthropic] {
            let resp = failing(Behavior::rate_limited(7), client, model).await;
            assert_eq!(resp.status, 429, "{client:?} → {model}: {}", resp.text);
            assert_eq!(
                resp.header("retry-after"),
                Some("7"),
                "{client:?} → {model}"
            );
            resp.error_message(client);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_overloaded_529_is_overloaded_error_on_messages_and_503_on_chat() {
    let overloaded = || {
        Behavior::Status {
        code: 529,
        retry_after: None,
        body: json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } })
            .to_string(),
    }
    };
    let resp = failing(overloaded(), Client::Anthropic, CLAUDE).await;
    assert!(
        resp.status == 529 || resp.status == 503,
        "an overload status: {} {}",
        resp.status,
        resp.text
    );
    assert_eq!(
        resp.json()["error"]["type"],
        "overloaded_error",
        "{}",
        resp.text
    );

    let resp = failing(overloaded(), Client::OpenAi, CLAUDE).await;
    assert_eq!(resp.status, 503, "{}", resp.text);
    resp.error_message(Client::OpenAi);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_carry_both_request_id_headers() {
    let gw = Gw::start().await;
    for client in [Client::OpenAi, Client::Anthropic] {
        for stream in [false, true] {
            let mut body = request(client, CLAUDE);
            body["stream"] = json!(stream);
            let resp = gw.send(client, &body, &[]).await;
            resp.expect_ok();
            let x = resp.header("x-request-id");
            let plain = resp.header("request-id");
            assert!(
                x.is_some_and(|v| !v.is_empty()),
                "{client:?} stream {stream}: x-request-id"
            );
            assert!(
                plain.is_some_and(|v| !v.is_empty()),
                "{client:?} stream {stream}: request-id"
            );
        }
        // An error answer too.
        let mut body = request(client, CLAUDE);
        body["model"] = json!("no-such-model");
        let resp = gw.send(client, &body, &[]).await;
        assert_eq!(resp.status, 404, "{}", resp.text);
        assert!(resp.header("x-request-id").is_some(), "{client:?} error");
        assert!(resp.header("request-id").is_some(), "{client:?} error");
    }
}
