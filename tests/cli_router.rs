//! The router through the CLI: `query --strategy/--explain`, `models`, `status`, `test`.

use crate::common::TestEnv;
use crate::common::upstream::{Behavior, FakeUpstream, refused_url};

/// Three models of different tiers and prices on one fake upstream, one on a dead port, one
/// on a provider without a key.
fn setup() -> (TestEnv, FakeUpstream) {
    let env = TestEnv::new();
    let up = FakeUpstream::start();
    let url = up.base_url();
    let dead = refused_url();
    env.write_config(&format!(
        r#"[defaults]
max_retries = 0
connect_timeout_secs = 1.0
total_timeout_secs = 10.0

[providers.fake]
kind = "openai"
base_url = "{url}"
needs_key = false

[providers.dead]
kind = "openai"
base_url = "{dead}"
needs_key = false

[providers.keyed]
kind = "openai"
base_url = "{url}"
api_key_env = "KEYED_API_KEY"

[[models]]
name = "cheap"
provider = "fake"
upstream = "fake-model"
tasks = ["chat", "translation"]
tier = 1
price_in = 0.1
price_out = 0.2

[[models]]
name = "strong"
provider = "fake"
upstream = "fake-model-large"
tasks = ["chat", "math", "reasoning", "code"]
tier = 5
price_in = 5.0
price_out = 15.0

[[models]]
name = "gone"
provider = "dead"
upstream = "x"
tasks = ["chat"]
tier = 3

[[models]]
name = "locked"
provider = "keyed"
upstream = "y"
tier = 4
"#
    ));
    (env, up)
}

#[test]
fn strategies_pick_by_price_or_quality_and_explain_says_why() {
    let (env, up) = setup();
    let cheap = env
        .run(
            "llm-cooperation",
            &["query", "--strategy", "cheapest", "--json", "hi"],
        )
        .expect(0)
        .json();
    assert_eq!(cheap["model"], "cheap");
    assert_eq!(up.last().body["model"], "fake-model");

    let run = env
        .run(
            "llm-cooperation",
            &[
                "query",
                "--strategy",
                "quality",
                "--explain",
                "--json",
                "Prove that √2 is irrational",
            ],
        )
        .expect(0);
    let out = run.json();
    assert_eq!(out["model"], "strong");
    let d = &out["decision"];
    assert_eq!(d["strategy"], "quality");
    assert_eq!(d["analysis"]["task"], "math");
    let verdicts: Vec<(&str, &str)> = d["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["model"].as_str().unwrap(), c["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(verdicts[0], ("strong", "chosen"));
    assert!(verdicts.contains(&("locked", "excluded")), "{verdicts:?}");
    let locked = d["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["model"] == "locked")
        .unwrap();
    assert!(
        locked["reason"]["why"]
            .as_str()
            .unwrap()
            .contains("KEYED_API_KEY"),
        "{locked}"
    );

    // Without --json the explanation is a table on stderr; stdout keeps only the answer.
    let run = env
        .run(
            "llm-cooperation",
            &["query", "--strategy", "quality", "--explain", "hi"],
        )
        .expect(0);
    assert!(
        run.stderr.contains("chosen") && run.stderr.contains("fallback"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("task chat"), "{}", run.stderr);
    assert!(!run.stdout.contains("chosen"));
}

#[test]
fn a_dead_model_is_skipped_by_auto_and_the_json_lists_the_failed_attempt() {
    let (env, _up) = setup();
    // `gone` is free, so `cheapest` ranks it first; it refuses connections, `cheap` answers.
    let out = env
        .run(
            "llm-cooperation",
            &["query", "--strategy", "cheapest", "--json", "hello"],
        )
        .expect(0)
        .json();
    let attempts = out["attempts"].as_array().unwrap();
    assert_eq!(out["model"], "cheap");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0]["model"], "gone");
    assert_eq!(attempts[0]["error_kind"], "connect");
    assert!(attempts[1]["error"].is_null());
    // Naming the dead model fails with exit 1 and says which upstream failed.
    let run = env
        .run("llm-cooperation", &["query", "-m", "gone", "hello"])
        .expect(1);
    assert!(
        run.stderr.contains("Cannot connect to `dead`"),
        "{}",
        run.stderr
    );
}

#[test]
fn models_lists_readiness_and_status_checks_providers() {
    let (env, _up) = setup();
    let models = env
        .run("llm-cooperation", &["models", "--json"])
        .expect(0)
        .json();
    let by_name = |n: &str| {
        models
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("cheap")["health"], "ready");
    assert!(
        by_name("locked")["health"]
            .as_str()
            .unwrap()
            .contains("No API key")
    );
    assert_eq!(by_name("strong")["tier"], 5);
    let table = env.run("llm-cooperation", &["models"]).expect(0);
    assert!(table.stdout.contains("strong") && table.stdout.contains("reasoning"));

    // `dead` refuses connections: status exits 1 and says so; `fake` is reachable.
    let status = env
        .run("llm-cooperation", &["status", "--json", "--timeout", "2"])
        .expect(1)
        .json();
    let p = |n: &str| {
        status["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["provider"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(p("fake")["reachable"], true);
    assert_eq!(p("fake")["models_listed"], 2);
    assert_eq!(p("dead")["reachable"], false);
    assert!(status["server"].is_null());
}

#[test]
fn test_command_reports_each_model() {
    let (env, up) = setup();
    up.push([Behavior::ok("ok")]);
    let out = env
        .run("llm-cooperation", &["test", "--model", "cheap", "--json"])
        .expect(0)
        .json();
    assert_eq!(out[0]["ok"], true);
    assert_eq!(out[0]["result"], "ok");
    let run = env.run("llm-config", &["test", "--json"]).expect(1);
    let out = run.json();
    let failed: Vec<&str> = out
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["ok"] == false)
        .map(|o| o["model"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 2, "{out}");
    assert!(failed.contains(&"gone") && failed.contains(&"locked"));
}

#[test]
fn allow_cooperation_hands_a_complex_query_to_several_models() {
    let (env, up) = setup();
    up.set_default(Behavior::ok("It depends."));
    let complex = "Analyze step by step and prove each claim: 1. Why do markets crash? 2. Compare 1929 and 2008. 3. What are the trade-offs of each policy response? 4. What would you recommend?";
    let out = env
        .run(
            "llm-cooperation",
            &["query", "--allow-cooperation", "--json", complex],
        )
        .expect(0)
        .json();
    assert_eq!(out["text"], "It depends.");
    let models: Vec<&str> = out["receipt"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["model"].as_str())
        .collect();
    assert!(models.len() >= 2, "{out}");
    // A simple question stays with one model.
    let out = env
        .run(
            "llm-cooperation",
            &["query", "--allow-cooperation", "--json", "hi"],
        )
        .expect(0)
        .json();
    assert!(
        out.get("receipt").is_none() && out["model"].is_string(),
        "{out}"
    );
}
