//! One HTTP backend for every wire protocol: [`Remote<W>`] sends a canonical request encoded
//! by the protocol module `W` names, and decodes the answer (whole or streamed) with it.
//!
//! The protocol modules (`crate::protocol`) own every field; this file owns only transport:
//! headers, retries and timeouts (through [`HttpClient`]), SSE framing, and turning an
//! upstream's in-stream error into the [`ProviderError`] it means.

use std::marker::PhantomData;
use std::time::Instant as StdInstant;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;

use super::http::HttpClient;
use super::{Backend, EventStream, ProviderError, RawAnswer, sse};
use crate::protocol::{Encoded, StreamFailure, anthropic_messages, openai_chat};
use crate::types::{
    CarryError, ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, Protocol, StreamEvent,
};

/// What [`Remote`] needs from a protocol module.
pub trait Wire: Send + Sync + std::fmt::Debug + 'static {
    const PROTOCOL: Protocol;
    /// The chat endpoint under the provider's base URL.
    const PATH: &'static str;
    type Decoder: Send + 'static;

    /// The headers every request carries (authentication, API version).
    fn headers(key: Option<&str>) -> HeaderMap;
    fn encode(req: &ChatRequest, stream: bool) -> Result<Encoded, CarryError>;
    fn decode(body: &[u8], sent: &Encoded) -> Result<ChatResponse, String>;
    fn decoder(sent: &Encoded) -> Self::Decoder;
    fn push(
        d: &mut Self::Decoder,
        event: &str,
        data: &str,
    ) -> Result<Vec<StreamEvent>, StreamFailure>;
    fn finish(d: &mut Self::Decoder) -> Result<Vec<StreamEvent>, StreamFailure>;
    fn is_done(d: &Self::Decoder) -> bool;
}

/// The [`Wire`] items that only name a protocol module's functions (each module offers the
/// same ones; see `crate::protocol`).
macro_rules! forward_to {
    ($module:ident) => {
        type Decoder = $module::StreamDecoder;

        fn encode(req: &ChatRequest, stream: bool) -> Result<Encoded, CarryError> {
            $module::encode_request(req, stream)
        }
        fn decode(body: &[u8], sent: &Encoded) -> Result<ChatResponse, String> {
            $module::decode_response(body, sent)
        }
        fn decoder(sent: &Encoded) -> Self::Decoder {
            $module::StreamDecoder::new(sent)
        }
        fn push(
            d: &mut Self::Decoder,
            event: &str,
            data: &str,
        ) -> Result<Vec<StreamEvent>, StreamFailure> {
            d.push(event, data)
        }
        fn finish(d: &mut Self::Decoder) -> Result<Vec<StreamEvent>, StreamFailure> {
            d.finish()
        }
        fn is_done(d: &Self::Decoder) -> bool {
            d.is_done()
        }
    };
}

/// OpenAI's chat completions (and every compatible server).
#[derive(Debug)]
pub struct OpenAiChat;

impl Wire for OpenAiChat {
    const PROTOCOL: Protocol = Protocol::OpenAiChat;
    const PATH: &'static str = "chat/completions";

    fn headers(key: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(key) = key
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {key}"))
        {
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        headers
    }
    forward_to!(openai_chat);
}

/// Anthropic's messages API.
#[derive(Debug)]
pub struct AnthropicMessages;

impl Wire for AnthropicMessages {
    const PROTOCOL: Protocol = Protocol::AnthropicMessages;
    const PATH: &'static str = "messages";

    fn headers(key: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(anthropic_messages::ANTHROPIC_VERSION),
        );
        if let Some(key) = key
            && let Ok(mut value) = HeaderValue::from_str(key)
        {
            value.set_sensitive(true);
            headers.insert("x-api-key", value);
        }
        headers
    }
    forward_to!(anthropic_messages);
}

/// A provider reached over HTTP in protocol `W`.
#[derive(Debug)]
pub struct Remote<W: Wire> {
    http: HttpClient,
    headers: HeaderMap,
    wire: PhantomData<W>,
}

impl<W: Wire> Remote<W> {
    pub fn new(http: HttpClient) -> Self {
        let headers = W::headers(http.key());
        Remote {
            http,
            headers,
            wire: PhantomData,
        }
    }

    /// Encodes `req`, refusing what the protocol cannot carry.
    fn encode(&self, req: &ChatRequest, stream: bool) -> Result<Encoded, ProviderError> {
        W::encode(req, stream).map_err(|e| ProviderError::Unsupported {
            provider: self.http.provider.clone(),
            model: req.model.clone(),
            field: e.field,
            reason: e.reason,
        })
    }

    /// The provider's headers plus the request's own protocol headers (`anthropic-beta`).
    fn headers_for(&self, sent: &Encoded) -> HeaderMap {
        if sent.headers.is_empty() {
            return self.headers.clone();
        }
        let mut headers = self.headers.clone();
        for (name, value) in &sent.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        headers
    }

    /// Sends the encoded body (taken out of `sent`, which keeps its headers and fold for
    /// decoding the answer).
    async fn post(
        &self,
        sent: &mut Encoded,
        deadline: Instant,
    ) -> Result<reqwest::Response, ProviderError> {
        let headers = self.headers_for(sent);
        let body = Bytes::from(std::mem::take(&mut sent.body));
        self.http
            .send(
                reqwest::Method::POST,
                W::PATH,
                &headers,
                Some(body),
                deadline,
            )
            .await
    }

    /// A request in another protocol cannot be forwarded as written.
    fn own_protocol(&self, protocol: Protocol, model: &str) -> Result<(), ProviderError> {
        if protocol == W::PROTOCOL {
            return Ok(());
        }
        Err(super::cannot_forward(
            &self.http.provider,
            protocol,
            model.to_owned(),
        ))
    }

    /// Sends an encoded request and decodes the whole answer (`model`: the upstream id).
    async fn whole(&self, mut sent: Encoded, model: String) -> Result<ChatResponse, ProviderError> {
        let started = StdInstant::now();
        let deadline = Instant::now() + self.http.policy.total;
        let resp = self.post(&mut sent, deadline).await?;
        let bytes = self.http.read_body(resp, deadline).await?;
        let mut answer = W::decode(&bytes, &sent).map_err(|m| self.http.protocol(m))?;
        answer.model = model;
        answer.provider = self.http.provider.clone();
        answer.latency = started.elapsed();
        Ok(answer)
    }

    /// Sends an encoded streamed request and decodes its events as they come.
    async fn streamed(&self, mut sent: Encoded) -> Result<EventStream, ProviderError> {
        let deadline = Instant::now() + self.http.policy.total;
        let resp = self.post(&mut sent, deadline).await?;
        let provider = self.http.provider.clone();
        let mut events = sse::events(provider.clone(), self.http.body_stream(resp, deadline));
        // Error events quote upstream text, which may echo the key.
        let redact = self.http.redactor();
        let mut decoder = W::decoder(&sent);
        Ok(async_stream::stream! {
            while let Some(event) = events.next().await {
                let event = match event {
                    Ok(event) => event,
                    Err(e) => { yield Err(e); return; }
                };
                if event.data.trim().is_empty() {
                    continue;
                }
                match W::push(&mut decoder, &event.event, &event.data) {
                    Ok(out) => for e in out { yield Ok(e); },
                    Err(f) => { yield Err(stream_failure(&provider, &redact, f)); return; }
                }
                if W::is_done(&decoder) {
                    return;
                }
            }
            match W::finish(&mut decoder) {
                Ok(out) => for e in out { yield Ok(e); },
                Err(f) => yield Err(stream_failure(&provider, &redact, f)),
            }
        }
        .boxed())
    }
}

/// An in-stream error as a protocol failure that quotes the upstream. (An `overloaded_error`
/// mid-stream is not a cooldown: the deployment answered, and the caller already has part of
/// the answer; it counts as one failure like any broken stream.)
fn stream_failure(
    provider: &str,
    redact: &dyn Fn(&str) -> String,
    f: StreamFailure,
) -> ProviderError {
    let message = redact(&f.message);
    ProviderError::Protocol {
        provider: provider.to_owned(),
        message: match f.error_type {
            None => message,
            Some(_) => format!("the upstream reported an error mid-stream: {message}"),
        },
    }
}

impl<W: Wire> Backend for Remote<W> {
    fn name(&self) -> &str {
        &self.http.provider
    }

    fn protocol(&self) -> Option<Protocol> {
        Some(W::PROTOCOL)
    }

    fn chat(&self, req: ChatRequest) -> BoxFuture<'_, Result<ChatResponse, ProviderError>> {
        Box::pin(async move {
            let sent = self.encode(&req, false)?;
            self.whole(sent, req.model).await
        })
    }

    fn chat_stream(&self, req: ChatRequest) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
        Box::pin(async move {
            let sent = self.encode(&req, true)?;
            self.streamed(sent).await
        })
    }

    fn forward(
        &self,
        protocol: Protocol,
        sent: Encoded,
        model: String,
    ) -> BoxFuture<'_, Result<ChatResponse, ProviderError>> {
        Box::pin(async move {
            self.own_protocol(protocol, &model)?;
            self.whole(sent, model).await
        })
    }

    fn forward_stream(
        &self,
        protocol: Protocol,
        sent: Encoded,
        model: String,
    ) -> BoxFuture<'_, Result<EventStream, ProviderError>> {
        Box::pin(async move {
            self.own_protocol(protocol, &model)?;
            self.streamed(sent).await
        })
    }

    fn list_models(&self) -> BoxFuture<'_, Result<Vec<String>, ProviderError>> {
        Box::pin(self.http.model_ids(&self.headers))
    }

    fn responses(
        &self,
        body: serde_json::Value,
        stream: bool,
    ) -> BoxFuture<'_, Result<RawAnswer, ProviderError>> {
        Box::pin(async move {
            if W::PROTOCOL != Protocol::OpenAiChat {
                return Err(ProviderError::Unsupported {
                    provider: self.http.provider.clone(),
                    model: body["model"].as_str().unwrap_or_default().to_owned(),
                    field: "model".into(),
                    reason: "is on an Anthropic provider, which has no Responses API (`responses = true` is for OpenAI-compatible providers)".into(),
                });
            }
            let deadline = Instant::now() + self.http.policy.total;
            let resp = self
                .http
                .send(
                    reqwest::Method::POST,
                    "responses",
                    &self.headers,
                    Some(Bytes::from(body.to_string())),
                    deadline,
                )
                .await?;
            Ok(if stream {
                RawAnswer::Stream(self.http.body_stream(resp, deadline))
            } else {
                RawAnswer::Whole(self.http.read_body(resp, deadline).await?)
            })
        })
    }

    fn embed(&self, req: EmbedRequest) -> BoxFuture<'_, Result<EmbedResponse, ProviderError>> {
        Box::pin(async move {
            if W::PROTOCOL != Protocol::OpenAiChat {
                return Err(ProviderError::Unsupported {
                    provider: self.http.provider.clone(),
                    model: req.model,
                    field: "model".into(),
                    reason: format!(
                        "is on a provider of the {} protocol, which has no embeddings API; pick an embedding model on an OpenAI-compatible provider",
                        W::PROTOCOL.as_str()
                    ),
                });
            }
            let started = StdInstant::now();
            let deadline = Instant::now() + self.http.policy.total;
            let body = Bytes::from(crate::protocol::openai_embeddings::encode_request(&req));
            let resp = self
                .http
                .send(
                    reqwest::Method::POST,
                    "embeddings",
                    &self.headers,
                    Some(body),
                    deadline,
                )
                .await?;
            let bytes = self.http.read_body(resp, deadline).await?;
            let mut answer =
                crate::protocol::openai_embeddings::decode_response(&bytes, req.input.len())
                    .map_err(|m| self.http.protocol(m))?;
            answer.latency = started.elapsed();
            Ok(answer)
        })
    }
}
