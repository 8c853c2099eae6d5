//! Request bodies forwarded as written (`protocol::verbatim`), in both protocols: locating
//! the members never panics, and a valid JSON body it accepts goes upstream as valid JSON with
//! `model` replaced, every other member of the client's body kept with an equal value, and no
//! key named twice. (The locator does not validate inside values: an invalid body it accepts
//! goes upstream as invalid as it came, for the upstream to judge; only "no panic" holds.)
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use llm_cooperation::protocol::verbatim::{Additions, Verbatim};
use llm_cooperation::types::Protocol;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let add = Additions {
        max_tokens: Some(5),
        temperature: Some(0.5),
    };
    // Valid JSON at any depth (a raw value is checked without recursion).
    let valid = serde_json::from_slice::<&RawValue>(data).is_ok();
    // The members, when `serde_json` also reads the input as an object (not nested past its
    // recursion limit, which the locator does not have).
    let input = serde_json::from_slice::<Map<String, Value>>(data).ok();
    for protocol in [Protocol::OpenAiChat, Protocol::AnthropicMessages] {
        let Some(v) = Verbatim::parse(protocol, Bytes::copy_from_slice(data)) else {
            continue;
        };
        let _ = v.get("messages");
        let out = v.body_for("up", &add);
        if !valid {
            continue;
        }
        let text = String::from_utf8_lossy(&out);
        serde_json::from_slice::<&RawValue>(&out).unwrap_or_else(|e| {
            panic!("{protocol:?}: the upstream body is not JSON ({e}): {text}")
        });
        // No key twice, `model` a string, `messages` kept: the body is forwardable again (the
        // Anthropic rules, which allow the `stream_options` an OpenAI body gains).
        let again = Verbatim::parse(Protocol::AnthropicMessages, Bytes::from(out.clone()))
            .unwrap_or_else(|| {
                panic!("{protocol:?}: the upstream body is not forwardable: {text}")
            });
        assert_eq!(again.model, "up", "{protocol:?}: {text}");
        let Some(input) = &input else {
            continue;
        };
        let output: Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!("{protocol:?}: the upstream body is not JSON ({e}): {text}")
        });
        assert_eq!(output["model"], "up", "{protocol:?}: {text}");
        for (key, value) in input.iter().filter(|(k, _)| *k != "model") {
            assert_eq!(
                output.get(key),
                Some(value),
                "{protocol:?}: member `{key}` changed: {text}"
            );
        }
    }
});
