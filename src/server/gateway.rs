//! What both protocols and the native API share around a routed request: sessions, the
//! response cache, token accounting for rate limits, usage/TTFT metrics and cluster counters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::cooperation::ModeSpec;
use crate::protocol::verbatim::Verbatim;
use crate::providers::EventStream;
use crate::router::{Attempt, Preferences};
use crate::types::{
    Assembler, ChatRequest, ChatResponse, ContentPart, FinishReason, Message, Role, StreamEvent,
    Usage,
};

/// The id of the gateway token a request came with (a hash, never the token).
#[derive(Debug, Clone)]
pub struct TokenId(pub String);

/// What a client names `id` (a session, a stored response), as kept for `token`: each token
/// has its own ids; without gateway tokens, ids are shared as they come.
pub fn scoped(token: &Option<TokenId>, id: &str) -> String {
    match token {
        Some(t) => format!("{}:{id}", t.0),
        None => id.to_owned(),
    }
}

/// A request as a handler hands it over.
#[derive(Debug)]
pub struct Completion {
    pub req: ChatRequest,
    pub prefs: Preferences,
    /// Keeps history under this id when set.
    pub session: Option<String>,
    /// The request asked for its answer to be cached (`"cache": true` or `x-cache: on`).
    pub cache: bool,
    pub token: Option<TokenId>,
}

/// A whole answer and who produced it.
#[derive(Debug)]
pub struct Answered {
    pub response: ChatResponse,
    pub attempts: Vec<Attempt>,
    pub strategy: &'static str,
    /// Served from the response cache (no tokens spent).
    pub cached: bool,
    /// The receipt, when several models cooperated.
    pub receipt: Option<serde_json::Value>,
}

impl Answered {
    /// An answer one routed model gave now (not from the cache, no cooperation).
    fn routed(routed: crate::router::Routed<ChatResponse>) -> Self {
        Answered {
            strategy: routed.decision.ranking.strategy,
            response: routed.value,
            attempts: routed.attempts,
            cached: false,
            receipt: None,
        }
    }
}

/// The cooperation a request asks for: a virtual model (`coop/…`), or a complex request the
/// router may hand to several models because it allows cooperation.
fn cooperation_for(
    state: &AppState,
    c: &Completion,
) -> Result<Option<(ModeSpec, String)>, ApiError> {
    if ModeSpec::is_virtual_model(&c.req.model) {
        if let Some(field) = beyond_text(&c.req) {
            return Err(ApiError::bad_request(format!(
                "`{field}` cannot be served by the cooperation `{}`: cooperation modes work on text (members get the conversation's text and answer in text); remove `{field}` or name one model",
                c.req.model
            )));
        }
        let mut spec =
            ModeSpec::parse_virtual_model(&c.req.model).map_err(super::coop::coop_error)?;
        spec.max_tokens = c.req.max_tokens;
        spec.temperature = c.req.temperature.map(|t| t as f32);
        return Ok(Some((spec, c.req.model.clone())));
    }
    if c.prefs.allow_cooperation
        && !crate::router::Router::is_explicit(&c.req.model)
        && beyond_text(&c.req).is_none()
    {
        let decision = state.live().router.decide(&c.req, &c.prefs)?;
        if let Some(mut spec) = crate::cooperation::auto::for_decision(&decision) {
            spec.max_tokens = c.req.max_tokens;
            spec.temperature = c.req.temperature.map(|t| t as f32);
            let name = format!("coop/{}:{}", spec.mode, spec.models.join(","));
            return Ok(Some((spec, name)));
        }
    }
    Ok(None)
}

/// The first field of a request that a cooperation (which works on text) cannot carry.
fn beyond_text(req: &ChatRequest) -> Option<&'static str> {
    if !req.tools.is_empty() {
        return Some("tools");
    }
    if req.uses_tools() {
        return Some("messages");
    }
    if req.response_format.is_some() {
        return Some("response_format");
    }
    if req.wants_reasoning() {
        return Some("reasoning");
    }
    if req.n.is_some_and(|n| n > 1) {
        return Some("n");
    }
    if req.logprobs == Some(true) {
        return Some("logprobs");
    }
    if req
        .passthrough
        .as_ref()
        .is_some_and(|(_, p)| !p.fields.is_empty())
    {
        return Some("passthrough fields");
    }
    None
}

/// What the cache keeps of an answer: its parts, not only its text.
#[derive(Debug, Serialize, Deserialize)]
struct CachedAnswer {
    content: Vec<ContentPart>,
    model: String,
    provider: String,
    finish_reason: FinishReason,
    #[serde(default)]
    stop_sequence: Option<String>,
}

impl CachedAnswer {
    fn of(r: &ChatResponse) -> Self {
        CachedAnswer {
            content: r.content.clone(),
            model: r.model.clone(),
            provider: r.provider.clone(),
            finish_reason: r.finish_reason.clone(),
            stop_sequence: r.stop_sequence.clone(),
        }
    }

    fn into_response(self) -> ChatResponse {
        ChatResponse {
            content: self.content,
            model: self.model,
            provider: self.provider,
            finish_reason: self.finish_reason,
            stop_sequence: self.stop_sequence,
            usage: Usage::default(),
            logprobs: None,
            more_choices: Vec::new(),
            latency: Duration::ZERO,
            ttft: None,
        }
    }
}

/// Whether a request would get the same answer twice.
fn deterministic(req: &ChatRequest) -> bool {
    (req.temperature == Some(0.0) || req.seed.is_some()) && req.n.unwrap_or(1) <= 1
}

/// A 128-bit key over everything that shapes the answer.
fn cache_key(req: &ChatRequest) -> String {
    // Everything but `stream`: a whole and a streamed request share their answer.
    let body = serde_json::to_string(&(
        (&req.model, &req.messages, req.max_tokens, req.temperature),
        (req.top_p, req.top_k, &req.stop, req.seed, &req.user),
        (&req.tools, &req.tool_choice, req.parallel_tool_calls),
        (&req.response_format, &req.reasoning, req.n),
        (req.logprobs, req.top_logprobs, &req.passthrough),
    ))
    .unwrap_or_default();
    let mut h = crate::store::hash::StableHasher::new("response-cache");
    format!("{:032x}", h.write(body.as_bytes()).finish128())
}

impl AppState {
    fn cache_key_for(&self, c: &Completion) -> Option<String> {
        (c.cache || (self.policies.cache_by_default && deterministic(&c.req)))
            .then(|| cache_key(&c.req))
    }

    /// Loads the session into the request; returns the messages to record afterwards. A
    /// session belongs to the token that opened it: the same id under another token is
    /// another session (without gateway tokens, ids are shared as they come).
    async fn open_session(&self, c: &mut Completion) -> Vec<Message> {
        if let Some(id) = &mut c.session {
            *id = scoped(&c.token, id);
        }
        // Only a session keeps them: without one, nothing is copied.
        let new: Vec<Message> = match c.session {
            Some(_) => c
                .req
                .messages
                .iter()
                .filter(|m| m.role != Role::System)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        if let Some(id) = &c.session {
            let history = self.shared.session_history(id).await;
            c.req.messages =
                super::sessions::with_history(history, std::mem::take(&mut c.req.messages));
        }
        new
    }

    async fn close_session(
        &self,
        session: &Option<String>,
        mut new: Vec<Message>,
        answer: &[ContentPart],
    ) {
        if let Some(id) = session {
            new.push(Message::new(Role::Assistant, answer.to_vec()));
            self.shared
                .session_append(
                    id,
                    new,
                    self.policies.session_ttl,
                    self.policies.session_max_messages,
                )
                .await;
        }
    }

    /// Token accounting, metrics and (when shared) cluster counters for a finished answer.
    pub(super) async fn account(&self, token: &Option<TokenId>, model: &str, usage: &Usage) {
        self.metrics.record_usage(model, usage);
        if let Some(t) = token
            && self.policies.rate_limits.tokens_per_minute.is_some()
        {
            self.shared
                .rate_add_tokens(&t.0, usage.total().into())
                .await;
        }
        if self.is_shared() {
            self.shared
                .counters_add(vec![
                    ("requests".into(), 1),
                    ("succeeded".into(), 1),
                    (format!("pick:{model}"), 1),
                ])
                .await;
        }
    }

    pub(super) async fn count_failure(&self) {
        if self.is_shared() {
            self.shared
                .counters_add(vec![("requests".into(), 1), ("failed".into(), 1)])
                .await;
        }
    }
}

/// Routes a request and waits for the whole answer (or serves it from the cache).
pub async fn complete(state: &AppState, mut c: Completion) -> Result<Answered, ApiError> {
    let key = state.cache_key_for(&c);
    if let Some(key) = &key
        && let Some(hit) = state.shared.cache_get(key).await
        && let Ok(hit) = serde_json::from_str::<CachedAnswer>(&hit)
    {
        let new = state.open_session(&mut c).await;
        state.close_session(&c.session, new, &hit.content).await;
        return Ok(Answered {
            response: hit.into_response(),
            attempts: Vec::new(),
            strategy: "cache",
            cached: true,
            receipt: None,
        });
    }
    let new = state.open_session(&mut c).await;
    if let Some((spec, name)) = cooperation_for(state, &c)? {
        let input = super::coop::input_of(&c.req);
        let answer = match super::coop::run(state.live().router.clone(), &spec, &input, &name).await
        {
            Ok(a) => a,
            Err(e) => {
                state.count_failure().await;
                return Err(e);
            }
        };
        state.account(&c.token, &name, &answer.response.usage).await;
        state
            .close_session(&c.session, new, &answer.response.content)
            .await;
        return Ok(Answered {
            response: answer.response,
            attempts: Vec::new(),
            strategy: "cooperation",
            cached: false,
            receipt: Some(answer.receipt),
        });
    }
    let live = state.live();
    let routed = match live.router.chat(c.req, &c.prefs).await {
        Ok(r) => r,
        Err(e) => {
            state.count_failure().await;
            return Err(e.into());
        }
    };
    let r = &routed.value;
    state.account(&c.token, &r.model, &r.usage).await;
    state.close_session(&c.session, new, &r.content).await;
    if let Some(key) = &key {
        let cached = CachedAnswer::of(r);
        if let Ok(value) = serde_json::to_string(&cached) {
            state
                .shared
                .cache_put(key, value, state.policies.cache_ttl)
                .await;
        }
    }
    Ok(Answered::routed(routed))
}

/// Routes a request and opens its stream (or replays a cached answer as one); the model name
/// comes back for the response. The stream records TTFT, usage, the session and the cache
/// when it ends.
pub async fn stream(
    state: &Arc<AppState>,
    mut c: Completion,
) -> Result<(EventStream, String), ApiError> {
    let key = state.cache_key_for(&c);
    if let Some(k) = &key
        && let Some(hit) = state.shared.cache_get(k).await
        && let Ok(hit) = serde_json::from_str::<CachedAnswer>(&hit)
    {
        let new = state.open_session(&mut c).await;
        state.close_session(&c.session, new, &hit.content).await;
        let resp = hit.into_response();
        let events: Vec<_> = resp.to_events().into_iter().map(Ok).collect();
        return Ok((futures::stream::iter(events).boxed(), resp.model));
    }
    if cooperation_for(state, &c)?.is_some() {
        // A cooperation answers once it is done: stream its result as one piece.
        let answered = complete(state, c).await?;
        let r = answered.response;
        let events: Vec<_> = r.to_events().into_iter().map(Ok).collect();
        return Ok((futures::stream::iter(events).boxed(), r.model));
    }
    let new = state.open_session(&mut c).await;
    let live = state.live();
    let started = Instant::now();
    let routed = match live.router.chat_stream(c.req, &c.prefs).await {
        Ok(r) => r,
        Err(e) => {
            state.count_failure().await;
            return Err(e.into());
        }
    };
    Ok(accounted(
        state, routed, started, c.session, c.token, key, new,
    ))
}

/// The model a request can go to as its client wrote it (see [`Verbatim`]), when nothing
/// the gateway does needs its content: no session, no response cache, a model named
/// explicitly whose every deployment speaks the client's protocol and can take anything
/// (`Router::verbatim_model`). `None`: the request is decoded. `forwarded`: the protocol's
/// headers that travel with it.
pub fn verbatim(
    state: &AppState,
    protocol: crate::types::Protocol,
    body: &bytes::Bytes,
    headers: &axum::http::HeaderMap,
    forwarded: Vec<(String, String)>,
) -> Option<Forwarding> {
    if !state.policies.forward_as_written
        || state.policies.cache_by_default
        || super::openai::wants_cache(headers, false)
        || super::openai::session_id(headers, None).is_some()
    {
        return None;
    }
    let mut req = Verbatim::parse(protocol, body.clone())?;
    req.headers = forwarded;
    let router = state.live().router.clone();
    let model = router.verbatim_model(&req)?;
    Some(Forwarding {
        router,
        model,
        req: Arc::new(req),
    })
}

/// A request to forward as written: the router that chose its model (a reload in between
/// must not turn the model's index into another model's) and the request.
pub struct Forwarding {
    router: Arc<crate::router::Router>,
    model: usize,
    pub req: Arc<Verbatim>,
}

/// An upstream's error for a request forwarded as written: when it refused the request
/// (400, 422) and the gateway's decoder refuses it too, the decoder's message, which names
/// the field and what to send; otherwise the upstream's.
pub fn judged(error: ApiError, decode: impl FnOnce() -> Result<(), ApiError>) -> ApiError {
    use axum::http::StatusCode;
    if matches!(
        error.status,
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
    ) && let Err(refusal) = decode()
    {
        return refusal;
    }
    error
}

/// A request forwarded as its client wrote it (see [`Verbatim`]; the handler
/// checked that no session, cache or cooperation applies): routed, answered, accounted.
pub async fn forward(
    state: &AppState,
    f: Forwarding,
    token: Option<TokenId>,
) -> Result<Answered, ApiError> {
    let routed = match f.router.forward(f.model, f.req).await {
        Ok(r) => r,
        Err(e) => {
            state.count_failure().await;
            return Err(e.into());
        }
    };
    let r = &routed.value;
    state.account(&token, &r.model, &r.usage).await;
    Ok(Answered::routed(routed))
}

/// [`forward`], streamed.
pub async fn forward_stream(
    state: &Arc<AppState>,
    f: Forwarding,
    token: Option<TokenId>,
) -> Result<(EventStream, String), ApiError> {
    let started = Instant::now();
    let routed = match f.router.forward_stream(f.model, f.req).await {
        Ok(r) => r,
        Err(e) => {
            state.count_failure().await;
            return Err(e.into());
        }
    };
    Ok(accounted(
        state,
        routed,
        started,
        None,
        token,
        None,
        Vec::new(),
    ))
}

/// A routed stream that records TTFT, usage, the session and the cache when it ends; with
/// the name of the model that serves it.
fn accounted(
    state: &Arc<AppState>,
    routed: crate::router::Routed<EventStream>,
    started: Instant,
    session: Option<String>,
    token: Option<TokenId>,
    key: Option<String>,
    new: Vec<Message>,
) -> (EventStream, String) {
    let answered = routed.attempts.last();
    let model = answered.map(|a| a.model.clone()).unwrap_or_default();
    let provider = answered.map(|a| a.provider.clone()).unwrap_or_default();
    let state = state.clone();
    let model_for_stream = model.clone();
    let keep_answer = session.is_some() || key.is_some();
    let mut inner = routed.value;
    let wrapped = async_stream::stream! {
        let mut answer = Assembler::default();
        let mut usage = Usage::default();
        let mut first = true;
        while let Some(event) = inner.next().await {
            match &event {
                Ok(e) => {
                    if first && e.is_output() {
                        first = false;
                        state
                            .metrics
                            .ttft
                            .get_or_create(&super::metrics::ModelLabel { model: model_for_stream.clone() })
                            .observe(started.elapsed().as_secs_f64());
                    }
                    if keep_answer {
                        answer.push(e);
                    }
                    match e {
                        StreamEvent::Usage(u) => usage = *u,
                        StreamEvent::Done(_) => {
                            state.account(&token, &model_for_stream, &usage).await;
                            let mut whole = std::mem::take(&mut answer).into_response();
                            whole.model = model_for_stream.clone();
                            whole.provider = provider.clone();
                            state.close_session(&session, new.clone(), &whole.content).await;
                            if let Some(key) = &key
                                && let Ok(value) = serde_json::to_string(&CachedAnswer::of(&whole))
                            {
                                state.shared.cache_put(key, value, state.policies.cache_ttl).await;
                            }
                        }
                        _ => {}
                    }
                }
                Err(_) => state.count_failure().await,
            }
            yield event;
        }
    };
    (wrapped.boxed(), model)
}
