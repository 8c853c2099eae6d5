//! `POST /v1/embeddings` through the gateway: texts and token arrays, float and base64
//! vectors, failover between two embedding deployments, usage in `/metrics` and
//! `/routing/stats`, and clear 400s for a chat model asked to embed (and the reverse), a
//! provider without an embeddings API, and malformed input.

use base64::Engine;
use serde_json::{Value, json};

use crate::common::gateway::InProcess;
use crate::common::upstream::{Behavior, FakeUpstream};

/// `emb` on two OpenAI-kind replicas (`up` first, then `spare`), `chat` a chat model, and
/// `claude-emb` an embedding model on an Anthropic-kind provider.
fn config(up: &FakeUpstream, spare: &FakeUpstream) -> String {
    format!(
        r#"[defaults]
max_retries = 0

[router]
balance = "weighted"

[providers.up]
kind = "openai"
base_url = "{}"
needs_key = false

[providers.spare]
kind = "openai"
base_url = "{}"
needs_key = false

[providers.an]
kind = "anthropic"
base_url = "{}"
needs_key = false

[[models]]
name = "emb"
provider = "up"
upstream = "text-embedding-3-small"
tasks = ["embedding"]
weight = 1e6

[[models]]
name = "emb"
provider = "spare"
upstream = "text-embedding-3-small"
tasks = ["embedding"]
weight = 1e-6

[[models]]
name = "chat"
provider = "up"
upstream = "fake-model"

[[models]]
name = "claude-emb"
provider = "an"
upstream = "voyage-fake"
tasks = ["embedding"]
"#,
        up.base_url(),
        spare.base_url(),
        up.base_url()
    )
}

async fn embed(gw: &InProcess, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/embeddings", gw.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn texts_and_token_arrays_as_floats_and_base64() {
    let (up, spare) = (FakeUpstream::start(), FakeUpstream::start());
    let gw = InProcess::start(&config(&up, &spare), &[]).await;
    let (status, body) = embed(&gw, json!({ "model": "emb", "input": ["hello", "hi"] })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "emb");
    assert_eq!(body["data"][0]["embedding"], json!([5.0, 0.0, 0.5]));
    assert_eq!(body["data"][1]["embedding"], json!([2.0, 1.0, 0.5]));
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(body["usage"]["prompt_tokens"], 3);
    let sent = up.last().body;
    assert_eq!(sent["model"], "text-embedding-3-small");
    assert_eq!(sent["encoding_format"], "float");

    let (status, body) = embed(
        &gw,
        json!({ "model": "emb", "input": "hello", "encoding_format": "base64", "dimensions": 4 }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let floats: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    assert_eq!(floats, [5.0, 0.0, 0.5, 0.5]);
    assert_eq!(up.last().body["dimensions"], 4);

    let (status, body) = embed(&gw, json!({ "model": "emb", "input": [[1, 2, 3], [4]] })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["embedding"][0], 3.0);
    assert_eq!(body["data"][1]["embedding"][0], 1.0);
    assert_eq!(up.last().body["input"], json!([[1, 2, 3], [4]]));

    // `auto` (or no model) picks the first embedding model.
    let (status, body) = embed(&gw, json!({ "model": "auto", "input": "x" })).await;
    assert_eq!((status, body["model"].clone()), (200, json!("emb")));
}

#[tokio::test]
async fn a_failing_deployment_fails_over_and_usage_is_counted() {
    let (up, spare) = (FakeUpstream::start(), FakeUpstream::start());
    let gw = InProcess::start(&config(&up, &spare), &[]).await;
    up.push([Behavior::status(503)]);
    let (status, body) = embed(&gw, json!({ "model": "emb", "input": "hello" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((up.request_count(), spare.request_count()), (1, 1));
    let client = reqwest::Client::new();
    let metrics = client
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(|l| l.contains("model=\"emb\"")
            && l.contains("direction=\"input\"")
            && l.ends_with(" 2")),
        "{metrics}"
    );
    let stats: Value = client
        .get(format!("{}/routing/stats", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["model_picks"]["emb"], 1, "{stats}");
    assert_eq!(stats["model_failures"]["emb"], 1, "{stats}");
}

#[tokio::test]
async fn wrong_models_and_bad_input_are_400s_that_say_why() {
    let (up, spare) = (FakeUpstream::start(), FakeUpstream::start());
    let gw = InProcess::start(&config(&up, &spare), &[]).await;
    for (body, needle) in [
        (json!({ "model": "chat", "input": "x" }), "is a chat model"),
        (
            json!({ "model": "claude-emb", "input": "x" }),
            "no embeddings API",
        ),
        (json!({ "model": "emb", "input": [] }), "`input`"),
        (json!({ "model": "emb", "input": [1, "a"] }), "`input[1]`"),
        (
            json!({ "model": "emb", "input": "x", "encoding_format": "int8" }),
            "`encoding_format`",
        ),
        (
            json!({ "model": "emb", "input": "x", "dimensions": 0 }),
            "`dimensions`",
        ),
    ] {
        let (status, err) = embed(&gw, body.clone()).await;
        assert_eq!(status, 400, "{body}: {err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    // And an embedding model asked to chat.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({ "model": "emb", "messages": [{ "role": "user", "content": "hi" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is an embedding model"),
        "{err}"
    );
    assert_eq!(up.request_count() + spare.request_count(), 0);
}

/// `llm-cooperation embed`: one JSON array a line, from the arguments or each line of
/// standard input; `--json`; a chat model is exit code 2 saying why.
#[test]
fn the_embed_command_prints_one_vector_a_line() {
    let (up, spare) = (FakeUpstream::start(), FakeUpstream::start());
    let env = crate::common::TestEnv::new();
    env.write_config(&config(&up, &spare));
    let run = env.run("llm-cooperation", &["embed", "hello"]).expect(0);
    assert_eq!(run.stdout.trim(), "[5.0,0.0,0.5]");
    let run = env
        .run_stdin("llm-cooperation", &["embed", "-m", "emb"], "a\n\nbb\n")
        .expect(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines, ["[1.0,0.0,0.5]", "[2.0,1.0,0.5]"]);
    let run = env
        .run("llm-cooperation", &["embed", "--json", "hi"])
        .expect(0);
    let v = run.json();
    assert_eq!(v["model"], "emb");
    assert_eq!(v["vectors"][0][0], 2.0);
    let run = env
        .run("llm-cooperation", &["embed", "-m", "chat", "hi"])
        .expect(2);
    assert!(run.stderr.contains("is a chat model"), "{}", run.stderr);
}
