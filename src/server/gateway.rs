//! What both protocols and the native API share: sessions around a routed request, usage and
//! TTFT metrics, and the model that answered.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

use super::{ApiError, AppState};
use crate::providers::EventStream;
use crate::router::{Attempt, Preferences};
use crate::types::{ChatRequest, ChatResponse, StreamEvent};

/// A request as a handler hands it over.
#[derive(Debug)]
pub struct Completion {
    pub req: ChatRequest,
    pub prefs: Preferences,
    /// Keeps history under this id when set.
    pub session: Option<String>,
}

/// A whole answer and who produced it.
#[derive(Debug)]
pub struct Answered {
    pub response: ChatResponse,
    pub attempts: Vec<Attempt>,
    pub strategy: &'static str,
}

fn with_session(state: &AppState, c: &mut Completion) -> Vec<crate::types::Message> {
    let new = c.req.messages.clone();
    if let Some(id) = &c.session {
        let history = state.sessions.history(id);
        c.req.messages =
            super::sessions::with_history(history, std::mem::take(&mut c.req.messages));
    }
    new
}

/// Routes a request and waits for the whole answer.
pub async fn complete(state: &AppState, mut c: Completion) -> Result<Answered, ApiError> {
    let new = with_session(state, &mut c);
    let live = state.live();
    let routed = live.router.chat(c.req, &c.prefs).await?;
    state
        .metrics
        .record_usage(&routed.value.model, &routed.value.usage);
    if let Some(id) = &c.session {
        state.sessions.record(id, &new, &routed.value.text);
    }
    Ok(Answered {
        strategy: routed.decision.ranking.strategy,
        response: routed.value,
        attempts: routed.attempts,
    })
}

/// Routes a request and opens its stream; the model name comes back for the response. The
/// stream records TTFT, usage and the session when it ends.
pub async fn stream(
    state: &Arc<AppState>,
    mut c: Completion,
) -> Result<(EventStream, String), ApiError> {
    let new = with_session(state, &mut c);
    let live = state.live();
    let started = Instant::now();
    let routed = live.router.chat_stream(c.req, &c.prefs).await?;
    let model = routed
        .attempts
        .last()
        .map(|a| a.model.clone())
        .unwrap_or_default();
    let state = state.clone();
    let session = c.session;
    let model_for_stream = model.clone();
    let mut inner = routed.value;
    let wrapped = async_stream::stream! {
        let mut text = String::new();
        let mut first = true;
        while let Some(event) = inner.next().await {
            match &event {
                Ok(StreamEvent::Delta(d)) => {
                    if first {
                        first = false;
                        state
                            .metrics
                            .ttft
                            .get_or_create(&super::metrics::ModelLabel { model: model_for_stream.clone() })
                            .observe(started.elapsed().as_secs_f64());
                    }
                    if session.is_some() {
                        text.push_str(d);
                    }
                }
                Ok(StreamEvent::Usage(u)) => state.metrics.record_usage(&model_for_stream, u),
                Ok(StreamEvent::Done(_)) => {
                    if let Some(id) = &session {
                        state.sessions.record(id, &new, &text);
                    }
                }
                Err(_) => {}
            }
            yield event;
        }
    };
    Ok((wrapped.boxed(), model))
}
