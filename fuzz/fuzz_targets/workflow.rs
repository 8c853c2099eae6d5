//! Workflow files (`llm-cooperation cooperate --workflow`): parsing and planning never panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use llm_cooperation::cooperation::Workflow;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(workflow) = Workflow::parse(text, Path::new("workflow.toml")) {
        let _ = workflow.to_plan(&[], None, None);
        let _ = workflow.to_plan(&["a".to_owned(), "b".to_owned()], Some(10), Some(0.5));
    }
});
