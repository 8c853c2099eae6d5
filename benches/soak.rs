//! The soak driver behind `bench/soak.sh`: mixed load against a real `llm-server` process,
//! with faults injected upstream and clients that go away, then a report.
//!
//! Upstreams are two fake servers on `127.0.0.1:0` (tests/common/upstream.rs): a healthy
//! one, and a faulty one whose queue is kept full of random behaviours (5xx, 429 with
//! `Retry-After`, silence past the first-byte timeout, disconnects and error events mid-stream,
//! malformed JSON and SSE, slow drips, 9 MiB answers). A third provider refuses connections.
//! The models:
//!
//! - `steady`, `steady-claude`: the healthy upstream (OpenAI and Anthropic kinds). Any error
//!   here is unexplained.
//! - `flaky`, `flaky-claude`: the faulty upstream alone. Errors whose cause is an injected
//!   fault (`upstream`, `rate_limited`, `overloaded_error` while cooling down, `timeout`,
//!   `protocol`, `connect`) are explained.
//! - `ha`: replicas on the faulty, the refusing and the healthy upstream. Failover must hide
//!   every fault that comes before the first streamed byte; a stream can still end in an
//!   error event after it (explained); anything else is unexplained.
//!
//! - `coop/parallel:steady,steady-claude` (a cooperation of healthy members: errors are
//!   unexplained, as for `steady`) and `coop/parallel:steady,flaky` (explained as for `flaky`).
//!
//! Each worker loops until the deadline: either protocol, streamed or not, 5% native
//! `/query`, 10% the Responses API (half of them stored), 10% with a session id from a small
//! pool, and 10% of requests abandoned by the client (before the answer, or after the first
//! streamed chunk). The gateway requires
//! tokens (four valid ones, with per-token rate limits high enough never to bind): each
//! request presents one at random, and 3% present a fresh invalid one (token churn), which must
//! be a 401 and nothing else. Every `--reload-every` seconds (default 5) the server gets SIGHUP
//! and reloads its whole configuration under load: no request may fail for it. After a warm-up, RSS is read
//! from `/proc`; at the end the load stops, and the in-flight gauges of `/metrics` and the
//! routers' in-flight counts must be back at zero, and the server must exit 0 on SIGTERM.
//!
//! `cargo bench --bench soak -- --server target/release/llm-server [--secs 60] [--workers 16]
//! [--warmup 5] [--seed 1] [--oversized 1|0] [--reload-every 5]` prints the report and exits non-zero unless there are no
//! unexplained errors, RSS grew by less than 10%, and the gauges are at zero. Without
//! `--server` (as under a plain `cargo bench`) it prints this usage and exits.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[allow(dead_code)]
#[path = "../tests/common/upstream.rs"]
mod upstream;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use upstream::{Behavior, FakeUpstream, refused_url};

const USAGE: &str = "usage: soak --server PATH [--secs 60] [--workers 16] [--warmup 5] [--seed 1] [--oversized 1|0] [--reload-every 5] (see bench/soak.sh)";

/// The gateway's tokens; requests pick one at random.
const TOKENS: [&str; 4] = [
    "soak-token-a",
    "soak-token-b",
    "soak-token-c",
    "soak-token-d",
];

struct Options {
    server: String,
    secs: u64,
    workers: usize,
    warmup: u64,
    seed: u64,
    /// Whether 2% of the faulty upstream's answers are 9 MiB (`--oversized 0` leaves them
    /// out, to tell the allocator's high-water mark from a leak).
    oversized: bool,
    /// Seconds between SIGHUP reloads during the load (0: none).
    reload_every: u64,
}

fn options() -> Option<Options> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut o = Options {
        server: String::new(),
        secs: 60,
        workers: 16,
        warmup: 5,
        seed: 1,
        oversized: true,
        reload_every: 5,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next()?;
        match flag.as_str() {
            "--server" => o.server = value.clone(),
            "--secs" => o.secs = value.parse().ok()?,
            "--workers" => o.workers = value.parse().ok()?,
            "--warmup" => o.warmup = value.parse().ok()?,
            "--seed" => o.seed = value.parse().ok()?,
            "--oversized" => o.oversized = value != "0",
            "--reload-every" => o.reload_every = value.parse().ok()?,
            _ => return None,
        }
    }
    (!o.server.is_empty()).then_some(o)
}

fn main() {
    let Some(opts) = options() else {
        println!("{USAGE}");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pass = runtime.block_on(soak(opts));
    std::process::exit(if pass { 0 } else { 1 });
}

/// A random upstream behaviour for the faulty upstream.
fn fault(rng: &mut StdRng, oversized: bool) -> (Behavior, &'static str) {
    match rng.random_range(0..if oversized { 100 } else { 98 }) {
        0..40 => (Behavior::ok("A fine answer from the flaky upstream"), "ok"),
        40..45 => (Behavior::status(500), "500"),
        45..50 => (Behavior::status(502), "502"),
        50..55 => (Behavior::status(503), "503"),
        55..60 => (Behavior::rate_limited(1), "429"),
        60..65 => (
            Behavior::Delay {
                before_headers: Duration::from_secs(3),
            },
            "silent",
        ),
        65..72 => (Behavior::DisconnectMidStream, "disconnect"),
        72..79 => (
            Behavior::SlowDrip {
                chunk_delay: Duration::from_millis(30),
            },
            "slow drip",
        ),
        79..86 => (
            Behavior::ErrorMidStream {
                message: "overloaded".into(),
            },
            "error event",
        ),
        86..92 => (Behavior::MalformedJson, "malformed json"),
        92..98 => (Behavior::MalformedSse, "malformed sse"),
        _ => (
            Behavior::Oversized {
                bytes: 9 * 1024 * 1024,
            },
            "oversized",
        ),
    }
}

fn config_text(healthy: &FakeUpstream, faulty: &FakeUpstream) -> String {
    let (h, f, dead) = (healthy.base_url(), faulty.base_url(), refused_url());
    format!(
        r#"[defaults]
max_retries = 1
connect_timeout_secs = 1.0
first_byte_timeout_secs = 1.0
total_timeout_secs = 6.0

[server]
request_timeout_secs = 8.0
max_concurrency = 512
session_ttl_minutes = 1.0
responses_ttl_minutes = 0.1
rate_limit_requests_per_minute = 100000000
public_health = true
public_metrics = true

[router]
failures_before_cooldown = 5
cooldown_secs = 1.0
max_cooldown_secs = 2.0

[providers.healthy_oa]
kind = "openai"
base_url = "{h}"
needs_key = false

[providers.healthy_an]
kind = "anthropic"
base_url = "{h}"
needs_key = false

[providers.faulty_oa]
kind = "openai"
base_url = "{f}"
needs_key = false

[providers.faulty_an]
kind = "anthropic"
base_url = "{f}"
needs_key = false

[providers.dead]
kind = "openai"
base_url = "{dead}"
needs_key = false

[[models]]
name = "steady"
provider = "healthy_oa"
upstream = "fake-model"

[[models]]
name = "steady-claude"
provider = "healthy_an"
upstream = "claude-fake"

[[models]]
name = "flaky"
provider = "faulty_oa"
upstream = "fake-model"

[[models]]
name = "flaky-claude"
provider = "faulty_an"
upstream = "claude-fake"

[[models]]
name = "ha"
provider = "faulty_oa"
upstream = "fake-model"

[[models]]
name = "ha"
provider = "dead"
upstream = "fake-model"

[[models]]
name = "ha"
provider = "healthy_oa"
upstream = "fake-model"
"#
    )
}

/// What one request came to.
#[derive(Debug)]
enum Outcome {
    Ok(Duration),
    /// The client went away on purpose.
    Abandoned,
    /// The cause, as `http STATUS TYPE`, `stream TYPE`, `transport` or `hang`.
    Error(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Class {
    Steady,
    Flaky,
    Ha,
    /// A request with an invalid token: a 401 is the only right answer.
    WrongToken,
}

#[derive(Default)]
struct Tally {
    ok: u64,
    abandoned: u64,
    latencies: Vec<Duration>,
    steady_latencies: Vec<Duration>,
    /// (class, cause, explained) → count.
    errors: BTreeMap<(String, String, bool), u64>,
    /// Model → (requests, answered).
    by_model: BTreeMap<&'static str, (u64, u64)>,
}

fn explained(class: Class, stream: bool, cause: &str) -> bool {
    const INJECTED: [&str; 12] = [
        "server_error",
        "server_is_overloaded",
        "rate_limit_exceeded",
        "timeout_error",
        "upstream",
        "rate_limited",
        "rate_limit_error",
        "overloaded_error",
        "timeout",
        "protocol",
        "connect",
        "api_error",
    ];
    match class {
        Class::Steady => false,
        Class::WrongToken => cause == "http 401 authentication_error",
        Class::Flaky => INJECTED.iter().any(|k| cause.ends_with(k)),
        // Only a fault after the first streamed byte may get through failover.
        Class::Ha => stream && cause.starts_with("stream "),
    }
}

async fn one(
    client: &reqwest::Client,
    base: &str,
    rng: &mut StdRng,
) -> (&'static str, Class, bool, Outcome) {
    let (model, class) = match rng.random_range(0..100) {
        0..20 => ("steady", Class::Steady),
        20..32 => ("steady-claude", Class::Steady),
        32..50 => ("flaky", Class::Flaky),
        50..62 => ("flaky-claude", Class::Flaky),
        62..82 => ("ha", Class::Ha),
        82..91 => ("coop/parallel:steady,steady-claude", Class::Steady),
        _ => (
            "coop/parallel:steady,flaky?integration=concat",
            Class::Flaky,
        ),
    };
    let roll = rng.random_range(0..100);
    let anthropic = rng.random_bool(0.5);
    let mut stream = rng.random_bool(0.5);
    let abandon = rng.random_bool(0.1);
    let (path, body) = if roll < 5 {
        stream = false;
        ("/query", json!({ "query": "hello", "model": model }))
    } else if roll < 15 {
        (
            "/v1/responses",
            json!({ "model": model, "input": "hello", "stream": stream, "store": roll % 2 == 0 }),
        )
    } else if anthropic {
        (
            "/v1/messages",
            json!({ "model": model, "max_tokens": 64, "stream": stream,
                    "messages": [{ "role": "user", "content": "hello" }] }),
        )
    } else {
        (
            "/v1/chat/completions",
            json!({ "model": model, "stream": stream,
                    "messages": [{ "role": "user", "content": "hello" }] }),
        )
    };
    let mut req = client.post(format!("{base}{path}")).json(&body);
    let (class, token) = if rng.random_bool(0.03) {
        (
            Class::WrongToken,
            format!("soak-wrong-{:016x}", rng.random::<u64>()),
        )
    } else {
        (class, TOKENS[rng.random_range(0..TOKENS.len())].to_owned())
    };
    req = req.bearer_auth(token);
    if rng.random_bool(0.1) {
        req = req.header("x-session-id", format!("soak-{}", rng.random_range(0..10)));
    }
    let started = Instant::now();
    if abandon && !stream {
        // Gone before the answer: the request is dropped after a moment.
        let wait = Duration::from_millis(rng.random_range(0..40));
        return match tokio::time::timeout(wait, req.send()).await {
            Err(_) => (model, class, stream, Outcome::Abandoned),
            Ok(_) => (model, class, stream, Outcome::Abandoned),
        };
    }
    let resp = match tokio::time::timeout(Duration::from_secs(30), req.send()).await {
        Err(_) => return (model, class, stream, Outcome::Error("hang".into())),
        Ok(Err(e)) => {
            return (
                model,
                class,
                stream,
                Outcome::Error(format!("transport {e}")),
            );
        }
        Ok(Ok(resp)) => resp,
    };
    let status = resp.status().as_u16();
    if class == Class::WrongToken && status == 200 {
        return (
            model,
            class,
            stream,
            Outcome::Error("a wrong token was served".into()),
        );
    }
    if status != 200 {
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        let kind = v["error"]["type"].as_str().unwrap_or("?").to_owned();
        return (
            model,
            class,
            stream,
            Outcome::Error(format!("http {status} {kind}")),
        );
    }
    if !stream {
        let v: Value = match resp.json().await {
            Ok(v) => v,
            Err(e) => {
                return (
                    model,
                    class,
                    stream,
                    Outcome::Error(format!("transport {e}")),
                );
            }
        };
        let text = v["choices"][0]["message"]["content"]
            .as_str()
            .or(v["content"][0]["text"].as_str())
            .or(v["output"][0]["content"][0]["text"].as_str())
            .or(v["result"].as_str());
        return match text {
            Some(t) if !t.is_empty() => (model, class, stream, Outcome::Ok(started.elapsed())),
            _ => (
                model,
                class,
                stream,
                Outcome::Error(format!("empty answer {v}")),
            ),
        };
    }
    let mut body = resp.bytes_stream();
    let mut text = Vec::new();
    let read = async {
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => {
                    text.extend_from_slice(&c);
                    if abandon {
                        return Some(Outcome::Abandoned);
                    }
                }
                Err(e) => return Some(Outcome::Error(format!("transport {e}"))),
            }
        }
        None
    };
    match tokio::time::timeout(Duration::from_secs(30), read).await {
        Err(_) => return (model, class, stream, Outcome::Error("hang".into())),
        Ok(Some(outcome)) => return (model, class, stream, outcome),
        Ok(None) => {}
    }
    let text = String::from_utf8_lossy(&text);
    let last = text
        .rsplit("\n\n")
        .find(|e| !e.trim().is_empty())
        .unwrap_or("");
    if last.contains("[DONE]")
        || last.contains("message_stop")
        || last.contains("event: response.completed")
    {
        return (model, class, stream, Outcome::Ok(started.elapsed()));
    }
    let data = last
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or("");
    let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    let kind = v["error"]["type"]
        .as_str()
        .or(v["response"]["error"]["code"].as_str())
        .unwrap_or("unterminated");
    (
        model,
        class,
        stream,
        Outcome::Error(format!("stream {kind}")),
    )
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

async fn run_load(
    client: &reqwest::Client,
    base: &str,
    workers: usize,
    until: Instant,
    seed: u64,
    tally: &Arc<Mutex<Tally>>,
) {
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (client, base, tally) = (client.clone(), base.to_owned(), tally.clone());
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed * 1000 + w as u64);
                while Instant::now() < until {
                    let (model, class, stream, outcome) = one(&client, &base, &mut rng).await;
                    let mut t = tally.lock().unwrap();
                    let counts = t.by_model.entry(model).or_default();
                    counts.0 += 1;
                    if matches!(outcome, Outcome::Ok(_)) {
                        counts.1 += 1;
                    }
                    match outcome {
                        Outcome::Ok(latency) => {
                            t.ok += 1;
                            t.latencies.push(latency);
                            if class == Class::Steady {
                                t.steady_latencies.push(latency);
                            }
                        }
                        Outcome::Abandoned => t.abandoned += 1,
                        Outcome::Error(cause) => {
                            let ok = explained(class, stream, &cause);
                            let label =
                                format!("{:?}{}", class, if stream { " stream" } else { "" });
                            *t.errors.entry((label, cause, ok)).or_default() += 1;
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

async fn soak(opts: Options) -> bool {
    let healthy = FakeUpstream::start();
    let faulty = Arc::new(FakeUpstream::start());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        config_text(&healthy, &faulty),
    )
    .unwrap();

    // Keeps the faulty upstream's queue full of random behaviours.
    let stop = Arc::new(AtomicBool::new(false));
    let injected = Arc::new(Mutex::new(BTreeMap::<&'static str, u64>::new()));
    let injector = {
        let (faulty, stop, injected) = (faulty.clone(), stop.clone(), injected.clone());
        let (seed, oversized) = (opts.seed, opts.oversized);
        std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut pushed = 0usize;
            while !stop.load(Ordering::Relaxed) {
                while pushed.saturating_sub(faulty.request_count()) < 64 {
                    let (b, name) = fault(&mut rng, oversized);
                    faulty.push([b]);
                    *injected.lock().unwrap().entry(name).or_default() += 1;
                    pushed += 1;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let log_path = dir.path().join("server.log");
    let mut server = Command::new(&opts.server)
        .args(["--port", &port.to_string()])
        .args(TOKENS.iter().flat_map(|t| ["--token", t]))
        .env("LLM_COOP_CONFIG_DIR", dir.path())
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", opts.server));
    let pid = server.id();
    let base = format!("http://127.0.0.1:{port}");
    // Monitoring calls (`/models`) present the first token; load requests their own.
    let mut auth = reqwest::header::HeaderMap::new();
    auth.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {}", TOKENS[0]).parse().unwrap(),
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.workers)
        .default_headers(auth)
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
    let rss_started = rss_mb(pid);

    let warm = Arc::new(Mutex::new(Tally::default()));
    let until = Instant::now() + Duration::from_secs(opts.warmup);
    run_load(&client, &base, opts.workers, until, opts.seed + 7, &warm).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_start = rss_mb(pid);
    let faulty_before = faulty.request_count();

    let tally = Arc::new(Mutex::new(Tally::default()));
    let load_started = Instant::now();
    let until = load_started + Duration::from_secs(opts.secs);
    // RSS sampled through the run: the peak shows what the load holds at once, the samples
    // whether it levels off.
    let rss_samples = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut next = Instant::now();
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                samples.push(rss_mb(pid));
                next += Duration::from_millis(500);
                tokio::time::sleep_until(next.into()).await;
            }
            samples
        })
    };
    // Reloads under load: SIGHUP every `reload_every` seconds until the load ends.
    let reloads = {
        let every = opts.reload_every;
        tokio::spawn(async move {
            let mut sent = 0u64;
            if every == 0 {
                return sent;
            }
            loop {
                tokio::time::sleep(Duration::from_secs(every)).await;
                if Instant::now() >= until {
                    return sent;
                }
                let _ = Command::new("kill")
                    .args(["-HUP", &pid.to_string()])
                    .status();
                sent += 1;
            }
        })
    };
    run_load(&client, &base, opts.workers, until, opts.seed, &tally).await;
    let load_secs = load_started.elapsed().as_secs_f64();
    let reloads = reloads.await.unwrap();
    let rss_samples = rss_samples.await.unwrap();
    let rss_peak = rss_samples.iter().copied().fold(0.0, f64::max);

    // Let abandoned streams and their upstream requests wind down, then look.
    let settle = Instant::now();
    let (gauges, upstream_in_flight, server_abandoned) = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let gauges: Vec<String> = metrics
            .lines()
            .filter(|l| l.starts_with("llm_gateway_in_flight_requests{"))
            .filter(|l| !l.contains("route=\"/metrics\""))
            .map(str::to_owned)
            .collect();
        let models: Value = client
            .get(format!("{base}/models"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let upstream_in_flight = models["models"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|m| m["deployments"].as_array().unwrap().iter())
            .map(|d| d["health"]["in_flight"].as_u64().unwrap_or(0))
            .sum::<u64>();
        let server_abandoned: f64 = metrics
            .lines()
            .filter(|l| l.starts_with("llm_gateway_abandoned_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        let busy = gauges.iter().any(|g| !g.ends_with(" 0"));
        if (!busy && upstream_in_flight == 0) || settle.elapsed() > Duration::from_secs(10) {
            break (gauges, upstream_in_flight, server_abandoned);
        }
    };
    let settle_ms = settle.elapsed().as_millis();
    let rss_end = rss_mb(pid);
    stop.store(true, Ordering::Relaxed);
    injector.join().unwrap();

    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let stopping = Instant::now();
    let exit = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break Some(status);
        }
        if stopping.elapsed() > Duration::from_secs(10) {
            let _ = server.kill();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let log_lines = std::fs::read_to_string(&log_path)
        .map(|s| s.lines().count())
        .unwrap_or(0);

    let mut t = tally.lock().unwrap();
    t.latencies.sort_unstable();
    t.steady_latencies.sort_unstable();
    let errors: u64 = t.errors.values().sum();
    let unexplained: u64 = t
        .errors
        .iter()
        .filter(|((_, _, ok), _)| !ok)
        .map(|(_, n)| n)
        .sum();
    let total = t.ok + t.abandoned + errors;
    let growth = (rss_end - rss_start) / rss_start * 100.0;
    let gauges_zero = gauges.iter().all(|g| g.ends_with(" 0")) && upstream_in_flight == 0;
    let clean_exit = exit.is_some_and(|s| s.success());

    println!(
        "soak: {load_secs:.0} s of load after a {} s warm-up, {} workers, seed {}, {} cores shared by load, upstreams and gateway",
        opts.warmup,
        opts.workers,
        opts.seed,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!("| | |");
    println!("|---|---|");
    println!("| requests | {total} ({:.0}/s) |", total as f64 / load_secs);
    println!(
        "| reloads (SIGHUP) during the load | {reloads}; {} tokens, 3% of requests with a fresh wrong one |",
        TOKENS.len()
    );
    println!("| answered | {} |", t.ok);
    println!(
        "| abandoned by the client (on purpose) | {} (the server's `llm_gateway_abandoned_total`, warm-up included: {server_abandoned}) |",
        t.abandoned
    );
    println!(
        "| errors | {errors} ({} explained by injected faults, {unexplained} unexplained) |",
        errors - unexplained
    );
    println!(
        "| latency of answers p50 / p99 | {:.1} / {:.1} ms |",
        percentile(&t.latencies, 0.5),
        percentile(&t.latencies, 0.99)
    );
    println!(
        "| latency on the healthy upstream p50 / p99 | {:.1} / {:.1} ms |",
        percentile(&t.steady_latencies, 0.5),
        percentile(&t.steady_latencies, 0.99)
    );
    println!(
        "| faulty upstream requests during the run | {} |",
        faulty.request_count() - faulty_before
    );
    println!(
        "| RSS after start / after warm-up / peak / end | {rss_started:.1} / {rss_start:.1} / {rss_peak:.1} / {rss_end:.1} MB |"
    );
    println!("| RSS growth, end vs after warm-up | {growth:+.1}% |");
    let every = (rss_samples.len() / 12).max(1);
    println!(
        "| RSS through the run (MB, every {:.1} s) | {} |",
        every as f64 / 2.0,
        rss_samples
            .iter()
            .step_by(every)
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "| in-flight at the end ({settle_ms} ms after the load) | {}; upstream requests in flight: {upstream_in_flight} |",
        gauges.join(", ")
    );
    println!(
        "| llm-server exit after SIGTERM | {} in {} ms; {log_lines} warning lines logged |",
        exit.map_or("killed (did not exit)".to_owned(), |s| s.to_string()),
        stopping.elapsed().as_millis()
    );
    println!();
    println!("| model | requests | answered |");
    println!("|---|---|---|");
    for (model, (sent, answered)) in &t.by_model {
        println!("| `{model}` | {sent} | {answered} |");
    }
    println!();
    println!("| model class | error cause | count | explained |");
    println!("|---|---|---|---|");
    for ((class, cause, ok), n) in &t.errors {
        println!(
            "| {class} | {cause} | {n} | {} |",
            if *ok { "yes" } else { "NO" }
        );
    }
    println!();
    let injected = injected.lock().unwrap();
    println!(
        "injected (queued for the faulty upstream, warm-up included): {}",
        injected
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let pass = unexplained == 0 && growth < 10.0 && gauges_zero && clean_exit && t.ok > 0;
    println!();
    println!(
        "verdict: {}",
        if pass {
            "PASS (no unexplained errors, RSS growth under 10%, gauges at zero, clean exit)"
        } else {
            "FAIL"
        }
    );
    pass
}
