//! Two `llm-server` processes sharing state through one real `redis-server`: sessions,
//! cooldowns, rate limits and cached answers cross replicas, and both keep answering while
//! Redis is away, reconnecting when it is back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::TestEnv;
use crate::common::upstream::{Behavior, FakeUpstream};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `redis-server` on a free loopback port, without persistence; killed on drop.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn start_on(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `redis-server` ({e}); install it (`apt-get install redis-server`), as the README's test command does")
            });
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { port, child }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An `llm-server` process; killed on drop.
struct Server {
    url: String,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_text(up: &FakeUpstream, flaky: &FakeUpstream) -> String {
    format!(
        r#"[defaults]
max_retries = 0
connect_timeout_secs = 1.0
total_timeout_secs = 10.0

[server]
rate_limit_requests_per_minute = 1000

[router]
failures_before_cooldown = 1
cooldown_secs = 30.0

[providers.fake]
kind = "openai"
base_url = "{}"
needs_key = false

[providers.flaky]
kind = "openai"
base_url = "{}"
needs_key = false

[[models]]
name = "m1"
provider = "fake"
upstream = "fake-model"

[[models]]
name = "flaky"
provider = "flaky"
upstream = "fake-model"
"#,
        up.base_url(),
        flaky.base_url()
    )
}

fn start_server(env: &TestEnv, redis_url: &str) -> Server {
    let port = free_port();
    let child = env
        .cmd("llm-server")
        .args([
            "--port",
            &port.to_string(),
            "--token",
            "tok",
            "--state",
            redis_url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Server {
        url: format!("http://127.0.0.1:{port}"),
        child,
    }
}

async fn wait_up(client: &reqwest::Client, s: &Server) {
    let started = Instant::now();
    loop {
        if let Ok(r) = client
            .get(format!("{}/health", s.url))
            .bearer_auth("tok")
            .send()
            .await
            && r.status() == 200
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "llm-server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn chat(
    client: &reqwest::Client,
    s: &Server,
    body: Value,
    session: Option<&str>,
) -> (u16, Value) {
    let mut req = client
        .post(format!("{}/v1/chat/completions", s.url))
        .bearer_auth("tok")
        .json(&body);
    if let Some(id) = session {
        req = req.header("x-session-id", id);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn status(client: &reqwest::Client, s: &Server) -> Value {
    client
        .get(format!("{}/status", s.url))
        .bearer_auth("tok")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn user(text: &str) -> Value {
    json!({ "model": "m1", "messages": [{ "role": "user", "content": text }] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_sessions_cooldowns_cache_and_survive_redis_going_away() {
    let up = FakeUpstream::start();
    let flaky = FakeUpstream::start();
    let redis = Redis::start_on(free_port());
    let env = TestEnv::new();
    env.write_config(&config_text(&up, &flaky));
    let a = start_server(&env, &redis.url());
    let b = start_server(&env, &redis.url());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    wait_up(&client, &a).await;
    wait_up(&client, &b).await;

    // A session started on A continues on B.
    up.push([Behavior::ok("Hello Ada.")]);
    assert_eq!(
        chat(&client, &a, user("I am Ada."), Some("s1")).await.0,
        200
    );
    assert_eq!(
        chat(&client, &b, user("Who am I?"), Some("s1")).await.0,
        200
    );
    let sent: Vec<String> = up.last().body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent, ["I am Ada.", "Hello Ada.", "Who am I?"]);

    // A cooldown set by A is honoured by B: B does not even try the failing upstream.
    flaky.push([Behavior::status(500)]);
    let (code, _) = chat(
        &client,
        &a,
        json!({ "model": "flaky", "messages": [{ "role": "user", "content": "x" }] }),
        None,
    )
    .await;
    assert_eq!(code, 502);
    assert_eq!(flaky.request_count(), 1);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (code, body) = chat(
        &client,
        &b,
        json!({ "model": "flaky", "messages": [{ "role": "user", "content": "x" }] }),
        None,
    )
    .await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cooling down"),
        "{body}"
    );
    assert_eq!(
        flaky.request_count(),
        1,
        "B skipped the cooled-down deployment"
    );

    // A cached answer from A is served by B without another upstream request.
    let cached = json!({ "model": "m1", "cache": true, "temperature": 0.0, "messages": [{ "role": "user", "content": "cache me" }] });
    let before = up.request_count();
    let (code, first) = chat(&client, &a, cached.clone(), None).await;
    assert_eq!(code, 200);
    assert!(first.get("cached").is_none());
    let (code, second) = chat(&client, &b, cached, None).await;
    assert_eq!(code, 200);
    assert_eq!(second["cached"], true);
    assert_eq!(
        second["choices"][0]["message"]["content"],
        first["choices"][0]["message"]["content"]
    );
    assert_eq!(
        second["usage"]["total_tokens"], 0,
        "a cached answer costs nothing"
    );
    assert_eq!(up.request_count(), before + 1);

    // Both count into the cluster's routing statistics.
    let stats: Value = client
        .get(format!("{}/routing/stats", b.url))
        .bearer_auth("tok")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        stats["cluster"]["total_requests"].as_u64().unwrap() >= 5,
        "{stats}"
    );
    assert!(
        stats["cluster"]["succeeded"].as_u64().unwrap() > stats["succeeded"].as_u64().unwrap(),
        "{stats}"
    );

    // Redis goes away: both keep answering from local state.
    let port = redis.port;
    drop(redis);
    for s in [&a, &b] {
        let (code, body) = chat(&client, s, user("still there?"), Some("s2")).await;
        assert_eq!(code, 200, "{body}");
    }
    assert_eq!(status(&client, &a).await["state"]["connected"], false);
    // It comes back on the same port: the replicas reconnect and share again.
    let _redis = Redis::start_on(port);
    let started = Instant::now();
    loop {
        chat(&client, &a, user("ping"), Some("s3")).await;
        if status(&client, &a).await["state"]["connected"] == true {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "A did not reconnect to Redis"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    up.push([Behavior::ok("Back again.")]);
    chat(&client, &a, user("I am back."), Some("s4")).await;
    let started = Instant::now();
    loop {
        chat(&client, &b, user("Am I back?"), Some("s4")).await;
        if up.last().body["messages"].as_array().unwrap().len() == 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "B did not reconnect to Redis"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_is_enforced_across_replicas() {
    let up = FakeUpstream::start();
    let flaky = FakeUpstream::start();
    let redis = Redis::start_on(free_port());
    let env = TestEnv::new();
    env.write_config(&config_text(&up, &flaky).replace(
        "rate_limit_requests_per_minute = 1000",
        "rate_limit_requests_per_minute = 3",
    ));
    // Counts are per minute: start well inside one.
    let (_, left) = llm_cooperation::store::minute_window();
    if left < Duration::from_secs(8) {
        tokio::time::sleep(left + Duration::from_millis(100)).await;
    }
    let a = start_server(&env, &redis.url());
    let b = start_server(&env, &redis.url());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    wait_up(&client, &a).await;
    wait_up(&client, &b).await;
    let mut codes = Vec::new();
    for s in [&a, &b, &a, &b, &a] {
        codes.push(chat(&client, s, user("hi"), None).await.0);
    }
    assert_eq!(codes, [200, 200, 200, 429, 429]);
    let resp = client
        .post(format!("{}/v1/messages", b.url))
        .header("x-api-key", "tok")
        .json(&json!({ "model": "m1", "max_tokens": 5, "messages": [{ "role": "user", "content": "hi" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "rate_limit_error"
    );
}

/// A Responses API conversation started on one replica continues on the other through
/// `previous_response_id`: the stored response is in Redis, and the second replica sends the
/// whole conversation upstream; either replica can read it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_response_id_continues_on_another_replica() {
    let up = FakeUpstream::start();
    let flaky = FakeUpstream::start();
    let redis = Redis::start_on(free_port());
    let env = TestEnv::new();
    env.write_config(&config_text(&up, &flaky));
    let a = start_server(&env, &redis.url());
    let b = start_server(&env, &redis.url());
    let client = reqwest::Client::new();
    wait_up(&client, &a).await;
    wait_up(&client, &b).await;
    let respond = |s: &Server, body: Value| {
        let req = client
            .post(format!("{}/v1/responses", s.url))
            .bearer_auth("tok")
            .json(&body);
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    up.push([Behavior::ok("The capital of Norway is Oslo.")]);
    let (status, first) = respond(
        &a,
        json!({ "model": "m1", "input": "What is the capital of Norway?" }),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let id = first["id"].as_str().unwrap().to_owned();

    up.push([Behavior::ok("About 700,000 people.")]);
    let (status, second) = respond(
        &b,
        json!({ "model": "m1", "previous_response_id": id, "input": "How many people live there?" }),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let sent = up.last().body["messages"].to_string();
    for piece in [
        "What is the capital of Norway?",
        "The capital of Norway is Oslo.",
        "How many people live there?",
    ] {
        assert!(sent.contains(piece), "`{piece}` not in {sent}");
    }
    let got: Value = client
        .get(format!("{}/v1/responses/{id}", b.url))
        .bearer_auth("tok")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["id"], id.as_str(), "{got}");
}

/// The OpenAI Agents SDK (its default Responses model) starts a conversation on one replica
/// and continues it on the other by `previous_response_id`: the stored response is in Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_sdk_continues_a_conversation_on_another_replica() {
    use crate::common::upstream::Reply;
    use crate::real_clients::{CONTINUE_SCRIPT, python_bin, run_client};
    let python = python_bin();
    let up = FakeUpstream::start();
    let flaky = FakeUpstream::start();
    let redis = Redis::start_on(free_port());
    let env = TestEnv::new();
    env.write_config(&config_text(&up, &flaky));
    let a = start_server(&env, &redis.url());
    let b = start_server(&env, &redis.url());
    let client = reqwest::Client::new();
    wait_up(&client, &a).await;
    wait_up(&client, &b).await;
    up.push([
        Behavior::Reply(Reply::text("Noted: PELICAN-204.")),
        Behavior::Reply(Reply::text("The word was PELICAN-204.")),
    ]);
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("continue.py");
    std::fs::write(&script, CONTINUE_SCRIPT).unwrap();
    let run = run_client(
        &python,
        &[
            script.to_str().unwrap(),
            &format!("{}/v1", a.url),
            "m1",
            "tok",
            &format!("{}/v1", b.url),
        ],
        home.path(),
        &[("OPENAI_AGENTS_DISABLE_TRACING", "1")],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("The word was PELICAN-204."),
        "{}",
        run.stdout
    );
    let second = up.last().body["messages"].to_string();
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
