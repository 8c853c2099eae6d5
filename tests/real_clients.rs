//! End to end with real agent clients through the gateway: Claude Code (`claude -p`, npm
//! `@anthropic-ai/claude-code`), Codex (`codex exec`, npm `@openai/codex`, the Responses API)
//! and the OpenAI Agents SDK (PyPI `openai-agents`, with its chat-completions and its default
//! Responses model), each against an `anthropic`-kind and an `openai`-kind provider on one
//! scripted fake upstream. The upstream's first answer is a tool call, its second a final text;
//! each test checks that the client ran the tool, that the tool's output reached the upstream
//! in the second request (in the upstream's protocol), and that the client's final output is the
//! upstream's final text. `bash .ci/clients.sh` installs the clients into `.deps/clients/`.
//!
//! What the clients send (learnt by running them against a logging server; the gateway must
//! take all of it):
//! - Claude Code 2.1.112: `HEAD /` first (a connectivity probe; any status will do), then
//!   `POST /v1/messages?beta=true` (note the query string), always streamed, with `x-api-key`,
//!   `anthropic-version: 2023-06-01`, `anthropic-beta: claude-code-20250219,
//!   interleaved-thinking-2025-05-14,context-management-2025-06-27,…`, `x-app: cli`; a body of
//!   ~100 KB: `system` as blocks (with `cache_control`), 23 tools, `thinking: {type:
//!   adaptive}`, `output_config: {effort: high}`, `context_management: {edits: [...]}`,
//!   `metadata: {user_id}`, `max_tokens: 32000`; messages whose last block carries
//!   `cache_control`, and a `tool_result` block with `cache_control` after a tool call. It
//!   sends the previous turn's `thinking` block back with its signature (`"signature": ""` when
//!   the block had none). Without
//!   `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC` it also asks `claude-haiku-4-5-…` for a session
//!   title (`output_config.format` json_schema), which the tests switch off so that the
//!   scripted answers go to the agent's requests in order.
//! - Agents SDK 0.24 (openai 3.57): `POST /v1/chat/completions` with `Authorization: Bearer`,
//!   `tools` of `type: function` with `strict: true` and `additionalProperties: false`, the
//!   assistant's tool call sent back with `content: null`, the result as a `role: tool`
//!   message; `Runner.run_streamed` adds `stream: true` and `stream_options.include_usage`
//!   (with `ModelSettings(include_usage=True)`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::common::gateway::InProcess;
use crate::common::upstream::{Behavior, FakeUpstream, Recorded, Reply};

/// A client still running after this long is killed and the test fails with its output: a
/// guard against a hang, not a measurement (a run takes a few seconds).
const CLIENT_LIMIT: Duration = Duration::from_secs(120);

/// The gateway's model on the `anthropic`-kind provider, and its upstream name.
const CLAUDE_MODEL: &str = "gw-claude";
const CLAUDE_UPSTREAM: &str = "claude-fake";
/// The gateway's model on the `openai`-kind provider, and its upstream name.
const OPENAI_MODEL: &str = "gw-openai";
const OPENAI_UPSTREAM: &str = "fake-model";

/// The second upstream answer, which the client must print as its final output.
const FINAL_TEXT: &str = "FINAL-ANSWER: the tool said what it said.";

/// Which provider kind a test routes to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Anthropic,
    OpenAi,
}

impl Kind {
    fn model(self) -> &'static str {
        match self {
            Kind::Anthropic => CLAUDE_MODEL,
            Kind::OpenAi => OPENAI_MODEL,
        }
    }

    fn upstream_model(self) -> &'static str {
        match self {
            Kind::Anthropic => CLAUDE_UPSTREAM,
            Kind::OpenAi => OPENAI_UPSTREAM,
        }
    }

    /// The path the upstream's API requests arrive on.
    fn upstream_path(self) -> &'static str {
        match self {
            Kind::Anthropic => "/v1/messages",
            Kind::OpenAi => "/v1/chat/completions",
        }
    }
}

fn config_text(up: &FakeUpstream) -> String {
    let url = up.base_url();
    format!(
        r#"[defaults]
max_retries = 0
connect_timeout_secs = 2.0
first_byte_timeout_secs = 30.0
total_timeout_secs = 60.0

[providers.fake-openai]
kind = "openai"
base_url = "{url}"
needs_key = false

[providers.fake-anthropic]
kind = "anthropic"
base_url = "{url}"
needs_key = false

[[models]]
name = "{OPENAI_MODEL}"
provider = "fake-openai"
upstream = "{OPENAI_UPSTREAM}"
tasks = ["chat"]

[[models]]
name = "{CLAUDE_MODEL}"
provider = "fake-anthropic"
upstream = "{CLAUDE_UPSTREAM}"
tasks = ["chat"]
"#
    )
}

/// A gateway served in-process on `127.0.0.1:0`, stopped when dropped.
struct Gateway {
    url: String,
    _gw: InProcess,
}

impl Gateway {
    async fn start(up: &FakeUpstream) -> Gateway {
        let gw = InProcess::start(&config_text(up), &[]).await;
        Gateway {
            url: gw.url.clone(),
            _gw: gw,
        }
    }
}

/// Where `.ci/clients.sh` installs the clients.
fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/clients")
}

/// An installed client program; panics (never skips) with how to install it when missing.
fn installed(relative: &str) -> PathBuf {
    let path = clients_dir().join(relative);
    assert!(
        path.exists(),
        "`{}` is not installed: run `bash .ci/clients.sh` (it installs Claude Code and the \
         OpenAI Agents SDK into `.deps/clients/`)",
        path.display()
    );
    path
}

fn claude_bin() -> PathBuf {
    installed("node/node_modules/.bin/claude")
}

pub fn python_bin() -> PathBuf {
    installed("py/bin/python")
}

/// What a client printed and how it ended.
#[derive(Debug)]
pub struct ClientRun {
    /// `None` when it was killed after [`CLIENT_LIMIT`].
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ClientRun {
    /// Panics with both streams (and what the upstream saw) unless the client exited 0.
    #[track_caller]
    fn expect_success(&self, what: &str, up: &FakeUpstream) {
        assert!(
            self.code == Some(0),
            "{what} {}\nstdout:\n{}\nstderr:\n{}\nupstream saw:\n{}",
            match self.code {
                Some(code) => format!("exited with {code}"),
                None => format!("was killed after {CLIENT_LIMIT:?}"),
            },
            self.stdout,
            self.stderr,
            describe(&up.requests()),
        );
    }
}

/// Runs `cmd` with a clean environment (`PATH` kept, `HOME` = `home`, plus `env`), stdin closed,
/// in its own process group; killed with its children after [`CLIENT_LIMIT`].
pub async fn run_client(
    program: &Path,
    args: &[&str],
    home: &Path,
    env: &[(&str, &str)],
) -> ClientRun {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(home)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", program.display()));
    let pid = child.id().expect("a child that just started has an id");
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let code = match tokio::time::timeout(CLIENT_LIMIT, child.wait()).await {
        Ok(status) => Some(status.unwrap().code().unwrap_or(-1)),
        Err(_) => None,
    };
    // The group (the client and whatever it started) is ended either way, so that no
    // grandchild holds the pipes open; by its id, only what this test started.
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
    ClientRun {
        code,
        stdout: stdout.await.unwrap(),
        stderr: stderr.await.unwrap(),
    }
}

fn read_all(
    mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf).await;
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// The key the clients send to the gateway; the gateway must not pass it on to the upstream.
const CLIENT_KEY: &str = "client-key-3141";

/// Panics when the client's key reached the upstream in any header.
#[track_caller]
fn assert_client_key_not_forwarded(up: &FakeUpstream) {
    for r in up.requests() {
        for (name, value) in &r.headers {
            assert!(
                !value.contains(CLIENT_KEY),
                "the client's key reached the upstream in `{name}` of {} {}",
                r.method,
                r.path
            );
        }
    }
}

/// One line per request the upstream saw, for failure messages.
fn describe(requests: &[Recorded]) -> String {
    requests
        .iter()
        .map(|r| {
            let body = r.body.to_string();
            let cut: String = body.chars().take(600).collect();
            format!("{} {} {cut}…", r.method, r.path)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The API requests of `kind` that offered the tool `tool` (the agent's turns, not
/// background requests).
fn agent_requests(up: &FakeUpstream, kind: Kind, tool: &str) -> Vec<Recorded> {
    up.requests()
        .into_iter()
        .filter(|r| r.path == kind.upstream_path() && offers_tool(&r.body, tool))
        .collect()
}

fn offers_tool(body: &Value, tool: &str) -> bool {
    body["tools"].as_array().is_some_and(|tools| {
        tools.iter().any(|t| {
            t["name"].as_str() == Some(tool) || t["function"]["name"].as_str() == Some(tool)
        })
    })
}

/// The text of the result of tool call `id` in an upstream request, in that upstream's
/// protocol: an Anthropic `tool_result` block in a user message, or an OpenAI `role: tool`
/// message. Panics naming the request when there is none.
#[track_caller]
fn tool_result(kind: Kind, body: &Value, id: &str) -> String {
    let messages = body["messages"]
        .as_array()
        .expect("a request with messages");
    let found = match kind {
        Kind::Anthropic => messages
            .iter()
            .filter(|m| m["role"] == "user")
            .filter_map(|m| m["content"].as_array())
            .flatten()
            .find(|b| b["type"] == "tool_result" && b["tool_use_id"] == id)
            .map(|b| text_of(&b["content"])),
        Kind::OpenAi => messages
            .iter()
            .find(|m| m["role"] == "tool" && m["tool_call_id"] == id)
            .map(|m| text_of(&m["content"])),
    };
    found.unwrap_or_else(|| panic!("no result for tool call `{id}` in the upstream request {body}"))
}

/// A content value as text: a string, or the text of its text parts.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// The assistant's tool call `id` in an upstream request (the client sends its history back):
/// `(name, arguments as JSON)`.
#[track_caller]
fn assistant_tool_call(kind: Kind, body: &Value, id: &str) -> (String, Value) {
    let messages = body["messages"]
        .as_array()
        .expect("a request with messages");
    let assistant = messages.iter().filter(|m| m["role"] == "assistant");
    let found = match kind {
        Kind::Anthropic => assistant
            .filter_map(|m| m["content"].as_array())
            .flatten()
            .find(|b| b["type"] == "tool_use" && b["id"] == id)
            .map(|b| {
                (
                    b["name"].as_str().unwrap_or("").to_owned(),
                    b["input"].clone(),
                )
            }),
        Kind::OpenAi => assistant
            .filter_map(|m| m["tool_calls"].as_array())
            .flatten()
            .find(|c| c["id"] == id)
            .map(|c| {
                let args = c["function"]["arguments"].as_str().unwrap_or("");
                (
                    c["function"]["name"].as_str().unwrap_or("").to_owned(),
                    serde_json::from_str(args).unwrap_or(Value::String(args.to_owned())),
                )
            }),
    };
    found.unwrap_or_else(|| panic!("no assistant tool call `{id}` in the upstream request {body}"))
}

// ---------------------------------------------------------------------------------------------
// Claude Code

/// What the file that Claude Code's `Read` tool reads says; the test looks for it upstream.
const FILE_MARKER: &str = "PINEAPPLE-7319";
const READ_ID: &str = "toolu_read_0001";

/// Runs `claude -p` through the gateway on `kind`'s model, scripted: `first` (a `Read` of the
/// temp file, maybe with thinking), then [`FINAL_TEXT`]. Returns the upstream and the run.
async fn claude_code(kind: Kind, first: impl FnOnce(&str) -> Reply) -> (FakeUpstream, ClientRun) {
    let claude = claude_bin();
    let up = FakeUpstream::start();
    let gateway = Gateway::start(&up).await;
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("notes.txt");
    std::fs::write(&file, format!("The secret word is {FILE_MARKER}.\n")).unwrap();
    let file = file.to_str().unwrap().to_owned();

    let arguments = serde_json::json!({ "file_path": file }).to_string();
    up.push([
        Behavior::Reply(first(&arguments)),
        Behavior::Reply(Reply::text(FINAL_TEXT)),
    ]);
    // Anything else Claude Code may ask (it should ask nothing else with nonessential traffic
    // off) gets the final text too, rather than the fake's generic answer.
    up.set_default(Behavior::Reply(Reply::text(FINAL_TEXT)));

    let prompt = format!("Read the file {file} and tell me the secret word.");
    let run = run_client(
        &claude,
        &[
            "-p",
            &prompt,
            "--output-format",
            "json",
            "--model",
            kind.model(),
            "--allowedTools",
            "Read",
        ],
        home.path(),
        &[
            ("ANTHROPIC_BASE_URL", gateway.url.as_str()),
            ("ANTHROPIC_API_KEY", CLIENT_KEY),
            // Background requests (titles, quota probes) go to the same model, never to a
            // `claude-haiku-…` the gateway does not know; with nonessential traffic off
            // Claude Code 2.1.112 sends none.
            ("ANTHROPIC_SMALL_FAST_MODEL", kind.model()),
            ("ANTHROPIC_DEFAULT_HAIKU_MODEL", kind.model()),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("DISABLE_TELEMETRY", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
            ("DISABLE_ERROR_REPORTING", "1"),
        ],
    )
    .await;
    drop(gateway);
    (up, run)
}

/// The checks every Claude Code run shares: it succeeded with the final text, its agent
/// requests reached the upstream in the upstream's protocol with the upstream's model name,
/// and the second carries the `Read` call and the file's content as its result.
#[track_caller]
fn check_claude_code(kind: Kind, up: &FakeUpstream, run: &ClientRun) -> Vec<Recorded> {
    run.expect_success("claude -p", up);
    let out: Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("claude's stdout is not JSON ({e}):\n{}", run.stdout));
    assert_eq!(out["is_error"], false, "claude reported an error: {out}");
    assert!(
        out["result"]
            .as_str()
            .is_some_and(|r| r.contains(FINAL_TEXT)),
        "claude's result is not the upstream's final text: {out}"
    );

    let turns = agent_requests(up, kind, "Read");
    assert_eq!(
        turns.len(),
        2,
        "expected two agent turns at the upstream (the tool call, then the answer); saw:\n{}",
        describe(&up.requests())
    );
    for turn in &turns {
        assert_eq!(turn.body["model"], kind.upstream_model(), "{}", turn.body);
        // Claude Code always streams.
        assert_eq!(turn.body["stream"], true, "{}", turn.body);
    }
    let (name, input) = assistant_tool_call(kind, &turns[1].body, READ_ID);
    assert_eq!(name, "Read");
    assert!(
        input["file_path"]
            .as_str()
            .is_some_and(|p| p.ends_with("notes.txt")),
        "the Read call's arguments sent back upstream: {input}"
    );
    let result = tool_result(kind, &turns[1].body, READ_ID);
    assert!(
        result.contains(FILE_MARKER),
        "the Read result sent upstream does not hold the file's content: {result:?}"
    );
    assert_client_key_not_forwarded(up);
    turns
}

/// Claude Code on an `anthropic`-kind model: same protocol in and out, so Claude Code's own
/// headers and fields reach the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_runs_a_tool_through_an_anthropic_provider() {
    let kind = Kind::Anthropic;
    let (up, run) = claude_code(kind, |args| Reply::tool_call(READ_ID, "Read", args)).await;
    let turns = check_claude_code(kind, &up, &run);
    let first = &turns[0];
    let beta = first.header("anthropic-beta").unwrap_or_default();
    assert!(
        beta.contains("claude-code-20250219"),
        "Claude Code's `anthropic-beta` header was not forwarded: {:?}",
        first.header("anthropic-beta")
    );
    // Same protocol: Claude Code's fields reach the upstream as it wrote them.
    for field in ["thinking", "metadata", "max_tokens"] {
        assert!(
            first.body.get(field).is_some(),
            "`{field}` did not reach the upstream: {}",
            first.body
        );
    }
    let system = first.body["system"].as_array().expect("system blocks kept");
    assert!(
        system.iter().any(|b| b.get("cache_control").is_some()),
        "the system blocks lost their `cache_control`: {}",
        first.body["system"]
    );
}

/// Claude Code on an `openai`-kind model: the cross path (Anthropic client, OpenAI upstream).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_runs_a_tool_through_an_openai_provider() {
    let kind = Kind::OpenAi;
    let (up, run) = claude_code(kind, |args| Reply::tool_call(READ_ID, "Read", args)).await;
    let turns = check_claude_code(kind, &up, &run);
    let tools = turns[0].body["tools"].as_array().unwrap();
    let read = tools
        .iter()
        .find(|t| t["function"]["name"] == "Read")
        .expect("the Read tool as an OpenAI function");
    assert_eq!(read["type"], "function");
    assert!(
        read["function"]["parameters"]["properties"]["file_path"].is_object(),
        "the Read tool's schema did not come through: {read}"
    );
}

/// A signed thinking block before the tool call: Claude Code sends it back on the next turn,
/// and an Anthropic upstream must get it with its signature intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_sends_signed_thinking_back_to_an_anthropic_provider() {
    let kind = Kind::Anthropic;
    let (up, run) = claude_code(kind, |args| {
        Reply::tool_call(READ_ID, "Read", args).thinking_first("I should read the file.", "SIG-1")
    })
    .await;
    let turns = check_claude_code(kind, &up, &run);
    let thinking = turns[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .find(|b| b["type"] == "thinking")
        .unwrap_or_else(|| panic!("no thinking block sent back upstream: {}", turns[1].body));
    assert_eq!(thinking["thinking"], "I should read the file.");
    assert_eq!(thinking["signature"], "SIG-1");
}

/// Reasoning from an OpenAI-kind upstream reaches Claude Code as a thinking block without a
/// signature, which Claude Code sends back (as `"signature": ""`); the next OpenAI request must
/// still carry the tool call and its result, and no signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_with_reasoning_through_an_openai_provider() {
    let kind = Kind::OpenAi;
    let (up, run) = claude_code(kind, |args| {
        Reply::tool_call(READ_ID, "Read", args).thinking_first("I should read the file.", "")
    })
    .await;
    let turns = check_claude_code(kind, &up, &run);
    let messages = &turns[1].body["messages"];
    assert!(
        !has_signature(messages),
        "a thinking signature was sent to an OpenAI upstream: {messages}"
    );
}

/// Whether any object within `value` has a non-empty `signature`.
fn has_signature(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.get("signature").is_some_and(|s| s.as_str() != Some(""))
                || map.values().any(has_signature)
        }
        Value::Array(items) => items.iter().any(has_signature),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// OpenAI Agents SDK

/// The agent: one function tool, the chat-completions or (the SDK's default) Responses model
/// at the gateway, tracing off; prints the final output. `argv`: base URL, model, `sync` |
/// `stream`, API key, `chat` | `responses`.
const AGENT_SCRIPT: &str = r#"
import asyncio, sys
from agents import (Agent, ModelSettings, OpenAIChatCompletionsModel, OpenAIResponsesModel,
                    Runner, function_tool, set_tracing_disabled)
from openai import AsyncOpenAI

set_tracing_disabled(True)

@function_tool
def get_weather(city: str) -> str:
    """Returns the current weather in a city."""
    return f"WEATHER-REPORT-5521: {city} is sunny, 23 C"

base_url, model, mode = sys.argv[1:4]
agent = Agent(
    name="assistant",
    instructions="Answer with the weather tool.",
    tools=[get_weather],
    model=(OpenAIChatCompletionsModel if sys.argv[5] == "chat" else OpenAIResponsesModel)(
        model=model, openai_client=AsyncOpenAI(base_url=base_url, api_key=sys.argv[4], max_retries=0)),
    model_settings=ModelSettings(include_usage=True) if mode == "stream" else ModelSettings(),
)
question = "What is the weather in Paris?"
if mode == "sync":
    result = Runner.run_sync(agent, question)
else:
    async def main():
        result = Runner.run_streamed(agent, question)
        async for _ in result.stream_events():
            pass
        return result
    result = asyncio.run(main())
print(result.final_output)
"#;

const WEATHER_ID: &str = "call_weather_0001";
const WEATHER_MARKER: &str = "WEATHER-REPORT-5521: Paris is sunny, 23 C";

/// The API the agent's model speaks to the gateway.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Api {
    Chat,
    Responses,
}

async fn agents_sdk(kind: Kind, mode: &str) {
    agents_sdk_on(kind, mode, Api::Chat).await;
}

async fn agents_sdk_on(kind: Kind, mode: &str, api: Api) {
    let python = python_bin();
    let up = FakeUpstream::start();
    let gateway = Gateway::start(&up).await;
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("agent.py");
    std::fs::write(&script, AGENT_SCRIPT).unwrap();
    up.push([
        Behavior::Reply(Reply::tool_call(
            WEATHER_ID,
            "get_weather",
            r#"{"city": "Paris"}"#,
        )),
        Behavior::Reply(Reply::text(FINAL_TEXT)),
    ]);
    up.set_default(Behavior::Reply(Reply::text(FINAL_TEXT)));

    let base_url = format!("{}/v1", gateway.url);
    let run = run_client(
        &python,
        &[
            script.to_str().unwrap(),
            &base_url,
            kind.model(),
            mode,
            CLIENT_KEY,
            match api {
                Api::Chat => "chat",
                Api::Responses => "responses",
            },
        ],
        home.path(),
        &[
            ("OPENAI_AGENTS_DISABLE_TRACING", "1"),
            ("PYTHONUNBUFFERED", "1"),
        ],
    )
    .await;
    drop(gateway);

    run.expect_success("the Agents SDK script", &up);
    assert!(
        run.stdout.contains(FINAL_TEXT),
        "the agent's final output is not the upstream's final text:\n{}",
        run.stdout
    );
    let turns = agent_requests(&up, kind, "get_weather");
    assert_eq!(
        turns.len(),
        2,
        "expected two agent turns at the upstream (the tool call, then the answer); saw:\n{}",
        describe(&up.requests())
    );
    for turn in &turns {
        assert_eq!(turn.body["model"], kind.upstream_model(), "{}", turn.body);
        assert_eq!(
            turn.body["stream"].as_bool().unwrap_or(false),
            mode == "stream",
            "{}",
            turn.body
        );
    }
    let (name, args) = assistant_tool_call(kind, &turns[1].body, WEATHER_ID);
    assert_eq!(name, "get_weather");
    assert_eq!(args, serde_json::json!({ "city": "Paris" }));
    let result = tool_result(kind, &turns[1].body, WEATHER_ID);
    assert!(
        result.contains(WEATHER_MARKER),
        "the tool's output sent upstream: {result:?}"
    );
    assert_client_key_not_forwarded(&up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sdk_runs_a_tool_through_an_openai_provider() {
    agents_sdk(Kind::OpenAi, "sync").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sdk_runs_a_tool_through_an_anthropic_provider() {
    agents_sdk(Kind::Anthropic, "sync").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sdk_streamed_runs_a_tool_through_an_openai_provider() {
    agents_sdk(Kind::OpenAi, "stream").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sdk_streamed_runs_a_tool_through_an_anthropic_provider() {
    agents_sdk(Kind::Anthropic, "stream").await;
}

// The SDK's default model speaks the Responses API, which the gateway bridges to chat and
// Anthropic upstreams.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sdk_responses_runs_a_tool_through_an_openai_provider() {
    agents_sdk_on(Kind::OpenAi, "sync", Api::Responses).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sdk_responses_runs_a_tool_through_an_anthropic_provider() {
    agents_sdk_on(Kind::Anthropic, "sync", Api::Responses).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sdk_responses_streamed_runs_a_tool_through_an_openai_provider() {
    agents_sdk_on(Kind::OpenAi, "stream", Api::Responses).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sdk_responses_streamed_runs_a_tool_through_an_anthropic_provider() {
    agents_sdk_on(Kind::Anthropic, "stream", Api::Responses).await;
}

// ---------------------------------------------------------------------------------------------
// Codex CLI (npm `@openai/codex`), which speaks only the Responses API.
//
// What Codex 0.171 sends (learnt by logging it): `POST /v1/responses`, always streamed, with
// `store: false`, `include: ["reasoning.encrypted_content"]`, `reasoning: {summary: "auto"}`,
// `prompt_cache_key` and `client_metadata` (its session and turn ids), developer and user
// messages as `input_text` parts, and function tools (`exec_command`, `write_stdin`, …) beside
// a hosted `web_search` tool and a `namespace` of sub-agent tools. The bridge refuses hosted and
// namespaced tools (a chat or Anthropic model cannot run them), so the test switches them off
// (`web_search = "disabled"`, `--disable multi_agent`), as a user of the bridge would.

fn codex_bin() -> PathBuf {
    installed("codex/node_modules/.bin/codex")
}

const CODEX_MARKER: &str = "CODEX-SHELL-MARKER-4417";
const CODEX_CALL_ID: &str = "call_exec_0001";

async fn codex(kind: Kind) {
    let codex = codex_bin();
    let up = FakeUpstream::start();
    let gateway = Gateway::start(&up).await;
    let home = tempfile::tempdir().unwrap();
    let codex_home = home.path().join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            "model = \"{}\"\nmodel_provider = \"gateway\"\n\n[model_providers.gateway]\nname = \"llm-server\"\nbase_url = \"{}/v1\"\nwire_api = \"responses\"\nenv_key = \"GATEWAY_KEY\"\n",
            kind.model(),
            gateway.url
        ),
    )
    .unwrap();
    up.push([
        Behavior::Reply(Reply::tool_call(
            CODEX_CALL_ID,
            "exec_command",
            &format!(r#"{{"cmd": "echo {CODEX_MARKER}"}}"#),
        )),
        Behavior::Reply(Reply::text(FINAL_TEXT)),
    ]);
    up.set_default(Behavior::Reply(Reply::text(FINAL_TEXT)));
    let run = run_client(
        &codex,
        &[
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",
            "--disable",
            "multi_agent",
            "--disable",
            "goals",
            "-c",
            "web_search=\"disabled\"",
            "Print the marker with the shell.",
        ],
        home.path(),
        &[
            ("GATEWAY_KEY", CLIENT_KEY),
            ("CODEX_HOME", codex_home.to_str().unwrap()),
        ],
    )
    .await;
    drop(gateway);

    run.expect_success("codex exec", &up);
    assert!(
        run.stdout.contains(FINAL_TEXT),
        "Codex's final message is not the upstream's final text:\nstdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let turns = agent_requests(&up, kind, "exec_command");
    assert!(
        turns.len() >= 2,
        "expected the tool call turn and the answer turn at the upstream; saw:\n{}",
        describe(&up.requests())
    );
    for turn in &turns {
        assert_eq!(turn.body["model"], kind.upstream_model(), "{}", turn.body);
    }
    let (name, args) = assistant_tool_call(kind, &turns[1].body, CODEX_CALL_ID);
    assert_eq!(name, "exec_command");
    assert_eq!(args["cmd"], format!("echo {CODEX_MARKER}"));
    let result = tool_result(kind, &turns[1].body, CODEX_CALL_ID);
    assert!(
        result.contains(CODEX_MARKER),
        "the shell's output did not reach the upstream: {result:?}"
    );
    assert_client_key_not_forwarded(&up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_runs_the_shell_through_an_openai_provider() {
    codex(Kind::OpenAi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_runs_the_shell_through_an_anthropic_provider() {
    codex(Kind::Anthropic).await;
}

/// Two runs of the Agents SDK's default (Responses) model, the second continuing the first by
/// `previous_response_id`: the gateway stored the first response and sends the whole
/// conversation upstream, so the model sees the first turn. `argv`: base URL, model, API key,
/// and optionally a second base URL for the second run (another replica).
pub const CONTINUE_SCRIPT: &str = r#"
import asyncio, sys
from agents import Agent, OpenAIResponsesModel, Runner, set_tracing_disabled
from openai import AsyncOpenAI

set_tracing_disabled(True)
base_url, model, key = sys.argv[1:4]
second_url = sys.argv[4] if len(sys.argv) > 4 else base_url

def agent(url):
    return Agent(
        name="assistant",
        instructions="Answer briefly.",
        model=OpenAIResponsesModel(
            model=model, openai_client=AsyncOpenAI(base_url=url, api_key=key, max_retries=0)),
    )

async def main():
    first = await Runner.run(agent(base_url), "Remember the word PELICAN-204.")
    second = await Runner.run(agent(second_url), "Which word did I ask you to remember?",
                              previous_response_id=first.last_response_id)
    print(first.last_response_id)
    print(second.final_output)

asyncio.run(main())
"#;

async fn agents_sdk_continues(kind: Kind) {
    let python = python_bin();
    let up = FakeUpstream::start();
    let gateway = Gateway::start(&up).await;
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("continue.py");
    std::fs::write(&script, CONTINUE_SCRIPT).unwrap();
    up.push([
        Behavior::Reply(Reply::text("Noted: PELICAN-204.")),
        Behavior::Reply(Reply::text(FINAL_TEXT)),
    ]);
    let base_url = format!("{}/v1", gateway.url);
    let run = run_client(
        &python,
        &[
            script.to_str().unwrap(),
            &base_url,
            kind.model(),
            CLIENT_KEY,
        ],
        home.path(),
        &[("OPENAI_AGENTS_DISABLE_TRACING", "1")],
    )
    .await;
    drop(gateway);
    run.expect_success("the Agents SDK script with previous_response_id", &up);
    assert!(run.stdout.starts_with("resp_"), "{}", run.stdout);
    assert!(run.stdout.contains(FINAL_TEXT), "{}", run.stdout);
    let turns: Vec<Recorded> = up
        .requests()
        .into_iter()
        .filter(|r| r.path == kind.upstream_path())
        .collect();
    assert_eq!(turns.len(), 2, "{}", describe(&up.requests()));
    let second = turns[1].body["messages"].to_string();
    for piece in [
        "Remember the word PELICAN-204.",
        "Noted: PELICAN-204.",
        "Which word",
    ] {
        assert!(
            second.contains(piece),
            "`{piece}` not sent upstream: {second}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sdk_continues_a_stored_response_on_an_openai_provider() {
    agents_sdk_continues(Kind::OpenAi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sdk_continues_a_stored_response_on_an_anthropic_provider() {
    agents_sdk_continues(Kind::Anthropic).await;
}
