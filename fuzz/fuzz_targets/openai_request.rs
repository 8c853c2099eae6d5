//! `POST /v1/chat/completions` bodies: decoding never panics, and a request the gateway
//! accepts survives what it does next: the router's analysis, the upstream bodies of both
//! protocols, and decoding the OpenAI body it would send upstream (which must give back the
//! same conversation).
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_cooperation::protocol::{anthropic_messages, openai_chat};
use llm_cooperation::router::analyze;
use llm_cooperation::server::decode_openai_request;
use llm_cooperation::types::{ChatRequest, Role};

/// Role and text of each message: what a round trip through the wire must keep.
fn conversation(req: &ChatRequest) -> Vec<(Role, String)> {
    req.messages.iter().map(|m| (m.role, m.joined_text())).collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(req) = decode_openai_request(data) else {
        return;
    };
    let _ = analyze(&req);
    let _ = anthropic_messages::encode_request(&req, req.stream);
    let encoded = openai_chat::encode_request(&req, req.stream)
        .unwrap_or_else(|e| panic!("an OpenAI request cannot go to an OpenAI upstream: {e}"));
    let body = String::from_utf8_lossy(&encoded.body).into_owned();
    let again = decode_openai_request(body.as_bytes())
        .unwrap_or_else(|e| panic!("our own upstream body is refused: {}\n{body}", e.message));
    assert_eq!(conversation(&again), conversation(&req), "{body}");
    assert_eq!(again.model, req.model);
    assert_eq!(again.max_tokens, req.max_tokens);
    assert_eq!(again.stop, req.stop);
});
