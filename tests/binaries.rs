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

/// The README's install line used to be a plain `cargo install`, whose `llm-server` cannot run
/// the embedded default (the local demo model). It must build with `local` and the `LIBTORCH`
/// that `.ci/deps.sh` installs, and say why.
#[test]
fn the_readme_install_line_builds_the_local_runner() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("\n## Install\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("an `## Install` section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a sh block in `## Install`");
    let command = block.replace("\\\n", " ");
    let install = command
        .lines()
        .find(|l| l.contains("cargo install"))
        .expect("a cargo install line");
    assert!(install.contains("--features local"), "{install}");
    assert!(install.contains("--locked"), "{install}");
    assert!(
        install.contains("LIBTORCH_BYPASS_VERSION_CHECK=1"),
        "{install}"
    );
    // The LIBTORCH it sets is where `.ci/deps.sh` puts libtorch, and deps.sh runs first.
    let deps = std::fs::read_to_string(root.join(".ci/deps.sh")).unwrap();
    assert!(deps.contains("torch_dir=\"$deps/torch-pkg\""));
    assert!(deps.contains("LIBTORCH=$torch_dir/torch"));
    assert!(
        install.contains("LIBTORCH=\"$PWD/.deps/torch-pkg/torch\""),
        "{install}"
    );
    let at = |what: &str| {
        command
            .lines()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no `{what}` in:\n{command}"))
    };
    assert!(at("bash .ci/deps.sh") < at("cargo install"), "{command}");
    assert!(section.contains("Why this line"), "the reason is given");
}
