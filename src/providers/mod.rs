//! Upstream clients behind one [`Backend`] trait, and the [`Deployment`] that wraps a backend
//! with one model's upstream id, defaults and concurrency cap.
//!
//! One pooled HTTP client per provider; retries, timeouts and error classification live in
//! `http.rs`, and one backend generic over the wire protocol (`remote.rs`) serves both
//! protocols through their modules in `crate::protocol`.

mod error;
mod http;
#[cfg(feature = "local")]
pub mod local;
pub mod remote;
pub mod sse;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use tokio::sync::Semaphore;

pub use error::{ProviderError, TimeoutPhase};
pub use http::HttpPolicy;

use crate::config::{Config, ConfigError, ModelConfig, ProviderConfig, ProviderKind};
use crate::protocol::Encoded;
use crate::protocol::verbatim::{Additions, Verbatim};
use crate::types::{
    Assembler, ChatRequest, ChatResponse, ContentPart, EmbedRequest, EmbedResponse, FinishReason,
    Protocol, ResponseFormat, StreamEvent, Tool,
};

/// A stream of answer events; it ends after `Done` or an error.
pub type EventStream = BoxStream<'static, Result<StreamEvent, ProviderError>>;

/// A provider: something that answers chat requests for upstream model ids.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// The provider's configured name.
    fn name(&self) -> &str;

    /// A whole answer. `req.model` is the upstream id.
    fn chat(&self, req: ChatRequest) -> BoxFuture<'_, Result<ChatResponse, ProviderError>>;

    /// A streamed answer. Retries happen only before the stream is returned: once the
    /// caller holds it, no event is ever repeated.
    fn chat_stream(&self, req: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>>;

    /// The upstream's model ids (`GET /models`).
    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, ProviderError>>;

    /// A Responses API request as the client wrote it (`body["model"]` already the upstream
    /// id), for providers that serve that API; the answer as it came.
    fn responses(
        &self,
        body: serde_json::Value,
        stream: bool,
    ) -> BoxFuture<'_, Result<RawAnswer, ProviderError>> {
        let _ = (body, stream);
        Box::pin(async move {
            Err(ProviderError::Unsupported {
                provider: self.name().to_owned(),
                model: String::new(),
                field: "model".into(),
                reason: "is on a provider without OpenAI's Responses API".into(),
            })
        })
    }

    /// Vectors for `req.input` (`req.model` is the upstream id); providers without an
    /// embeddings API refuse.
    fn embed(&self, req: EmbedRequest) -> BoxFuture<'_, Result<EmbedResponse, ProviderError>> {
        Box::pin(async move {
            Err(ProviderError::Unsupported {
                provider: self.name().to_owned(),
                model: req.model,
                field: "model".into(),
                reason: "is on a provider without an embeddings API (only OpenAI-compatible providers serve `/v1/embeddings`); pick an embedding model on one".into(),
            })
        })
    }

    /// The wire protocol requests go out in; `None` for in-process engines.
    fn protocol(&self) -> Option<Protocol> {
        None
    }

    /// A request already encoded in `protocol` (a client's body forwarded as written, see
    /// [`Verbatim`]), answered whole; `model` is the upstream id. Only a backend of that
    /// protocol takes one.
    fn forward(
        &self,
        protocol: Protocol,
        sent: Encoded,
        model: String,
    ) -> BoxFuture<'_, Result<ChatResponse, ProviderError>> {
        let _ = sent;
        Box::pin(async move { Err(cannot_forward(self.name(), protocol, model)) })
    }

    /// [`Backend::forward`], streamed.
    fn forward_stream(
        &self,
        protocol: Protocol,
        sent: Encoded,
        model: String,
    ) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
        let _ = sent;
        Box::pin(async move { Err(cannot_forward(self.name(), protocol, model)) })
    }
}

/// A backend asked to forward a request of a protocol it does not speak (the router never
/// does: see [`Deployment::takes_verbatim`]).
pub(crate) fn cannot_forward(provider: &str, protocol: Protocol, model: String) -> ProviderError {
    ProviderError::Unsupported {
        provider: provider.to_owned(),
        model,
        field: "model".into(),
        reason: format!(
            "is on a provider that cannot take a {} request as written",
            protocol.as_str()
        ),
    }
}

/// Builds the backend for one provider.
pub fn backend(
    name: &str,
    cfg: &ProviderConfig,
    key: Option<String>,
    policy: HttpPolicy,
) -> Result<Arc<dyn Backend>, ProviderError> {
    let client = http::HttpClient::new(name, &cfg.base_url, key, policy)?;
    Ok(match cfg.kind {
        // Outside `llm-server`, a local provider is that server's OpenAI protocol.
        ProviderKind::Openai | ProviderKind::Local => {
            Arc::new(remote::Remote::<remote::OpenAiChat>::new(client))
        }
        ProviderKind::Anthropic => {
            Arc::new(remote::Remote::<remote::AnthropicMessages>::new(client))
        }
    })
}

/// An upstream's answer passed through untouched: a whole JSON body, or SSE bytes.
pub enum RawAnswer {
    Whole(bytes::Bytes),
    Stream(BoxStream<'static, Result<bytes::Bytes, ProviderError>>),
}

impl std::fmt::Debug for RawAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawAnswer::Whole(b) => write!(f, "Whole({} bytes)", b.len()),
            RawAnswer::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// One model on one provider, with its defaults and concurrency cap.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub model: ModelConfig,
    /// The kind of the model's provider.
    pub kind: ProviderKind,
    backend: Arc<dyn Backend>,
    limiter: Option<Arc<Semaphore>>,
    /// Bound on waiting for a concurrency slot.
    queue_timeout: Duration,
    /// How often, and after what backoff, the router tries this deployment again when no
    /// other can serve (`max_retries`; none unless set with [`Deployment::with_retries`]).
    pub retry: HttpPolicy,
    /// Its provider serves the Responses API itself (`responses = true`).
    pub responses_native: bool,
}

impl Deployment {
    pub fn new(
        model: ModelConfig,
        kind: ProviderKind,
        backend: Arc<dyn Backend>,
        queue_timeout: Duration,
    ) -> Self {
        let limiter = model
            .concurrency
            .map(|n| Arc::new(Semaphore::new(n as usize)));
        Deployment {
            model,
            kind,
            backend,
            limiter,
            queue_timeout,
            retry: HttpPolicy {
                max_retries: 0,
                ..HttpPolicy::default()
            },
            responses_native: false,
        }
    }

    /// Whether the provider serves the Responses API itself.
    pub fn native_responses(mut self, yes: bool) -> Self {
        self.responses_native = yes;
        self
    }

    /// The provider's retry settings (`max_retries`, backoff) for the router to apply.
    pub fn with_retries(mut self, policy: HttpPolicy) -> Self {
        self.retry = policy;
        self
    }

    pub fn provider(&self) -> &str {
        self.backend.name()
    }

    /// Fills the upstream id and the model's defaults into a request.
    fn prepare(&self, mut req: ChatRequest) -> ChatRequest {
        req.model = self.model.upstream.clone();
        req.max_tokens = req.max_tokens.or(self.model.max_tokens);
        // Through its shortest decimal text, so a configured `0.7` goes out as `0.7`.
        req.temperature = req.temperature.or_else(|| {
            self.model
                .temperature
                .and_then(|t| t.to_string().parse::<f64>().ok())
        });
        req
    }

    /// The wire protocol this deployment's requests travel in; `None` for in-process models.
    pub fn protocol(&self) -> Option<Protocol> {
        match self.kind {
            ProviderKind::Openai => Some(Protocol::OpenAiChat),
            ProviderKind::Anthropic => Some(Protocol::AnthropicMessages),
            ProviderKind::Local => self.backend.protocol(),
        }
    }

    /// Why this deployment cannot take `req` without losing part of it, if it cannot: a
    /// capability its config denies, or fields, blocks and tools only another protocol
    /// carries. Checked before sending, so routing can pick another candidate.
    pub fn refusal(&self, req: &ChatRequest) -> Option<ProviderError> {
        let refuse = |field: &str, reason: String| {
            Some(ProviderError::Unsupported {
                provider: self.provider().to_owned(),
                model: self.model.name.clone(),
                field: field.to_owned(),
                reason,
            })
        };
        let caps = self.model.capabilities(self.kind);
        if req.uses_tools() && !caps.tools {
            let field = if req.tools.is_empty() {
                "messages"
            } else {
                "tools"
            };
            return refuse(
                field,
                "needs tool calling, which this model is configured without (`tools = false`, or a local model); pick a model with tools".into(),
            );
        }
        if req.wants_reasoning() && !caps.reasoning {
            return refuse(
                "reasoning",
                "asks for reasoning, which this model is configured without (`reasoning = false`, or a local model); remove it or pick a reasoning model".into(),
            );
        }
        if req.wants_json_schema() && !caps.json_schema {
            return refuse(
                "response_format",
                "asks for a JSON schema, which this model cannot guarantee (`json_schema = false`, or a local model); remove it or pick another model".into(),
            );
        }
        let target = self.protocol();
        let foreign = |p: Protocol| target != Some(p);
        if let Some((p, pass)) = &req.passthrough
            && foreign(*p)
            && let Some(field) = crate::protocol::untranslatable(*p, pass)
        {
            return refuse(
                field,
                format!(
                    "is an {} field that this model's provider does not take; remove it or pick a model on a provider of that protocol",
                    p.as_str()
                ),
            );
        }
        for (i, tool) in req.tools.iter().enumerate() {
            if let Tool::Raw { protocol, .. } = tool
                && foreign(*protocol)
            {
                return refuse(
                    &format!("tools[{i}]"),
                    format!(
                        "is an {} tool that this model's provider cannot run; remove it or pick a model on a provider of that protocol",
                        protocol.as_str()
                    ),
                );
            }
        }
        for (i, m) in req.messages.iter().enumerate() {
            for (j, part) in m.content.iter().enumerate() {
                if let ContentPart::Raw { protocol, .. } = part
                    && foreign(*protocol)
                {
                    return refuse(
                        &format!("messages[{i}].content[{j}]"),
                        format!(
                            "is an {} block that this model's provider cannot read; remove it or pick a model on a provider of that protocol",
                            protocol.as_str()
                        ),
                    );
                }
            }
        }
        if target.is_none() {
            return local_refusal(req).and_then(|(field, reason)| refuse(&field, reason));
        }
        None
    }

    async fn permit(&self) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, ProviderError> {
        let Some(limiter) = &self.limiter else {
            return Ok(None);
        };
        match tokio::time::timeout(self.queue_timeout, limiter.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            Ok(Err(_)) | Err(_) => Err(ProviderError::Timeout {
                provider: self.provider().to_owned(),
                phase: TimeoutPhase::Queue,
                after: self.queue_timeout,
            }),
        }
    }

    /// A whole answer from this deployment.
    pub async fn chat(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        if let Some(e) = self.refusal(&req) {
            return Err(e);
        }
        let _permit = self.permit().await?;
        let mut resp = self
            .backend
            .chat(self.prepare(req))
            .await
            .map_err(|e| self.named(e))?;
        resp.model = self.model.name.clone();
        resp.provider = self.provider().to_owned();
        Ok(resp)
    }

    /// A streamed answer; the concurrency slot is held until the stream is dropped.
    pub async fn chat_stream(&self, req: ChatRequest) -> Result<EventStream, ProviderError> {
        if let Some(e) = self.refusal(&req) {
            return Err(e);
        }
        let permit = self.permit().await?;
        let stream = self
            .backend
            .chat_stream(self.prepare(req))
            .await
            .map_err(|e| self.named(e))?;
        Ok(stream
            .map(move |event| {
                let _held = &permit;
                event
            })
            .boxed())
    }

    /// Whether this deployment takes `req` as its client wrote it: its backend speaks the
    /// request's protocol, and the model is configured with everything a request may ask for
    /// (tools, reasoning, JSON schemas), so no capability check could refuse any part of it.
    /// OpenAI reasoning models (which take `max_completion_tokens` only) and an Anthropic
    /// request without `max_tokens` for a model without a default go through the decoder,
    /// which supplies what they need.
    pub fn takes_verbatim(&self, req: &Verbatim) -> bool {
        let caps = self.model.capabilities(self.kind);
        self.backend.protocol() == Some(req.protocol)
            && caps.tools
            && caps.reasoning
            && caps.json_schema
            && match req.protocol {
                Protocol::OpenAiChat => {
                    !crate::protocol::openai_chat::is_reasoning_model(&self.model.upstream)
                }
                Protocol::AnthropicMessages => {
                    req.has("max_tokens") || self.model.max_tokens.is_some()
                }
            }
    }

    /// `req` as this deployment sends it: the upstream id and the model's defaults added.
    fn verbatim(&self, req: &Verbatim) -> Encoded {
        let add = Additions {
            max_tokens: self.model.max_tokens,
            temperature: self.model.temperature,
        };
        let sent = Encoded {
            body: req.body_for(&self.model.upstream, &add),
            headers: req.headers.clone(),
            fold_tool: None,
        };
        #[cfg(debug_assertions)]
        self.check_verbatim(req, &sent);
        sent
    }

    /// Debug builds (the test suite) check every verbatim body against what the decoding
    /// path sends for the same request: the two must mean the same JSON.
    #[cfg(debug_assertions)]
    fn check_verbatim(&self, req: &Verbatim, sent: &Encoded) {
        use crate::protocol::{anthropic_messages, openai_chat};
        let decoded = match req.protocol {
            Protocol::OpenAiChat => openai_chat::decode_request(req.body()),
            Protocol::AnthropicMessages => anthropic_messages::decode_request(req.body()),
        };
        // What the decoder refuses, the upstream judges on the verbatim path.
        let Ok(decoded) = decoded else { return };
        let typed = self.prepare(decoded.request);
        let encoded = match req.protocol {
            Protocol::OpenAiChat => openai_chat::encode_request(&typed, req.stream),
            Protocol::AnthropicMessages => anthropic_messages::encode_request(&typed, req.stream),
        };
        let Ok(encoded) = encoded else { return };
        let mut verbatim: serde_json::Value =
            serde_json::from_slice(&sent.body).expect("a verbatim body is JSON");
        // The one spelling the decoder leaves out: `"stream": false` means no `stream`.
        if verbatim["stream"] == false
            && let Some(object) = verbatim.as_object_mut()
        {
            object.remove("stream");
        }
        let typed: serde_json::Value =
            serde_json::from_slice(&encoded.body).expect("an encoded body is JSON");
        assert_eq!(
            verbatim, typed,
            "the verbatim body differs from the decoding path's"
        );
    }

    /// A whole answer to a request forwarded as written (see [`Deployment::takes_verbatim`]).
    pub async fn forward(&self, req: Arc<Verbatim>) -> Result<ChatResponse, ProviderError> {
        let _permit = self.permit().await?;
        let sent = self.verbatim(&req);
        let mut resp = self
            .backend
            .forward(req.protocol, sent, self.model.upstream.clone())
            .await
            .map_err(|e| self.named(e))?;
        resp.model = self.model.name.clone();
        resp.provider = self.provider().to_owned();
        Ok(resp)
    }

    /// A streamed answer to a request forwarded as written; the concurrency slot is held
    /// until the stream is dropped.
    pub async fn forward_stream(&self, req: Arc<Verbatim>) -> Result<EventStream, ProviderError> {
        let permit = self.permit().await?;
        let sent = self.verbatim(&req);
        let stream = self
            .backend
            .forward_stream(req.protocol, sent, self.model.upstream.clone())
            .await
            .map_err(|e| self.named(e))?;
        Ok(stream
            .map(move |event| {
                let _held = &permit;
                event
            })
            .boxed())
    }

    /// A Responses API request forwarded as it came, the model name rewritten to the upstream
    /// id; the concurrency slot is held until a streamed answer ends.
    pub async fn responses(&self, mut body: serde_json::Value) -> Result<RawAnswer, ProviderError> {
        let permit = self.permit().await?;
        body["model"] = serde_json::Value::String(self.model.upstream.clone());
        let stream = body.get("stream").and_then(serde_json::Value::as_bool) == Some(true);
        match self.backend.responses(body, stream).await? {
            RawAnswer::Stream(s) => Ok(RawAnswer::Stream(
                s.map(move |chunk| {
                    let _held = &permit;
                    chunk
                })
                .boxed(),
            )),
            whole => Ok(whole),
        }
    }

    /// Vectors from this deployment (the router checks it is an embedding model).
    pub async fn embed(&self, mut req: EmbedRequest) -> Result<EmbedResponse, ProviderError> {
        let _permit = self.permit().await?;
        req.model = self.model.upstream.clone();
        let mut resp = self.backend.embed(req).await.map_err(|e| self.named(e))?;
        resp.model = self.model.name.clone();
        resp.provider = self.provider().to_owned();
        Ok(resp)
    }

    /// A refusal names the model the client asked for, not its upstream id.
    fn named(&self, e: ProviderError) -> ProviderError {
        match e {
            ProviderError::Unsupported {
                provider,
                field,
                reason,
                ..
            } => ProviderError::Unsupported {
                provider,
                model: self.model.name.clone(),
                field,
                reason,
            },
            other => other,
        }
    }

    /// Whether a request may be sent now without waiting for a slot.
    pub fn has_capacity(&self) -> bool {
        self.limiter
            .as_ref()
            .is_none_or(|l| l.available_permits() > 0)
    }
}

/// Every configured deployment, with one backend (one pooled client) per provider.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    pub deployments: Vec<Deployment>,
    pub backends: BTreeMap<String, Arc<dyn Backend>>,
}

impl Registry {
    /// Builds backends for the providers that models use. A provider that needs a key and
    /// has none is left out; asking for its models then says how to add the key.
    pub fn from_config(config: &Config) -> Result<Registry, ConfigError> {
        Self::with_backends(config, &BTreeMap::new())
    }

    /// Like [`Registry::from_config`], but providers named in `backends` use the given backend
    /// (how `llm-server` serves its local models in-process instead of over HTTP).
    pub fn with_backends(
        config: &Config,
        backends: &BTreeMap<String, Arc<dyn Backend>>,
    ) -> Result<Registry, ConfigError> {
        let mut registry = Registry::default();
        for (name, provider) in &config.settings.providers {
            if !config.settings.models.iter().any(|m| &m.provider == name) {
                continue;
            }
            if let Some(b) = backends.get(name) {
                registry.backends.insert(name.clone(), b.clone());
                continue;
            }
            let key = config.api_key(name).map(|(k, _)| k);
            if provider.needs_key && key.is_none() {
                continue;
            }
            let policy = HttpPolicy::from_settings(&config.settings.defaults, provider);
            let backend = backend(name, provider, key, policy)
                .map_err(|e| ConfigError::Usage(e.to_string()))?;
            registry.backends.insert(name.clone(), backend);
        }
        for model in &config.settings.models {
            if let Some(backend) = registry.backends.get(&model.provider) {
                let policy = HttpPolicy::from_settings(
                    &config.settings.defaults,
                    &config.settings.providers[&model.provider],
                );
                registry.deployments.push(
                    Deployment::new(
                        model.clone(),
                        config.settings.providers[&model.provider].kind,
                        backend.clone(),
                        policy.total,
                    )
                    .with_retries(policy)
                    .native_responses(config.settings.providers[&model.provider].responses),
                );
            }
        }
        Ok(registry)
    }
}

/// The error for a provider that needs a key and has none.
pub fn missing_key(config: &Config, provider: &str) -> ConfigError {
    let env = config
        .settings
        .providers
        .get(provider)
        .and_then(|p| p.api_key_env.clone())
        .or_else(|| {
            (provider == crate::config::GLOBAL_PROVIDER)
                .then(|| crate::env_vars::API_KEY.to_owned())
        });
    ConfigError::Usage(match env {
        Some(env) => format!(
            "No API key for provider `{provider}`: run `llm-config set-key --provider {provider}` or set `{env}`"
        ),
        None => format!(
            "No API key for provider `{provider}`: run `llm-config set-key --provider {provider}`"
        ),
    })
}

/// What a local (in-process) engine cannot take: it reads text only.
fn local_refusal(req: &ChatRequest) -> Option<(String, String)> {
    if let Some((_, pass)) = &req.passthrough
        && let Some(field) = pass.fields.keys().next()
    {
        return Some((
            field.clone(),
            "is not understood by the local runner; remove it or pick a remote model".into(),
        ));
    }
    let checks = [
        (
            req.n.is_some_and(|n| n > 1),
            "n",
            "asks for several answers; the local runner gives one",
        ),
        (
            req.logprobs == Some(true),
            "logprobs",
            "is not reported by the local runner",
        ),
        (
            !matches!(req.response_format, None | Some(ResponseFormat::Text)),
            "response_format",
            "asks for JSON mode, which the local runner cannot guarantee",
        ),
    ];
    for (hit, field, reason) in checks {
        if hit {
            return Some((
                field.into(),
                format!("{reason}; remove it or pick a remote model"),
            ));
        }
    }
    for (i, m) in req.messages.iter().enumerate() {
        for (j, part) in m.content.iter().enumerate() {
            if !matches!(part, ContentPart::Text { .. } | ContentPart::Image { .. }) {
                return Some((
                    format!("messages[{i}].content[{j}]"),
                    format!(
                        "is a `{}` part; the local runner reads text only — remove it or pick a remote model",
                        part.kind()
                    ),
                ));
            }
        }
    }
    None
}

/// What a consumed stream produced.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub ttft: Option<Duration>,
    /// Every event, assembled into the whole answer.
    pub answer: Assembler,
}

impl Collected {
    /// Choice 0's text.
    pub fn text(&self) -> String {
        self.answer.text()
    }

    pub fn usage(&self) -> crate::types::Usage {
        self.answer.usage
    }

    /// How the answer ended; `None` when the stream broke off first.
    pub fn finish_reason(&self) -> Option<FinishReason> {
        self.answer.finish.as_ref().map(|f| f.reason.clone())
    }

    /// The answer as a response (model, provider and timings are the caller's to fill).
    pub fn into_response(self) -> ChatResponse {
        let mut resp = self.answer.into_response();
        resp.ttft = self.ttft;
        resp
    }
}

/// Drains `stream`, calling `on_delta` for each piece of text as it arrives. On an error the
/// text received so far is returned with it, so nothing already shown is lost.
pub async fn collect_stream(
    mut stream: EventStream,
    started: std::time::Instant,
    mut on_delta: impl FnMut(&str) -> std::io::Result<()>,
) -> Result<Collected, (Collected, CollectError)> {
    let mut out = Collected::default();
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(event) => event,
            Err(e) => return Err((out, CollectError::Provider(e))),
        };
        out.answer.push(&event);
        if event.is_output() {
            out.ttft.get_or_insert_with(|| started.elapsed());
        }
        if let Some(text) = event.text_delta()
            && let Err(e) = on_delta(text)
        {
            return Err((out, CollectError::Output(e)));
        }
        if matches!(event, StreamEvent::Done(_)) {
            break;
        }
    }
    Ok(out)
}

/// Why draining a stream stopped early.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// Writing the text out failed (e.g. a closed pipe).
    #[error(transparent)]
    Output(std::io::Error),
}

/// A provider that cannot serve here, with the reason; every request fails over (e.g. local
/// models in an `llm-server` built without the `local` feature).
#[derive(Debug)]
pub struct Unavailable {
    pub provider: String,
    pub reason: String,
}

impl Unavailable {
    fn error(&self) -> ProviderError {
        ProviderError::Upstream {
            provider: self.provider.clone(),
            status: 503,
            message: self.reason.clone(),
        }
    }
}

impl Backend for Unavailable {
    fn name(&self) -> &str {
        &self.provider
    }

    fn chat(&self, _req: ChatRequest) -> BoxFuture<'_, Result<ChatResponse, ProviderError>> {
        Box::pin(async move { Err(self.error()) })
    }

    fn chat_stream(&self, _req: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
        Box::pin(async move { Err(self.error()) })
    }

    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, ProviderError>> {
        Box::pin(async move { Err(self.error()) })
    }
}
