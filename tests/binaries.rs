//! Properties of the built binaries themselves.

use crate::common::bin;

/// Loading libtorch costs ~0.25 s and 110 MB per process: only `llm-server` may link it.
#[test]
fn the_clis_do_not_link_libtorch() {
    for name in ["llm-config", "llm-cooperation"] {
        let out = std::process::Command::new("ldd")
            .arg(bin(name))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "ldd failed on {name}");
        assert!(
            !text.to_lowercase().contains("torch"),
            "{name} links libtorch:\n{text}"
        );
    }
}
