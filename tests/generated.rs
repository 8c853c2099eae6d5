//! `completions/` and `man/` match what the CLI definitions generate.

use std::path::Path;

use llm_cooperation::cli::docs::generated_files;

#[test]
fn generated_completions_and_man_pages_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let regenerate = std::env::var("LLM_COOP_REGENERATE").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    let files = generated_files();
    // Files left over from a renamed or removed command are stale too.
    for dir in ["completions", "man"] {
        for entry in std::fs::read_dir(root.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let rel = format!("{dir}/{}", entry.file_name().to_string_lossy());
            if !files.iter().any(|(f, _)| *f == rel) {
                if regenerate {
                    std::fs::remove_file(entry.path()).unwrap();
                } else {
                    stale.push(rel);
                }
            }
        }
    }
    for (rel, contents) in files {
        let path = root.join(&rel);
        if regenerate {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &contents).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(contents.as_slice()) {
            stale.push(rel);
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files: {stale:?}\nregenerate with `LLM_COOP_REGENERATE=1 cargo test generated`"
    );
}

/// What bash completes for `words` (the last one being completed), using the committed
/// script as a user's shell would: `complete -p` finds the function it registered.
fn bash_complete(bin: &str, words: &[&str]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("completions/{bin}.bash"));
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        r#"source '{script}'
func=$(complete -p {bin} | sed -E 's/.*-F ([^ ]+).*/\1/')
COMP_WORDS=({bin} {words})
COMP_CWORD=${{#COMP_WORDS[@]}}; COMP_CWORD=$((COMP_CWORD - 1))
COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
"$func" {bin} "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        script = script.display(),
        words = quoted.join(" "),
    );
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The generated bash functions used to complete only the top level: the state names the
/// word loop set (`llm__cooperation__subcmd__query`) were not those the `case` matched
/// (`llm__subcmd__cooperation__subcmd__query`).
#[test]
fn bash_completes_below_the_top_level() {
    let has = |got: &[String], want: &[&str]| {
        for w in want {
            assert!(got.iter().any(|g| g == w), "no {w} in {got:?}");
        }
    };
    has(&bash_complete("llm-cooperation", &["qu"]), &["query"]);
    has(
        &bash_complete("llm-cooperation", &["query", "--m"]),
        &["--model", "--max-tokens"],
    );
    has(
        &bash_complete("llm-cooperation", &["cooperate", "--mode", ""]),
        &["voting", "cascade"],
    );
    has(&bash_complete("llm-cooperation", &["logs", "r"]), &["rm"]);
    has(
        &bash_complete("llm-cooperation", &["logs", "rm", "--"]),
        &["--all", "--yes"],
    );
    has(
        &bash_complete("llm-config", &["add-model", "--t"]),
        &["--tasks", "--tier", "--temperature"],
    );
    has(
        &bash_complete("llm-config", &["default", "--"]),
        &["--unset"],
    );
    has(&bash_complete("llm-server", &["--p"]), &["--port"]);
}

/// `man llm-cooperation` used to refer to `llm-cooperation-help(1)`, which is not shipped:
/// every page a page refers to must exist.
#[test]
fn man_pages_refer_only_to_pages_that_exist() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path())
            .unwrap()
            .replace("\\-", "-");
        for (at, _) in text.match_indices("(1)") {
            let name = text[..at]
                .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .next()
                .unwrap();
            assert!(
                dir.join(format!("{name}.1")).exists(),
                "{} refers to {name}(1), which is not in man/",
                entry.file_name().to_string_lossy()
            );
        }
    }
}

/// A shell the README's test command installs; a clear failure when it is missing.
fn shell(name: &str) -> &str {
    let found = std::process::Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{name}` is not installed: run the README's test command (`bash .ci/test`), which installs it with apt"
    );
    name
}

/// What fish completes for `line`, with the committed script sourced.
fn fish_complete(bin: &str, line: &str) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("completions/{bin}.fish"));
    let out = std::process::Command::new(shell("fish"))
        .args([
            "--no-config",
            "-c",
            &format!("source '{}'; complete -C '{line}'", script.display()),
        ])
        .output()
        .expect("fish runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").to_owned())
        .collect()
}

/// What zsh completes for `line`: an interactive zsh in a pseudo-terminal (`zpty`) with the
/// committed `_bin` functions on its `fpath` and `compinit` run, typed `line` and a Tab;
/// every match `compadd` receives is written to a file until the completion ends.
fn zsh_complete(line: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("matches");
    let completions = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let script = format!(
        r#"zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT= ; fpath=('{completions}' \$fpath); autoload -U compinit; compinit -u"
zpty -w z 'compadd () {{ builtin compadd -O __m "$@"; print -l -- "<<$__m[@]>>" 1>&2; builtin compadd "$@" }}'
zpty -w z 'comppostfuncs=(__done); __done() {{ print "<<END>>" 1>&2 }}'
zpty -w z "exec 2>'{out}'"
zpty -w z "{line}"$'\t'
for i in {{1..400}}; do grep -q '<<END>>' '{out}' 2>/dev/null && break; sleep 0.05; done
zpty -d z
"#,
        completions = completions.display(),
        out = out.display(),
    );
    let status = std::process::Command::new(shell("zsh"))
        .args(["-f", "-c", &script])
        .status()
        .expect("zsh runs");
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        text.contains("<<END>>"),
        "zsh did not complete `{line}`: {text}"
    );
    text.lines()
        .filter_map(|l| l.strip_prefix("<<")?.strip_suffix(">>"))
        .flat_map(|l| l.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter(|m| !m.is_empty() && m != "END")
        .collect()
}

/// fish and zsh complete below the top level too, run by the shells themselves.
#[test]
fn fish_and_zsh_complete_subcommands_and_their_options() {
    let has = |got: &[String], want: &[&str], what: &str| {
        for w in want {
            assert!(got.iter().any(|g| g == w), "{what}: no {w} in {got:?}");
        }
    };
    has(
        &fish_complete("llm-cooperation", "llm-cooperation em"),
        &["embed"],
        "fish",
    );
    has(
        &fish_complete("llm-cooperation", "llm-cooperation query --m"),
        &["--model", "--max-tokens"],
        "fish",
    );
    has(
        &fish_complete("llm-cooperation", "llm-cooperation cooperate --mode "),
        &["voting", "cascade"],
        "fish",
    );
    has(
        &fish_complete("llm-config", "llm-config default --"),
        &["--unset"],
        "fish",
    );
    has(
        &zsh_complete("llm-cooperation query --m"),
        &["--model", "--max-tokens"],
        "zsh",
    );
    has(
        &zsh_complete("llm-config add-model --t"),
        &["--tasks", "--tier"],
        "zsh",
    );
}
