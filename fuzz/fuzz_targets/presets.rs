//! Preset files: parsing never panics, and a preset that parses can be applied and validated.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use llm_cooperation::config::{Settings, presets, validate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(preset) = presets::parse("fuzz", text) {
        let mut settings = Settings::default();
        preset.apply(&mut settings);
        let _ = validate(&settings, Path::new("fuzz"));
    }
});
