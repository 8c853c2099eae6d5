//! Keys never leak. Keys are planted in the credentials file, in the environment and in an
//! upstream's error messages (which quote them back, as some APIs do); then a whole CLI
//! session and a whole gateway session run, with logs at trace level, and every byte they
//! output is searched for every planted key and the gateway's own token.
//!
//! The session proves it used the keys (the upstream received them), so the search cannot
//! pass because nothing happened.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use llm_cooperation::config::{Config, EnvSnapshot, Paths, mask_key, presets};
use llm_cooperation::server::AppState;
use serde_json::json;

use crate::common::TestEnv;
use crate::common::upstream::{Behavior, FakeUpstream};

/// Stored with `llm-config preset openai --api-key`.
const OPENAI_KEY: &str = "sk-planted-openai-7f3a9c2e41d8b6a5";
/// Stored with `llm-config preset anthropic --api-key`.
const ANTHROPIC_KEY: &str = "sk-ant-planted-file-5e1d7c3b9a2f40";
/// Given to the server in `ANTHROPIC_API_KEY` (the environment wins over the file).
const ANTHROPIC_ENV_KEY: &str = "sk-ant-planted-env-0c9e8d7f6a5b43";
/// The gateway's own bearer token.
const TOKEN: &str = "gw-planted-token-c0ffee1234567890";

const SECRETS: [&str; 4] = [OPENAI_KEY, ANTHROPIC_KEY, ANTHROPIC_ENV_KEY, TOKEN];

/// Everything a session printed or answered, labelled.
#[derive(Default)]
struct Transcript(Vec<(String, String)>);

impl Transcript {
    fn add(&mut self, label: impl Into<String>, text: impl Into<String>) {
        self.0.push((label.into(), text.into()));
    }

    fn text(&self) -> String {
        self.0
            .iter()
            .map(|(l, t)| format!("==> {l}\n{t}\n"))
            .collect()
    }

    /// Fails naming where a secret showed up.
    #[track_caller]
    fn assert_clean(&self) {
        for (label, text) in &self.0 {
            for secret in SECRETS {
                assert!(
                    !text.contains(secret),
                    "`{secret}` leaked in {label}:\n{text}"
                );
            }
        }
    }
}

fn first_model(preset: &str) -> String {
    presets::get(preset).unwrap().models[0].name.clone()
}

/// Kills the child if the test fails before it exits.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_keys_never_appear_in_any_output_of_a_cli_and_server_session() {
    let up = FakeUpstream::start();
    let env = TestEnv::new();
    let gpt = first_model("openai");
    let claude = first_model("anthropic");
    let mut out = Transcript::default();

    // The CLI session, at the most verbose level where it has one.
    let mut cli = |label: &str, bin: &str, args: &[&str], code: i32| {
        let r = env.run_env(bin, args, &[("LOG_LEVEL", "trace")]);
        out.add(
            format!("{label}: {bin} {args:?} (exit {})", r.code),
            format!("{}\n{}", r.stdout, r.stderr),
        );
        assert_eq!(r.code, code, "{bin} {args:?}\n{}\n{}", r.stdout, r.stderr);
        r
    };
    let url = up.base_url();
    cli(
        "preset",
        "llm-config",
        &[
            "preset",
            "--name",
            "openai",
            "--api-key",
            OPENAI_KEY,
            "--base-url",
            &url,
        ],
        0,
    );
    cli(
        "preset",
        "llm-config",
        &[
            "preset",
            "--name",
            "anthropic",
            "--api-key",
            ANTHROPIC_KEY,
            "--base-url",
            &url,
        ],
        0,
    );
    cli("presets", "llm-config", &["preset", "--list", "--json"], 0);
    let list = cli("list", "llm-config", &["list"], 0);
    assert!(
        list.stdout.contains(&mask_key(OPENAI_KEY)),
        "keys are listed masked:\n{}",
        list.stdout
    );
    cli("list", "llm-config", &["list", "--json"], 0);
    cli("show", "llm-config", &["show"], 0);
    cli("show", "llm-config", &["show", "--json"], 0);
    cli("export", "llm-config", &["export", "-"], 0);
    cli("export", "llm-config", &["export", "exported.toml"], 0);
    cli(
        "test",
        "llm-config",
        &["-vvv", "test", "--model", &gpt, "--json"],
        0,
    );
    cli("models", "llm-cooperation", &["models", "--json"], 0);
    cli(
        "status",
        "llm-cooperation",
        &["-vvv", "status", "--json"],
        0,
    );
    let answered = cli(
        "query",
        "llm-cooperation",
        &["-vvv", "query", "--json", "-m", &gpt, "hi"],
        0,
    );
    assert_eq!(answered.json()["model"], gpt.as_str());
    assert_eq!(
        up.last().header("authorization"),
        Some(&*format!("Bearer {OPENAI_KEY}")),
        "the key was used"
    );
    cli(
        "query",
        "llm-cooperation",
        &["-vvv", "query", "--json", "-m", &claude, "hi"],
        0,
    );
    assert_eq!(
        up.last().header("x-api-key"),
        Some(ANTHROPIC_KEY),
        "the key was used"
    );
    // Failures whose upstream messages quote the key.
    up.push([Behavior::status_with_message(
        401,
        &format!("Incorrect API key provided: {OPENAI_KEY}"),
    )]);
    let failed = cli(
        "failing query",
        "llm-cooperation",
        &["-vvv", "query", "-m", &gpt, "hi"],
        1,
    );
    assert!(
        failed.stderr.contains(&mask_key(OPENAI_KEY)),
        "the echo was masked:\n{}",
        failed.stderr
    );
    up.push([Behavior::status_with_message(
        403,
        &format!("key {ANTHROPIC_KEY} is disabled"),
    )]);
    cli(
        "failing query",
        "llm-cooperation",
        &["-vvv", "query", "--json", "-m", &claude, "hi"],
        1,
    );
    up.push([Behavior::ErrorMidStream {
        message: format!("overloaded (key {OPENAI_KEY})"),
    }]);
    cli(
        "failing stream",
        "llm-cooperation",
        &["-vvv", "query", "--stream", "-m", &gpt, "hi"],
        1,
    );
    up.push([Behavior::status_with_message(
        401,
        &format!("bad key {OPENAI_KEY}"),
    )]);
    cli(
        "failing test",
        "llm-config",
        &["-vvv", "test", "--model", &gpt],
        1,
    );
    let exported = std::fs::read_to_string(env.cwd.path().join("exported.toml")).unwrap();
    out.add("exported.toml", exported);

    // The gateway session: the binary with logs at trace level.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = env
        .cmd("llm-server")
        .args(["--port", &port.to_string(), "--token", TOKEN])
        .env("LOG_LEVEL", "trace")
        .env("ANTHROPIC_API_KEY", ANTHROPIC_ENV_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = ChildGuard(child);
    // Drain the logs as they come, or a full pipe would block the server.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stderr = drain(Box::new(child.0.stderr.take().unwrap()));
    let stdout = drain(Box::new(child.0.stdout.take().unwrap()));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Ok(r) = client
            .get(format!("{base}/health"))
            .bearer_auth(TOKEN)
            .send()
            .await
            && r.status() == 200
        {
            break;
        }
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "llm-server exited early"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "llm-server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut http = Vec::new();
    let openai = |model: &str, stream: bool| json!({ "model": model, "stream": stream, "messages": [{ "role": "user", "content": "hi" }] });
    let anthropic = |model: &str, stream: bool| json!({ "model": model, "stream": stream, "max_tokens": 50, "messages": [{ "role": "user", "content": "hi" }] });
    let requests: Vec<(&str, &str, Option<serde_json::Value>, Option<Behavior>)> = vec![
        (
            "ok",
            "/v1/chat/completions",
            Some(openai(&gpt, false)),
            None,
        ),
        (
            "ok",
            "/v1/chat/completions",
            Some(openai(&claude, true)),
            None,
        ),
        ("ok", "/v1/messages", Some(anthropic(&claude, false)), None),
        ("ok", "/v1/messages", Some(anthropic(&gpt, true)), None),
        (
            "ok",
            "/query",
            Some(json!({ "query": "hi", "model": gpt })),
            None,
        ),
        (
            "echo",
            "/v1/messages",
            Some(anthropic(&claude, true)),
            Some(Behavior::ErrorMidStream {
                message: format!("overloaded for {ANTHROPIC_ENV_KEY}"),
            }),
        ),
        (
            "echo",
            "/v1/chat/completions",
            Some(openai(&gpt, true)),
            Some(Behavior::ErrorMidStream {
                message: format!("overloaded for {OPENAI_KEY}"),
            }),
        ),
        (
            "echo",
            "/query",
            Some(json!({ "query": "hi", "model": claude })),
            Some(Behavior::status_with_message(
                400,
                &format!("malformed request from {ANTHROPIC_ENV_KEY}"),
            )),
        ),
        (
            "echo",
            "/v1/chat/completions",
            Some(openai(&gpt, false)),
            Some(Behavior::status_with_message(
                401,
                &format!("Incorrect API key provided: {OPENAI_KEY}"),
            )),
        ),
        (
            "echo",
            "/v1/messages",
            Some(anthropic(&claude, false)),
            Some(Behavior::status_with_message(
                401,
                &format!("invalid x-api-key {ANTHROPIC_ENV_KEY}"),
            )),
        ),
        ("get", "/status", None, None),
        ("get", "/models", None, None),
        ("get", "/v1/models", None, None),
        ("get", "/routing/stats", None, None),
        ("get", "/metrics", None, None),
    ];
    for (kind, path, body, behavior) in requests {
        if let Some(b) = behavior {
            up.push([b]);
        }
        let req = match &body {
            Some(body) => client.post(format!("{base}{path}")).json(body),
            None => client.get(format!("{base}{path}")),
        };
        let resp = req.bearer_auth(TOKEN).send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = format!("{:?}", resp.headers());
        let text = resp.text().await.unwrap();
        match kind {
            "echo" => assert!(
                text.contains(&mask_key(OPENAI_KEY)) || text.contains(&mask_key(ANTHROPIC_ENV_KEY)),
                "{path}: the upstream's echo arrives masked: {text}"
            ),
            _ => assert_eq!(status, 200, "{path}: {text}"),
        }
        http.push((
            format!("HTTP {status} {path} {body:?}"),
            format!("{headers}\n{text}"),
        ));
    }
    assert_eq!(
        up.last().header("x-api-key"),
        Some(ANTHROPIC_ENV_KEY),
        "the environment's key was used"
    );
    // A wrong token, in both shapes.
    for path in ["/v1/chat/completions", "/v1/messages"] {
        let resp = client
            .post(format!("{base}{path}"))
            .bearer_auth(format!("{TOKEN}x"))
            .json(&openai(&gpt, false))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        http.push((format!("HTTP 401 {path}"), resp.text().await.unwrap()));
    }
    // The 401s left both models out (their keys were rejected); a reload tries them again.
    std::process::Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A credentials file that became readable by others is refused on reload, naming the fix;
    // the server keeps its configuration and goes on serving.
    let credentials = env.config_dir().join("credentials.toml");
    std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(TOKEN)
        .json(&openai(&gpt, false))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "still serving with the old configuration"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    while child.0.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "llm-server did not stop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logs = stderr.join().unwrap();
    assert!(
        logs.lines().count() > 20 && logs.contains("TRACE"),
        "the server logged at trace level:\n{logs}"
    );
    assert!(
        logs.contains("chmod 600"),
        "the refused reload says how to fix it:\n{logs}"
    );
    out.add("llm-server stderr (LOG_LEVEL=trace)", logs);
    out.add("llm-server stdout", stdout.join().unwrap());
    for (label, text) in http {
        out.add(label, text);
    }

    // A loose credentials file stops the server at start, with the fix.
    let run = env.run("llm-server", &["--port", "0"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
    out.add("llm-server with a loose credentials file", run.stderr);

    out.assert_clean();
    assert!(
        out.text().contains(&mask_key(ANTHROPIC_ENV_KEY)),
        "masked keys are shown"
    );
}

/// Debug output (which panic messages and `{:?}` logs use) of the configuration, the router and
/// the server state: the keys and tokens they hold are masked or left out.
#[test]
fn debug_output_of_the_state_holds_no_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[providers.p]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_env = \"P_KEY\"\n\n\
         [providers.q]\nkind = \"anthropic\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\n\
         [[models]]\nname = \"m\"\nprovider = \"p\"\nupstream = \"u\"\n\n\
         [[models]]\nname = \"n\"\nprovider = \"q\"\nupstream = \"u\"\n",
    )
    .unwrap();
    let credentials = dir.path().join("credentials.toml");
    std::fs::write(&credentials, format!("[keys]\nq = \"{ANTHROPIC_KEY}\"\n")).unwrap();
    std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o600)).unwrap();
    let env = EnvSnapshot::from_pairs([("P_KEY", OPENAI_KEY), ("UNRELATED", ANTHROPIC_ENV_KEY)]);
    let config = Config::load(Paths::in_dir(dir.path()), env).unwrap();
    assert_eq!(
        config.api_key("p").unwrap().0,
        OPENAI_KEY,
        "the key is loaded"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let state = AppState::new(config.clone(), vec![TOKEN.to_owned()]).unwrap();
    let shown = format!(
        "{config:?}\n{config:#?}\n{state:?}\n{:?}",
        state.live().router
    );
    for secret in SECRETS {
        assert!(!shown.contains(secret), "`{secret}` in:\n{shown}");
    }
    assert!(
        shown.contains(&mask_key(OPENAI_KEY)),
        "the clients show masked keys:\n{shown}"
    );
}
