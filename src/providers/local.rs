//! The in-process backend of `llm-server`: `[local]` models on libtorch engines, reached
//! through the same [`Backend`] trait as remote providers (cargo feature `local`).

use std::collections::BTreeMap;
use std::time::Instant;

use futures::StreamExt;
use futures::future::BoxFuture;

use super::{Backend, EventStream, ProviderError};
use crate::runner::{EngineHandle, GenerateRequest, RunnerError};
use crate::types::{Assembler, ChatRequest, ChatResponse, StreamEvent};

/// Local engines by model name, as one provider.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    provider: String,
    engines: BTreeMap<String, EngineHandle>,
}

impl LocalBackend {
    pub fn new(provider: impl Into<String>, engines: BTreeMap<String, EngineHandle>) -> Self {
        LocalBackend {
            provider: provider.into(),
            engines,
        }
    }

    fn error(&self, e: RunnerError) -> ProviderError {
        let provider = self.provider.clone();
        match e {
            RunnerError::Overloaded { .. } => ProviderError::Overloaded {
                provider,
                message: e.to_string(),
            },
            RunnerError::InvalidRequest(_) | RunnerError::ContextOverflow { .. } => {
                ProviderError::BadRequest {
                    provider,
                    status: 400,
                    message: e.to_string(),
                }
            }
            other => ProviderError::Upstream {
                provider,
                status: 500,
                message: other.to_string(),
            },
        }
    }

    fn submit(&self, req: &ChatRequest) -> Result<crate::runner::Generation, ProviderError> {
        let engine = self
            .engines
            .get(&req.model)
            .ok_or_else(|| ProviderError::BadRequest {
                provider: self.provider.clone(),
                status: 404,
                message: format!(
                    "no local model `{}` is loaded (loaded: {})",
                    req.model,
                    self.engines.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            })?;
        engine
            .submit(GenerateRequest::from_chat(req))
            .map_err(|e| self.error(e))
    }
}

impl Backend for LocalBackend {
    fn name(&self) -> &str {
        &self.provider
    }

    fn chat(&self, req: ChatRequest) -> BoxFuture<'_, Result<ChatResponse, ProviderError>> {
        Box::pin(async move {
            let started = Instant::now();
            let mut generation = self.submit(&req)?;
            let mut answer = Assembler::default();
            let mut ttft = None;
            while let Some(event) = generation.next().await {
                let event = event.map_err(|e| self.error(e))?;
                if event.is_output() {
                    ttft.get_or_insert_with(|| started.elapsed());
                }
                answer.push(&event);
                if matches!(event, StreamEvent::Done(_)) {
                    break;
                }
            }
            let resp = answer.into_response();
            Ok(ChatResponse {
                model: req.model,
                provider: self.provider.clone(),
                latency: started.elapsed(),
                ttft,
                ..resp
            })
        })
    }

    fn chat_stream(&self, req: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
        Box::pin(async move {
            let generation = self.submit(&req)?;
            let this = self.clone();
            Ok(generation
                .map(move |e| e.map_err(|e| this.error(e)))
                .boxed())
        })
    }

    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, ProviderError>> {
        Box::pin(async move { Ok(self.engines.keys().cloned().collect()) })
    }
}
