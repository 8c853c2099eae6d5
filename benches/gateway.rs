//! Tools for `bench/gateway.sh` (run by it, not on their own):
//!
//! - `upstream PORT DELAY_MS`: a fixed-answer OpenAI-compatible upstream that waits
//!   `DELAY_MS` before answering (`stream: true` gets eight SSE events, written one by one).
//! - `ttft URL N`: N sequential streamed requests to `URL`; prints the median and p99 time to
//!   the first content chunk and to the end, in milliseconds, as `ttft_p50 ttft_p99 total_p50`.
//!
//! Without arguments (as under `cargo bench`) it prints this help and exits.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use futures::StreamExt;
use serde_json::json;

const ANSWER: &str = "The quick brown fox jumps over the lazy dog.";

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["upstream", port, delay] => upstream(port.parse().unwrap(), delay.parse().unwrap()),
        ["ttft", url, n] => ttft(url, n.parse().unwrap()),
        _ => println!(
            "usage: gateway upstream PORT DELAY_MS | gateway ttft URL N (see bench/gateway.sh)"
        ),
    }
}

/// Answers as a fixed-answer server does (BENCHMARKS.md's reference is nginx `return 200`): the
/// answers are built once, and the body is not parsed. Only `"stream": true` is looked for, as
/// bytes: on this path the body's cost is the gateway's, not the upstream's, so a 50 KB agent
/// request costs this upstream what it costs nginx (reading it), not a JSON tree of it.
fn upstream(port: u16, delay_ms: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let delay = Duration::from_millis(delay_ms);
        let whole = Bytes::from(
            json!({
                "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench-model",
                "choices": [{ "index": 0, "message": { "role": "assistant", "content": ANSWER }, "finish_reason": "stop" }],
                "usage": { "prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22 },
            })
            .to_string(),
        );
        let chunks = stream_chunks();
        let app = axum::Router::new()
            .route("/v1/models", get(|| async { Json(json!({ "object": "list", "data": [{ "id": "bench-model", "object": "model" }] })) }))
            .route(
                "/v1/chat/completions",
                post(move |body: Bytes| async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    if asks_to_stream(&body) {
                        let body = Body::from_stream(futures::stream::iter(
                            chunks.into_iter().map(Ok::<_, std::convert::Infallible>),
                        ));
                        ([(CONTENT_TYPE, "text/event-stream")], body).into_response()
                    } else {
                        ([(CONTENT_TYPE, "application/json")], whole).into_response()
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

/// Whether a JSON body says `"stream": true` (whitespace around the colon allowed). A string
/// value cannot hold an unescaped `"stream"`, so a match is the key.
fn asks_to_stream(body: &[u8]) -> bool {
    let key = b"\"stream\"";
    body.windows(key.len())
        .enumerate()
        .filter(|(_, w)| w == key)
        .any(|(at, _)| {
            let rest = &body[at + key.len()..];
            let rest = rest.trim_ascii_start();
            rest.strip_prefix(b":")
                .is_some_and(|r| r.trim_ascii_start().starts_with(b"true"))
        })
}

/// The streamed answer, five SSE events sent as separate chunks (as a real upstream writes them).
fn stream_chunks() -> Vec<Bytes> {
    let mut chunks: Vec<String> = ANSWER
        .split_inclusive(' ')
        .collect::<Vec<_>>()
        .chunks(2)
        .map(|w| {
            let delta = w.concat();
            format!("data: {}\n\n", json!({ "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "bench-model",
                "choices": [{ "index": 0, "delta": { "content": delta }, "finish_reason": null }] }))
        })
        .collect();
    chunks.push(format!(
        "data: {}\n\n",
        json!({ "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "bench-model",
        "choices": [{ "index": 0, "delta": {}, "finish_reason": "stop" }] })
    ));
    chunks.push(format!("data: {}\n\n", json!({ "id": "c", "object": "chat.completion.chunk", "created": 0, "model": "bench-model",
        "choices": [], "usage": { "prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22 } })));
    chunks.push("data: [DONE]\n\n".to_owned());
    chunks.into_iter().map(Bytes::from).collect()
}

fn ttft(url: &str, n: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let client = reqwest::Client::new();
        let body = json!({ "model": "bench", "stream": true, "messages": [{ "role": "user", "content": "hello" }] });
        let mut first = Vec::with_capacity(n);
        let mut total = Vec::with_capacity(n);
        for i in 0..n + 20 {
            let started = Instant::now();
            let resp = client.post(url).json(&body).send().await.unwrap();
            assert!(resp.status().is_success(), "{}", resp.status());
            let mut stream = resp.bytes_stream();
            let mut ttft = None;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.unwrap();
                if ttft.is_none() && chunk.windows(9).any(|w| w == b"\"content\"") && !chunk.windows(12).any(|w| w == b"\"content\":\"\"") {
                    ttft = Some(started.elapsed());
                }
            }
            // The first 20 warm the connection pool and caches.
            if i >= 20 {
                first.push(ttft.unwrap_or_else(|| started.elapsed()).as_secs_f64() * 1e3);
                total.push(started.elapsed().as_secs_f64() * 1e3);
            }
        }
        first.sort_by(f64::total_cmp);
        total.sort_by(f64::total_cmp);
        let q = |v: &[f64], f: f64| v[((v.len() - 1) as f64 * f) as usize];
        println!("{:.3} {:.3} {:.3}", q(&first, 0.5), q(&first, 0.99), q(&total, 0.5));
    });
}
