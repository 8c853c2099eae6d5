//! The local demo model behind the gateway and the CLI (feature `local`): both protocols,
//! concurrent requests sharing decode steps, reloads that load and unload engines, and the
//! CLI starting `llm-server` itself on the embedded default's kind of configuration.

use std::process::Command;
use std::time::Duration;

use llm_cooperation::config::{Config, EnvSnapshot, Paths};
use llm_cooperation::server::{AppState, app, serve};
use serde_json::{Value, json};

use crate::common::TestEnv;

fn model_path() -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".deps/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        p.exists(),
        "the demo model is missing at `{}`: run `bash .ci/deps.sh`",
        p.display()
    );
    p
}

fn config_text(port: u16, with_model: bool) -> String {
    let mut text = format!(
        "[defaults]\nmax_retries = 0\n\n[providers.local]\nkind = \"local\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\nneeds_key = false\n"
    );
    if with_model {
        text.push_str(&format!(
            "\n[[models]]\nname = \"smollm2\"\nprovider = \"local\"\nupstream = \"smollm2\"\nmax_tokens = 32\n\n[[local.models]]\nname = \"smollm2\"\npath = \"{}\"\nmax_batch = 4\n",
            model_path().display()
        ));
    }
    text
}

fn ask(content: &str) -> Value {
    json!({ "model": "smollm2", "temperature": 0, "max_tokens": 24, "messages": [{ "role": "user", "content": content }] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_the_local_model_on_both_protocols_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), config_text(1, true)).unwrap();
    let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
    let state = tokio::task::spawn_blocking(move || AppState::new(config, vec![]))
        .await
        .unwrap()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, app(state.clone()), std::future::pending()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let post = |path: &'static str, body: Value| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let r = client
                .post(format!("{url}{path}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let alone = post(
        "/v1/chat/completions",
        ask("What is the capital of France?"),
    )
    .await;
    let text = alone["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("Paris"), "{text}");
    assert!(alone["usage"]["completion_tokens"].as_u64().unwrap() > 0);

    let msg = post(
        "/v1/messages",
        json!({ "model": "smollm2", "max_tokens": 24, "temperature": 0, "messages": [{ "role": "user", "content": "What is the capital of France?" }] }),
    )
    .await;
    assert_eq!(
        msg["content"][0]["text"],
        text.as_str(),
        "same greedy answer through Anthropic's protocol"
    );

    // Several at once share decode steps and each gets what it gets alone.
    let prompts = [
        "What is the capital of France?",
        "Name a primary color.",
        "What is 2 + 2?",
        "Say hello.",
    ];
    let mut alone_texts = Vec::new();
    for p in &prompts[1..] {
        alone_texts.push(
            post("/v1/chat/completions", ask(p)).await["choices"][0]["message"]["content"].clone(),
        );
    }
    let together =
        futures::future::join_all(prompts.iter().map(|p| post("/v1/chat/completions", ask(p))))
            .await;
    assert_eq!(
        together[0]["choices"][0]["message"]["content"],
        text.as_str()
    );
    for (got, want) in together[1..].iter().zip(&alone_texts) {
        assert_eq!(&got["choices"][0]["message"]["content"], want);
    }

    // A reload without the model unloads it; with it again, loads it.
    std::fs::write(dir.path().join("config.toml"), config_text(1, false)).unwrap();
    let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
    let s = state.clone();
    tokio::task::spawn_blocking(move || s.reload(config))
        .await
        .unwrap()
        .unwrap();
    assert!(state.local.names().is_empty());
    std::fs::write(dir.path().join("config.toml"), config_text(1, true)).unwrap();
    let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
    let s = state.clone();
    tokio::task::spawn_blocking(move || s.reload(config))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.local.names(), ["smollm2"]);
}

/// `llm-cooperation query` with a local model and no server: it starts `llm-server` itself.
#[test]
fn the_cli_starts_the_local_server_and_answers() {
    let env = TestEnv::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    env.write_config(&config_text(port, true));
    let run = env.run_env(
        "llm-cooperation",
        &[
            "query",
            "-t",
            "0",
            "--max-tokens",
            "24",
            "What is the capital of France?",
        ],
        &[("LLM_COOP_AUTOSTART", "1")],
    );
    let pid_file = env.cwd.path().join(format!(
        ".local/share/llm-cooperation/llm-server-{port}.pid"
    ));
    let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
    if !pid.is_empty() {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
    let run = run.expect(0);
    assert!(run.stdout.contains("Paris"), "{}", run.stdout);
    assert!(
        !pid.is_empty(),
        "the CLI started the server and recorded its pid at `{}`",
        pid_file.display()
    );
}
