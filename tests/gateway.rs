//! The gateway beyond the OpenAI basics: the Anthropic protocol, the native API, sessions,
//! metrics, limits (body size, shedding, timeouts), disconnects, hot reload and draining.

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::StreamExt;
use llm_cooperation::config::{Config, EnvSnapshot, Paths};
use llm_cooperation::server::{AppState, app};
use serde_json::{Value, json};

use crate::common::TestEnv;
use crate::common::gateway::InProcess;
use crate::common::upstream::{Behavior, DEFAULT_TEXT, FakeUpstream};

fn config_text(up: &FakeUpstream, server: &str) -> String {
    let url = up.base_url();
    format!(
        r#"[defaults]
max_retries = 0
connect_timeout_secs = 1.0
first_byte_timeout_secs = 3.0
total_timeout_secs = 10.0

[server]
{server}

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
tasks = ["chat"]

[[models]]
name = "c1"
provider = "claude"
upstream = "claude-fake"
tasks = ["chat"]
"#
    )
}

struct Gateway {
    url: String,
    gw: InProcess,
    client: reqwest::Client,
}

impl Gateway {
    async fn start(config: String, tokens: &[&str]) -> Gateway {
        let gw = InProcess::start(&config, tokens).await;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Gateway {
            url: gw.url.clone(),
            gw,
            client,
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value, reqwest::header::HeaderMap) {
        let resp = self
            .client
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers,
        )
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

/// The `event:` names of an SSE body, in order, with their data.
fn sse(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            (
                name,
                serde_json::from_str(&data).unwrap_or(Value::String(data)),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_messages_whole_and_streamed_from_an_openai_model() {
    let up = FakeUpstream::start();
    let gw = Gateway::start(config_text(&up, ""), &[]).await;
    let body = json!({
        "model": "m1", "max_tokens": 100, "system": "Be brief.",
        "stop_sequences": ["END"],
        "messages": [{ "role": "user", "content": [{ "type": "text", "text": "hi" }] }],
    });
    let (status, resp, _) = gw.post("/v1/messages", body.clone()).await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["type"], "message");
    assert_eq!(resp["role"], "assistant");
    assert_eq!(resp["content"][0]["text"], DEFAULT_TEXT);
    assert_eq!(resp["stop_reason"], "end_turn");
    assert!(resp["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert!(resp["id"].as_str().unwrap().starts_with("msg_"));
    // The OpenAI-kind upstream got the system prompt as a message and the stop sequence.
    let sent = up.last().body;
    assert_eq!(up.last().path, "/v1/chat/completions");
    assert_eq!(
        sent["messages"][0],
        json!({ "role": "system", "content": "Be brief." })
    );
    assert_eq!(sent["stop"], json!(["END"]));
    assert_eq!(sent["max_tokens"], 100);

    let mut streamed = body;
    streamed["stream"] = json!(true);
    let text = gw
        .client
        .post(format!("{}/api/v1/messages", gw.url))
        .json(&streamed)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[..3],
        ["message_start", "content_block_start", "ping"]
    );
    assert_eq!(
        &names[names.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    let joined: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(joined, DEFAULT_TEXT);
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_errors_keep_anthropic_shape() {
    let up = FakeUpstream::start();
    let gw = Gateway::start(config_text(&up, ""), &["tok"]).await;
    let (status, resp, _) = gw
        .post(
            "/v1/messages",
            json!({ "model": "m1", "max_tokens": 5, "messages": [] }),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(resp["type"], "error");
    assert_eq!(resp["error"]["type"], "authentication_error");
    let authed = |body: Value| {
        gw.client
            .post(format!("{}/v1/messages", gw.url))
            .header("x-api-key", "tok")
            .json(&body)
            .send()
    };
    let resp: Value =
        authed(json!({ "model": "m1", "messages": [{ "role": "user", "content": "x" }] }))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(resp["error"]["type"], "invalid_request_error");
    assert!(
        resp["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens")
    );
    let r = authed(json!({ "model": "nope", "max_tokens": 5, "messages": [{ "role": "user", "content": "x" }] }))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "not_found_error"
    );
    let counted: Value = gw
        .client
        .post(format!("{}/v1/messages/count_tokens", gw.url))
        .bearer_auth("tok")
        .json(&json!({ "model": "m1", "messages": [{ "role": "user", "content": "你好世界" }] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        counted["input_tokens"], 8,
        "4 CJK characters plus 4 per message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_carry_history_across_requests_and_protocols() {
    let up = FakeUpstream::start();
    let gw = Gateway::start(config_text(&up, ""), &[]).await;
    up.push([Behavior::ok("Nice to meet you, Ada.")]);
    let r = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("x-session-id", "s1")
        .json(&json!({ "model": "m1", "messages": [{ "role": "user", "content": "I am Ada." }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, _, _) = gw
        .post(
            "/v1/messages",
            json!({ "model": "c1", "max_tokens": 50, "session_id": "s1",
                    "messages": [{ "role": "user", "content": "What is my name?" }] }),
        )
        .await;
    assert_eq!(status, 200);
    let sent = up.last().body;
    let contents: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        ["I am Ada.", "Nice to meet you, Ada.", "What is my name?"]
    );
    // Another session sees none of it.
    let (_, _, _) = gw
        .post("/v1/chat/completions", json!({ "model": "m1", "session_id": "s2", "messages": [{ "role": "user", "content": "hi" }] }))
        .await;
    assert_eq!(up.last().body["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_query_status_models_stats_and_metrics() {
    let up = FakeUpstream::start();
    let gw = Gateway::start(config_text(&up, ""), &[]).await;
    let (status, resp, _) = gw
        .post("/query", json!({ "query": "hello", "user_id": "u1", "preferences": { "strategy": "cheapest", "quality_priority": 0.2 } }))
        .await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(resp["success"], true);
    assert_eq!(resp["result"], DEFAULT_TEXT);
    assert_eq!(resp["strategy_used"], "cheapest");
    assert!(resp["processing_time"].as_f64().unwrap() > 0.0);
    assert!(resp["model"] == "m1" || resp["model"] == "c1");
    // The user's conversation continues.
    gw.post("/query", json!({ "query": "and again", "user_id": "u1" }))
        .await;
    assert_eq!(up.last().body["messages"].as_array().unwrap().len(), 3);
    let (status, resp, _) = gw
        .post(
            "/query",
            json!({ "query": "x", "preferences": { "quality_priority": 3 } }),
        )
        .await;
    assert_eq!(status, 400, "{resp}");
    let (status, resp, _) = gw.post("/query", json!({ "qeury": "typo" })).await;
    assert_eq!(status, 422, "{resp}");

    let (_, text) = gw.get("/status").await;
    let s: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["system_health"], "healthy");
    assert_eq!(s["active_models"], 2);
    assert_eq!(s["total_requests"], 5, "four /query requests and this one");
    assert!(s["uptime"].as_f64().unwrap() > 0.0);
    let (_, text) = gw.get("/models").await;
    let m: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(m["models"][0]["health"], "ready");
    assert_eq!(
        m["models"][0]["deployments"][0]["health"]["requests"]
            .as_u64()
            .unwrap()
            + m["models"][1]["deployments"][0]["health"]["requests"]
                .as_u64()
                .unwrap(),
        2
    );
    let (_, text) = gw.get("/routing/stats").await;
    let st: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(st["total_requests"], 2);
    assert_eq!(st["strategy_usage"]["cheapest"], 1);
    let (status, text) = gw.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        text.contains("llm_gateway_requests_total{route=\"/query\""),
        "{text}"
    );
    assert!(
        text.contains("llm_gateway_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("llm_gateway_tokens_total"), "{text}");
    assert!(
        text.contains("llm_gateway_errors_total{route=\"/query\",kind=\"invalid_request_error\"}"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics_need_a_token_unless_configured_public() {
    let up = FakeUpstream::start();
    let gw = Gateway::start(config_text(&up, ""), &["tok"]).await;
    assert_eq!(gw.get("/health").await.0, 401);
    assert_eq!(gw.get("/metrics").await.0, 401);
    let gw = Gateway::start(
        config_text(&up, "public_health = true\npublic_metrics = true"),
        &["tok"],
    )
    .await;
    assert_eq!(gw.get("/health").await.0, 200);
    assert_eq!(gw.get("/metrics").await.0, 200);
    assert_eq!(gw.get("/status").await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_body_size_shedding_and_request_timeout() {
    let up = FakeUpstream::start();
    let gw = Gateway::start(
        config_text(
            &up,
            "max_body_bytes = 2048\nmax_concurrency = 1\nrequest_timeout_secs = 1.0",
        ),
        &[],
    )
    .await;
    let big = "x".repeat(4096);
    let (status, resp, _) = gw
        .post(
            "/v1/chat/completions",
            json!({ "model": "m1", "messages": [{ "role": "user", "content": big }] }),
        )
        .await;
    assert_eq!(status, 413, "{resp}");
    assert_eq!(resp["error"]["type"], "request_too_large");
    let (status, resp, _) = gw
        .post("/v1/messages", json!({ "model": "m1", "max_tokens": 5, "messages": [{ "role": "user", "content": big }] }))
        .await;
    assert_eq!(status, 413);
    assert_eq!(resp["error"]["type"], "request_too_large");

    // One slow request holds the only slot: the next is shed at once with Retry-After.
    up.push([Behavior::Delay {
        before_headers: Duration::from_millis(700),
    }]);
    let slow = {
        let (client, url) = (gw.client.clone(), gw.url.clone());
        tokio::spawn(async move {
            client
                .post(format!("{url}/v1/chat/completions"))
                .json(
                    &json!({ "model": "m1", "messages": [{ "role": "user", "content": "slow" }] }),
                )
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let (status, resp, headers) = gw
        .post(
            "/v1/chat/completions",
            json!({ "model": "m1", "messages": [{ "role": "user", "content": "x" }] }),
        )
        .await;
    assert_eq!(status, 503, "{resp}");
    assert_eq!(headers["retry-after"], "1");
    assert!(started.elapsed() < Duration::from_millis(200));
    assert_eq!(slow.await.unwrap(), 200);

    // Longer than the request timeout: 504 in the caller's shape.
    up.push([Behavior::Delay {
        before_headers: Duration::from_millis(2500),
    }]);
    let (status, resp, _) = gw
        .post("/v1/messages", json!({ "model": "m1", "max_tokens": 5, "messages": [{ "role": "user", "content": "x" }] }))
        .await;
    assert_eq!(status, 504, "{resp}");
    assert_eq!(resp["type"], "error");
    let metrics = gw.get("/metrics").await.1;
    assert!(metrics.contains("llm_gateway_shed_total 1"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_stream_frees_its_slot() {
    let up = FakeUpstream::start();
    let gw = Gateway::start(config_text(&up, ""), &[]).await;
    up.push([Behavior::SlowDrip {
        chunk_delay: Duration::from_millis(300),
    }]);
    let resp = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({ "model": "m1", "stream": true, "messages": [{ "role": "user", "content": "x" }] }))
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    body.next().await.unwrap().unwrap();
    let in_flight = || {
        gw.gw
            .state
            .live()
            .router
            .health_of("m1")
            .iter()
            .map(|(_, h)| h.in_flight)
            .sum::<u32>()
    };
    assert_eq!(in_flight(), 1);
    drop(body);
    let started = Instant::now();
    while in_flight() != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the upstream request outlived its client"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A request that finishes is not counted as abandoned; the dropped stream is.
    let (status, _, _) = gw
        .post(
            "/v1/chat/completions",
            json!({ "model": "m1", "messages": [{ "role": "user", "content": "x" }] }),
        )
        .await;
    assert_eq!(status, 200);
    let metrics = gw.get("/metrics").await.1;
    assert!(
        metrics.contains("llm_gateway_in_flight_requests{route=\"/v1/chat/completions\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("llm_gateway_abandoned_total{route=\"/v1/chat/completions\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_models_and_a_bad_config_keeps_the_old_one() {
    let up = FakeUpstream::start();
    let gw = Gateway::start(config_text(&up, ""), &[]).await;
    let mut text = config_text(&up, "");
    text.push_str(
        "\n[[models]]\nname = \"m2\"\nprovider = \"fake\"\nupstream = \"fake-model-large\"\n",
    );
    std::fs::write(gw.gw.dir.path().join("config.toml"), &text).unwrap();
    let config = Config::load(Paths::in_dir(gw.gw.dir.path()), EnvSnapshot::default()).unwrap();
    gw.gw.state.reload(config).unwrap();
    let (_, models) = gw.get("/v1/models").await;
    assert!(models.contains("\"m2\""), "{models}");
    let (status, _, _) = gw
        .post(
            "/v1/chat/completions",
            json!({ "model": "m2", "messages": [{ "role": "user", "content": "x" }] }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(up.last().body["model"], "fake-model-large");
    std::fs::write(
        gw.gw.dir.path().join("config.toml"),
        "[[models]]\nname = 1\n",
    )
    .unwrap();
    assert!(Config::load(Paths::in_dir(gw.gw.dir.path()), EnvSnapshot::default()).is_err());
    let (_, models) = gw.get("/v1/models").await;
    assert!(models.contains("\"m2\""));
}

/// SIGHUP reloads the binary's models; SIGTERM lets a running stream finish, then exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reloads_on_sighup_and_drains_on_sigterm() {
    let up = FakeUpstream::start();
    let env = TestEnv::new();
    env.write_config(&config_text(&up, ""));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = env
        .cmd("llm-server")
        .args(["--port", &port.to_string(), "--workers", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "llm-server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut text = config_text(&up, "");
    text.push_str(
        "\n[[models]]\nname = \"added\"\nprovider = \"fake\"\nupstream = \"fake-model\"\n",
    );
    env.write_config(&text);
    std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    let started = Instant::now();
    loop {
        let models = client
            .get(format!("{base}/v1/models"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if models.contains("\"added\"") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the reload did not take: {models}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    up.push([Behavior::SlowDrip {
        chunk_delay: Duration::from_millis(100),
    }]);
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&json!({ "model": "m1", "stream": true, "messages": [{ "role": "user", "content": "x" }] }))
        .send()
        .await
        .unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let body = resp.text().await.unwrap();
    assert!(
        body.trim_end().ends_with("data: [DONE]"),
        "the stream was cut: {body}"
    );
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "llm-server did not exit after draining"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The router as a service, without a socket: `app(state).oneshot(request)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_serves_oneshot_requests_without_a_socket() {
    use tower::ServiceExt;
    let up = FakeUpstream::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), config_text(&up, "")).unwrap();
    let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
    let state = AppState::new(config, vec!["tok".into()]).unwrap();
    let request = |auth: bool| {
        let mut b =
            axum::http::Request::post("/v1/messages").header("content-type", "application/json");
        if auth {
            b = b.header("x-api-key", "tok");
        }
        b.body(axum::body::Body::from(
            json!({ "model": "m1", "max_tokens": 20, "messages": [{ "role": "user", "content": "hi" }] }).to_string(),
        ))
        .unwrap()
    };
    let resp = app(state.clone()).oneshot(request(false)).await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = app(state).oneshot(request(true)).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["content"][0]["text"], DEFAULT_TEXT);
}
