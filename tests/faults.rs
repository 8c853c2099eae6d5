//! The fault matrix through the gateway: every upstream fault, for both client protocols
//! (`/v1/chat/completions` and `/v1/messages`), whole and streamed, against both provider
//! kinds (an OpenAI-kind and an Anthropic-kind upstream). Each combination runs on its own
//! gateway and fake upstreams, all at once.
//!
//! Settings: one retry; first-byte timeout 0.5 s and total 3 s in the tests about timeouts,
//! 3 s and 8 s elsewhere; replicated models try the faulty upstream first and a healthy spare
//! second. "Before the first byte" means before the gateway has sent anything, so a streamed
//! request fails like a whole one; after it, a stream ends with an error event in the
//! caller's protocol (OpenAI `data: {"error": …}` without `[DONE]`, Anthropic `event: error`
//! without `message_stop`).
//!
//! | Upstream fault | Expected behaviour |
//! |---|---|
//! | 500 / 502 / 503 once | with a replica: it answers at once (no retry of the failing one); with none, retried on the same deployment: 200 |
//! | 5xx on every try | the next replica answers (200); with none, 502 `upstream` (Anthropic `api_error`) after `max_retries` |
//! | 429 with `Retry-After: 1` | not retried: the caller gets 429 with `Retry-After: 1` at once, the deployment cools down for that long (503 `overloaded_error` with `Retry-After`, the upstream is not called), then serves again |
//! | 429 with `Retry-After: 30` on a replica | the other replica answers at once; the 429'd one cools down for 30 s |
//! | 400 three times (the caller's fault) | 400 each time; the deployment stays healthy and answers the next request |
//! | 401 (a rejected key) on a replica | the other replica answers; the deployment is left out until a reload, with the reason in `/models` |
//! | one of two replicas down for 20 requests | every request answers with at most one extra attempt; the failing one is hit 3 times |
//! | a probe cancelled (client gone) or its stream dropped early | the next request probes: the slot is free |
//! | a reload during a cooldown | the cooldown holds; `/routing/stats` runs on |
//! | connection refused | the next replica answers; with none, 502 `connect` naming the provider, never its address |
//! | no headers within the first-byte timeout | the next replica at once; with none, retried, then 504 `timeout` within two first-byte timeouts |
//! | body stalls mid-way | whole: 504 `timeout` at the total deadline; stream: error event (`timeout`) after one idle gap, no retry |
//! | malformed JSON | whole: not retried, the next replica answers; with none, 502 `protocol`; stream: error event `protocol` |
//! | malformed SSE (not UTF-8) | stream: the text so far, then error event `protocol`; whole: 502 `protocol` |
//! | disconnect mid-stream | stream: the text so far, then an error event, no retry; whole: the next replica answers, with none 502 `protocol` |
//! | error event mid-stream | stream: the text so far, then an error event carrying the upstream's message |
//! | slow drip, steady | completes (each gap is under the first-byte timeout) |
//! | slow drip past `request_timeout_secs` | whole: 504 `timeout` at the gateway deadline; stream: error event (`timeout` / `timeout_error`) at the deadline |
//! | oversized response (40 MiB) | whole: 502 `protocol` (32 MiB limit); stream: the good part, then error event `protocol` (8 MiB line limit) |
//! | failures in a row | after `failures_before_cooldown` (3) the deployment cools down: 503 `overloaded_error` with `Retry-After`, no upstream call; a replicated model skips it |
//! | the client goes away before the answer | the upstream request is dropped and nothing stays in flight |
//!
//! After every case the gateway answers `/health`, its in-flight gauges on `/metrics` and the
//! router's in-flight counts are back at zero, and no request took longer than its bound.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use llm_cooperation::config::{Config, EnvSnapshot, Paths};
use llm_cooperation::server::{AppState, app, serve};
use serde_json::{Value, json};

use crate::common::upstream::{Behavior, DEFAULT_TEXT, FakeUpstream, refused_url};

/// A rig's upstream timeouts: tight where a test is about them, roomy elsewhere, so that a
/// loaded machine does not turn a slow answer into a timeout the test did not ask for.
#[derive(Debug, Clone, Copy)]
struct Timing {
    first_byte: Duration,
    total: Duration,
}

const TIGHT: Timing = Timing {
    first_byte: Duration::from_millis(500),
    total: Duration::from_secs(3),
};

const ROOMY: Timing = Timing {
    first_byte: Duration::from_secs(3),
    total: Duration::from_secs(8),
};

/// The protocol the client speaks to the gateway.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Proto {
    OpenAi,
    Anthropic,
}

/// The protocol the upstream speaks (the provider kind).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    OpenAi,
    Anthropic,
}

impl Kind {
    /// The prefix of this kind's model names in [`config_text`].
    fn prefix(self) -> &'static str {
        match self {
            Kind::OpenAi => "o",
            Kind::Anthropic => "a",
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone, Copy)]
struct Combo {
    proto: Proto,
    stream: bool,
    kind: Kind,
}

impl Combo {
    /// The model on the faulty upstream alone.
    fn single(&self) -> String {
        self.kind.prefix().to_owned()
    }

    /// The model with two replicas: the faulty upstream (tried first), then a healthy spare.
    fn replicated(&self) -> String {
        format!("{}-ha", self.kind.prefix())
    }

    /// The model whose only deployment refuses connections.
    fn dead(&self) -> String {
        format!("{}-dead", self.kind.prefix())
    }

    /// A refusing deployment, then the healthy spare.
    fn dead_replicated(&self) -> String {
        format!("{}-dead-ha", self.kind.prefix())
    }
}

impl Combo {
    fn path(&self) -> &'static str {
        match self.proto {
            Proto::OpenAi => "/v1/chat/completions",
            Proto::Anthropic => "/v1/messages",
        }
    }

    /// A one-message request for `model` in this cell's protocol.
    fn body(&self, model: &str) -> Value {
        match self.proto {
            Proto::OpenAi => json!({ "model": model, "stream": self.stream,
                    "messages": [{ "role": "user", "content": "hi" }] }),
            Proto::Anthropic => json!({ "model": model, "stream": self.stream, "max_tokens": 100,
                    "messages": [{ "role": "user", "content": "hi" }] }),
        }
    }
}

fn combos() -> Vec<Combo> {
    let mut out = Vec::new();
    for proto in [Proto::OpenAi, Proto::Anthropic] {
        for stream in [false, true] {
            for kind in [Kind::OpenAi, Kind::Anthropic] {
                out.push(Combo {
                    proto,
                    stream,
                    kind,
                });
            }
        }
    }
    out
}

fn config_text(up: &FakeUpstream, spare: &FakeUpstream, timing: Timing, server: &str) -> String {
    let (url, spare, dead) = (up.base_url(), spare.base_url(), refused_url());
    let mut text = format!(
        r#"[defaults]
max_retries = 1
connect_timeout_secs = 1.0
first_byte_timeout_secs = {first_byte}
total_timeout_secs = {total}

[server]
{server}

[router]
balance = "weighted"
cooldown_secs = 30.0

[providers.oa]
kind = "openai"
base_url = "{url}"
needs_key = false

[providers.an]
kind = "anthropic"
base_url = "{url}"
needs_key = false

[providers.spare]
kind = "openai"
base_url = "{spare}"
needs_key = false

[providers.dead_oa]
kind = "openai"
base_url = "{dead}"
needs_key = false

[providers.dead_an]
kind = "anthropic"
base_url = "{dead}"
needs_key = false
"#,
        first_byte = timing.first_byte.as_secs_f64(),
        total = timing.total.as_secs_f64(),
    );
    // Weighted balancing with these weights tries the first replica first (all but surely:
    // the other is picked once in 10^12), so failover is what each test sees.
    let model = |name: &str, provider: &str, weight: &str| {
        format!(
            "\n[[models]]\nname = \"{name}\"\nprovider = \"{provider}\"\nupstream = \"fake-model\"\nweight = {weight}\n"
        )
    };
    for (p, live, dead) in [("o", "oa", "dead_oa"), ("a", "an", "dead_an")] {
        text += &model(p, live, "1.0");
        text += &model(&format!("{p}-ha"), live, "1e6");
        text += &model(&format!("{p}-ha"), "spare", "1e-6");
        text += &model(&format!("{p}-dead"), dead, "1.0");
        text += &model(&format!("{p}-dead-ha"), dead, "1e6");
        text += &model(&format!("{p}-dead-ha"), "spare", "1e-6");
    }
    text
}

/// A gateway on `127.0.0.1:0` over a faulty upstream `up` and a healthy `spare`.
struct Rig {
    up: FakeUpstream,
    spare: FakeUpstream,
    state: Arc<AppState>,
    url: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Rig {
    async fn start(timing: Timing, server: &str) -> Rig {
        let up = FakeUpstream::start();
        let spare = FakeUpstream::start();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            config_text(&up, &spare, timing, server),
        )
        .unwrap();
        let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
        let state = AppState::new(config, Vec::new()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app(state.clone()), async {
            let _ = stopped.await;
        }));
        Rig {
            up,
            spare,
            state,
            url,
            // A hard bound far above every expected duration: a hang fails here.
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap(),
            _dir: dir,
            stop: Some(stop),
        }
    }

    /// One request from `c`'s client to `model`; the answer is read to its end.
    async fn call(&self, c: Combo, model: &str) -> Outcome {
        let (path, body) = (c.path(), c.body(model));
        let started = Instant::now();
        let resp = self
            .client
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{c:?} {model}: no answer: {e}"));
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let is_sse = resp
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let text = resp
            .text()
            .await
            .unwrap_or_else(|e| panic!("{c:?} {model}: the body broke off: {e}"));
        Outcome {
            combo: c,
            status,
            retry_after,
            elapsed: started.elapsed(),
            body: if is_sse {
                Value::Null
            } else {
                serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{c:?}: the body is not JSON ({e}): {text}"))
            },
            events: if is_sse { sse(&text) } else { Vec::new() },
        }
    }

    /// Checks that the gateway is healthy and holds nothing in flight (streams release their
    /// slot when their body ends, a moment after the client has read it).
    async fn assert_idle(&self) {
        let resp = self
            .client
            .get(format!("{}/health", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "/health after the fault");
        let started = Instant::now();
        loop {
            let metrics = self
                .client
                .get(format!("{}/metrics", self.url))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let busy: Vec<&str> = metrics
                .lines()
                .filter(|l| l.starts_with("llm_gateway_in_flight_requests{"))
                .filter(|l| !l.starts_with("llm_gateway_in_flight_requests{route=\"/metrics\"}"))
                .filter(|l| !l.ends_with(" 0"))
                .collect();
            let live = self.state.live();
            let upstream_busy: u32 = live
                .router
                .model_configs()
                .iter()
                .flat_map(|m| live.router.health_of(&m.name))
                .map(|(_, h)| h.in_flight)
                .sum();
            if busy.is_empty() && upstream_busy == 0 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "still in flight: {busy:?}, {upstream_busy} upstream requests"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// What the client got.
#[derive(Debug)]
struct Outcome {
    combo: Combo,
    status: u16,
    retry_after: Option<String>,
    elapsed: Duration,
    /// A whole answer or an error (`Null` for a stream).
    body: Value,
    /// A stream's events: (`event:` name, data as JSON or a string).
    events: Vec<(String, Value)>,
}

/// The `event:` names and data of an SSE body.
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
            let value = serde_json::from_str(&data).unwrap_or(Value::String(data));
            (name, value)
        })
        .collect()
}

/// Anthropic's error type for a status, as the gateway maps it.
fn anthropic_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        429 => "rate_limit_error",
        503 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    }
}

impl Outcome {
    fn proto(&self) -> Proto {
        self.combo.proto
    }

    /// The streamed text (content deltas) received.
    fn streamed_text(&self) -> String {
        self.events
            .iter()
            .filter_map(|(name, v)| match self.proto() {
                Proto::OpenAi => v.pointer("/choices/0/delta/content")?.as_str(),
                Proto::Anthropic if name == "content_block_delta" => v["delta"]["text"].as_str(),
                Proto::Anthropic => None,
            })
            .collect()
    }

    /// Asserts a complete answer and returns its text.
    #[track_caller]
    fn answer(&self) -> String {
        assert_eq!(self.status, 200, "{self:?}");
        if !self.combo.stream {
            return match self.proto() {
                Proto::OpenAi => self.body["choices"][0]["message"]["content"].as_str(),
                Proto::Anthropic => self.body["content"][0]["text"].as_str(),
            }
            .unwrap_or_else(|| panic!("no text: {self:?}"))
            .to_owned();
        }
        let last = self.events.last().unwrap_or_else(|| panic!("{self:?}"));
        match self.proto() {
            Proto::OpenAi => assert_eq!(last.1, "[DONE]", "{self:?}"),
            Proto::Anthropic => assert_eq!(last.0, "message_stop", "{self:?}"),
        }
        self.streamed_text()
    }

    /// Asserts an error response (not a stream) in the caller's shape with this status and
    /// OpenAI error type; returns the message.
    #[track_caller]
    fn error(&self, status: u16, openai_type: &str) -> String {
        assert_eq!(self.status, status, "{self:?}");
        assert!(self.events.is_empty(), "an error, not a stream: {self:?}");
        let error = &self.body["error"];
        match self.proto() {
            Proto::OpenAi => {
                assert_eq!(error["type"], openai_type, "{self:?}");
                assert_eq!(error["code"], status, "{self:?}");
            }
            Proto::Anthropic => {
                assert_eq!(self.body["type"], "error", "{self:?}");
                assert_eq!(error["type"], anthropic_type(status), "{self:?}");
            }
        }
        error["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no message: {self:?}"))
            .to_owned()
    }

    /// Asserts a stream that ends in an error event, never in a normal end; returns the
    /// error's type and message.
    #[track_caller]
    fn stream_error(&self) -> (String, String) {
        assert_eq!(self.status, 200, "{self:?}");
        assert!(!self.events.is_empty(), "a stream: {self:?}");
        let (name, last) = self.events.last().unwrap();
        match self.proto() {
            Proto::OpenAi => {
                assert!(!self.events.iter().any(|(_, v)| v == "[DONE]"), "{self:?}");
                let error = &last["error"];
                assert!(error.is_object(), "the last event is the error: {self:?}");
                (
                    error["type"].as_str().unwrap().to_owned(),
                    error["message"].as_str().unwrap().to_owned(),
                )
            }
            Proto::Anthropic => {
                assert!(
                    !self.events.iter().any(|(n, _)| n == "message_stop"),
                    "{self:?}"
                );
                assert_eq!(name, "error", "{self:?}");
                assert_eq!(last["type"], "error", "{self:?}");
                (
                    last["error"]["type"].as_str().unwrap().to_owned(),
                    last["error"]["message"].as_str().unwrap().to_owned(),
                )
            }
        }
    }

    #[track_caller]
    fn within(&self, bound: Duration) -> &Self {
        assert!(
            self.elapsed < bound,
            "took {:?}, bound {bound:?}: {self:?}",
            self.elapsed
        );
        self
    }
}

/// Runs `case` for every combination at once, each on its own rig, then checks every rig
/// is idle and healthy.
async fn matrix<F, Fut>(timing: Timing, server: &str, case: F)
where
    F: Fn(Rig, Combo) -> Fut,
    Fut: Future<Output = Rig>,
{
    let cells = combos().into_iter().map(|c| {
        let case = &case;
        async move {
            let rig = Rig::start(timing, server).await;
            let rig = case(rig, c).await;
            rig.assert_idle().await;
        }
    });
    tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(cells))
        .await
        .expect("the fault matrix did not finish within 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_fail_over_then_502() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up.push([Behavior::status(500)]);
        assert_eq!(rig.call(c, &c.single()).await.answer(), DEFAULT_TEXT);
        assert_eq!(rig.up.request_count(), 2, "{c:?}: alone, it is tried again");

        rig.up.push([Behavior::status(502)]);
        let out = rig.call(c, &c.replicated()).await;
        assert_eq!(out.answer(), DEFAULT_TEXT, "{c:?}: the spare answers");
        assert_eq!(
            (rig.up.request_count(), rig.spare.request_count()),
            (3, 1),
            "{c:?}: with a spare, the failing one is not retried"
        );

        rig.up.push([Behavior::status(503), Behavior::status(502)]);
        let out = rig.call(c, &c.single()).await;
        let message = out.within(ROOMY.total).error(502, "upstream");
        assert!(message.contains("HTTP 502"), "{c:?}: {message}");
        assert_eq!(rig.up.request_count(), 5, "{c:?}: one attempt, one retry");
        rig
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_pass_retry_after_on_and_cool_the_deployment_down() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up.push([Behavior::rate_limited(1)]);
        let out = rig.call(c, &c.single()).await;
        out.within(ROOMY.total).error(429, "rate_limited");
        assert_eq!(out.retry_after.as_deref(), Some("1"), "{out:?}");
        assert_eq!(rig.up.request_count(), 1, "{c:?}: a 429 is not retried");

        // Cooling down for the upstream's `Retry-After`: refused here, not sent there.
        let out = rig.call(c, &c.single()).await;
        out.within(Duration::from_secs(1))
            .error(503, "overloaded_error");
        assert_eq!(out.retry_after.as_deref(), Some("1"), "{out:?}");
        assert_eq!(
            rig.up.request_count(),
            1,
            "{c:?}: nothing sent while cooling"
        );

        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(rig.call(c, &c.single()).await.answer(), DEFAULT_TEXT);
        assert_eq!(rig.up.request_count(), 2);
        rig
    })
    .await;
}

/// A long `Retry-After` used to hold the caller while the client slept it out and retried
/// (over a minute for `Retry-After: 30`); it only sets the cooldown now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_retry_after_answers_at_once_or_fails_over_at_once() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up.push([Behavior::rate_limited(30)]);
        let out = rig.call(c, &c.replicated()).await;
        assert_eq!(
            out.within(Duration::from_secs(1)).answer(),
            DEFAULT_TEXT,
            "{c:?}: the spare answers"
        );
        assert_eq!((rig.up.request_count(), rig.spare.request_count()), (1, 1));
        // The 429'd replica cools down: the spare takes the next one without asking it.
        assert_eq!(rig.call(c, &c.replicated()).await.answer(), DEFAULT_TEXT);
        assert_eq!((rig.up.request_count(), rig.spare.request_count()), (1, 2));

        rig.up.push([Behavior::rate_limited(30)]);
        let out = rig.call(c, &c.single()).await;
        out.within(Duration::from_secs(1))
            .error(429, "rate_limited");
        assert_eq!(out.retry_after.as_deref(), Some("30"), "{out:?}");
        assert_eq!(rig.up.request_count(), 2, "{c:?}: not retried");
        rig
    })
    .await;
}

/// The caller's bad request is not the deployment's failure: three 400s used to start a
/// cooldown that turned every other client away for 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_leave_the_deployment_healthy() {
    matrix(ROOMY, "", |rig, c| async move {
        for _ in 0..3 {
            rig.up
                .push([Behavior::status_with_message(400, "messages: bad field")]);
            let out = rig.call(c, &c.single()).await;
            let message = out.error(400, "bad_request");
            assert!(message.contains("messages: bad field"), "{c:?}: {message}");
        }
        assert_eq!(
            rig.call(c, &c.single()).await.answer(),
            DEFAULT_TEXT,
            "{c:?}"
        );
        assert_eq!(rig.up.request_count(), 4);
        let live = rig.state.live();
        let health = live.router.health_of(&c.single());
        assert_eq!(health[0].1.cooldown_secs, None, "{c:?}: {health:?}");
        rig
    })
    .await;
}

/// A rejected key marks the deployment misconfigured (not cooling down): left out, with the
/// reason in `/models`, until a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_leaves_the_deployment_out_until_a_reload() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up
            .push([Behavior::status_with_message(401, "invalid x-api-key")]);
        assert_eq!(rig.call(c, &c.replicated()).await.answer(), DEFAULT_TEXT);
        for _ in 0..3 {
            assert_eq!(rig.call(c, &c.replicated()).await.answer(), DEFAULT_TEXT);
        }
        assert_eq!((rig.up.request_count(), rig.spare.request_count()), (1, 4));
        let models: Value = rig
            .client
            .get(format!("{}/models", rig.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let text = models.to_string();
        assert!(
            text.contains("rejected the API key (HTTP 401: invalid x-api-key)"),
            "{c:?}: {text}"
        );
        let status: Value = rig
            .client
            .get(format!("{}/status", rig.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            status["misconfigured"][0]["model"],
            c.replicated(),
            "{status}"
        );
        let live = rig.state.live();
        let health = live.router.health_of(&c.replicated());
        assert_eq!(health[0].1.cooldown_secs, None, "not a cooldown");
        drop(health);
        drop(live);
        // A reload (the key may have been fixed) tries it again.
        let config = rig.state.live().config.clone();
        rig.state.reload(config).unwrap();
        assert_eq!(rig.call(c, &c.replicated()).await.answer(), DEFAULT_TEXT);
        assert_eq!((rig.up.request_count(), rig.spare.request_count()), (2, 4));
        rig
    })
    .await;
}

/// One of two replicas is down for 20 requests: each request costs at most one extra
/// attempt, and the failing replica is hit only until its cooldown starts (3 failures).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_one_replica_costs_at_most_one_extra_attempt() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up.push((0..20).map(|_| Behavior::status(503)));
        for i in 0..20 {
            let before = rig.up.request_count() + rig.spare.request_count();
            assert_eq!(rig.call(c, &c.replicated()).await.answer(), DEFAULT_TEXT);
            let sent = rig.up.request_count() + rig.spare.request_count() - before;
            assert!(
                sent <= 2,
                "{c:?}: request {i} cost {sent} upstream requests"
            );
        }
        assert_eq!(rig.up.request_count(), 3, "{c:?}");
        assert_eq!(rig.spare.request_count(), 20);
        rig
    })
    .await;
}

/// A probe cancelled before its verdict frees the probe slot: the client going away while
/// the probe waits, or a streamed probe dropped after its first bytes. The deployment used
/// to stay unavailable until the next reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_probe_frees_the_slot() {
    matrix(ROOMY, "", |rig, c| async move {
        // A 429 with `Retry-After: 1` starts a one-second cooldown.
        let cool_down = || async {
            rig.up.push([Behavior::rate_limited(1)]);
            rig.call(c, &c.single()).await.error(429, "rate_limited");
            tokio::time::sleep(Duration::from_millis(1100)).await;
        };
        cool_down().await;
        rig.up.push([Behavior::Delay {
            before_headers: Duration::from_secs(3),
        }]);
        let gone = rig
            .client
            .post(format!("{}{}", rig.url, c.path()))
            .timeout(Duration::from_millis(200))
            .json(&c.body(&c.single()))
            .send()
            .await;
        assert!(
            gone.is_err_and(|e| e.is_timeout()),
            "{c:?}: the client gave up"
        );
        // Once the gateway has seen the client go (nothing in flight), the slot is free.
        rig.assert_idle().await;
        assert_eq!(
            rig.call(c, &c.single()).await.answer(),
            DEFAULT_TEXT,
            "{c:?}"
        );

        if c.stream {
            cool_down().await;
            rig.up.push([Behavior::SlowDrip {
                chunk_delay: Duration::from_millis(300),
            }]);
            let mut resp = rig
                .client
                .post(format!("{}{}", rig.url, c.path()))
                .json(&c.body(&c.single()))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.chunk().await.unwrap().expect("the first bytes");
            drop(resp);
            rig.assert_idle().await;
            assert_eq!(
                rig.call(c, &c.single()).await.answer(),
                DEFAULT_TEXT,
                "{c:?}"
            );
        }
        rig
    })
    .await;
}

/// A reload builds a new router; the cooldown it found holds, and `/routing/stats` runs on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_cooldowns_and_stats() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up.push([Behavior::rate_limited(30)]);
        rig.call(c, &c.single()).await.error(429, "rate_limited");
        let before = rig.state.live().router.stats().total_requests;
        let config = rig.state.live().config.clone();
        rig.state.reload(config).unwrap();
        let out = rig.call(c, &c.single()).await;
        out.error(503, "overloaded_error");
        assert_eq!(
            rig.up.request_count(),
            1,
            "{c:?}: nothing sent while cooling"
        );
        assert_eq!(rig.state.live().router.stats().total_requests, before + 1);
        rig
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_fail_over_or_are_502_without_the_address() {
    matrix(ROOMY, "", |rig, c| async move {
        let out = rig.call(c, &c.dead_replicated()).await;
        assert_eq!(out.within(ROOMY.total).answer(), DEFAULT_TEXT, "{c:?}");
        assert_eq!(rig.spare.request_count(), 1);

        let out = rig.call(c, &c.dead()).await;
        let message = out.within(ROOMY.total).error(502, "connect");
        assert!(
            message.contains("Cannot connect to provider `dead_"),
            "{message}"
        );
        assert!(!message.contains("127.0.0.1"), "{c:?}: {message}");
        rig
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_before_the_headers_times_out_then_fails_over() {
    let hang = || Behavior::Delay {
        before_headers: Duration::from_secs(10),
    };
    matrix(TIGHT, "", |rig, c| async move {
        rig.up.push([hang()]);
        let out = rig.call(c, &c.replicated()).await;
        assert_eq!(out.within(TIGHT.total).answer(), DEFAULT_TEXT, "{c:?}");
        assert_eq!((rig.up.request_count(), rig.spare.request_count()), (1, 1));

        rig.up.push([hang(), hang()]);
        let out = rig.call(c, &c.single()).await;
        let message = out
            .within(TIGHT.first_byte * 2 + Duration::from_secs(1))
            .error(504, "timeout");
        assert!(message.contains("within 0.5 s"), "{c:?}: {message}");
        assert_eq!(
            rig.up.request_count(),
            3,
            "{c:?}: alone, it was tried again"
        );
        rig
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_mid_way_times_out() {
    matrix(TIGHT, "", |rig, c| async move {
        rig.up.push([Behavior::SlowDrip {
            chunk_delay: Duration::from_secs(5),
        }]);
        let out = rig.call(c, &c.single()).await;
        if c.stream {
            let (kind, message) = out
                .within(TIGHT.first_byte + Duration::from_secs(1))
                .stream_error();
            if c.proto == Proto::OpenAi {
                assert_eq!(kind, "timeout", "{out:?}");
            }
            assert!(message.contains("within 0.5 s"), "{c:?}: {message}");
        } else {
            out.within(TIGHT.total + Duration::from_secs(1))
                .error(504, "timeout");
            assert!(
                out.elapsed >= TIGHT.total - Duration::from_millis(100),
                "{out:?}"
            );
        }
        assert_eq!(
            rig.up.request_count(),
            1,
            "{c:?}: an answer under way is not retried"
        );
        rig
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_a_protocol_error_or_fails_over() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up.push([Behavior::MalformedJson]);
        let out = rig.call(c, &c.single()).await;
        if c.stream {
            let (kind, message) = out.within(ROOMY.total).stream_error();
            if c.proto == Proto::OpenAi {
                assert_eq!(kind, "protocol", "{out:?}");
            }
            assert!(message.contains("not JSON"), "{c:?}: {message}");
        } else {
            let message = out.within(ROOMY.total).error(502, "protocol");
            assert!(message.contains("not JSON"), "{c:?}: {message}");
            // Not retried on the same deployment, but another replica may answer.
            rig.up.push([Behavior::MalformedJson]);
            assert_eq!(rig.call(c, &c.replicated()).await.answer(), DEFAULT_TEXT);
            assert_eq!((rig.up.request_count(), rig.spare.request_count()), (2, 1));
        }
        rig
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sse_is_a_protocol_error() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up.push([Behavior::MalformedSse]);
        let out = rig.call(c, &c.single()).await;
        if c.stream {
            let (kind, message) = out.within(ROOMY.total).stream_error();
            if c.proto == Proto::OpenAi {
                assert_eq!(kind, "protocol", "{out:?}");
            }
            assert!(message.contains("not UTF-8"), "{c:?}: {message}");
            assert!(
                !out.streamed_text().is_empty(),
                "{c:?}: the good part came first"
            );
        } else {
            out.within(ROOMY.total).error(502, "protocol");
        }
        assert_eq!(rig.up.request_count(), 1);
        rig
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_mid_stream_ends_in_an_error_or_fails_over() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up.push([Behavior::DisconnectMidStream]);
        let out = rig.call(c, &c.replicated()).await;
        if c.stream {
            // Text has reached the caller: no retry and no failover, an error instead.
            out.within(ROOMY.total).stream_error();
            assert!(!out.streamed_text().is_empty(), "{c:?}: {out:?}");
            assert!(DEFAULT_TEXT.starts_with(&out.streamed_text()), "{out:?}");
            assert_eq!(rig.spare.request_count(), 0);
        } else {
            assert_eq!(out.within(ROOMY.total).answer(), DEFAULT_TEXT, "{c:?}");
            assert_eq!(rig.spare.request_count(), 1, "{c:?}: the spare answered");
            rig.up.push([Behavior::DisconnectMidStream]);
            rig.call(c, &c.single())
                .await
                .within(ROOMY.total)
                .error(502, "protocol");
        }
        rig
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_event_mid_stream_reaches_the_caller() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up.push([Behavior::ErrorMidStream {
            message: "Overloaded, try later".into(),
        }]);
        let out = rig.call(c, &c.single()).await;
        if c.stream {
            let (_, message) = out.within(ROOMY.total).stream_error();
            assert!(
                message.contains("Overloaded, try later"),
                "{c:?}: {message}"
            );
            assert!(!out.streamed_text().is_empty(), "{out:?}");
            assert_eq!(rig.up.request_count(), 1);
        } else {
            // A whole answer gets a 500 instead, which is retried.
            assert_eq!(out.within(ROOMY.total).answer(), DEFAULT_TEXT);
            assert_eq!(rig.up.request_count(), 2);
        }
        rig
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_slow_drip_completes() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up.push([Behavior::SlowDrip {
            chunk_delay: Duration::from_millis(40),
        }]);
        let out = rig.call(c, &c.single()).await;
        assert_eq!(out.within(ROOMY.total).answer(), DEFAULT_TEXT, "{c:?}");
        assert!(out.elapsed >= Duration::from_millis(200), "{out:?}");
        rig
    })
    .await;
}

/// `request_timeout_secs` bounds streams too: a stream still running at the deadline ends with
/// an error event (it used to run on until the upstream's own total deadline).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_drip_past_the_gateway_deadline_is_cut_with_an_error() {
    matrix(ROOMY, "request_timeout_secs = 0.8", |rig, c| async move {
        rig.up.push([Behavior::SlowDrip {
            chunk_delay: Duration::from_millis(300),
        }]);
        let out = rig.call(c, &c.single()).await;
        out.within(Duration::from_millis(2500));
        assert!(out.elapsed >= Duration::from_millis(750), "{out:?}");
        let message = if c.stream {
            let (kind, message) = out.stream_error();
            let expected = match c.proto {
                Proto::OpenAi => "timeout",
                Proto::Anthropic => "timeout_error",
            };
            assert_eq!(kind, expected, "{out:?}");
            message
        } else {
            out.error(504, "timeout")
        };
        assert!(message.contains("longer than 1 s"), "{c:?}: {message}");
        rig
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_response_is_cut_off() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up.push([Behavior::Oversized {
            bytes: 40 * 1024 * 1024,
        }]);
        let out = rig.call(c, &c.single()).await;
        if c.stream {
            let (_, message) = out.within(ROOMY.total * 2).stream_error();
            assert!(message.contains("longer than 8 MiB"), "{c:?}: {message}");
            assert!(!out.streamed_text().is_empty(), "{out:?}");
        } else {
            let message = out.within(ROOMY.total * 2).error(502, "protocol");
            assert!(message.contains("larger than 32 MiB"), "{c:?}: {message}");
        }
        rig
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_in_a_row_cool_a_deployment_down() {
    matrix(ROOMY, "", |rig, c| async move {
        for _ in 0..3 {
            rig.up.push([Behavior::status(500)]);
            assert_eq!(rig.call(c, &c.replicated()).await.answer(), DEFAULT_TEXT);
        }
        assert_eq!((rig.up.request_count(), rig.spare.request_count()), (3, 3));
        // The failing replica now cools down: skipped without a request.
        assert_eq!(rig.call(c, &c.replicated()).await.answer(), DEFAULT_TEXT);
        assert_eq!((rig.up.request_count(), rig.spare.request_count()), (3, 4));

        // Alone: each attempt counts, the retry included (two failures, then the third
        // starts the cooldown and the retry after it is not sent).
        rig.up.push([Behavior::status(500), Behavior::status(500)]);
        rig.call(c, &c.single()).await.error(502, "upstream");
        rig.up.push([Behavior::status(500)]);
        rig.call(c, &c.single()).await.error(502, "upstream");
        let out = rig.call(c, &c.single()).await;
        let message = out
            .within(Duration::from_secs(1))
            .error(503, "overloaded_error");
        assert!(message.contains("cooling down"), "{message}");
        assert_eq!(out.retry_after.as_deref(), Some("30"), "{out:?}");
        assert_eq!(
            rig.up.request_count(),
            6,
            "{c:?}: nothing sent while cooling"
        );
        rig
    })
    .await;
}

/// A client that goes away before the answer (the server drops the request) leaves nothing
/// in flight: the gauge used to be decremented only when an answer came back, so every
/// abandoned request left it one higher for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_before_the_answer_leaves_nothing_in_flight() {
    matrix(ROOMY, "", |rig, c| async move {
        rig.up.push([Behavior::Delay {
            before_headers: Duration::from_millis(350),
        }]);
        let (path, body) = match c.proto {
            Proto::OpenAi => (
                "/v1/chat/completions",
                json!({ "model": c.single(), "stream": c.stream, "messages": [{ "role": "user", "content": "hi" }] }),
            ),
            Proto::Anthropic => (
                "/v1/messages",
                json!({ "model": c.single(), "stream": c.stream, "max_tokens": 5, "messages": [{ "role": "user", "content": "hi" }] }),
            ),
        };
        let gone = rig
            .client
            .post(format!("{}{path}", rig.url))
            .timeout(Duration::from_millis(100))
            .json(&body)
            .send()
            .await;
        assert!(gone.is_err_and(|e| e.is_timeout()), "{c:?}: the client gave up");
        rig
    })
    .await;
}

/// Hostile or careless clients: what one client sends must not reach another's state.
mod tenants {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use futures::future::BoxFuture;
    use llm_cooperation::config::{Config, EnvSnapshot, Paths};
    use llm_cooperation::server::{AppState, app, serve};
    use llm_cooperation::store::{MemoryState, RateLimits, SharedState, StateHealth};
    use llm_cooperation::types::Message;
    use serde_json::json;

    use crate::common::TestEnv;
    use crate::common::upstream::FakeUpstream;

    /// Memory state that records which token ids rate limits were counted for.
    #[derive(Debug, Default)]
    struct Spy {
        inner: MemoryState,
        rate_keys: Mutex<Vec<String>>,
    }

    impl SharedState for Spy {
        fn session_history<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Vec<Message>> {
            self.inner.session_history(id)
        }
        fn session_append<'a>(
            &'a self,
            id: &'a str,
            messages: Vec<Message>,
            ttl: Duration,
            max_messages: usize,
        ) -> BoxFuture<'a, ()> {
            self.inner.session_append(id, messages, ttl, max_messages)
        }
        fn publish_cooldown<'a>(&'a self, key: &'a str, until_ms: u64) -> BoxFuture<'a, ()> {
            self.inner.publish_cooldown(key, until_ms)
        }
        fn cooldowns(&self) -> BoxFuture<'_, HashMap<String, u64>> {
            self.inner.cooldowns()
        }
        fn rate_acquire<'a>(
            &'a self,
            token: &'a str,
            limits: RateLimits,
        ) -> BoxFuture<'a, Result<(), Duration>> {
            self.rate_keys.lock().unwrap().push(token.to_owned());
            self.inner.rate_acquire(token, limits)
        }
        fn rate_add_tokens<'a>(&'a self, token: &'a str, tokens: u64) -> BoxFuture<'a, ()> {
            self.rate_keys.lock().unwrap().push(token.to_owned());
            self.inner.rate_add_tokens(token, tokens)
        }
        fn cache_get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<String>> {
            self.inner.cache_get(key)
        }
        fn cache_put<'a>(
            &'a self,
            key: &'a str,
            value: String,
            ttl: Duration,
        ) -> BoxFuture<'a, ()> {
            self.inner.cache_put(key, value, ttl)
        }
        fn response_get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Option<String>> {
            self.inner.response_get(id)
        }
        fn response_put<'a>(
            &'a self,
            id: &'a str,
            record: String,
            ttl: Duration,
        ) -> BoxFuture<'a, ()> {
            self.inner.response_put(id, record, ttl)
        }
        fn response_delete<'a>(&'a self, id: &'a str) -> BoxFuture<'a, bool> {
            self.inner.response_delete(id)
        }
        fn counters_add<'a>(&'a self, deltas: Vec<(String, u64)>) -> BoxFuture<'a, ()> {
            self.inner.counters_add(deltas)
        }
        fn counters(&self) -> BoxFuture<'_, HashMap<String, u64>> {
            self.inner.counters()
        }
        fn health(&self) -> StateHealth {
            self.inner.health()
        }
    }

    /// A gateway over `up` with tokens `alpha` and `beta`, two requests per minute each.
    async fn gateway(up: &FakeUpstream, spy: Arc<Spy>) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            format!(
                "[server]\nrate_limit_requests_per_minute = 2\n\n[providers.up]\nkind = \"openai\"\nbase_url = \"{}\"\nneeds_key = false\n\n[[models]]\nname = \"m\"\nprovider = \"up\"\nupstream = \"fake-model\"\n",
                up.base_url()
            ),
        )
        .unwrap();
        let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
        let state = AppState::with_state(config, vec!["alpha".into(), "beta".into()], spy).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, app(state), std::future::pending()));
        (dir, url)
    }

    async fn chat(url: &str, token: &str, session: &str, text: &str) -> u16 {
        reqwest::Client::new()
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth(token)
            .header("x-session-id", session)
            .json(&json!({ "model": "m", "messages": [{ "role": "user", "content": text }] }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Authentication runs before rate limiting: a wrong token is a 401 that counts nothing
    /// (it used to write a rate counter, into Redis with replicas).
    #[tokio::test]
    async fn a_wrong_token_touches_no_rate_counter() {
        let up = FakeUpstream::start();
        let spy = Arc::new(Spy::default());
        let (_dir, url) = gateway(&up, spy.clone()).await;
        for i in 0..5 {
            assert_eq!(chat(&url, "wrong", &format!("s{i}"), "hi").await, 401);
        }
        assert!(
            spy.rate_keys.lock().unwrap().is_empty(),
            "{:?}",
            spy.rate_keys
        );
        assert_eq!(up.request_count(), 0);
        assert_eq!(chat(&url, "alpha", "a", "hi").await, 200);
        assert_eq!(chat(&url, "alpha", "a", "hi").await, 200);
        assert_eq!(chat(&url, "alpha", "a", "hi").await, 429, "alpha's limit");
        assert_eq!(chat(&url, "beta", "b", "hi").await, 200, "beta's own limit");
    }

    /// The same session id under two tokens is two sessions: one tenant cannot pull
    /// another's history into its prompt.
    #[tokio::test]
    async fn session_ids_do_not_cross_tokens() {
        let up = FakeUpstream::start();
        let (_dir, url) = gateway(&up, Arc::new(Spy::default())).await;
        assert_eq!(chat(&url, "alpha", "shared", "my secret is 42").await, 200);
        assert_eq!(
            chat(&url, "beta", "shared", "what is my secret?").await,
            200
        );
        let seen = up.last().body["messages"].to_string();
        assert!(!seen.contains("42"), "beta saw alpha's history: {seen}");
        assert_eq!(up.last().body["messages"].as_array().unwrap().len(), 1);
        // Alpha's own session goes on.
        assert_eq!(up.request_count(), 2);
        let _ = chat(&url, "alpha", "shared", "and again?").await;
        let seen = up.last().body["messages"].to_string();
        assert!(seen.contains("my secret is 42"), "{seen}");
    }

    /// `[server]` values that would panic or starve the server are exit code 2 naming the
    /// key, before anything starts (`-1` used to panic in `Duration::from_secs_f64`).
    #[test]
    fn bad_server_values_are_exit_code_2_naming_the_key() {
        for (line, key) in [
            (
                "[server]\nrequest_timeout_secs = -1",
                "server.request_timeout_secs",
            ),
            (
                "[server]\nrequest_timeout_secs = inf",
                "server.request_timeout_secs",
            ),
            (
                "[server]\nsession_ttl_minutes = nan",
                "server.session_ttl_minutes",
            ),
            ("[server]\nmax_concurrency = 0", "server.max_concurrency"),
            (
                "[server]\nshutdown_grace_secs = -3",
                "server.shutdown_grace_secs",
            ),
            ("[server]\nmax_body_bytes = 10", "server.max_body_bytes"),
            (
                "[router]\nmax_retry_wait_secs = -1",
                "router.max_retry_wait_secs",
            ),
            (
                "[router]\ncooldown_secs = 100\nmax_cooldown_secs = 10",
                "router.cooldown_secs",
            ),
        ] {
            let env = TestEnv::new();
            env.write_config(line);
            let mut child = env
                .cmd("llm-server")
                .args(["--port", "0"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // A server that starts despite the value would never exit: bounded wait.
            let started = std::time::Instant::now();
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                if started.elapsed() > Duration::from_secs(20) {
                    child.kill().unwrap();
                    panic!("{line}: llm-server started instead of refusing the value");
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let run = crate::common::Run::from(child.wait_with_output().unwrap());
            assert_eq!(status.code(), Some(2), "{line}: {}", run.stderr);
            assert!(run.stderr.contains(key), "{line}: {}", run.stderr);
            assert!(
                run.stderr.contains("out of range") || run.stderr.contains("longer than"),
                "{line}: {}",
                run.stderr
            );
        }
    }
}
