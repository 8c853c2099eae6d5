//! Whole upstream responses, in both protocols: reading them never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_cooperation::providers::{anthropic, openai};

fuzz_target!(|data: &[u8]| {
    let _ = openai::parse_response(data);
    let _ = anthropic::parse_response(data);
});
