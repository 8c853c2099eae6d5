//! Whole upstream responses and stream events, in both protocols: reading them never
//! panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_cooperation::protocol::{Encoded, anthropic_messages, openai_chat};

fuzz_target!(|data: &[u8]| {
    let sent = Encoded::default();
    let _ = openai_chat::decode_response(data, &sent);
    let _ = anthropic_messages::decode_response(data, &sent);
    let folded = Encoded {
        fold_tool: Some("json_response".into()),
        ..Encoded::default()
    };
    let _ = anthropic_messages::decode_response(data, &folded);
    if let Ok(text) = std::str::from_utf8(data) {
        let mut o = openai_chat::StreamDecoder::new(&sent);
        let mut a = anthropic_messages::StreamDecoder::new(&folded);
        for line in text.split('\n') {
            let (event, data) = line.split_once(' ').unwrap_or(("", line));
            let _ = o.push(event, data);
            let _ = a.push(event, data);
        }
        let _ = o.finish();
        let _ = a.finish();
    }
});
