//! Upstream clients behind one [`Backend`] trait, and the [`Deployment`] that wraps a backend
//! with one model's upstream id, defaults and concurrency cap.
//!
//! One pooled HTTP client per provider; retries, timeouts and error classification live in
//! `http.rs` so both protocols share them.

pub mod anthropic;
mod error;
mod http;
#[cfg(feature = "local")]
pub mod local;
pub mod openai;
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
use crate::types::{ChatRequest, ChatResponse, StreamEvent};

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
        ProviderKind::Openai | ProviderKind::Local => Arc::new(openai::OpenAi::new(client)),
        ProviderKind::Anthropic => Arc::new(anthropic::Anthropic::new(client)),
    })
}

/// One model on one provider, with its defaults and concurrency cap.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub model: ModelConfig,
    backend: Arc<dyn Backend>,
    limiter: Option<Arc<Semaphore>>,
    /// Bound on waiting for a concurrency slot.
    queue_timeout: Duration,
}

impl Deployment {
    pub fn new(model: ModelConfig, backend: Arc<dyn Backend>, queue_timeout: Duration) -> Self {
        let limiter = model
            .concurrency
            .map(|n| Arc::new(Semaphore::new(n as usize)));
        Deployment {
            model,
            backend,
            limiter,
            queue_timeout,
        }
    }

    pub fn provider(&self) -> &str {
        self.backend.name()
    }

    /// Fills the upstream id and the model's defaults into a request.
    fn prepare(&self, mut req: ChatRequest) -> ChatRequest {
        req.model = self.model.upstream.clone();
        req.max_tokens = req.max_tokens.or(self.model.max_tokens);
        req.temperature = req.temperature.or(self.model.temperature);
        req
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
        let _permit = self.permit().await?;
        let mut resp = self.backend.chat(self.prepare(req)).await?;
        resp.model = self.model.name.clone();
        resp.provider = self.provider().to_owned();
        Ok(resp)
    }

    /// A streamed answer; the concurrency slot is held until the stream is dropped.
    pub async fn chat_stream(&self, req: ChatRequest) -> Result<EventStream, ProviderError> {
        let permit = self.permit().await?;
        let stream = self.backend.chat_stream(self.prepare(req)).await?;
        Ok(stream
            .map(move |event| {
                let _held = &permit;
                event
            })
            .boxed())
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
                registry.deployments.push(Deployment::new(
                    model.clone(),
                    backend.clone(),
                    policy.total,
                ));
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

/// What a consumed stream produced.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub text: String,
    pub usage: crate::types::Usage,
    pub finish_reason: Option<crate::types::FinishReason>,
    pub ttft: Option<Duration>,
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
        match event {
            Ok(StreamEvent::Delta(text)) => {
                out.ttft.get_or_insert_with(|| started.elapsed());
                if let Err(e) = on_delta(&text) {
                    return Err((out, CollectError::Output(e)));
                }
                out.text.push_str(&text);
            }
            Ok(StreamEvent::Usage(usage)) => out.usage = usage,
            Ok(StreamEvent::Done(reason)) => {
                out.finish_reason = Some(reason);
                break;
            }
            Err(e) => return Err((out, CollectError::Provider(e))),
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
