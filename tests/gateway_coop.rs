//! Cooperation through the gateway: virtual models in both protocols, streaming,
//! `/cooperation/task` (body and query parameters), `/service`, and `/query` with
//! `allow_cooperation`.

use std::time::Duration;

use llm_cooperation::config::{Config, EnvSnapshot, Paths};
use llm_cooperation::server::{AppState, app, serve};
use serde_json::{Value, json};

use crate::common::upstream::{Behavior, FakeUpstream};

struct Gw {
    url: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(up: &FakeUpstream) -> Gw {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!(
        "[defaults]\nmax_retries = 0\ntotal_timeout_secs = 10.0\n\n[providers.fake]\nkind = \"openai\"\nbase_url = \"{}\"\nneeds_key = false\n",
        up.base_url()
    );
    for (name, tier) in [("m1", 2), ("m2", 3), ("m3", 4)] {
        text.push_str(&format!(
            "\n[[models]]\nname = \"{name}\"\nprovider = \"fake\"\nupstream = \"fake-model\"\ntasks = [\"chat\", \"math\", \"reasoning\"]\ntier = {tier}\n"
        ));
    }
    std::fs::write(dir.path().join("config.toml"), text).unwrap();
    let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
    let state = AppState::new(config, vec![]).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, app(state), async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    Gw {
        url,
        client,
        _dir: dir,
        _stop: stop,
    }
}

impl Gw {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn ask(model: &str) -> Value {
    json!({ "model": model, "messages": [{ "role": "user", "content": "What is 2+2?" }] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_models_answer_in_both_protocols_with_their_receipt() {
    let up = FakeUpstream::start();
    up.set_default(Behavior::ok("The answer is 4."));
    let gw = start(&up).await;
    let (status, body) = gw
        .post("/v1/chat/completions", ask("coop/voting:m1,m2,m3"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains('4'),
        "{body}"
    );
    assert_eq!(body["model"], "coop/voting:m1,m2,m3");
    assert_eq!(
        body["receipt"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["kind"] == "model")
            .count(),
        3,
        "{}",
        body["receipt"]
    );
    assert_eq!(up.request_count(), 3);

    let (status, body) = gw
        .post(
            "/v1/messages",
            json!({ "model": "coop/parallel:m1,m2?integration=concat", "max_tokens": 50,
                    "messages": [{ "role": "user", "content": "hi" }] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "message");
    assert!(body["receipt"].is_object());

    let text = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({ "model": "coop/voting:m1,m2,m3", "stream": true, "messages": [{ "role": "user", "content": "2+2?" }] }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("The answer is 4.") && text.trim_end().ends_with("data: [DONE]"),
        "{text}"
    );

    let (status, body) = gw
        .post("/v1/chat/completions", ask("coop/juggling:m1,m2"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("juggling"),
        "{body}"
    );
    let (status, body) = gw
        .post("/v1/chat/completions", ask("coop/voting:m1,ghost"))
        .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperation_task_service_and_allow_cooperation() {
    let up = FakeUpstream::start();
    up.set_default(Behavior::ok("Answer: 42"));
    let gw = start(&up).await;
    let (status, body) = gw
        .post(
            "/cooperation/task",
            json!({ "query": "6*7?", "mode": "voting", "models": ["m1", "m2", "m3"] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert!(body["result"].as_str().unwrap().contains("42"));
    assert_eq!(body["mode"], "voting");
    assert!(body["receipt"]["tally"].is_object(), "{body}");

    let r = gw
        .client
        .post(format!("{}/cooperation/task?query=hello&mode=parallel&models=m1,m2&integration_strategy=concat", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["models"], json!(["m1", "m2"]));
    assert_eq!(body["integration_strategy"], "concat");
    let (status, _) = gw
        .post("/cooperation/task", json!({ "mode": "voting" }))
        .await;
    assert_eq!(status, 422);

    let (status, body) = gw
        .post(
            "/service",
            json!({ "service_type": "document_analysis", "content": "Rust is fast. Rust is safe.",
                    "parameters": { "type": "summary" } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["result"]["facts"]["words"], 6, "{body}");
    let (status, body) = gw
        .post(
            "/service",
            json!({ "service_type": "astrology", "content": "x" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // A complex request with cooperation allowed goes to several models.
    let before = up.request_count();
    let (status, body) = gw
        .post(
            "/query",
            json!({ "query": "Analyze step by step and prove each claim: 1. Why do markets crash? 2. Compare 1929 and 2008. 3. What are the trade-offs of each policy response? 4. What would you recommend?",
                    "preferences": { "allow_cooperation": true } }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["strategy_used"], "cooperation");
    assert!(
        body["model"].as_str().unwrap().starts_with("coop/"),
        "{body}"
    );
    assert!(up.request_count() - before >= 3, "several models answered");
    // A simple one stays with one model.
    let (_, body) = gw
        .post(
            "/query",
            json!({ "query": "hi", "preferences": { "allow_cooperation": true } }),
        )
        .await;
    assert_ne!(body["strategy_used"], "cooperation");
}
