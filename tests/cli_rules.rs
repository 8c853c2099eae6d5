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

/// Everything a child writes to a pipe, gathered by a thread, with a way to wait for a text.
struct Output {
    text: std::sync::Arc<(std::sync::Mutex<String>, std::sync::Condvar)>,
    reader: std::thread::JoinHandle<()>,
}

impl Output {
    fn gather(mut from: impl Read + Send + 'static) -> Self {
        let text = std::sync::Arc::new((std::sync::Mutex::new(String::new()), Default::default()));
        let shared = text.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                let (lock, arrived): &(_, std::sync::Condvar) = &shared;
                lock.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
                arrived.notify_all();
            }
        });
        Output { text, reader }
    }

    /// Blocks until `needle` has been written `times` times (panics after 30 s with the text).
    fn wait_for(&self, needle: &str, times: usize) {
        let (lock, arrived) = &*self.text;
        let (text, timeout) = arrived
            .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(30), |t| {
                t.matches(needle).count() < times
            })
            .unwrap();
        assert!(!timeout.timed_out(), "no {needle:?} in:\n{text}");
    }

    /// All of it, once the writer has closed the pipe.
    fn finish(self) -> String {
        self.reader.join().unwrap();
        self.text.0.lock().unwrap().clone()
    }
}

/// `chat` on a terminal (a pseudo-terminal made by `script`): Ctrl-C during a streamed answer
/// stops it and returns to the prompt, as in `query`; it used to be ignored until the answer
/// ended.
#[test]
fn ctrl_c_in_a_chat_stops_the_answer_and_returns_to_the_prompt() {
    use std::io::Write;
    let (env, up) = setup();
    up.push([
        Behavior::SlowDrip {
            chunk_delay: Duration::from_secs(2),
        },
        Behavior::ok("Second answer"),
    ]);
    let chat = env.cmd("llm-cooperation");
    let mut cmd = std::process::Command::new("script");
    cmd.env_clear()
        .envs(chat.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("TERM", "xterm")
        .current_dir(env.cwd.path())
        .args(["-q", "-e", "-c"])
        // `exec`: no shell in between to be killed by the SIGINT.
        .arg(format!(
            "exec {} chat -m m1",
            chat.get_program().to_string_lossy()
        ))
        .arg("/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let out = Output::gather(child.stdout.take().unwrap());
    out.wait_for("> ", 1);
    stdin.write_all(b"first question\r").unwrap();
    // The first streamed piece of the answer is on the screen; the rest is seconds away.
    out.wait_for("Hell", 1);
    stdin.write_all(b"\x03").unwrap();
    out.wait_for("Interrupted", 1);
    out.wait_for("> ", 2);
    stdin.write_all(b"second question\r").unwrap();
    out.wait_for("Second answer", 1);
    stdin.write_all(b"/exit\r").unwrap();
    let status = child.wait().unwrap();
    let screen = out.finish();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(
        !screen.contains("Hello from the fake upstream"),
        "the first answer ran to its end:\n{screen}"
    );
    // The interrupted turn is not part of the conversation the second question continues.
    let messages = up.last().body["messages"].clone();
    assert_eq!(messages.as_array().unwrap().len(), 1, "{messages}");
    assert_eq!(messages[0]["content"], "second question");
}

/// The pid file `llm-cooperation` writes for the `llm-server` it starts used to stay behind
/// after the server stopped, naming a process that no longer exists.
#[test]
fn llm_server_removes_its_pid_file_when_stopped_by_sigterm() {
    use std::io::BufRead;
    let (env, _up) = setup();
    let data = env.cwd.path().join("data");
    let mut child = env
        .cmd("llm-server")
        .args(["--port", "0"])
        .env("LLM_COOP_DATA_DIR", &data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The port it bound, from the line it prints once it listens.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut port = None;
    let mut line = String::new();
    while port.is_none() && stderr.read_line(&mut line).unwrap() > 0 {
        port = line
            .split("listening on http://127.0.0.1:")
            .nth(1)
            .map(|p| p.trim().parse::<u16>().unwrap());
        line.clear();
    }
    let port = port.expect("llm-server said where it listens");
    std::fs::create_dir_all(&data).unwrap();
    let ours = data.join(format!("llm-server-{port}.pid"));
    std::fs::write(&ours, child.id().to_string()).unwrap();
    // Another server's file (another port) is not this one's to remove.
    let theirs = data.join(format!("llm-server-{}.pid", port.wrapping_add(1)));
    std::fs::write(&theirs, "1").unwrap();

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(!ours.exists(), "the pid file is still there");
    assert!(theirs.exists());
}

/// `service` took `--models` but not `-m`, unlike every other command that takes models.
#[test]
fn service_takes_dash_m() {
    let (env, up) = setup();
    env.run_stdin(
        "llm-cooperation",
        &["service", "document-analysis", "-m", "m1"],
        "A short text to analyse.",
    )
    .expect(0);
    assert_eq!(up.last().body["model"], "fake-model");
}

/// `status` used to leave out a provider without its key, as if it were not configured.
#[test]
fn status_lists_providers_without_a_key_with_the_fix() {
    let (env, _up) = setup();
    let mut config = env.read_config();
    config.push_str(
        "\n[providers.paid]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_env = \"PAID_API_KEY\"\n",
    );
    env.write_config(&config);
    let out = env
        .run("llm-cooperation", &["status", "--json"])
        .expect(0)
        .json();
    let providers = out["providers"].as_array().unwrap();
    let fake = providers.iter().find(|p| p["provider"] == "fake").unwrap();
    assert_eq!(fake["reachable"], true, "{out}");
    let paid = providers
        .iter()
        .find(|p| p["provider"] == "paid")
        .unwrap_or_else(|| panic!("`paid` is not listed: {out}"));
    assert_eq!(paid["no_key"], true);
    assert!(
        paid["error"]
            .as_str()
            .unwrap()
            .contains("llm-config set-key --provider paid"),
        "{paid}"
    );
    let table = env.run("llm-cooperation", &["status"]).expect(0);
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.contains("paid") && l.contains("no key")),
        "{}",
        table.stdout
    );
}
