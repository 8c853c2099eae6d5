//! Snapshots of what people read: `models`, `logs`, a cooperation receipt, `--explain` and
//! error messages, with the volatile parts (times, ports, temporary paths) filtered or fixed,
//! so a change of wording or layout shows up in review. (`llm-config list`: `cli_config`.)

use std::sync::Arc;

use llm_cooperation::config::{Config, EnvSnapshot, Paths};
use llm_cooperation::cooperation::{ExecOptions, Mode, ModeSpec, compile, execute};
use llm_cooperation::router::Router;

use crate::common::TestEnv;
use crate::common::upstream::{Behavior, FakeUpstream};

/// `m1` (tier 2) and `m2` (tier 4) on a provider needing no key, and `paid` on a provider
/// whose key is missing.
fn config_text(up: &FakeUpstream) -> String {
    format!(
        r#"[defaults]
max_retries = 0

[providers.fake]
kind = "openai"
base_url = "{url}"
needs_key = false

[providers.paid]
kind = "openai"
base_url = "{url}"
api_key_env = "PAID_API_KEY"

[[models]]
name = "m1"
provider = "fake"
upstream = "fake-model"
tasks = ["chat", "summarization"]
tier = 2
price_in = 0.5
price_out = 1.0

[[models]]
name = "m2"
provider = "fake"
upstream = "fake-model-large"
tasks = ["chat", "code", "math", "reasoning"]
tier = 4
price_in = 3.0
price_out = 15.0
context_window = 128000

[[models]]
name = "paid"
provider = "paid"
upstream = "paid-model"
"#,
        url = up.base_url()
    )
}

fn setup() -> (TestEnv, FakeUpstream) {
    let env = TestEnv::new();
    let up = FakeUpstream::start();
    env.write_config(&config_text(&up));
    (env, up)
}

/// Filters for what changes between runs: temporary directories, ports, times.
fn settings(env: &TestEnv) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(
        &regex_escape(&env.dir.path().display().to_string()),
        "[CONFIG]",
    );
    s.add_filter(
        &regex_escape(&env.cwd.path().display().to_string()),
        "[CWD]",
    );
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    // Same width as a time, so the table around it keeps its shape.
    s.add_filter(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "YYYY-MM-DD hh:mm:ss");
    s
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

#[test]
fn models_table() {
    let (env, _up) = setup();
    env.run("llm-config", &["default", "m1"]).expect(0);
    let run = env.run("llm-cooperation", &["models"]).expect(0);
    settings(&env).bind(|| insta::assert_snapshot!(run.stdout));
}

#[test]
fn logs_table() {
    let (env, up) = setup();
    env.run("llm-cooperation", &["query", "-m", "m1", "What is Rust?"])
        .expect(0);
    up.push([Behavior::status(500)]);
    env.run("llm-cooperation", &["query", "-m", "m2", "A failing one"])
        .expect(1);
    env.run(
        "llm-cooperation",
        &[
            "cooperate",
            "--mode",
            "parallel",
            "--integration",
            "concat",
            "--models",
            "m1,m2",
            "Both of you",
        ],
    )
    .expect(0);
    let run = env.run("llm-cooperation", &["logs"]).expect(0);
    settings(&env).bind(|| insta::assert_snapshot!(run.stdout));
}

#[test]
fn explain_table() {
    let (env, _up) = setup();
    let run = env
        .run(
            "llm-cooperation",
            &[
                "query",
                "--explain",
                "Prove that the square root of 2 is irrational",
            ],
        )
        .expect(0);
    settings(&env).bind(|| insta::assert_snapshot!(run.stderr));
}

#[test]
fn error_messages() {
    let (env, _up) = setup();
    let mut all = String::new();
    for args in [
        &["query", "-m", "nope", "hi"][..],
        &["query"][..],
        &["query", "-m", "paid", "hi"][..],
        &[
            "cooperate",
            "--mode",
            "voting",
            "--models",
            "m1,m2",
            "--quorum",
            "3",
            "hi",
        ][..],
        &["logs", "show", "999"][..],
    ] {
        let run = env.run("llm-cooperation", args);
        all.push_str(&format!(
            "$ llm-cooperation {}\n[exit {}]\n{}\n",
            args.join(" "),
            run.code,
            run.stderr
        ));
    }
    let run = env.run("llm-config", &["default", "nope"]);
    all.push_str(&format!(
        "$ llm-config default nope\n[exit {}]\n{}",
        run.code, run.stderr
    ));
    settings(&env).bind(|| insta::assert_snapshot!(all));
}

/// The receipt table a voting run prints on a terminal, with times fixed (they would change
/// the column widths, which a filter cannot undo).
#[tokio::test]
async fn voting_receipt() {
    let (env, up) = setup();
    up.set_default(Behavior::ok("The answer is 42."));
    let config = Config::load(Paths::in_dir(env.config_dir()), EnvSnapshot::default()).unwrap();
    let router = Arc::new(Router::new(&config).unwrap());
    let spec = ModeSpec::new(Mode::Voting, ["m1", "m1", "m2"]);
    let plan = compile(&spec, &router).unwrap();
    let outcome = execute(router, &plan, "What is 6 × 7?", ExecOptions::default())
        .await
        .unwrap();
    let mut receipt = outcome.receipt;
    receipt.wall_ms = 2_500.0;
    for s in &mut receipt.steps {
        if let Some(l) = &mut s.latency_ms {
            *l = 1_250.0;
        }
    }
    let (table, notes) = llm_cooperation::ui::progress::receipt_text(&receipt, false);
    insta::assert_snapshot!(format!("{table}\n{}", notes.join("\n")));
}
