//! The upstream clients against the fake upstream: answers, streams, request mapping, one
//! attempt per call (the router retries), timeouts, error classification, concurrency caps and
//! key redaction, for both protocols.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use llm_cooperation::config::{ModelConfig, ProviderConfig, ProviderKind, mask_key};
use llm_cooperation::providers::{
    Backend, Deployment, EventStream, HttpPolicy, ProviderError, TimeoutPhase, backend,
};
use llm_cooperation::types::{ChatRequest, FinishReason, StreamEvent, Usage};

use crate::common::upstream::{
    Behavior, DEFAULT_TEXT, FakeUpstream, INPUT_TOKENS, MODEL_IDS, pieces, refused_url,
};

const KINDS: [ProviderKind; 2] = [ProviderKind::Openai, ProviderKind::Anthropic];

/// Short timeouts and near-zero backoff: every failure path finishes in well under a second
/// unless the test is about waiting.
fn policy() -> HttpPolicy {
    HttpPolicy {
        connect: Duration::from_secs(1),
        first_byte: Duration::from_secs(2),
        total: Duration::from_secs(10),
        max_retries: 2,
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
    }
}

fn provider(kind: ProviderKind, base_url: &str) -> ProviderConfig {
    ProviderConfig {
        kind,
        ..ProviderConfig::openai(base_url)
    }
}

fn client(
    up: &FakeUpstream,
    kind: ProviderKind,
    key: Option<&str>,
    policy: HttpPolicy,
) -> Arc<dyn Backend> {
    backend(
        "fake",
        &provider(kind, &up.base_url()),
        key.map(str::to_owned),
        policy,
    )
    .unwrap()
}

fn request() -> ChatRequest {
    ChatRequest::simple("fake-model", None, "Say hello")
}

/// A deployment of `fake-model` on `fake`, read from TOML so that new optional fields of
/// `ModelConfig` keep their defaults here.
fn model(name: &str, concurrency: Option<u32>) -> ModelConfig {
    let mut m: ModelConfig = toml::from_str(&format!(
        "name = \"{name}\"\nprovider = \"fake\"\nupstream = \"fake-model\"\n"
    ))
    .unwrap();
    m.concurrency = concurrency;
    m
}

/// Fails the test instead of hanging it.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("the test did not finish within 20 s")
}

/// Runs `case` for both protocols at once (each with its own upstream), bounded.
async fn both<F, Fut>(case: F)
where
    F: Fn(ProviderKind) -> Fut,
    Fut: Future<Output = ()>,
{
    bounded(futures::future::join_all(KINDS.map(&case))).await;
}

/// Every item of a stream, up to its end.
async fn drain(stream: EventStream) -> Vec<Result<StreamEvent, ProviderError>> {
    stream.collect().await
}

fn text_of(events: &[Result<StreamEvent, ProviderError>]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(e) => e.text_delta(),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn whole_answer_has_text_usage_and_finish_reason() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        let resp = client(&up, kind, Some("sk-test"), policy())
            .chat(request())
            .await
            .unwrap();
        assert_eq!(resp.text(), DEFAULT_TEXT, "{kind}");
        assert_eq!(resp.finish_reason, FinishReason::Stop);
        assert_eq!(
            resp.usage,
            Usage {
                input_tokens: INPUT_TOKENS,
                output_tokens: pieces(DEFAULT_TEXT).len() as u32,
                ..Usage::default()
            }
        );
        assert_eq!(resp.provider, "fake");
        assert!(resp.latency > Duration::ZERO);
        assert_eq!(up.request_count(), 1);
    })
    .await;
}

#[tokio::test]
async fn max_tokens_reaches_the_upstream_and_a_cut_answer_says_length() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        let mut req = request();
        req.max_tokens = Some(2);
        let resp = client(&up, kind, None, policy()).chat(req).await.unwrap();
        assert_eq!(up.last().body["max_tokens"], 2, "{kind}");
        assert_eq!(resp.finish_reason, FinishReason::Length);
        assert_eq!(resp.text(), pieces(DEFAULT_TEXT)[..2].concat());
        assert_eq!(resp.usage.output_tokens, 2);
    })
    .await;
}

#[tokio::test]
async fn streamed_deltas_concatenate_to_the_answer_then_usage_and_done() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        let events = drain(
            client(&up, kind, None, policy())
                .chat_stream(request())
                .await
                .unwrap(),
        )
        .await;
        let deltas = events
            .iter()
            .filter(|e| matches!(e, Ok(StreamEvent::Delta { .. })))
            .count();
        assert!(deltas > 1, "{kind}: one delta per piece, got {events:?}");
        assert_eq!(text_of(&events), DEFAULT_TEXT);
        assert!(
            events.iter().any(|e| matches!(e,
                Ok(StreamEvent::Usage(u)) if u.input_tokens == INPUT_TOKENS
                    && u.output_tokens == pieces(DEFAULT_TEXT).len() as u32)),
            "{kind}: {events:?}"
        );
        assert!(
            matches!(
                events.last(),
                Some(Ok(StreamEvent::Done(f))) if f.reason == FinishReason::Stop
            ),
            "{kind}: {events:?}"
        );
    })
    .await;
}

/// Frames of three bytes cut SSE lines and UTF-8 characters in half; the text must survive.
#[tokio::test]
async fn multibyte_text_survives_frames_split_mid_character() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        let text = "Grüße, 世界! 🌍🚀 ça va";
        up.push([Behavior::Fragmented {
            text: text.into(),
            frame_bytes: 3,
        }]);
        let events = drain(
            client(&up, kind, None, policy())
                .chat_stream(request())
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(text_of(&events), text, "{kind}: {events:?}");
        assert!(matches!(events.last(), Some(Ok(StreamEvent::Done(_)))));
    })
    .await;
}

#[tokio::test]
async fn openai_request_has_bearer_key_system_message_and_include_usage() {
    let up = FakeUpstream::start();
    let b = client(&up, ProviderKind::Openai, Some("sk-openai-test"), policy());
    let req = ChatRequest::simple("fake-model", Some("Be terse."), "Say hello");
    bounded(async { drain(b.chat_stream(req).await.unwrap()).await }).await;
    let r = up.last();
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.header("authorization"), Some("Bearer sk-openai-test"));
    assert_eq!(r.header("x-api-key"), None);
    assert_eq!(r.body["model"], "fake-model");
    assert_eq!(r.body["messages"][0]["role"], "system");
    assert_eq!(r.body["messages"][0]["content"], "Be terse.");
    assert_eq!(r.body["messages"][1]["role"], "user");
    assert_eq!(r.body["stream"], true);
    assert_eq!(r.body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn anthropic_request_has_api_key_version_and_top_level_system() {
    let up = FakeUpstream::start();
    let b = client(&up, ProviderKind::Anthropic, Some("sk-ant-test"), policy());
    let req = ChatRequest::simple("fake-model", Some("Be terse."), "Say hello");
    bounded(b.chat(req)).await.unwrap();
    let r = up.last();
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.body["system"], "Be terse.");
    let messages = r.body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "the system prompt is not a message");
    assert_eq!(messages[0]["role"], "user");
    // Anthropic requires `max_tokens`; the client fills a default when nobody set one.
    assert!(r.body["max_tokens"].as_u64().unwrap() > 0);
    assert_eq!(r.body.get("stream"), None);
}

/// One call is one attempt: a 429 comes back at once with its `Retry-After` (the router
/// decides whether to wait, fail over or answer 429; the client never sleeps).
#[tokio::test]
async fn a_rate_limit_comes_back_at_once_with_its_retry_after() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        up.push([Behavior::rate_limited(30)]);
        let err = client(&up, kind, None, policy())
            .chat(request())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(30)),
            "{kind}: {err:?}"
        );
        assert_eq!(up.request_count(), 1, "{kind}: not retried by the client");
    })
    .await;
}

#[tokio::test]
async fn a_server_error_is_one_attempt_with_the_upstream_error() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        up.push([Behavior::status(502)]);
        let err = client(&up, kind, None, policy())
            .chat(request())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProviderError::Upstream { status: 502, .. }),
            "{kind}: {err:?}"
        );
        assert_eq!(err.kind(), "upstream");
        assert!(err.is_retriable(), "the router may try again");
        assert!(err.to_string().contains("fake failure 502"), "{err}");
        assert_eq!(up.request_count(), 1, "the router retries, not the client");
    })
    .await;
}

#[tokio::test]
async fn auth_errors_are_not_retried() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        up.push([Behavior::status_with_message(401, "invalid x-api-key")]);
        let err = client(&up, kind, Some("sk-wrong"), policy())
            .chat(request())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ProviderError::Auth { status: 401, .. }),
            "{kind}: {err:?}"
        );
        assert_eq!(err.kind(), "auth");
        assert!(!err.is_retriable());
        assert!(err.to_string().contains("invalid x-api-key"), "{err}");
        assert_eq!(up.request_count(), 1);
    })
    .await;
}

#[tokio::test]
async fn bad_requests_are_not_retried() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        up.push([Behavior::status_with_message(400, "messages: too long")]);
        let Err(err) = client(&up, kind, None, policy())
            .chat_stream(request())
            .await
        else {
            panic!("{kind}: a 400 opened a stream");
        };
        assert!(
            matches!(err, ProviderError::BadRequest { status: 400, .. }),
            "{kind}: {err:?}"
        );
        assert!(err.to_string().contains("messages: too long"), "{err}");
        assert_eq!(up.request_count(), 1);
    })
    .await;
}

#[tokio::test]
async fn refused_connections_are_connect_errors() {
    both(|kind| async move {
        let url = refused_url();
        let b = backend("dead", &provider(kind, &url), None, policy()).unwrap();
        let started = Instant::now();
        let err = b.chat(request()).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Connect { .. }),
            "{kind}: {err:?}"
        );
        assert_eq!(err.kind(), "connect");
        assert!(err.is_retriable(), "another deployment may answer");
        assert!(err.to_string().contains(&url), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    })
    .await;
}

#[tokio::test]
async fn silence_before_the_headers_is_a_bounded_first_byte_timeout() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        up.push([Behavior::Delay {
            before_headers: Duration::from_secs(10),
        }]);
        let policy = HttpPolicy {
            first_byte: Duration::from_millis(300),
            max_retries: 0,
            ..policy()
        };
        let started = Instant::now();
        let err = client(&up, kind, None, policy)
            .chat(request())
            .await
            .unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            matches!(
                err,
                ProviderError::Timeout {
                    phase: TimeoutPhase::FirstByte,
                    ..
                }
            ),
            "{kind}: {err:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(280) && elapsed < Duration::from_millis(1500),
            "{kind}: {elapsed:?}"
        );
        assert_eq!(up.request_count(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_stalled_stream_times_out_without_a_retry() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        up.push([Behavior::SlowDrip {
            chunk_delay: Duration::from_secs(5),
        }]);
        let policy = HttpPolicy {
            first_byte: Duration::from_millis(300),
            ..policy()
        };
        let started = Instant::now();
        let stream = client(&up, kind, None, policy)
            .chat_stream(request())
            .await
            .unwrap();
        let events = drain(stream).await;
        assert!(
            matches!(
                events.last(),
                Some(Err(ProviderError::Timeout {
                    phase: TimeoutPhase::FirstByte,
                    ..
                }))
            ),
            "{kind}: {events:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(up.request_count(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_slow_but_steady_stream_completes() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        up.push([Behavior::SlowDrip {
            chunk_delay: Duration::from_millis(30),
        }]);
        let policy = HttpPolicy {
            first_byte: Duration::from_millis(500),
            ..policy()
        };
        let stream = client(&up, kind, None, policy)
            .chat_stream(request())
            .await
            .unwrap();
        let events = drain(stream).await;
        assert_eq!(text_of(&events), DEFAULT_TEXT, "{kind}");
        assert!(matches!(events.last(), Some(Ok(StreamEvent::Done(_)))));
    })
    .await;
}

#[tokio::test]
async fn a_disconnect_mid_stream_is_an_error_and_not_retried() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        up.push([Behavior::DisconnectMidStream]);
        let stream = client(&up, kind, None, policy())
            .chat_stream(request())
            .await
            .unwrap();
        let events = drain(stream).await;
        assert!(!text_of(&events).is_empty(), "{kind}: {events:?}");
        assert!(
            matches!(events.last(), Some(Err(_))),
            "{kind}: the stream must end in an error, got {events:?}"
        );
        assert!(
            !events.iter().any(|e| matches!(e, Ok(StreamEvent::Done(_)))),
            "{kind}: {events:?}"
        );
        // Give a (wrong) retry time to reach the upstream before counting.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(up.request_count(), 1, "{kind}");
    })
    .await;
}

#[tokio::test]
async fn malformed_json_is_a_protocol_error() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        up.push([Behavior::MalformedJson, Behavior::MalformedJson]);
        let b = client(&up, kind, None, policy());
        let err = b.chat(request()).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Protocol { .. }),
            "{kind}: {err:?}"
        );
        assert_eq!(err.kind(), "protocol");
        assert_eq!(up.request_count(), 1, "a garbled answer is not retried");
        let events = drain(b.chat_stream(request()).await.unwrap()).await;
        assert!(
            matches!(events.last(), Some(Err(ProviderError::Protocol { .. }))),
            "{kind}: {events:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_stream_that_is_not_utf8_is_a_protocol_error() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        up.push([Behavior::MalformedSse]);
        let events = drain(
            client(&up, kind, None, policy())
                .chat_stream(request())
                .await
                .unwrap(),
        )
        .await;
        assert!(
            matches!(events.last(), Some(Err(ProviderError::Protocol { .. }))),
            "{kind}: {events:?}"
        );
        assert!(!events.iter().any(|e| matches!(e, Ok(StreamEvent::Done(_)))));
    })
    .await;
}

#[tokio::test]
async fn list_models_returns_the_upstream_ids() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        let ids = client(&up, kind, Some("sk-list"), policy())
            .list_models()
            .await
            .unwrap();
        assert_eq!(ids, MODEL_IDS.map(str::to_owned).to_vec(), "{kind}");
        let r = up.last();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/v1/models"));
        match kind {
            ProviderKind::Openai | ProviderKind::Local => {
                assert_eq!(r.header("authorization"), Some("Bearer sk-list"))
            }
            ProviderKind::Anthropic => assert_eq!(r.header("x-api-key"), Some("sk-list")),
        }
    })
    .await;
}

#[tokio::test]
async fn a_deployment_sends_its_upstream_id_and_defaults() {
    let up = FakeUpstream::start();
    let mut m = model("alias", None);
    m.max_tokens = Some(50);
    m.temperature = Some(0.5);
    let d = Deployment::new(
        m,
        ProviderKind::Openai,
        client(&up, ProviderKind::Openai, None, policy()),
        Duration::from_secs(5),
    );
    let resp = bounded(d.chat(ChatRequest::simple("alias", None, "hi")))
        .await
        .unwrap();
    assert_eq!(resp.model, "alias", "the answer names the configured model");
    assert_eq!(resp.provider, "fake");
    let body = up.last().body;
    assert_eq!(body["model"], "fake-model");
    assert_eq!(body["max_tokens"], 50);
    assert_eq!(body["temperature"], 0.5);
    // A request's own value wins over the model's default.
    let mut req = ChatRequest::simple("alias", None, "hi");
    req.max_tokens = Some(5);
    bounded(d.chat(req)).await.unwrap();
    assert_eq!(up.last().body["max_tokens"], 5);
}

/// Two slow requests at once: with a cap of one they take about twice as long as without.
#[tokio::test]
async fn a_concurrency_cap_serialises_requests() {
    let delay = Duration::from_millis(300);
    let run = |concurrency: Option<u32>| async move {
        let up = FakeUpstream::start();
        up.push([
            Behavior::Delay {
                before_headers: delay,
            },
            Behavior::Delay {
                before_headers: delay,
            },
        ]);
        let d = Deployment::new(
            model("m", concurrency),
            ProviderKind::Openai,
            client(&up, ProviderKind::Openai, None, policy()),
            Duration::from_secs(5),
        );
        let started = Instant::now();
        let (a, b) = tokio::join!(d.chat(request()), async {
            // The first request holds the only slot by now.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let busy = !d.has_capacity();
            (d.chat(request()).await, busy)
        });
        a.unwrap();
        let (b, busy) = b;
        b.unwrap();
        (started.elapsed(), busy)
    };
    let (capped, busy) = bounded(run(Some(1))).await;
    assert!(busy, "the capped deployment reports no capacity while busy");
    assert!(capped >= delay * 2, "capped: {capped:?}");
    let (free, busy) = bounded(run(None)).await;
    assert!(!busy);
    assert!(
        free < delay * 2 - Duration::from_millis(100),
        "uncapped: {free:?}"
    );
}

#[tokio::test]
async fn waiting_for_a_slot_is_bounded_by_the_queue_timeout() {
    let up = FakeUpstream::start();
    up.push([Behavior::Delay {
        before_headers: Duration::from_millis(800),
    }]);
    let d = Deployment::new(
        model("m", Some(1)),
        ProviderKind::Openai,
        client(&up, ProviderKind::Openai, None, policy()),
        Duration::from_millis(100),
    );
    let (first, second) = bounded(async {
        tokio::join!(d.chat(request()), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            d.chat(request()).await
        })
    })
    .await;
    first.unwrap();
    let err = second.unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::Timeout {
                phase: TimeoutPhase::Queue,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(up.request_count(), 1, "the queued request never left");
}

/// An upstream that echoes the key in its error message (some do) must not make us print it.
#[tokio::test]
async fn the_key_never_appears_in_an_error() {
    both(|kind| async move {
        let key = "sk-live-0123456789abcdefSECRET";
        let up = FakeUpstream::start();
        up.push([Behavior::status_with_message(
            401,
            &format!("Incorrect API key provided: {key}. Find your key at example.com"),
        )]);
        let err = client(&up, kind, Some(key), policy())
            .chat(request())
            .await
            .unwrap_err();
        let shown = err.to_string();
        assert!(!shown.contains(key), "{kind}: {shown}");
        assert!(!format!("{err:?}").contains(key), "{kind}: {err:?}");
        assert!(shown.contains(&mask_key(key)), "{kind}: {shown}");
        assert!(shown.contains("Incorrect API key provided"), "{shown}");
    })
    .await;
}

/// A stream may also end in the upstream's own error event; its message can echo the key too.
#[tokio::test]
async fn an_error_event_mid_stream_is_reported_without_the_key() {
    both(|kind| async move {
        let key = "sk-live-0123456789abcdefSECRET";
        let up = FakeUpstream::start();
        up.push([Behavior::ErrorMidStream {
            message: format!("Overloaded (request by {key})"),
        }]);
        let stream = client(&up, kind, Some(key), policy())
            .chat_stream(request())
            .await
            .unwrap();
        let events = drain(stream).await;
        assert!(!text_of(&events).is_empty(), "{kind}: {events:?}");
        let Some(Err(err)) = events.last() else {
            panic!("{kind}: the stream must end in an error, got {events:?}");
        };
        let shown = err.to_string();
        assert!(shown.contains("Overloaded"), "{kind}: {shown}");
        assert!(!shown.contains(key), "{kind}: {shown}");
        assert!(shown.contains(&mask_key(key)), "{kind}: {shown}");
        assert_eq!(up.request_count(), 1);
    })
    .await;
}

/// A whole answer whose body stalls after the headers is bounded by the total deadline (the
/// first-byte timeout covers the headers and streamed chunks only), and not retried: the
/// upstream has started answering.
#[tokio::test]
async fn a_whole_body_that_stalls_times_out_at_the_total_deadline() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        up.push([Behavior::SlowDrip {
            chunk_delay: Duration::from_secs(5),
        }]);
        let policy = HttpPolicy {
            total: Duration::from_millis(800),
            ..policy()
        };
        let started = Instant::now();
        let err = client(&up, kind, None, policy)
            .chat(request())
            .await
            .unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            matches!(
                err,
                ProviderError::Timeout {
                    phase: TimeoutPhase::Total,
                    ..
                }
            ),
            "{kind}: {err:?}"
        );
        assert!(!err.is_retriable());
        assert!(
            elapsed >= Duration::from_millis(750) && elapsed < Duration::from_secs(2),
            "{kind}: {elapsed:?}"
        );
        assert_eq!(up.request_count(), 1);
    })
    .await;
}

/// An upstream that never stops sending is cut off at a size limit, whole or streamed,
/// instead of filling memory (or, for an endless SSE line, spinning the parser).
#[tokio::test]
async fn an_oversized_response_is_a_protocol_error() {
    both(|kind| async move {
        let up = FakeUpstream::start();
        up.push([
            Behavior::Oversized {
                bytes: 40 * 1024 * 1024,
            },
            Behavior::Oversized {
                bytes: 40 * 1024 * 1024,
            },
        ]);
        let b = client(&up, kind, None, policy());
        let err = b.chat(request()).await.unwrap_err();
        assert!(
            matches!(&err, ProviderError::Protocol { message, .. } if message.contains("larger than 32 MiB")),
            "{kind}: {err:?}"
        );
        let events = drain(b.chat_stream(request()).await.unwrap()).await;
        assert!(!text_of(&events).is_empty(), "{kind}: the good delta came first");
        assert!(
            matches!(events.last(), Some(Err(ProviderError::Protocol { message, .. })) if message.contains("longer than 8 MiB")),
            "{kind}: {:?}",
            events.last()
        );
        assert_eq!(up.request_count(), 2, "neither is retried");
    })
    .await;
}
