//! `POST /v1/messages` bodies: decoding never panics, and a request the gateway accepts
//! survives the router's analysis, the upstream bodies of both protocols, and decoding the
//! Anthropic body it would send upstream (same system prompt and conversation).
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_cooperation::protocol::{anthropic_messages, openai_chat};
use llm_cooperation::router::analyze;
use llm_cooperation::server::decode_anthropic_request;
use llm_cooperation::types::{ChatRequest, Role};

/// The system prompt (system messages joined as the Anthropic body joins them) and the role
/// and text of every other message.
fn conversation(req: &ChatRequest) -> (String, Vec<(Role, String)>) {
    let system: Vec<String> = req
        .messages
        .iter()
        .filter(|m| m.role.is_instruction())
        .map(|m| m.joined_text())
        .collect();
    let rest = req
        .messages
        .iter()
        .filter(|m| !m.role.is_instruction())
        .map(|m| (m.role, m.joined_text()))
        .collect();
    (system.join("\n\n"), rest)
}

fuzz_target!(|data: &[u8]| {
    let Ok(req) = decode_anthropic_request(data) else {
        return;
    };
    let _ = analyze(&req);
    let _ = openai_chat::encode_request(&req, req.stream);
    let encoded = match anthropic_messages::encode_request(&req, req.stream) {
        Ok(encoded) => encoded,
        // The one refusal by design: a thinking budget not below `max_tokens` (Anthropic
        // answers it with a 400; the gateway says so before sending, naming `max_tokens`).
        Err(e)
            if e.field == "max_tokens"
                && matches!(
                    (req.max_tokens, req.reasoning.as_ref().and_then(|r| r.budget_tokens)),
                    (Some(max), Some(budget)) if max <= budget
                ) =>
        {
            return;
        }
        Err(e) => panic!("an Anthropic request cannot go to an Anthropic upstream: {e}"),
    };
    let body = String::from_utf8_lossy(&encoded.body).into_owned();
    let again = decode_anthropic_request(body.as_bytes())
        .unwrap_or_else(|e| panic!("our own upstream body is refused: {}\n{body}", e.message));
    assert_eq!(conversation(&again), conversation(&req), "{body}");
    assert_eq!(again.max_tokens, req.max_tokens);
    assert_eq!(again.stop, req.stop);
});
