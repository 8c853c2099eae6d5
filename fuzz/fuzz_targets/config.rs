//! `config.toml` and `credentials.toml`: parsing and validation never panic, settings that
//! pass validation build the server's limits and policies without panicking (a negative or
//! infinite duration would), and settings that load are written back (as every `llm-config`
//! change does) into a file that loads to the same settings.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use llm_cooperation::config::{Credentials, parse_settings, validate};
use llm_cooperation::server::{Limits, Policies};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("config.toml");
    if let Ok(settings) = parse_settings(text, path)
        && validate(&settings, path).is_ok()
    {
        let _ = Limits::from_settings(&settings.server);
        let _ = Policies::from_settings(&settings.server);
        let _ = Policies::shutdown_grace(&settings.server);
        let written = toml::to_string_pretty(&settings)
            .unwrap_or_else(|e| panic!("valid settings cannot be written: {e}\n{settings:?}"));
        let read = parse_settings(&written, path)
            .unwrap_or_else(|e| panic!("a written file does not load: {e}\n{written}"));
        assert_eq!(read, settings, "{written}");
        validate(&read, path).unwrap();
    }
    if let Ok(credentials) = toml::from_str::<Credentials>(text) {
        let written = toml::to_string_pretty(&credentials).unwrap();
        let read: Credentials = toml::from_str(&written).unwrap();
        assert_eq!(read, credentials);
    }
});
