//! Bad input to the gateway and the CLIs: each gets a 4xx (in the route's protocol shape) or
//! exit code 2, with a message that names what is wrong; nothing crashes, and the gateway
//! answers `/health` after every bad request. With `forward_as_written = false` nothing bad
//! reaches an upstream; with the default, a request for an upstream of its own protocol goes
//! out as written, the upstream refuses it, and the client gets the same message.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use llm_cooperation::config::{Config, EnvSnapshot, Paths};
use llm_cooperation::server::{AppState, app, serve};
use serde_json::{Value, json};

use crate::common::upstream::{Behavior, FakeUpstream};
use crate::common::{Run, TestEnv};

fn config_text(up: &FakeUpstream, forward_as_written: bool) -> String {
    let url = up.base_url();
    format!(
        r#"[defaults]
max_retries = 0

[server]
forward_as_written = {forward_as_written}

[providers.fake]
kind = "openai"
base_url = "{url}"
needs_key = false

[providers.claude]
kind = "anthropic"
base_url = "{url}"
needs_key = false

[[models]]
name = "m1"
provider = "fake"
upstream = "fake-model"

[[models]]
name = "c1"
provider = "claude"
upstream = "claude-fake"
"#
    )
}

/// A gateway with the default limits (4 MiB bodies) on `127.0.0.1:0`.
struct Gateway {
    url: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Gateway {
    /// Decoding every request (`forward_as_written = false`).
    async fn start(up: &FakeUpstream) -> Gateway {
        Gateway::with(up, false).await
    }

    async fn with(up: &FakeUpstream, forward_as_written: bool) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            config_text(up, forward_as_written),
        )
        .unwrap();
        let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
        let state = AppState::new(config, Vec::new()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app(state), async {
            let _ = stopped.await;
        }));
        Gateway {
            url,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            _dir: dir,
            stop: Some(stop),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("no answer: {e:?}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("HTTP {status}: the body is not JSON ({e}): {text}"));
        (status, value)
    }

    /// On a new connection: the server may close one after a rejected upload, and a pooled
    /// client would then fail on its side, which says nothing about the server.
    async fn assert_healthy(&self, after: &str) {
        let resp = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
            .get(format!("{}/health", self.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("no /health after {after}: {e}"));
        assert_eq!(resp.status(), 200, "/health after {after}");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

const CHAT: &str = "/v1/chat/completions";
const MESSAGES: &str = "/v1/messages";
const QUERY: &str = "/query";

/// One bad request and what must come back.
struct Case {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    /// `None`: no `Content-Type` header.
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// Substrings the error message must contain.
    says: &'static [&'static str],
}

fn case(
    name: &'static str,
    path: &'static str,
    body: impl Into<Vec<u8>>,
    status: u16,
    says: &'static [&'static str],
) -> Case {
    Case {
        name,
        method: "POST",
        path,
        content_type: Some("application/json"),
        body: body.into(),
        status,
        says,
    }
}

fn json_body(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// `depth` nested arrays around `1`.
fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

fn messages(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({ "role": if i % 2 == 0 { "user" } else { "assistant" }, "content": format!("message number {i}") }))
        .collect()
}

fn cases() -> Vec<Case> {
    let user = json!([{ "role": "user", "content": "hi" }]);
    let huge = "x".repeat(5 * 1024 * 1024);
    vec![
        case("truncated JSON", CHAT, r#"{"model": "m1", "messages": ["#, 400,
             &["Failed to parse the request body as JSON", "EOF"]),
        case("truncated JSON (Anthropic)", MESSAGES, r#"{"model": "c1", "#, 400,
             &["Failed to parse the request body as JSON"]),
        case("empty body", CHAT, "", 400, &["EOF"]),
        case("not JSON at all", QUERY, "query=hello", 400, &["expected value"]),
        case("messages is a string", CHAT, json_body(json!({ "model": "m1", "messages": "hi" })), 400,
             &["messages", "invalid type: string"]),
        case("max_tokens is a string", CHAT,
             json_body(json!({ "model": "m1", "max_tokens": "ten", "messages": user })), 400,
             &["max_tokens", "invalid type"]),
        case("temperature is a string", MESSAGES,
             json_body(json!({ "model": "c1", "max_tokens": 5, "temperature": "hot", "messages": user })), 400,
             &["temperature"]),
        case("stream is a string", CHAT,
             json_body(json!({ "model": "m1", "stream": "yes", "messages": user })), 400, &["stream"]),
        case("content is a number", MESSAGES,
             json_body(json!({ "model": "c1", "max_tokens": 5, "messages": [{ "role": "user", "content": 5 }] })),
             400, &["messages[0].content"]),
        case("nulls", CHAT, json_body(json!({ "model": null, "messages": null })), 400,
             &["invalid type: null"]),
        case("duplicate field", CHAT,
             r#"{"model": "m1", "model": "c1", "messages": [{"role": "user", "content": "hi"}]}"#, 400,
             &["duplicate field `model`"]),
        case("missing messages", CHAT, json_body(json!({ "model": "m1" })), 400,
             &["`messages`"]),
        case("missing messages (Anthropic)", MESSAGES, json_body(json!({ "model": "c1", "max_tokens": 5 })),
             400, &["`messages` is missing"]),
        case("missing query", QUERY, json_body(json!({ "model": "m1" })), 422, &["missing field `query`"]),
        case("blank query", QUERY, json_body(json!({ "query": "   " })), 400, &["`query` is empty"]),
        case("query is a number", QUERY, json_body(json!({ "query": 5 })), 422, &["query"]),
        case("unknown role", CHAT,
             json_body(json!({ "model": "m1", "messages": [{ "role": "wizard", "content": "hi" }] })), 400,
             &["`wizard`", "`user`"]),
        case("system role in Anthropic messages", MESSAGES,
             json_body(json!({ "model": "c1", "max_tokens": 5, "messages": [{ "role": "system", "content": "hi" }] })),
             400, &["is `system`", "top-level `system`"]),
        case("unknown model on /query", QUERY, json_body(json!({ "query": "hi", "model": "nope" })), 404,
             &["`nope`", "m1, c1"]),
        case("unknown model (Anthropic, streamed)", MESSAGES,
             json_body(json!({ "model": "nope", "max_tokens": 5, "stream": true, "messages": user })), 404,
             &["`nope`"]),
        case("max_tokens above u32", CHAT,
             json_body(json!({ "model": "m1", "max_tokens": 4_294_967_296u64, "messages": user })), 400,
             &["max_tokens"]),
        case("negative max_tokens", MESSAGES,
             json_body(json!({ "model": "c1", "max_tokens": -1, "messages": user })), 400, &["max_tokens"]),
        case("fractional max_tokens", CHAT,
             json_body(json!({ "model": "m1", "max_tokens": 1.5, "messages": user })), 400, &["max_tokens"]),
        case("zero max_tokens", CHAT,
             json_body(json!({ "model": "m1", "max_tokens": 0, "messages": user })), 400,
             &["`max_tokens` is 0", "at least 1"]),
        case("zero max_completion_tokens", CHAT,
             json_body(json!({ "model": "m1", "max_completion_tokens": 0, "messages": user })), 400,
             &["`max_completion_tokens` is 0", "at least 1"]),
        case("temperature beyond f32", CHAT,
             r#"{"model": "m1", "temperature": 1e39, "messages": [{"role": "user", "content": "hi"}]}"#, 400,
             &["`temperature`", "out of range"]),
        case("top_p out of range", CHAT,
             json_body(json!({ "model": "m1", "top_p": 7, "messages": user })), 400, &["`top_p` is 7", "0 to 1"]),
        case("top_p out of range (Anthropic)", MESSAGES,
             json_body(json!({ "model": "c1", "max_tokens": 5, "top_p": -0.5, "messages": user })), 400,
             &["`top_p` is -0.5", "0 to 1"]),
        case("deeply nested content", CHAT,
             format!(r#"{{"model": "m1", "messages": [{{"role": "user", "content": {}}}]}}"#, nested(100_000)),
             400, &["recursion limit exceeded"]),
        case("deeply nested system (Anthropic)", MESSAGES,
             format!(r#"{{"model": "c1", "max_tokens": 5, "system": {}, "messages": []}}"#, nested(100_000)),
             400, &["recursion limit exceeded"]),
        // The block types the protocol layer carries: what no upstream could take is a 4xx.
        case("tool result for an unknown call", CHAT,
             json_body(json!({ "model": "m1", "messages": [
                 { "role": "user", "content": "hi" },
                 { "role": "tool", "tool_call_id": "call_nowhere", "content": "42" }] })), 400,
             &["`call_nowhere`", "answers no earlier tool call"]),
        case("tool_result for an unknown id (Anthropic)", MESSAGES,
             json_body(json!({ "model": "c1", "max_tokens": 5, "messages": [
                 { "role": "user", "content": [
                     { "type": "tool_result", "tool_use_id": "toolu_nowhere", "content": "42" }] }] })), 400,
             &["`toolu_nowhere`"]),
        case("malformed tool arguments", CHAT,
             json_body(json!({ "model": "m1", "messages": [
                 { "role": "user", "content": "hi" },
                 { "role": "assistant", "content": null, "tool_calls": [
                     { "id": "call_1", "type": "function", "function": { "name": "f", "arguments": "{not json" } }] },
                 { "role": "tool", "tool_call_id": "call_1", "content": "x" }] })), 400,
             &["messages[1]", "arguments"]),
        case("a tool call id used twice (Anthropic)", MESSAGES,
             json_body(json!({ "model": "c1", "max_tokens": 5, "messages": [
                 { "role": "user", "content": "hi" },
                 { "role": "assistant", "content": [
                     { "type": "tool_use", "id": "t1", "name": "f", "input": {} },
                     { "type": "tool_use", "id": "t1", "name": "f", "input": {} }] }] })), 400,
             &["`t1` is used twice"]),
        case("n = 3 to an Anthropic model", CHAT,
             json_body(json!({ "model": "c1", "n": 3, "messages": user })), 400, &["`n`", "`c1`"]),
        case("logprobs to an Anthropic model", CHAT,
             json_body(json!({ "model": "c1", "logprobs": true, "messages": user })), 400,
             &["`logprobs`", "`c1`"]),
        case("an OpenAI-only field to an Anthropic model", CHAT,
             json_body(json!({ "model": "c1", "frequency_penalty": 0.5, "messages": user })), 400,
             &["`frequency_penalty`", "`c1`"]),
        case("an Anthropic server tool to an OpenAI model", MESSAGES,
             json_body(json!({ "model": "m1", "max_tokens": 5,
                 "tools": [{ "type": "web_search_20250305", "name": "web_search" }], "messages": user })), 400,
             &["tools[0]", "`m1`"]),
        case("a thinking block without its signature", MESSAGES,
             json_body(json!({ "model": "c1", "max_tokens": 5, "messages": [
                 { "role": "user", "content": "hi" },
                 { "role": "assistant", "content": [{ "type": "thinking", "thinking": "hm" }, { "type": "text", "text": "a" }] },
                 { "role": "user", "content": "go on" }] })), 400,
             &["messages[1].content[0]", "`signature`"]),
        case("missing max_tokens (Anthropic)", MESSAGES,
             json_body(json!({ "model": "c1", "messages": user })), 400, &["`max_tokens` is required"]),
        case("tools to a cooperation", CHAT,
             json_body(json!({ "model": "coop/voting:m1,c1", "messages": user,
                 "tools": [{ "type": "function", "function": { "name": "f", "parameters": { "type": "object" } } }] })),
             400, &["`tools`", "cooperation"]),
        case("deeply nested query", QUERY, format!(r#"{{"query": {}}}"#, nested(100_000)), 422,
             &["query", "invalid type: sequence"]),
        case("invalid UTF-8 in a string", CHAT,
             [&br#"{"model": "m1", "messages": [{"role": "user", "content": "caf"#[..], b"\xe9\xff\"}]}"].concat(),
             400, &["line 1"]),
        case("invalid UTF-8 (Anthropic)", MESSAGES,
             [&br#"{"model": "c1", "max_tokens": 5, "messages": [{"role": "user", "content": "\xff"#[..], b"\xfe\"}]}"].concat(),
             400, &["line 1"]),
        case("5 MiB body", CHAT,
             json_body(json!({ "model": "m1", "messages": [{ "role": "user", "content": huge }] })), 413,
             &["length limit exceeded"]),
        case("5 MiB body (Anthropic)", MESSAGES,
             json_body(json!({ "model": "c1", "max_tokens": 5, "messages": [{ "role": "user", "content": huge }] })),
             413, &["length limit exceeded"]),
        case("thousands of messages, no model fits", CHAT,
             json_body(json!({ "model": "auto", "messages": messages(5000) })), 400,
             &["No configured model can take this request", "context window 8192"]),
        // A body is read as JSON whatever its content type (as OpenAI's and Anthropic's APIs
        // do), so one that is not JSON is a 400 that says so, not a 415.
        Case {
            name: "text/plain, not JSON",
            content_type: Some("text/plain"),
            ..case("", CHAT, "hello", 400, &["Failed to parse the request body as JSON", "expected value"])
        },
        Case {
            name: "no content type, truncated (Anthropic)",
            content_type: None,
            ..case("", MESSAGES, r#"{"model": "c1", "max_tokens": 5"#, 400,
                   &["Failed to parse the request body as JSON", "EOF"])
        },
        Case {
            name: "GET on a POST route",
            method: "GET",
            ..case("", CHAT, "", 405, &["`GET /v1/chat/completions`", "`POST`"])
        },
        Case {
            name: "DELETE on a POST route (Anthropic)",
            method: "DELETE",
            ..case("", MESSAGES, "", 405, &["`DELETE /v1/messages`"])
        },
        Case {
            name: "unknown route",
            ..case("", "/v2/chat/completions", "{}", 404, &["No route `/v2/chat/completions`"])
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_4xx_in_the_routes_shape_and_the_server_stays_healthy() {
    let up = FakeUpstream::start();
    let gw = Gateway::start(&up).await;
    check_cases(&gw).await;
    assert_eq!(up.request_count(), 0, "no bad request reached the upstream");
}

/// Forwarded as written (the default), a bad request for an upstream of its own protocol
/// reaches it; a real upstream refuses it, and the client gets the gateway's own message for
/// it, exactly as when the gateway decodes first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_as_written_a_refused_bad_request_gets_the_same_answer() {
    let up = FakeUpstream::start();
    up.set_default(Behavior::status_with_message(
        400,
        "upstream: invalid request",
    ));
    let gw = Gateway::with(&up, true).await;
    check_cases(&gw).await;
    assert!(
        up.request_count() > 0,
        "same-protocol requests went out as written"
    );
}

async fn check_cases(gw: &Gateway) {
    let started = Instant::now();
    for c in cases() {
        let method = reqwest::Method::from_bytes(c.method.as_bytes()).unwrap();
        let mut req = gw
            .client
            .request(method, format!("{}{}", gw.url, c.path))
            .body(c.body);
        if let Some(ct) = c.content_type {
            req = req.header("content-type", ct);
        }
        let (status, v) = gw.send(req).await;
        assert_eq!(status, c.status, "{}: {v}", c.name);
        let message = if c.path == MESSAGES {
            assert_eq!(v["type"], "error", "{}: Anthropic shape: {v}", c.name);
            assert!(v["error"]["type"].is_string(), "{}: {v}", c.name);
            v["error"]["message"].as_str()
        } else {
            assert_eq!(
                v["error"]["code"], c.status,
                "{}: OpenAI shape: {v}",
                c.name
            );
            v["error"]["message"].as_str()
        }
        .unwrap_or_else(|| panic!("{}: no message: {v}", c.name));
        for s in c.says {
            assert!(message.contains(s), "{}: {s:?} not in {message:?}", c.name);
        }
        assert!(
            message.len() < 2000,
            "{}: a message to read, not a dump: {message}",
            c.name
        );
        gw.assert_healthy(c.name).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

/// A huge body without `Content-Length` (chunked) is cut off at the limit too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_chunked_body_is_413() {
    let up = FakeUpstream::start();
    let gw = Gateway::start(&up).await;
    for path in [CHAT, MESSAGES] {
        let chunks = std::iter::once(b"{\"model\": \"m1\", \"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"".to_vec())
            .chain(std::iter::repeat_n(vec![b'x'; 64 * 1024], 100))
            .map(Ok::<_, std::io::Error>);
        let req = gw
            .client
            .post(format!("{}{path}", gw.url))
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
        let resp = req.send().await;
        // The server may answer 413 and close before the client has sent everything.
        if let Ok(resp) = resp {
            assert_eq!(resp.status(), 413, "{path}");
        }
        gw.assert_healthy(path).await;
    }
    assert_eq!(up.request_count(), 0);
}

/// A 413 closes its connection (`Connection: close`): the unread rest of the body makes it
/// unusable, and a client that pooled it used to fail its next request (`IncompleteMessage`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_goes_on_after_a_413() {
    let up = FakeUpstream::start();
    let gw = Gateway::start(&up).await;
    let huge = "x".repeat(5 * 1024 * 1024);
    for _ in 0..5 {
        for path in [CHAT, MESSAGES] {
            let resp = gw
                .client
                .post(format!("{}{path}", gw.url))
                .json(&json!({ "model": "m1", "max_tokens": 5, "messages": [{ "role": "user", "content": huge }] }))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path}: no answer: {e:?}"));
            assert_eq!(resp.status(), 413);
            assert_eq!(resp.headers()["connection"], "close");
        }
        let (status, v) =
            gw.send(gw.client.post(format!("{}{CHAT}", gw.url)).json(
                &json!({ "model": "m1", "messages": [{ "role": "user", "content": "hi" }] }),
            ))
            .await;
        assert_eq!(status, 200, "{v}");
    }
}

/// Thousands of messages to a named model are forwarded (the upstream judges its own
/// context window); its 400 comes back as a 400 with its message, in either shape. A deeply
/// nested field the gateway does not read is skipped, not a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_messages_are_forwarded_and_an_upstream_400_comes_back() {
    let up = FakeUpstream::start();
    let gw = Gateway::start(&up).await;
    let started = Instant::now();
    let (status, v) = gw
        .send(gw.client.post(format!("{}{CHAT}", gw.url)).json(&json!({
            "model": "m1", "messages": messages(5000),
        })))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        up.last().body["messages"].as_array().unwrap().len(),
        5000,
        "every message reached the upstream"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Fields the gateway does not model are carried to the upstream, so one nested beyond
    // serde_json's recursion limit is a clear 400 (never a stack overflow), and the server
    // answers the next request.
    let deep = "{\"a\":".repeat(100_000) + "1" + &"}".repeat(100_000);
    let body = format!(
        r#"{{"model": "m1", "x_vendor_field": {deep}, "messages": [{{"role": "user", "content": "hi"}}]}}"#
    );
    let (status, v) = gw
        .send(
            gw.client
                .post(format!("{}{CHAT}", gw.url))
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v.to_string().contains("recursion limit"), "{v}");
    for (path, model) in [(CHAT, "m1"), (MESSAGES, "c1")] {
        up.push([Behavior::status_with_message(
            400,
            "This model's maximum context length is 8192 tokens",
        )]);
        let (status, v) = gw
            .send(gw.client.post(format!("{}{path}", gw.url)).json(&json!({
                "model": model, "max_tokens": 10, "messages": messages(3000),
            })))
            .await;
        assert_eq!(status, 400, "{path}: {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("maximum context length is 8192"),
            "{message}"
        );
        gw.assert_healthy(path).await;
    }
}

/// Runs a command that must exit by itself, killing it after `secs` (a hang fails the test).
fn run_bounded(mut cmd: Command, secs: u64) -> Run {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not exit within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts exit code 2 with a short message that contains each of `says`.
#[track_caller]
fn usage_error(run: Run, what: &str, says: &[&str]) {
    assert_eq!(run.code, 2, "{what}: exit code\nstderr:\n{}", run.stderr);
    for s in says {
        assert!(
            run.stderr.contains(s),
            "{what}: {s:?} not in:\n{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.len() < 3000,
        "{what}: a message to read, not a dump ({} bytes)",
        run.stderr.len()
    );
}

#[test]
fn malformed_config_files_exit_2_naming_the_file_and_the_place() {
    let env = TestEnv::new();
    let file = env.config_dir().join("config.toml");
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "an unclosed table header",
            b"[providers.p\nkind = \"openai\"\n".to_vec(),
            &["config.toml", "line 1", "invalid table header"],
        ),
        (
            "not UTF-8",
            b"[defaults]\nmodel = \"caf\xe9\"\n".to_vec(),
            &["config.toml", "UTF-8"],
        ),
        (
            "deeply nested arrays",
            format!("x = {}\n", nested(200_000)).into_bytes(),
            &["config.toml", "recursion limit exceeded", "line 1, column"],
        ),
        (
            "deeply nested tables",
            format!("x = {}1{}\n", "{a=".repeat(50_000), "}".repeat(50_000)).into_bytes(),
            &["config.toml", "recursion limit exceeded"],
        ),
        (
            "a negative count",
            b"[server]\nmax_body_bytes = -1\n".to_vec(),
            &["config.toml", "max_body_bytes", "-1"],
        ),
        (
            "a wrong type",
            b"[defaults]\nmax_retries = \"three\"\n".to_vec(),
            &["config.toml", "max_retries", "expected u32"],
        ),
        (
            "a model on no provider",
            b"[[models]]\nname = \"m\"\nprovider = \"p\"\nupstream = \"u\"\n".to_vec(),
            &["models[0].provider", "llm-config preset"],
        ),
        (
            "a NaN timeout",
            b"[defaults]\ntotal_timeout_secs = nan\n".to_vec(),
            &["defaults.total_timeout_secs", "between 0 and 86400"],
        ),
    ];
    for (what, text, says) in cases {
        std::fs::write(&file, &text).unwrap();
        let mut cmd = env.cmd("llm-config");
        cmd.arg("list");
        usage_error(run_bounded(cmd, 10), what, says);
        // The server refuses to start on it, the same way.
        let mut cmd = env.cmd("llm-server");
        cmd.args(["--port", "0"]);
        usage_error(run_bounded(cmd, 10), what, says);
    }
}

#[test]
fn a_malformed_credentials_file_exits_2_without_quoting_it() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let secret = "sk-unquoted-0123456789SECRET";
    let path = env.config_dir().join("credentials.toml");
    for text in [
        format!("[keys]\nopenai = {secret}\n"),
        format!("openai = \"{secret}\"\n"),
        format!("[keys]\nopenai = [\"{secret}\"]\n"),
    ] {
        std::fs::write(&path, &text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let run = env.run("llm-config", &["list"]);
        assert!(!run.stderr.contains(secret), "{}", run.stderr);
        usage_error(run, &text, &["credentials.toml", "[keys]"]);
    }
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let env = TestEnv::new();
    for (bin, args, says) in [
        (
            "llm-cooperation",
            vec!["query", "--max-tokens", "0", "hi"],
            "--max-tokens",
        ),
        (
            "llm-cooperation",
            vec!["query", "--max-tokens", "99999999999", "hi"],
            "--max-tokens",
        ),
        (
            "llm-cooperation",
            vec!["query", "--max-tokens", "ten", "hi"],
            "--max-tokens",
        ),
        (
            "llm-cooperation",
            vec!["query", "--temperature", "9", "hi"],
            "--temperature",
        ),
        (
            "llm-cooperation",
            vec!["query", "--temperature", "NaN", "hi"],
            "--temperature",
        ),
        (
            "llm-cooperation",
            vec!["query", "--strategy", "luckiest", "hi"],
            "--strategy",
        ),
        ("llm-server", vec!["--port", "99999"], "--port"),
        ("llm-server", vec!["--port", "-1"], "-1"),
        ("llm-server", vec!["--workers", "0"], "--workers"),
        (
            "llm-config",
            vec![
                "add-model",
                "--name",
                "m",
                "--path",
                "p",
                "--context-window",
                "0",
            ],
            "--context-window",
        ),
    ] {
        let mut cmd = env.cmd(bin);
        cmd.args(&args);
        usage_error(run_bounded(cmd, 10), &format!("{bin} {args:?}"), &[says]);
    }
}

/// A `.env` line the parser rejects used to break every command (exit code 2); it is now
/// skipped with a warning naming the file and the line.
#[test]
fn a_malformed_dotenv_line_is_skipped_with_a_warning() {
    let env = TestEnv::new();
    std::fs::write(
        env.cwd.path().join(".env"),
        "API_KEY sk-no-equals-sign\nLOG_LEVEL=error\n",
    )
    .unwrap();
    for bin in ["llm-config", "llm-cooperation"] {
        let mut cmd = env.cmd(bin);
        cmd.arg(if bin == "llm-config" {
            "list"
        } else {
            "models"
        });
        let run = run_bounded(cmd, 10);
        assert_eq!(run.code, 0, "{bin}: {}", run.stderr);
        assert!(
            run.stderr.contains(".env` line 1 is not `NAME=value`")
                && run.stderr.contains("skipped")
                && run.stderr.contains("using `")
                && run.stderr.contains("LOG_LEVEL"),
            "{bin}: {}",
            run.stderr
        );
    }
}

/// Workflow files of `llm-cooperation cooperate --workflow` are read before anything runs.
#[test]
fn malformed_workflow_files_exit_2_naming_the_file_and_the_step() {
    let env = TestEnv::new();
    let file = env.cwd.path().join("wf.toml");
    let deep = format!("steps = {}\n", nested(100_000));
    let cases: [(&str, &str, &[&str]); 6] = [
        ("a syntax error", "[[steps]\nid = \"a\"\n", &["wf.toml"]),
        (
            "a step without a prompt",
            "[[steps]]\nid = \"draft\"\n",
            &["wf.toml", "step `draft`", "prompt"],
        ),
        (
            "an unknown key",
            "nmae = \"x\"\n[[steps]]\nid = \"a\"\nprompt = \"p\"\n",
            &["wf.toml", "nmae"],
        ),
        (
            "steps that are not tables",
            "steps = \"all of them\"\n",
            &["wf.toml", "steps"],
        ),
        ("no steps", "name = \"empty\"\n", &["wf.toml", "steps"]),
        ("deep nesting", &deep, &["wf.toml"]),
    ];
    for (what, text, says) in cases {
        std::fs::write(&file, text).unwrap();
        let mut cmd = env.cmd("llm-cooperation");
        cmd.args(["cooperate", "--workflow", "wf.toml", "a task"]);
        usage_error(run_bounded(cmd, 10), what, says);
    }
    let mut cmd = env.cmd("llm-config");
    std::fs::write(&file, "x = [1,\n").unwrap();
    cmd.args(["import", "wf.toml"]);
    usage_error(run_bounded(cmd, 10), "import", &["wf.toml"]);
}
