//! A fake upstream: a real HTTP server on `127.0.0.1:0` that speaks enough of the OpenAI and
//! Anthropic APIs for the clients, the CLI and the gateway to be tested end to end.
//!
//! It runs on its own thread with its own runtime, so the same server serves `#[tokio::test]`
//! tests (whose runtime may be single-threaded and busy awaiting the client) and plain tests
//! that run the binaries. Every request is recorded; tests script failures by queueing
//! [`Behavior`]s, one consumed per API request, falling back to a plain answer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use futures::Stream;
use serde_json::{Value, json};

/// The answer when no behaviour is queued.
pub const DEFAULT_TEXT: &str = "Hello from the fake upstream";
/// `usage.input_tokens` / `prompt_tokens` of every answer.
pub const INPUT_TOKENS: u32 = 7;
/// The model ids `GET /v1/models` lists.
pub const MODEL_IDS: [&str; 2] = ["fake-model", "fake-model-large"];

/// What the upstream does with one API request.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// Answers `text`; streamed, each piece of [`pieces`] is one delta. A request's
    /// `max_tokens` below the number of pieces cuts the answer and reports `length`.
    Ok { text: String },
    /// Answers `text` with the streamed body cut into frames of `frame_bytes` bytes, sent
    /// apart, so lines and multi-byte characters straddle reads.
    Fragmented { text: String, frame_bytes: usize },
    /// An error status with an optional `Retry-After` (seconds) and this body.
    Status {
        code: u16,
        retry_after: Option<u64>,
        body: String,
    },
    /// Waits before sending the headers, then answers [`DEFAULT_TEXT`].
    Delay { before_headers: Duration },
    /// Sends the headers and part of the answer, then drops the connection.
    DisconnectMidStream,
    /// Answers [`DEFAULT_TEXT`] with `chunk_delay` between body chunks.
    SlowDrip { chunk_delay: Duration },
    /// Streams part of the answer, then the protocol's own error event carrying `message`
    /// (Anthropic sends `overloaded_error` this way). A whole answer gets a 500 instead.
    ErrorMidStream { message: String },
    /// A success status whose body is not the JSON (or the stream events) promised.
    MalformedJson,
    /// A stream that starts well and then sends bytes that are not UTF-8.
    MalformedSse,
    /// A success whose body runs on for `bytes` bytes without ever closing its JSON (whole)
    /// or, after one good delta, its SSE line (streamed): an upstream gone wrong.
    Oversized { bytes: usize },
    /// A scripted answer of thinking, text and tool calls, rendered like the real API of
    /// the request's protocol, whole or streamed (see [`Reply`]).
    Reply(Reply),
}

/// One block of a scripted answer.
#[derive(Debug, Clone)]
pub enum ReplyBlock {
    /// Anthropic: a `thinking` block (streamed: `thinking_delta`s, then one
    /// `signature_delta` unless the signature is empty). OpenAI: `reasoning_content`, no
    /// signature.
    Thinking {
        text: String,
        signature: String,
    },
    Text(String),
    /// `arguments` is JSON text; `""` is allowed and means no arguments (Anthropic whole:
    /// `input: {}`; streamed: only the first, empty, `input_json_delta`).
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
}

/// A scripted answer, rendered in whichever protocol the request came in (path decides).
#[derive(Debug, Clone)]
pub struct Reply {
    pub blocks: Vec<ReplyBlock>,
    /// "stop" | "tool_calls" | "length" | "stop_sequence" (Anthropic: end_turn/tool_use/
    /// max_tokens/stop_sequence; OpenAI renders "stop_sequence" as "stop").
    pub finish: &'static str,
    /// Anthropic's `stop_sequence`; OpenAI: not rendered.
    pub stop_sequence: Option<String>,
    /// OpenAI: `usage.prompt_tokens_details.cached_tokens` (`prompt_tokens` includes it);
    /// Anthropic: `cache_read_input_tokens` (`input_tokens` excludes it).
    pub cache_read: u32,
    /// Anthropic: `cache_creation_input_tokens`; OpenAI: not rendered.
    pub cache_write: u32,
    /// OpenAI: `usage.completion_tokens_details.reasoning_tokens`; Anthropic: not rendered.
    pub reasoning_tokens: u32,
    /// Streamed: text, thinking and tool arguments are cut into pieces of this many chars.
    pub fragment: usize,
}

impl Reply {
    /// No blocks yet, finish "stop", no usage extras, fragments of 5 chars.
    pub fn new() -> Reply {
        Reply {
            blocks: Vec::new(),
            finish: "stop",
            stop_sequence: None,
            cache_read: 0,
            cache_write: 0,
            reasoning_tokens: 0,
            fragment: 5,
        }
    }

    /// One text block, finish "stop".
    pub fn text(s: &str) -> Reply {
        Reply::new().with_text(s)
    }

    /// One tool call, finish "tool_calls".
    pub fn tool_call(id: &str, name: &str, arguments: &str) -> Reply {
        Reply::new()
            .with_tool_call(id, name, arguments)
            .with_finish("tool_calls")
    }

    /// Several tool calls `(id, name, arguments)`, finish "tool_calls".
    pub fn tool_calls(calls: &[(&str, &str, &str)]) -> Reply {
        calls
            .iter()
            .fold(Reply::new(), |r, (id, name, args)| {
                r.with_tool_call(id, name, args)
            })
            .with_finish("tool_calls")
    }

    pub fn with_block(mut self, block: ReplyBlock) -> Reply {
        self.blocks.push(block);
        self
    }

    pub fn with_text(self, s: &str) -> Reply {
        self.with_block(ReplyBlock::Text(s.into()))
    }

    pub fn with_thinking(self, text: &str, signature: &str) -> Reply {
        self.with_block(ReplyBlock::Thinking {
            text: text.into(),
            signature: signature.into(),
        })
    }

    pub fn with_tool_call(self, id: &str, name: &str, arguments: &str) -> Reply {
        self.with_block(ReplyBlock::ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        })
    }

    /// A thinking block put before the others.
    pub fn thinking_first(mut self, text: &str, signature: &str) -> Reply {
        self.blocks.insert(
            0,
            ReplyBlock::Thinking {
                text: text.into(),
                signature: signature.into(),
            },
        );
        self
    }

    pub fn with_finish(mut self, finish: &'static str) -> Reply {
        self.finish = finish;
        self
    }

    /// Finish "stop_sequence" with `seq` as the sequence.
    pub fn with_stop_sequence(mut self, seq: &str) -> Reply {
        self.finish = "stop_sequence";
        self.stop_sequence = Some(seq.into());
        self
    }

    pub fn with_cache(mut self, read: u32, write: u32) -> Reply {
        self.cache_read = read;
        self.cache_write = write;
        self
    }

    pub fn with_reasoning_tokens(mut self, n: u32) -> Reply {
        self.reasoning_tokens = n;
        self
    }

    pub fn with_fragment(mut self, chars: usize) -> Reply {
        self.fragment = chars;
        self
    }

    /// The output token count both protocols report: one per 4 characters of every block
    /// (at least 1) plus `reasoning_tokens`.
    pub fn output_tokens(&self) -> u32 {
        let chars: usize = self
            .blocks
            .iter()
            .map(|b| match b {
                ReplyBlock::Thinking { text, .. } | ReplyBlock::Text(text) => text.chars().count(),
                ReplyBlock::ToolCall {
                    name, arguments, ..
                } => name.chars().count() + arguments.chars().count(),
            })
            .sum();
        (chars.div_ceil(4).max(1) as u32) + self.reasoning_tokens
    }

    /// The OpenAI `finish_reason`.
    pub fn openai_finish(&self) -> &'static str {
        match self.finish {
            "stop_sequence" => "stop",
            other => other,
        }
    }

    /// The Anthropic `stop_reason`.
    pub fn anthropic_stop(&self) -> &'static str {
        match self.finish {
            "stop" => "end_turn",
            "tool_calls" => "tool_use",
            "length" => "max_tokens",
            other => other,
        }
    }

    /// `s` cut into pieces of `fragment` characters (never mid-character).
    pub fn cut(&self, s: &str) -> Vec<String> {
        let chars: Vec<char> = s.chars().collect();
        chars
            .chunks(self.fragment.max(1))
            .map(|c| c.iter().collect())
            .collect()
    }
}

impl Default for Reply {
    fn default() -> Self {
        Reply::new()
    }
}

impl Behavior {
    pub fn ok(text: &str) -> Self {
        Behavior::Ok { text: text.into() }
    }

    /// `code` with an error body in the OpenAI shape (Anthropic's clients read it too).
    pub fn status(code: u16) -> Self {
        Behavior::Status {
            code,
            retry_after: None,
            body: error_body(&format!("fake failure {code}")),
        }
    }

    /// `429` with `Retry-After: secs`.
    pub fn rate_limited(secs: u64) -> Self {
        Behavior::Status {
            code: 429,
            retry_after: Some(secs),
            body: error_body("Rate limit reached, slow down"),
        }
    }

    pub fn status_with_message(code: u16, message: &str) -> Self {
        Behavior::Status {
            code,
            retry_after: None,
            body: error_body(message),
        }
    }
}

/// `{"error": {"message": …, "type": "fake_error"}}`.
pub fn error_body(message: &str) -> String {
    json!({ "error": { "message": message, "type": "fake_error" } }).to_string()
}

/// How an answer is split into streamed deltas: four characters each (never mid-character).
pub fn pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(4).map(|c| c.iter().collect()).collect()
}

/// One request as the upstream saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as JSON, `Null` when it was empty or not JSON.
    pub body: Value,
    /// The body's bytes as they came.
    pub raw: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    /// Notified each time a request is recorded (see [`FakeUpstream::wait_for_requests`]).
    arrived: std::sync::Condvar,
    queue: Mutex<VecDeque<Behavior>>,
    /// What an API request gets when the queue is empty (default: [`DEFAULT_TEXT`]).
    fallback: Mutex<Option<Behavior>>,
    /// A fixed wait before answering every API request.
    delay: Mutex<Duration>,
}

/// A running fake upstream; stops when dropped.
pub struct FakeUpstream {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeUpstream {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake upstream");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let thread = std::thread::Builder::new()
            .name("fake-upstream".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    // Not a graceful shutdown: slow and hanging requests must not hold up a
                    // test's end. Dropping the runtime below cancels every connection.
                    tokio::select! {
                        result = axum::serve(listener, app) => result.unwrap(),
                        _ = stopped => {}
                    }
                });
                runtime.shutdown_background();
            })
            .unwrap();
        FakeUpstream {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/v1`, the `base_url` of a provider.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// What every API request gets once the queue is empty (instead of [`DEFAULT_TEXT`]);
    /// never consumed, so one upstream can stand for a model with a fixed answer.
    pub fn set_default(&self, behavior: Behavior) {
        *self.shared.fallback.lock().unwrap() = Some(behavior);
    }

    /// Waits `delay` before answering every API request (before the headers), on top of
    /// whatever the behaviour does: a model with a fixed latency.
    pub fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap() = delay;
    }

    /// Queues behaviours for the next API requests, in order.
    pub fn push(&self, behaviors: impl IntoIterator<Item = Behavior>) {
        self.shared.queue.lock().unwrap().extend(behaviors);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Blocks until `n` requests have arrived (or panics after 30 s, when something is
    /// broken): a signal that the client is waiting for its answer, not a guess.
    pub fn wait_for_requests(&self, n: usize) {
        let requests = self.shared.requests.lock().unwrap();
        let (requests, timeout) = self
            .shared
            .arrived
            .wait_timeout_while(requests, Duration::from_secs(30), |r| r.len() < n)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "the fake upstream saw {} of {n} requests",
            requests.len()
        );
    }

    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }

    /// The most recent request; panics when there was none.
    pub fn last(&self) -> Recorded {
        self.requests()
            .pop()
            .expect("the fake upstream saw no request")
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A base URL where nothing listens, for good: its port is bound and never listened on (so
/// connections are refused), and the socket is kept for the life of the process, so no other
/// server started meanwhile (tests run many at once) can be handed the port.
pub fn refused_url() -> String {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    std::mem::forget(socket);
    format!("http://{addr}/v1")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Protocol {
    OpenAi,
    Anthropic,
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: json_body.clone(),
        raw: body.clone(),
    });
    shared.arrived.notify_all();
    let protocol = match (method.as_str(), path.as_str()) {
        ("POST", "/v1/chat/completions") => Protocol::OpenAi,
        ("POST", "/v1/messages") => Protocol::Anthropic,
        ("POST", "/v1/responses") => {
            // A Responses-native upstream: status behaviours fail it, else a fixed answer.
            if let Behavior::Status {
                code,
                retry_after,
                body,
            } = next(&shared)
            {
                return status_response(code, retry_after, body);
            }
            return native_response(&json_body);
        }
        ("POST", "/v1/embeddings") => {
            // Status behaviours fail it; anything else answers with deterministic vectors.
            if let Behavior::Status {
                code,
                retry_after,
                body,
            } = next(&shared)
            {
                return status_response(code, retry_after, body);
            }
            return plain(StatusCode::OK, embeddings(&json_body).to_string());
        }
        ("GET", "/v1/models") => {
            // Only a status behaviour changes the list; anything else answers normally.
            if let Behavior::Status {
                code,
                retry_after,
                body,
            } = next(&shared)
            {
                return status_response(code, retry_after, body);
            }
            return models(headers.contains_key("anthropic-version"));
        }
        _ => return plain(StatusCode::NOT_FOUND, error_body("no such route")),
    };
    if protocol == Protocol::Anthropic && json_body.get("max_tokens").is_none() {
        // As the real API does: `max_tokens` is required.
        return plain(
            StatusCode::BAD_REQUEST,
            json!({ "type": "error", "error": { "type": "invalid_request_error", "message": "max_tokens: Field required" } })
                .to_string(),
        );
    }
    let stream = json_body.get("stream").and_then(Value::as_bool) == Some(true);
    let answer = Answer::new(protocol, &json_body);
    let delay = *shared.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match next(&shared) {
        Behavior::Reply(reply) => {
            if stream {
                let events = answer.reply_events(&reply);
                response(
                    true,
                    Body::from_stream(futures::stream::iter(
                        events.into_iter().map(Ok::<_, std::io::Error>),
                    )),
                )
            } else {
                response(false, Body::from(answer.reply_whole(&reply)))
            }
        }
        Behavior::Ok { text } => answer.respond(stream, &text, Pace::Whole),
        Behavior::Fragmented { text, frame_bytes } => {
            answer.respond(stream, &text, Pace::Frames(frame_bytes))
        }
        Behavior::Status {
            code,
            retry_after,
            body,
        } => status_response(code, retry_after, body),
        Behavior::Delay { before_headers } => {
            tokio::time::sleep(before_headers).await;
            answer.respond(stream, DEFAULT_TEXT, Pace::Whole)
        }
        Behavior::SlowDrip { chunk_delay } => {
            answer.respond(stream, DEFAULT_TEXT, Pace::Drip(chunk_delay))
        }
        Behavior::DisconnectMidStream => {
            let chunks = if stream {
                answer.events(DEFAULT_TEXT)
            } else {
                vec![answer.whole(DEFAULT_TEXT)]
            };
            // Half the answer, then an error from the body stream: the connection is cut
            // without the terminating chunk.
            let mut first_half: Vec<Bytes> = Vec::new();
            if stream {
                // Up to the second delta: the caller has seen text when the cut comes.
                first_half.extend(chunks.into_iter().take(answer.first_delta() + 2));
            } else {
                let whole = &chunks[0];
                first_half.push(whole.slice(..whole.len() / 2));
            }
            let body = async_stream::stream! {
                for chunk in first_half {
                    yield Ok::<Bytes, std::io::Error>(chunk);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                yield Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut off"));
            };
            response(stream, Body::from_stream(body))
        }
        Behavior::ErrorMidStream { message } => {
            if !stream {
                return status_response(500, None, error_body(&message));
            }
            let events = answer.events(DEFAULT_TEXT);
            let mut body = events[..=answer.first_delta()].concat();
            body.extend_from_slice(&answer.error_event(&message));
            response(true, Body::from(body))
        }
        Behavior::MalformedJson => {
            if stream {
                let body = Bytes::from_static(b"data: {\"choices\": [ this is not json\n\n");
                response(true, Body::from(body))
            } else {
                response(false, Body::from("{\"choices\": [ this is not json"))
            }
        }
        Behavior::Oversized { bytes } => {
            let mut head = if stream {
                answer.events(DEFAULT_TEXT)[..=answer.first_delta()].concat()
            } else {
                Vec::new()
            };
            head.extend_from_slice(if stream {
                b"data: "
            } else {
                b"{\"choices\":[{\"message\":{\"content\":\""
            });
            let pad = Bytes::from(vec![b'x'; 64 * 1024]);
            let chunks = std::iter::once(Bytes::from(head))
                .chain(std::iter::repeat_n(pad, bytes.div_ceil(64 * 1024)))
                .map(Ok::<_, std::io::Error>);
            response(stream, Body::from_stream(futures::stream::iter(chunks)))
        }
        Behavior::MalformedSse => {
            let events = answer.events("fine so far");
            let mut body = events[..=answer.first_delta()].concat();
            body.extend_from_slice(b"data: \xff\xfe\xfd broken\n\n");
            response(stream, Body::from(body))
        }
    }
}

fn next(shared: &Shared) -> Behavior {
    shared
        .queue
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| shared.fallback.lock().unwrap().clone())
        .unwrap_or_else(|| Behavior::ok(DEFAULT_TEXT))
}

fn plain(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

fn status_response(code: u16, retry_after: Option<u64>, body: String) -> Response {
    let mut builder = Response::builder()
        .status(code)
        .header("content-type", "application/json");
    if let Some(secs) = retry_after {
        builder = builder.header("retry-after", secs.to_string());
    }
    builder.body(Body::from(body)).unwrap()
}

fn response(stream: bool, body: Body) -> Response {
    let content_type = if stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .body(body)
        .unwrap()
}

fn models(anthropic: bool) -> Response {
    let data: Vec<Value> = MODEL_IDS
        .iter()
        .map(|id| {
            if anthropic {
                json!({ "id": id, "type": "model", "display_name": id, "created_at": "2025-01-01T00:00:00Z" })
            } else {
                json!({ "id": id, "object": "model", "created": 0, "owned_by": "fake" })
            }
        })
        .collect();
    let body = if anthropic {
        json!({ "data": data, "has_more": false, "first_id": MODEL_IDS[0], "last_id": MODEL_IDS[1] })
    } else {
        json!({ "object": "list", "data": data })
    };
    plain(StatusCode::OK, body.to_string())
}

enum Pace {
    /// Each chunk as soon as possible.
    Whole,
    /// The body re-cut into frames of this many bytes.
    Frames(usize),
    /// This long between chunks.
    Drip(Duration),
}

/// One answer in one protocol, shaped by the request.
struct Answer {
    protocol: Protocol,
    model: String,
    max_tokens: Option<usize>,
    include_usage: bool,
}

impl Answer {
    fn new(protocol: Protocol, body: &Value) -> Self {
        Answer {
            protocol,
            model: body
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            max_tokens: body
                .get("max_tokens")
                .or_else(|| body.get("max_completion_tokens"))
                .and_then(Value::as_u64)
                .map(|n| n as usize),
            include_usage: body.pointer("/stream_options/include_usage") == Some(&json!(true)),
        }
    }

    /// The index in [`Answer::events`] of the first text delta.
    fn first_delta(&self) -> usize {
        match self.protocol {
            Protocol::OpenAi => 1,
            Protocol::Anthropic => 3,
        }
    }

    /// The pieces sent and whether `max_tokens` cut the answer.
    fn cut(&self, text: &str) -> (Vec<String>, bool) {
        let mut pieces = pieces(text);
        match self.max_tokens {
            Some(n) if n < pieces.len() => {
                pieces.truncate(n);
                (pieces, true)
            }
            _ => (pieces, false),
        }
    }

    fn respond(&self, stream: bool, text: &str, pace: Pace) -> Response {
        let chunks = if stream {
            self.events(text)
        } else {
            vec![self.whole(text)]
        };
        let body = match pace {
            Pace::Whole if !stream => Body::from(chunks.into_iter().next().unwrap()),
            Pace::Whole => Body::from_stream(futures::stream::iter(
                chunks.into_iter().map(Ok::<_, std::io::Error>),
            )),
            Pace::Frames(n) => {
                let all: Vec<u8> = chunks.concat();
                let frames: Vec<Bytes> = all.chunks(n.max(1)).map(Bytes::copy_from_slice).collect();
                Body::from_stream(paced(frames, Duration::from_millis(2)))
            }
            Pace::Drip(delay) => {
                let chunks = if stream {
                    chunks
                } else {
                    let whole = chunks.into_iter().next().unwrap();
                    whole.chunks(16).map(Bytes::copy_from_slice).collect()
                };
                Body::from_stream(paced(chunks, delay))
            }
        };
        response(stream, body)
    }

    /// The whole (non-streamed) response body.
    fn whole(&self, text: &str) -> Bytes {
        let (pieces, cut) = self.cut(text);
        let text: String = pieces.concat();
        let output = pieces.len() as u32;
        let body = match self.protocol {
            Protocol::OpenAi => json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": self.model,
                "choices": [{
                    "index": 0,
                    "message": { "role": "assistant", "content": text },
                    "finish_reason": if cut { "length" } else { "stop" },
                }],
                "usage": { "prompt_tokens": INPUT_TOKENS, "completion_tokens": output, "total_tokens": INPUT_TOKENS + output },
            }),
            Protocol::Anthropic => json!({
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [{ "type": "text", "text": text }],
                "stop_reason": if cut { "max_tokens" } else { "end_turn" },
                "stop_sequence": null,
                "usage": { "input_tokens": INPUT_TOKENS, "output_tokens": output },
            }),
        };
        Bytes::from(body.to_string())
    }

    /// A scripted reply, whole.
    fn reply_whole(&self, reply: &Reply) -> Bytes {
        let output = reply.output_tokens();
        let body = match self.protocol {
            Protocol::OpenAi => {
                let mut text: Option<String> = None;
                let mut reasoning: Option<String> = None;
                let mut calls = Vec::new();
                for block in &reply.blocks {
                    match block {
                        ReplyBlock::Thinking { text: t, .. } => {
                            reasoning.get_or_insert_with(String::new).push_str(t)
                        }
                        ReplyBlock::Text(t) => text.get_or_insert_with(String::new).push_str(t),
                        ReplyBlock::ToolCall {
                            id,
                            name,
                            arguments,
                        } => calls.push(json!({
                            "id": id, "type": "function",
                            "function": { "name": name, "arguments": arguments },
                        })),
                    }
                }
                let mut message = json!({ "role": "assistant", "content": text });
                if let Some(r) = reasoning {
                    message["reasoning_content"] = json!(r);
                }
                if !calls.is_empty() {
                    message["tool_calls"] = json!(calls);
                }
                json!({
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": 0,
                    "model": self.model,
                    "choices": [{ "index": 0, "message": message, "finish_reason": reply.openai_finish() }],
                    "usage": openai_reply_usage(reply),
                })
            }
            Protocol::Anthropic => {
                let content: Vec<Value> = reply
                    .blocks
                    .iter()
                    .map(|block| match block {
                        ReplyBlock::Thinking { text, signature } => {
                            json!({ "type": "thinking", "thinking": text, "signature": signature })
                        }
                        ReplyBlock::Text(text) => json!({ "type": "text", "text": text }),
                        ReplyBlock::ToolCall {
                            id,
                            name,
                            arguments,
                        } => json!({
                            "type": "tool_use", "id": id, "name": name,
                            "input": tool_input(arguments),
                        }),
                    })
                    .collect();
                json!({
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": content,
                    "stop_reason": reply.anthropic_stop(),
                    "stop_sequence": reply.stop_sequence,
                    "usage": {
                        "input_tokens": INPUT_TOKENS,
                        "cache_read_input_tokens": reply.cache_read,
                        "cache_creation_input_tokens": reply.cache_write,
                        "output_tokens": output,
                    },
                })
            }
        };
        Bytes::from(body.to_string())
    }

    /// A scripted reply, streamed: one SSE event per element.
    fn reply_events(&self, reply: &Reply) -> Vec<Bytes> {
        let mut events = Vec::new();
        match self.protocol {
            Protocol::OpenAi => {
                let chunk = |delta: Value, finish: Value| {
                    let data = json!({
                        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                        "model": self.model,
                        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
                    });
                    Bytes::from(format!("data: {data}\n\n"))
                };
                let has_text = reply
                    .blocks
                    .iter()
                    .any(|b| matches!(b, ReplyBlock::Text(_)));
                let role_content = if has_text { json!("") } else { Value::Null };
                events.push(chunk(
                    json!({ "role": "assistant", "content": role_content }),
                    Value::Null,
                ));
                let mut ordinal = 0;
                for block in &reply.blocks {
                    match block {
                        ReplyBlock::Thinking { text, .. } => {
                            for piece in reply.cut(text) {
                                events.push(chunk(
                                    json!({ "reasoning_content": piece }),
                                    Value::Null,
                                ));
                            }
                        }
                        ReplyBlock::Text(text) => {
                            for piece in reply.cut(text) {
                                events.push(chunk(json!({ "content": piece }), Value::Null));
                            }
                        }
                        ReplyBlock::ToolCall {
                            id,
                            name,
                            arguments,
                        } => {
                            events.push(chunk(
                                json!({ "tool_calls": [{
                                    "index": ordinal, "id": id, "type": "function",
                                    "function": { "name": name, "arguments": "" },
                                }] }),
                                Value::Null,
                            ));
                            for piece in reply.cut(arguments) {
                                events.push(chunk(
                                    json!({ "tool_calls": [{ "index": ordinal, "function": { "arguments": piece } }] }),
                                    Value::Null,
                                ));
                            }
                            ordinal += 1;
                        }
                    }
                }
                events.push(chunk(json!({}), json!(reply.openai_finish())));
                if self.include_usage {
                    let data = json!({
                        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                        "model": self.model, "choices": [],
                        "usage": openai_reply_usage(reply),
                    });
                    events.push(Bytes::from(format!("data: {data}\n\n")));
                }
                events.push(Bytes::from_static(b"data: [DONE]\n\n"));
            }
            Protocol::Anthropic => {
                let event =
                    |name: &str, v: Value| Bytes::from(format!("event: {name}\ndata: {v}\n\n"));
                events.push(event(
                    "message_start",
                    json!({ "type": "message_start", "message": {
                        "id": "msg_fake", "type": "message", "role": "assistant", "content": [],
                        "model": self.model, "stop_reason": null, "stop_sequence": null,
                        "usage": {
                            "input_tokens": INPUT_TOKENS,
                            "cache_read_input_tokens": reply.cache_read,
                            "cache_creation_input_tokens": reply.cache_write,
                            "output_tokens": 1,
                        },
                    }}),
                ));
                for (index, block) in reply.blocks.iter().enumerate() {
                    let delta = |delta: Value| {
                        event(
                            "content_block_delta",
                            json!({ "type": "content_block_delta", "index": index, "delta": delta }),
                        )
                    };
                    let start = match block {
                        ReplyBlock::Thinking { .. } => {
                            json!({ "type": "thinking", "thinking": "" })
                        }
                        ReplyBlock::Text(_) => json!({ "type": "text", "text": "" }),
                        ReplyBlock::ToolCall { id, name, .. } => {
                            json!({ "type": "tool_use", "id": id, "name": name, "input": {} })
                        }
                    };
                    events.push(event(
                        "content_block_start",
                        json!({ "type": "content_block_start", "index": index, "content_block": start }),
                    ));
                    if index == 0 {
                        events.push(event("ping", json!({ "type": "ping" })));
                    }
                    match block {
                        ReplyBlock::Thinking { text, signature } => {
                            for piece in reply.cut(text) {
                                events.push(delta(
                                    json!({ "type": "thinking_delta", "thinking": piece }),
                                ));
                            }
                            if !signature.is_empty() {
                                events.push(delta(
                                    json!({ "type": "signature_delta", "signature": signature }),
                                ));
                            }
                        }
                        ReplyBlock::Text(text) => {
                            for piece in reply.cut(text) {
                                events.push(delta(json!({ "type": "text_delta", "text": piece })));
                            }
                        }
                        ReplyBlock::ToolCall { arguments, .. } => {
                            events.push(delta(
                                json!({ "type": "input_json_delta", "partial_json": "" }),
                            ));
                            for piece in reply.cut(arguments) {
                                events.push(delta(
                                    json!({ "type": "input_json_delta", "partial_json": piece }),
                                ));
                            }
                        }
                    }
                    events.push(event(
                        "content_block_stop",
                        json!({ "type": "content_block_stop", "index": index }),
                    ));
                }
                events.push(event(
                    "message_delta",
                    json!({ "type": "message_delta",
                        "delta": { "stop_reason": reply.anthropic_stop(), "stop_sequence": reply.stop_sequence },
                        "usage": { "output_tokens": reply.output_tokens() } }),
                ));
                events.push(event("message_stop", json!({ "type": "message_stop" })));
            }
        }
        events
    }

    /// An error event in the middle of a stream.
    fn error_event(&self, message: &str) -> Bytes {
        match self.protocol {
            Protocol::OpenAi => Bytes::from(format!(
                "data: {}\n\n",
                json!({ "error": { "message": message, "type": "server_error" } })
            )),
            Protocol::Anthropic => Bytes::from(format!(
                "event: error\ndata: {}\n\n",
                json!({ "type": "error", "error": { "type": "overloaded_error", "message": message } })
            )),
        }
    }

    /// The streamed body, one SSE event per element.
    fn events(&self, text: &str) -> Vec<Bytes> {
        let (pieces, cut) = self.cut(text);
        let output = pieces.len() as u32;
        let mut events = Vec::new();
        match self.protocol {
            Protocol::OpenAi => {
                let chunk = |delta: Value, finish: Value| {
                    json!({
                        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                        "model": self.model,
                        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
                    })
                };
                let data = |v: Value| Bytes::from(format!("data: {v}\n\n"));
                events.push(data(chunk(
                    json!({ "role": "assistant", "content": "" }),
                    Value::Null,
                )));
                for piece in &pieces {
                    events.push(data(chunk(json!({ "content": piece }), Value::Null)));
                }
                let finish = if cut { "length" } else { "stop" };
                events.push(data(chunk(json!({}), json!(finish))));
                if self.include_usage {
                    events.push(data(json!({
                        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                        "model": self.model, "choices": [],
                        "usage": { "prompt_tokens": INPUT_TOKENS, "completion_tokens": output, "total_tokens": INPUT_TOKENS + output },
                    })));
                }
                events.push(Bytes::from_static(b"data: [DONE]\n\n"));
            }
            Protocol::Anthropic => {
                let event =
                    |name: &str, v: Value| Bytes::from(format!("event: {name}\ndata: {v}\n\n"));
                events.push(event(
                    "message_start",
                    json!({ "type": "message_start", "message": {
                        "id": "msg_fake", "type": "message", "role": "assistant", "content": [],
                        "model": self.model, "stop_reason": null, "stop_sequence": null,
                        "usage": { "input_tokens": INPUT_TOKENS, "output_tokens": 1 },
                    }}),
                ));
                events.push(event(
                    "content_block_start",
                    json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
                ));
                events.push(event("ping", json!({ "type": "ping" })));
                for piece in &pieces {
                    events.push(event(
                        "content_block_delta",
                        json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": piece } }),
                    ));
                }
                events.push(event(
                    "content_block_stop",
                    json!({ "type": "content_block_stop", "index": 0 }),
                ));
                let stop = if cut { "max_tokens" } else { "end_turn" };
                events.push(event(
                    "message_delta",
                    json!({ "type": "message_delta", "delta": { "stop_reason": stop, "stop_sequence": null }, "usage": { "output_tokens": output } }),
                ));
                events.push(event("message_stop", json!({ "type": "message_stop" })));
            }
        }
        events
    }
}

/// The OpenAI `usage` of a scripted reply.
fn openai_reply_usage(reply: &Reply) -> Value {
    let prompt = INPUT_TOKENS + reply.cache_read;
    let output = reply.output_tokens();
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
        "prompt_tokens_details": { "cached_tokens": reply.cache_read },
        "completion_tokens_details": { "reasoning_tokens": reply.reasoning_tokens },
    })
}

/// A tool call's arguments as an Anthropic `input` object (`""` is `{}`).
fn tool_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(arguments).expect("a scripted tool call's arguments are JSON")
    }
}

/// The chunks with `delay` before each one after the first.
fn paced(
    chunks: Vec<Bytes>,
    delay: Duration,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    async_stream::stream! {
        for (i, chunk) in chunks.into_iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(delay).await;
            }
            yield Ok(chunk);
        }
    }
}

/// An embeddings answer: for input `i`, `[length, i, 0.5, …]` with `dimensions` entries (3
/// by default), where length is the text's chars or the token count; 1 token per 4 chars.
pub fn embeddings(body: &Value) -> Value {
    let dims = body["dimensions"].as_u64().unwrap_or(3) as usize;
    let inputs: Vec<(usize, usize)> = match &body["input"] {
        Value::String(s) => vec![(s.chars().count(), s.len().div_ceil(4))],
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => (s.chars().count(), s.len().div_ceil(4)),
                Value::Array(t) => (t.len(), t.len()),
                _ => (1, 1),
            })
            .collect(),
        _ => Vec::new(),
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, (len, _))| {
            let mut v = vec![*len as f64, i as f64];
            v.resize(dims, 0.5);
            json!({ "object": "embedding", "index": i, "embedding": v })
        })
        .collect();
    let tokens: usize = inputs.iter().map(|(_, t)| t).sum();
    json!({ "object": "list", "data": data, "model": body["model"],
            "usage": { "prompt_tokens": tokens, "total_tokens": tokens } })
}

/// The text a Responses-native upstream answers.
pub const NATIVE_TEXT: &str = "A native Responses answer.";

/// A Responses API answer (whole, or its event stream) naming the request's model.
fn native_response(body: &Value) -> Response {
    let answer = json!({ "id": "resp_native_1", "object": "response", "status": "completed",
        "model": body["model"], "output": [{ "type": "message", "id": "msg_n1", "role": "assistant",
        "status": "completed", "content": [{ "type": "output_text", "text": NATIVE_TEXT, "annotations": [] }] }] });
    if body["stream"] != Value::Bool(true) {
        return plain(StatusCode::OK, answer.to_string());
    }
    let events = [
        (
            "response.created",
            json!({ "type": "response.created", "sequence_number": 0, "response": answer }),
        ),
        (
            "response.output_text.delta",
            json!({ "type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_n1", "output_index": 0, "content_index": 0, "delta": NATIVE_TEXT }),
        ),
        (
            "response.completed",
            json!({ "type": "response.completed", "sequence_number": 2, "response": answer }),
        ),
    ];
    let text: String = events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
    response(true, Body::from(text))
}
