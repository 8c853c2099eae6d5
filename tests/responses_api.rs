//! The Responses API bridge over HTTP (`/v1/responses`) against both provider kinds on a
//! scripted fake upstream: the stream's event sequence, an upstream failure mid-stream as
//! `response.failed`, stored responses and `previous_response_id`, and clear refusals.

use serde_json::{Value, json};

use crate::common::gateway::InProcess;
use crate::common::upstream::{Behavior, FakeUpstream, Reply};

fn config(up: &FakeUpstream) -> String {
    let url = up.base_url();
    format!(
        "[defaults]\nmax_retries = 0\n\n[providers.oa]\nkind = \"openai\"\nbase_url = \"{url}\"\nneeds_key = false\n\n[providers.an]\nkind = \"anthropic\"\nbase_url = \"{url}\"\nneeds_key = false\n\n[[models]]\nname = \"gw-openai\"\nprovider = \"oa\"\nupstream = \"fake-model\"\n\n[[models]]\nname = \"gw-claude\"\nprovider = \"an\"\nupstream = \"claude-fake\"\n"
    )
}

const MODELS: [&str; 2] = ["gw-openai", "gw-claude"];

async fn post(gw: &InProcess, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/responses", gw.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The `(event name, data)` pairs of a streamed answer.
async fn post_stream(gw: &InProcess, mut body: Value) -> Vec<(String, Value)> {
    body["stream"] = json!(true);
    let text = reqwest::Client::new()
        .post(format!("{}/v1/responses", gw.url))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            (name, serde_json::from_str(&data).unwrap_or(Value::Null))
        })
        .collect()
}

#[tokio::test]
async fn a_streamed_answer_has_every_event_in_order_for_both_kinds() {
    let up = FakeUpstream::start();
    let gw = InProcess::start(&config(&up), &[]).await;
    for model in MODELS {
        up.push([Behavior::Reply(
            Reply::text("Let me check.")
                .with_tool_call("call_1", "weather", r#"{"city":"Paris"}"#)
                .with_finish("tool_calls"),
        )]);
        let events = post_stream(
            &gw,
            json!({ "model": model, "input": "weather?", "store": false,
                    "tools": [{ "type": "function", "name": "weather", "parameters": { "type": "object" } }] }),
        )
        .await;
        // Deltas come in as many pieces as the upstream sent: one name per run of them.
        let mut names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        names.dedup_by(|a, b| a == b && a.ends_with(".delta"));
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ],
            "{model}"
        );
        let joined = |name: &str| -> String {
            events
                .iter()
                .filter(|(n, _)| n == name)
                .filter_map(|(_, d)| d["delta"].as_str())
                .collect()
        };
        assert_eq!(joined("response.output_text.delta"), "Let me check.");
        assert_eq!(
            joined("response.function_call_arguments.delta"),
            r#"{"city":"Paris"}"#
        );
        for (i, (name, data)) in events.iter().enumerate() {
            assert_eq!(data["type"], name.as_str(), "{model}");
            assert_eq!(data["sequence_number"], i, "{model}");
        }
        let done = &events.last().unwrap().1["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"][0]["content"][0]["text"], "Let me check.");
        assert_eq!(done["output"][1]["type"], "function_call");
        assert_eq!(done["output"][1]["call_id"], "call_1");
        assert_eq!(done["output"][1]["arguments"], r#"{"city":"Paris"}"#);
        assert!(
            done["usage"]["input_tokens"].as_u64().unwrap() > 0,
            "{done}"
        );
    }
}

#[tokio::test]
async fn an_upstream_error_mid_stream_is_response_failed() {
    let up = FakeUpstream::start();
    let gw = InProcess::start(&config(&up), &[]).await;
    for model in MODELS {
        up.push([Behavior::ErrorMidStream {
            message: "upstream overloaded".into(),
        }]);
        let events = post_stream(
            &gw,
            json!({ "model": model, "input": "hi", "store": false }),
        )
        .await;
        let (name, data) = events.last().unwrap();
        assert_eq!(name, "response.failed", "{model}: {events:?}");
        assert_eq!(data["response"]["status"], "failed");
        assert!(
            data["response"]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("upstream overloaded"),
            "{data}"
        );
        assert!(data["response"]["error"]["code"].is_string(), "{data}");
        assert!(!events.iter().any(|(n, _)| n == "response.completed"));
    }
}

/// `store` keeps a response on the gateway; `previous_response_id` continues its
/// conversation (the upstream gets the history, and a tool result may answer a call made in
/// the stored response); `GET`, `input_items` and `DELETE` work on it; an unknown id is a 404.
#[tokio::test]
async fn stored_responses_continue_with_previous_response_id() {
    let up = FakeUpstream::start();
    let gw = InProcess::start(&config(&up), &[]).await;
    for model in MODELS {
        up.push([Behavior::Reply(Reply::tool_call(
            "call_9",
            "weather",
            r#"{"city":"Oslo"}"#,
        ))]);
        let tools =
            json!([{ "type": "function", "name": "weather", "parameters": { "type": "object" } }]);
        let (status, first) = post(
            &gw,
            json!({ "model": model, "instructions": "be brief", "input": "weather in Oslo?", "tools": tools }),
        )
        .await;
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["store"], true);
        let id = first["id"].as_str().unwrap().to_owned();

        up.push([Behavior::Reply(Reply::text("It is snowing in Oslo."))]);
        let (status, second) = post(
            &gw,
            json!({ "model": model, "previous_response_id": id, "tools": tools,
                    "input": [{ "type": "function_call_output", "call_id": "call_9", "output": "snow, -3 C" }] }),
        )
        .await;
        assert_eq!(status, 200, "{second}");
        assert_eq!(second["previous_response_id"], id.as_str());
        assert_eq!(
            second["output"][0]["content"][0]["text"],
            "It is snowing in Oslo."
        );
        let sent = up.last().body.to_string();
        for piece in ["weather in Oslo?", "call_9", "snow, -3 C"] {
            assert!(
                sent.contains(piece),
                "{model}: `{piece}` not sent upstream: {sent}"
            );
        }

        let client = reqwest::Client::new();
        let got: Value = client
            .get(format!("{}/v1/responses/{id}", gw.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(got["id"], id.as_str());
        assert_eq!(got["output"][0]["type"], "function_call");
        let items: Value = client
            .get(format!(
                "{}/v1/responses/{id}/input_items?order=asc",
                gw.url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            items["data"][0]["content"][0]["text"], "weather in Oslo?",
            "{items}"
        );
        let deleted = client
            .delete(format!("{}/v1/responses/{id}", gw.url))
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 200);
        let (status, gone) = post(
            &gw,
            json!({ "model": model, "previous_response_id": id, "input": "and now?" }),
        )
        .await;
        assert_eq!(status, 404, "{gone}");
        assert!(
            gone["error"]["message"]
                .as_str()
                .unwrap()
                .contains("previous_response_id"),
            "{gone}"
        );
    }
}

#[tokio::test]
async fn what_the_bridge_cannot_honour_is_a_clear_400() {
    let up = FakeUpstream::start();
    let gw = InProcess::start(&config(&up), &[]).await;
    for (body, needle) in [
        (
            json!({ "model": "gw-openai", "input": "hi", "tools": [{ "type": "web_search" }] }),
            "`tools[0].type` is `web_search`",
        ),
        (
            json!({ "model": "gw-claude", "input": "hi", "background": true }),
            "`background`",
        ),
        (
            json!({ "model": "gw-openai", "input": [{ "type": "item_reference", "id": "msg_1" }] }),
            "item_reference",
        ),
        (
            json!({ "model": "gw-claude", "input": "hi", "safety_identifier": "u1" }),
            "`safety_identifier`",
        ),
    ] {
        let (status, err) = post(&gw, body.clone()).await;
        assert_eq!(status, 400, "{body}: {err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    assert_eq!(
        up.request_count(),
        0,
        "nothing refused reached the upstream"
    );
}

/// A model whose providers serve the Responses API themselves (`responses = true`) gets the
/// request as it came — hosted tools and all, the model renamed to the upstream id — and the
/// answer untouched, whole or streamed; its two replicas fail over like chat.
#[tokio::test]
async fn native_providers_get_the_request_as_it_came() {
    use crate::common::upstream::NATIVE_TEXT;
    let (up, spare) = (FakeUpstream::start(), FakeUpstream::start());
    let config = format!(
        "[defaults]\nmax_retries = 0\n\n[router]\nbalance = \"weighted\"\n\n[providers.native]\nkind = \"openai\"\nbase_url = \"{}\"\nneeds_key = false\nresponses = true\n\n[providers.native2]\nkind = \"openai\"\nbase_url = \"{}\"\nneeds_key = false\nresponses = true\n\n[[models]]\nname = \"gpt\"\nprovider = \"native\"\nupstream = \"gpt-real\"\nweight = 1e6\n\n[[models]]\nname = \"gpt\"\nprovider = \"native2\"\nupstream = \"gpt-real\"\nweight = 1e-6\n",
        up.base_url(),
        spare.base_url()
    );
    let gw = InProcess::start(&config, &[]).await;
    let request = json!({ "model": "gpt", "input": "news today?", "store": true,
        "tools": [{ "type": "web_search" }], "include": ["web_search_call.action.sources"] });
    let (status, body) = post(&gw, request.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["output"][0]["content"][0]["text"], NATIVE_TEXT);
    let sent = up.last();
    assert_eq!(sent.path, "/v1/responses");
    let mut expected = request.clone();
    expected["model"] = json!("gpt-real");
    assert_eq!(sent.body, expected, "forwarded as it came");

    let events = post_stream(&gw, request.clone()).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.output_text.delta",
            "response.completed"
        ]
    );

    up.push([Behavior::status(503)]);
    let (status, body) = post(&gw, request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(spare.request_count(), 1, "the other replica answered");

    // A gateway field has no place in a forwarded request.
    let (status, err) = post(
        &gw,
        json!({ "model": "gpt", "input": "x", "session_id": "s" }),
    )
    .await;
    assert_eq!(status, 400, "{err}");
}

/// `/query`'s temperature goes upstream as written (it went through an f32: 0.7 became
/// 0.699999988079071).
#[tokio::test]
async fn query_sends_its_temperature_as_written() {
    let up = FakeUpstream::start();
    let gw = InProcess::start(&config(&up), &[]).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/query", gw.url))
        .json(&json!({ "query": "hi", "model": "gw-openai", "temperature": 0.7 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(up.last().body["temperature"], json!(0.7));
}
