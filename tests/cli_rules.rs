//! Rules every `llm-cooperation` command follows alike: exit codes (0 ok, 1 the models
//! failed, 2 usage or configuration, 130 interrupted) and the `--json` failure object.

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::TestEnv;
use crate::common::upstream::{Behavior, FakeUpstream};

/// `m1` on an OpenAI-kind provider served by `up`; no key needed; fast failure paths.
pub fn setup() -> (TestEnv, FakeUpstream) {
    let env = TestEnv::new();
    let up = FakeUpstream::start();
    env.write_config(&format!(
        r#"[defaults]
max_retries = 0
connect_timeout_secs = 1.0
first_byte_timeout_secs = 30.0
total_timeout_secs = 60.0

[providers.fake]
kind = "openai"
base_url = "{}"
needs_key = false

[[models]]
name = "m1"
provider = "fake"
upstream = "fake-model"
"#,
        up.base_url()
    ));
    (env, up)
}

/// Sends SIGINT (what Ctrl-C sends) to a child.
pub fn interrupt(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[test]
fn json_failures_have_one_shape_for_query_and_cooperate() {
    let (env, up) = setup();
    up.set_default(Behavior::status(500));

    let query = env
        .run("llm-cooperation", &["query", "--json", "-m", "m1", "hi"])
        .expect(1);
    let q = query.json();
    assert!(q["text"].is_null(), "{q}");
    assert_eq!(q["error"]["kind"], "failed", "{q}");
    assert!(
        q["error"]["message"].as_str().unwrap().contains("HTTP 500"),
        "{q}"
    );
    assert_eq!(q["attempts"][0]["model"], "m1", "{q}");
    assert!(query.stderr.contains("error:"), "{}", query.stderr);

    let coop = env
        .run(
            "llm-cooperation",
            &[
                "cooperate",
                "--json",
                "--mode",
                "parallel",
                "--models",
                "m1,m1",
                "hi",
            ],
        )
        .expect(1);
    let c = coop.json();
    assert!(c["text"].is_null(), "{c}");
    assert_eq!(c["error"]["kind"], "failed", "{c}");
    assert!(c["error"]["message"].as_str().unwrap().contains("HTTP 500"));
    assert_eq!(c["receipt"]["status"], "failed", "{c}");
    assert_eq!(keys(&q["error"]), keys(&c["error"]));

    // A usage error after parsing is the same object, kind `usage`, exit code 2.
    for args in [
        &["query", "--json", "-m", "nope", "hi"][..],
        &["cooperate", "--json", "--models", "m1,nope", "hi"][..],
    ] {
        let run = env.run("llm-cooperation", args).expect(2);
        let v = run.json();
        assert!(v["text"].is_null(), "{v}");
        assert_eq!(v["error"]["kind"], "usage", "{args:?}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("nope"),
            "{v}"
        );
    }
}

#[test]
fn a_missing_input_file_is_exit_code_2_everywhere() {
    let (env, _up) = setup();
    let missing = env.cwd.path().join("missing.toml");
    let missing = missing.to_str().unwrap();
    for (bin, args) in [
        ("llm-config", vec!["import", missing]),
        (
            "llm-cooperation",
            vec!["service", "document-analysis", missing],
        ),
        (
            "llm-cooperation",
            vec!["cooperate", "--workflow", missing, "hi"],
        ),
    ] {
        let run = env.run(bin, &args).expect(2);
        assert!(
            run.stderr.contains("Failed to read") && run.stderr.contains("missing.toml"),
            "{bin} {args:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn ctrl_c_while_a_query_waits_exits_130_with_the_json_object() {
    let (env, up) = setup();
    up.set_default(Behavior::Delay {
        before_headers: Duration::from_secs(60),
    });
    let child = env
        .cmd("llm-cooperation")
        .args(["query", "--json", "-m", "m1", "hi"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    up.wait_for_requests(1);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["text"].is_null(), "{v}");
    assert_eq!(v["error"]["kind"], "interrupted", "{v}");
    assert!(stderr.contains("Interrupted"), "{stderr}");
}

#[test]
fn ctrl_c_while_a_query_streams_exits_130() {
    let (env, up) = setup();
    up.set_default(Behavior::SlowDrip {
        chunk_delay: Duration::from_secs(2),
    });
    let mut child = env
        .cmd("llm-cooperation")
        .args(["query", "--stream", "-m", "m1", "hi"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first streamed byte on stdout: the answer is under way.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    interrupt(&child);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("the answer above is incomplete"),
        "{stderr}"
    );
}

#[test]
fn in_a_pipe_failed_members_of_a_successful_run_are_named_on_stderr() {
    let (env, up) = setup();
    up.push([Behavior::status(500)]);
    let run = env
        .run(
            "llm-cooperation",
            &[
                "cooperate",
                "--mode",
                "parallel",
                "--integration",
                "concat",
                "--models",
                "m1,m1,m1",
                "hi",
            ],
        )
        .expect(0);
    assert!(!run.stdout.is_empty());
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with("warning: member `")
            && lines[0].contains("(m1 on `fake`) failed:")
            && lines[0].contains("HTTP 500"),
        "{}",
        run.stderr
    );

    // The same with `--json`: stdout is the JSON, the failure is still on stderr.
    up.push([Behavior::status(500)]);
    let run = env
        .run(
            "llm-cooperation",
            &[
                "cooperate",
                "--json",
                "--mode",
                "parallel",
                "--integration",
                "concat",
                "--models",
                "m1,m1,m1",
                "hi",
            ],
        )
        .expect(0);
    assert_eq!(run.json()["receipt"]["status"], "done");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}
