//! The gateway over a real socket: the OpenAI protocol served by OpenAI- and Anthropic-kind
//! providers, authentication, error shapes, and the `llm-server` binary's graceful shutdown.

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use llm_cooperation::config::{Config, EnvSnapshot, Paths};
use llm_cooperation::server::{AppState, app, serve};
use serde_json::{Value, json};

use crate::common::TestEnv;
use crate::common::upstream::{
    Behavior, DEFAULT_TEXT, FakeUpstream, INPUT_TOKENS, pieces, refused_url,
};

/// `m1` on an OpenAI-kind provider, `c1` on an Anthropic-kind one, both on `up`; no retries
/// so upstream failures surface at once.
fn config_text(up: &FakeUpstream) -> String {
    let url = up.base_url();
    format!(
        r#"[defaults]
max_retries = 0
connect_timeout_secs = 1.0
first_byte_timeout_secs = 2.0
total_timeout_secs = 10.0

[providers.fake]
kind = "openai"
base_url = "{url}"
needs_key = false

[providers.claude]
kind = "anthropic"
base_url = "{url}"

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

/// The key of the `claude` provider; the fake upstream echoes it in one test.
const CLAUDE_KEY: &str = "sk-ant-gateway-0123456789SECRET";

/// A gateway on `127.0.0.1:0`, stopped (gracefully) on drop.
struct Gateway {
    url: String,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Gateway {
    async fn start(up: &FakeUpstream, tokens: &[&str]) -> Self {
        Self::start_with(config_text(up), tokens).await
    }

    async fn start_with(config: String, tokens: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let credentials = dir.path().join("credentials.toml");
        std::fs::write(&credentials, format!("[keys]\nclaude = \"{CLAUDE_KEY}\"\n")).unwrap();
        std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
        let state = AppState::new(config, tokens.iter().map(|t| t.to_string()).collect()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app(state), async {
            let _ = stopped.await;
        }));
        Gateway {
            url,
            _dir: dir,
            stop: Some(stop),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// POSTs a chat completion and returns the status and the JSON body.
async fn complete(gw: &Gateway, body: Value) -> (u16, Value) {
    let resp = http()
        .post(gw.url("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// The `data:` payloads of an SSE body.
fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| {
            event
                .lines()
                .find_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))
                .map(str::to_owned)
        })
        .collect()
}

/// Asserts the OpenAI error shape and returns `error.type`.
#[track_caller]
fn error_type(body: &Value, status: u16) -> String {
    let error = &body["error"];
    assert!(error["message"].is_string(), "{body}");
    assert_eq!(error["code"], status, "{body}");
    error["type"].as_str().expect("error.type").to_owned()
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("the test did not finish within 20 s")
}

#[tokio::test]
async fn whole_completion_has_the_openai_shape_for_both_provider_kinds() {
    bounded(async {
        let up = FakeUpstream::start();
        let gw = Gateway::start(&up, &[]).await;
        for (model, path) in [("m1", "/v1/chat/completions"), ("c1", "/v1/messages")] {
            let (status, v) = complete(
                &gw,
                json!({
                    "model": model,
                    "messages": [
                        { "role": "system", "content": "Be terse." },
                        { "role": "user", "content": "hi" },
                    ],
                }),
            )
            .await;
            assert_eq!(status, 200, "{v}");
            assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"), "{v}");
            assert_eq!(v["object"], "chat.completion");
            assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
            assert_eq!(v["model"], model);
            assert_eq!(v["choices"][0]["message"]["role"], "assistant");
            assert_eq!(v["choices"][0]["message"]["content"], DEFAULT_TEXT);
            assert_eq!(v["choices"][0]["finish_reason"], "stop");
            let n = pieces(DEFAULT_TEXT).len() as u32;
            assert_eq!(v["usage"]["prompt_tokens"], INPUT_TOKENS);
            assert_eq!(v["usage"]["completion_tokens"], n);
            assert_eq!(v["usage"]["total_tokens"], INPUT_TOKENS + n);
            // The request was converted to the provider's own protocol.
            let r = up.last();
            assert_eq!(r.path, path);
            if model == "c1" {
                assert_eq!(r.body["system"], "Be terse.");
                assert_eq!(r.header("x-api-key"), Some(CLAUDE_KEY));
            }
        }
    })
    .await;
}

#[tokio::test]
async fn streamed_completion_sends_chunks_usage_and_done() {
    bounded(async {
        let up = FakeUpstream::start();
        let gw = Gateway::start(&up, &[]).await;
        for model in ["m1", "c1"] {
            for include_usage in [true, false] {
                let resp = http()
                    .post(gw.url("/v1/chat/completions"))
                    .json(&json!({
                        "model": model,
                        "stream": true,
                        "stream_options": { "include_usage": include_usage },
                        "messages": [{ "role": "user", "content": "hi" }],
                    }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let content_type = resp.headers()["content-type"].to_str().unwrap().to_owned();
                assert!(
                    content_type.starts_with("text/event-stream"),
                    "{content_type}"
                );
                let body = resp.text().await.unwrap();
                let data = sse_data(&body);
                assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{body}");
                let chunks: Vec<Value> = data[..data.len() - 1]
                    .iter()
                    .map(|d| serde_json::from_str(d).unwrap())
                    .collect();
                assert!(
                    chunks
                        .iter()
                        .all(|c| c["object"] == "chat.completion.chunk")
                );
                assert!(chunks.iter().all(|c| c["model"] == model));
                assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
                let text: String = chunks
                    .iter()
                    .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
                    .collect();
                assert_eq!(text, DEFAULT_TEXT, "{model}: {body}");
                assert!(
                    chunks
                        .iter()
                        .any(|c| c["choices"][0]["finish_reason"] == "stop"),
                    "{body}"
                );
                let usage: Vec<&Value> = chunks
                    .iter()
                    .filter(|c| c.get("usage").is_some_and(|u| !u.is_null()))
                    .collect();
                if include_usage {
                    assert_eq!(usage.len(), 1, "{body}");
                    assert_eq!(usage[0]["choices"], json!([]));
                    assert_eq!(usage[0]["usage"]["prompt_tokens"], INPUT_TOKENS);
                    assert_eq!(
                        usage[0]["usage"]["completion_tokens"],
                        pieces(DEFAULT_TEXT).len()
                    );
                } else {
                    assert!(usage.is_empty(), "{body}");
                }
            }
        }
    })
    .await;
}

#[tokio::test]
async fn models_and_health() {
    bounded(async {
        let up = FakeUpstream::start();
        let gw = Gateway::start(&up, &[]).await;
        let v: Value = http()
            .get(gw.url("/v1/models"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["object"], "list");
        let ids: Vec<&str> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["m1", "c1"]);
        assert_eq!(v["data"][1]["owned_by"], "claude");

        let resp = http().get(gw.url("/health")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["status"], "ok");
        assert_eq!(v["models"], 2);
        assert_eq!(up.request_count(), 0, "neither asks the upstream");
    })
    .await;
}

#[tokio::test]
async fn tokens_are_required_when_configured() {
    bounded(async {
        let up = FakeUpstream::start();
        let gw = Gateway::start(&up, &["secret"]).await;
        let body = json!({ "model": "m1", "messages": [{ "role": "user", "content": "hi" }] });
        let post = || http().post(gw.url("/v1/chat/completions")).json(&body);

        for (name, req) in [
            ("no header", post()),
            ("wrong token", post().bearer_auth("not-the-secret")),
            ("longer token", post().bearer_auth("secret-and-more")),
            ("shorter token", post().bearer_auth("secre")),
            ("wrong x-api-key", post().header("x-api-key", "secretx")),
            (
                "wrong scheme",
                post().header("authorization", "Basic secret"),
            ),
        ] {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 401, "{name}");
            let v: Value = resp.json().await.unwrap();
            assert_eq!(error_type(&v, 401), "authentication_error", "{name}");
        }
        assert_eq!(
            up.request_count(),
            0,
            "rejected requests never reach the upstream"
        );

        let resp = post().bearer_auth("secret").send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let resp = post().header("x-api-key", "secret").send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(up.request_count(), 2);

        let resp = http().get(gw.url("/v1/models")).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let resp = http()
            .get(gw.url("/v1/models"))
            .bearer_auth("secret")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn unknown_model_is_404_naming_it() {
    bounded(async {
        let up = FakeUpstream::start();
        let gw = Gateway::start(&up, &[]).await;
        let (status, v) = complete(
            &gw,
            json!({ "model": "nope", "messages": [{ "role": "user", "content": "hi" }] }),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(error_type(&v, 404), "model_not_found");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("`nope`") && message.contains("m1, c1"),
            "{message}"
        );
    })
    .await;
}

#[tokio::test]
async fn invalid_json_is_400() {
    bounded(async {
        let up = FakeUpstream::start();
        let gw = Gateway::start(&up, &[]).await;
        let resp = http()
            .post(gw.url("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body("{\"model\": \"m1\", \"messages\": [")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(error_type(&v, 400), "invalid_request_error");

        let (status, v) = complete(&gw, json!({ "model": "m1", "messages": [] })).await;
        assert_eq!(status, 400);
        assert!(
            v["error"]["message"].as_str().unwrap().contains("messages"),
            "{v}"
        );
        assert_eq!(up.request_count(), 0);
    })
    .await;
}

#[tokio::test]
async fn upstream_failures_are_502_in_the_openai_shape() {
    bounded(async {
        let up = FakeUpstream::start();
        let gw = Gateway::start(&up, &[]).await;
        for stream in [false, true] {
            up.push([Behavior::status(500)]);
            let (status, v) = complete(
                &gw,
                json!({
                    "model": "m1",
                    "stream": stream,
                    "messages": [{ "role": "user", "content": "hi" }],
                }),
            )
            .await;
            assert_eq!(status, 502, "stream {stream}: {v}");
            assert_eq!(error_type(&v, 502), "upstream");
        }
    })
    .await;
}

/// An upstream that echoes our key in its error must not make the gateway hand it out.
#[tokio::test]
async fn upstream_errors_never_leak_the_providers_key() {
    bounded(async {
        let up = FakeUpstream::start();
        let gw = Gateway::start(&up, &[]).await;
        up.push([Behavior::status_with_message(
            401,
            &format!("invalid x-api-key {CLAUDE_KEY}"),
        )]);
        let resp = http()
            .post(gw.url("/v1/chat/completions"))
            .json(&json!({ "model": "c1", "messages": [{ "role": "user", "content": "hi" }] }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 502, "our key is not the client's problem");
        let text = resp.text().await.unwrap();
        assert!(!text.contains(CLAUDE_KEY), "{text}");
        assert!(text.contains("invalid x-api-key"), "{text}");
    })
    .await;
}

/// Where the upstreams live is the operator's business: a client learns which provider failed,
/// not its address (a `base_url` may name internal hosts or carry credentials).
#[tokio::test]
async fn connection_failures_do_not_reveal_the_upstream_address() {
    bounded(async {
        let up = FakeUpstream::start();
        let dead = refused_url();
        let config = format!(
            "{}\n[providers.dead]\nkind = \"openai\"\nbase_url = \"{dead}\"\nneeds_key = false\n\n\
             [[models]]\nname = \"gone\"\nprovider = \"dead\"\nupstream = \"fake-model\"\n",
            config_text(&up)
        );
        let gw = Gateway::start_with(config, &[]).await;
        let (status, v) = complete(
            &gw,
            json!({ "model": "gone", "messages": [{ "role": "user", "content": "hi" }] }),
        )
        .await;
        assert_eq!(status, 502, "{v}");
        assert_eq!(error_type(&v, 502), "connect");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("`dead`"), "{message}");
        let port = dead.rsplit(':').next().unwrap().trim_end_matches("/v1");
        assert!(!message.contains(port), "{message}");
    })
    .await;
}

/// Kills the child if a test fails before it exits.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test]
async fn the_server_binary_serves_and_exits_0_on_sigterm() {
    let up = FakeUpstream::start();
    let env = TestEnv::new();
    env.write_config(&config_text(&up));
    // `--port 0` would hide the port from the test: take a free one instead.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = env
        .cmd("llm-server")
        .args(["--port", &port.to_string(), "--token", "secret"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = ChildGuard(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();

    let started = Instant::now();
    loop {
        // With tokens set, `/health` needs one too unless `public_health` says otherwise.
        if let Ok(resp) = client
            .get(format!("{base}/health"))
            .bearer_auth("secret")
            .send()
            .await
            && resp.status() == 200
        {
            break;
        }
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("llm-server exited early with {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "llm-server did not answer /health within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth("secret")
        .json(&json!({ "model": "m1", "messages": [{ "role": "user", "content": "hi" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], DEFAULT_TEXT);

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(5),
            "llm-server did not exit within 5 s of SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
}
