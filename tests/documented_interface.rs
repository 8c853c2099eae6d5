//! The original system's documented interface, run exactly as its examples are written: the
//! REST calls as Python `requests` makes them (JSON bodies with `json=`, query strings with
//! `params=`, where a list becomes repeated keys) against an in-process gateway over a fake
//! upstream, reading the fields the examples read; and its CLI examples.
//!
//! Each of these failed before the gateway accepted the original names beside ours:
//! `user_id` on `/service` (422), `insight_type`/`decision_type` (400), `models=a&models=b`
//! (400 duplicate field), `average_latency` and `document_length` absent, and
//! `--tasks reasoning math` (unexpected argument).

use serde_json::{Value, json};

use crate::common::TestEnv;
use crate::common::gateway::InProcess;
use crate::common::upstream::{Behavior, FakeUpstream};

const ANSWER: &str = "An answer from the fake upstream.";

/// The models of the examples, on one fake upstream.
fn config(up: &FakeUpstream) -> String {
    let mut text = format!(
        "[defaults]\nmax_retries = 0\ntotal_timeout_secs = 10.0\n\n[providers.fake]\nkind = \"openai\"\nbase_url = \"{}\"\nneeds_key = false\n",
        up.base_url()
    );
    for (name, tier) in [("qwen3_32b", 4), ("qwen3_8b", 2)] {
        text.push_str(&format!(
            "\n[[models]]\nname = \"{name}\"\nprovider = \"fake\"\nupstream = \"fake-model\"\ntasks = [\"chat\", \"math\", \"reasoning\"]\ntier = {tier}\n"
        ));
    }
    text
}

/// `urllib.parse.urlencode(params, doseq=True)`, which `requests` uses for `params=`: each
/// list item is its own `key=value`, spaces become `+`, everything but `A-Za-z0-9_.-~` is
/// percent-encoded as UTF-8.
fn python_urlencode(params: &[(&str, &[&str])]) -> String {
    fn quote_plus(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    params
        .iter()
        .flat_map(|(k, values)| {
            values
                .iter()
                .map(move |v| format!("{}={}", quote_plus(k), quote_plus(v)))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `json.dumps(payload)` as `requests` sends it for `json=`: non-ASCII characters escaped
/// as `\uXXXX` (UTF-16, so beyond the BMP as surrogate pairs).
fn python_json_dumps(payload: &Value) -> String {
    let mut out = String::new();
    for c in payload.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// A client that sends what `requests` sends besides the body.
fn python_requests() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("user-agent", "python-requests/2.32.3".parse().unwrap());
    headers.insert("accept", "*/*".parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// `requests.post(url, json=payload).json()`.
async fn post_json(client: &reqwest::Client, url: &str, payload: Value) -> Value {
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .body(python_json_dumps(&payload))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "POST {url}: {body}");
    body
}

/// `requests.get(url).json()`.
async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let r = client.get(url).send().await.unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "GET {url}: {body}");
    body
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("`{field}` is not a string: {v}"))
}

fn number(v: &Value, field: &str) -> f64 {
    v[field]
        .as_f64()
        .unwrap_or_else(|| panic!("`{field}` is not a number: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_and_service_examples_read_their_fields() {
    let up = FakeUpstream::start();
    up.set_default(Behavior::ok(ANSWER));
    let gw = InProcess::start(&config(&up), &[]).await;
    let client = python_requests();

    // call_query_api
    let result = post_json(
        &client,
        &format!("{}/query", gw.url),
        json!({
            "query": "请分析人工智能在医疗领域的应用前景",
            "preferences": { "strategy": "auto", "quality_priority": 0.8 },
            "user_id": "demo_user"
        }),
    )
    .await;
    assert_eq!(text(&result, "result"), ANSWER);
    assert!(number(&result, "processing_time") >= 0.0);
    assert_eq!(text(&result, "strategy_used"), "auto");

    // call_service_api, with the document analysis result the service example reads.
    let result = post_json(
        &client,
        &format!("{}/service", gw.url),
        json!({
            "service_type": "document_analysis",
            "content": "这是一份需要分析的文档内容...",
            "parameters": { "analysis_type": "summary" },
            "user_id": "demo_user"
        }),
    )
    .await;
    assert_eq!(text(&result, "request_id").len(), 32);
    assert_eq!(result["success"], true);
    assert!(number(&result, "processing_time") >= 0.0);
    assert_eq!(text(&result["result"], "analysis"), ANSWER);
    // 这是一份需要分析的文档内容: 13 CJK characters, each a word.
    assert_eq!(result["result"]["document_length"], 13, "{result}");
    assert_eq!(result["result"]["type"], "summary", "ours too: {result}");
    assert_eq!(
        up.last().body["messages"].as_array().unwrap().len(),
        2,
        "a system prompt and the document"
    );

    // The comprehensive analysis of the longer example.
    let result = post_json(
        &client,
        &format!("{}/service", gw.url),
        json!({
            "service_type": "document_analysis",
            "content": "Q3 report.\n\nRevenue grew 28%. Costs rose 12%.",
            "parameters": { "analysis_type": "comprehensive" }
        }),
    )
    .await;
    assert_eq!(text(&result["result"], "analysis"), ANSWER);
    // Q3, report, Revenue, grew, 28, Costs, rose, 12.
    assert_eq!(result["result"]["document_length"], 8, "{result}");

    // Data insight: `insight_type`, read as `trend_analysis` and `data_points`.
    let result = post_json(
        &client,
        &format!("{}/service", gw.url),
        json!({
            "service_type": "data_insight",
            "content": "Sales data: Q1: 100, Q2: 120, Q3: 110",
            "parameters": { "insight_type": "trends" }
        }),
    )
    .await;
    assert_eq!(
        text(&result["result"], "trend_analysis"),
        ANSWER,
        "{result}"
    );
    assert!(
        result["result"]["data_points"].as_u64().unwrap() >= 3,
        "{result}"
    );
    assert_eq!(result["result"]["type"], "trends", "ours too: {result}");
    assert!(result["result"]["facts"]["series"].is_array(), "{result}");

    // Decision support: `decision_type`, read as `comparison`.
    let result = post_json(
        &client,
        &format!("{}/service", gw.url),
        json!({
            "service_type": "decision_support",
            "content": "决策需求：选择云计算服务提供商\n方案A：阿里云\n方案B：亚马逊AWS\n方案C：微软Azure",
            "parameters": { "decision_type": "comparison" }
        }),
    )
    .await;
    assert_eq!(text(&result["result"], "comparison"), ANSWER, "{result}");
    assert_eq!(result["result"]["analysis"], ANSWER, "ours too: {result}");

    // Two different types is a mistake the answer names.
    let r = client
        .post(format!("{}/service", gw.url))
        .json(
            &json!({ "service_type": "data_insight", "content": "a: 1, 2, 3",
                       "parameters": { "type": "anomalies", "insight_type": "trends" } }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`parameters.type` is `anomalies`")
            && message.contains("`parameters.insight_type` is `trends`"),
        "{message}"
    );

    // The monitoring example: routing stats and per-model metrics.
    let stats = get_json(&client, &format!("{}/routing/stats", gw.url)).await;
    assert!(stats["total_requests"].as_u64().unwrap() >= 1, "{stats}");
    assert_eq!(number(&stats, "success_rate"), 1.0);
    let seconds = number(&stats, "average_latency");
    let ms = number(&stats, "average_latency_ms");
    assert!((seconds * 1e3 - ms).abs() < 1e-6, "{stats}");
    assert!(stats["strategy_usage"].is_object(), "{stats}");

    // call_status_api
    let status = get_json(&client, &format!("{}/status", gw.url)).await;
    assert_eq!(text(&status, "system_health"), "healthy");
    assert_eq!(status["active_models"], 2);
    assert!(status["total_requests"].as_u64().unwrap() >= 5, "{status}");
    assert!(number(&status, "uptime") >= 0.0);
    let models = status["models"].as_object().unwrap();
    let served: u64 = models
        .values()
        .map(|m| m["request_count"].as_u64().unwrap())
        .sum();
    assert_eq!(served, up.request_count() as u64, "{status}");
    for (name, metrics) in models {
        assert_eq!(metrics["status"], "ready", "{name}: {metrics}");
        assert_eq!(number(metrics, "error_rate"), 0.0, "{name}: {metrics}");
        if metrics["request_count"].as_u64().unwrap() > 0 {
            assert!(number(metrics, "avg_latency") > 0.0, "{name}: {metrics}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperation_task_with_python_requests_params() {
    let up = FakeUpstream::start();
    up.set_default(Behavior::ok(ANSWER));
    let gw = InProcess::start(&config(&up), &[]).await;
    let client = python_requests();

    // call_cooperation_api: `requests.post(url, params=params)`, no body.
    let query = python_urlencode(&[
        ("query", &["请从多个角度分析区块链技术的发展趋势"]),
        ("mode", &["parallel"]),
        ("models", &["qwen3_32b", "qwen3_8b"]),
        ("integration_strategy", &["ensemble"]),
    ]);
    assert!(
        query.contains("models=qwen3_32b&models=qwen3_8b") && query.starts_with("query=%E8%AF%B7"),
        "{query}"
    );
    let r = client
        .post(format!("{}/cooperation/task?{query}", gw.url))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let result: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{result}");
    assert!(text(&result, "result").contains(ANSWER), "{result}");
    assert_eq!(result["models"], json!(["qwen3_32b", "qwen3_8b"]));
    // `ensemble` is ours `synthesize`: both members, then an aggregator.
    assert_eq!(result["integration_strategy"], "synthesize");
    assert_eq!(up.request_count(), 3);
    let sent = up.requests();
    assert!(
        sent[0].body["messages"].to_string().contains("区块链"),
        "the query reached the models decoded: {}",
        sent[0].body
    );

    // The same with the list joined by commas, and with one member repeated as a key.
    for query in [
        python_urlencode(&[
            ("query", &["hi there"]),
            ("models", &["qwen3_32b,qwen3_8b"]),
        ]),
        python_urlencode(&[("query", &["hi there"]), ("models", &["qwen3_8b"])]),
    ] {
        let r = client
            .post(format!("{}/cooperation/task?{query}", gw.url))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let result: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{query}: {result}");
        assert!(
            result["models"]
                .as_array()
                .unwrap()
                .contains(&json!("qwen3_8b"))
        );
    }

    // A misspelt parameter is named.
    let r = client
        .post(format!(
            "{}/cooperation/task?query=hi&model=qwen3_8b",
            gw.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `model`"),
        "{body}"
    );
}

#[test]
fn add_model_example_takes_tasks_separated_by_spaces() {
    let env = TestEnv::new();
    env.run(
        "llm-config",
        &[
            "global",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--api-key",
            "sk-test",
        ],
    )
    .expect(0);
    // llm-config add-model --name custom_model --path "provider/model" --tasks reasoning math
    env.run(
        "llm-config",
        &[
            "add-model",
            "--name",
            "custom_model",
            "--path",
            "provider/model",
            "--tasks",
            "reasoning",
            "math",
        ],
    )
    .expect(0);
    // Ours: comma-separated, and repeated.
    env.run(
        "llm-config",
        &[
            "add-model",
            "--name",
            "other",
            "--path",
            "p/o",
            "--tasks",
            "code,math",
            "--tasks",
            "chat",
        ],
    )
    .expect(0);
    let list = env
        .run("llm-config", &["list", "--format", "json"])
        .expect(0)
        .json();
    let tasks = |name: &str| {
        list["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no `{name}`: {list}"))["tasks"]
            .clone()
    };
    assert_eq!(tasks("custom_model"), json!(["reasoning", "math"]));
    assert_eq!(tasks("other"), json!(["code", "math", "chat"]));
    let run = env.run(
        "llm-config",
        &[
            "add-model",
            "--name",
            "x",
            "--path",
            "p/x",
            "--tasks",
            "reasoning",
            "maths",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("maths"), "{}", run.stderr);
}

#[test]
fn cli_examples_run_as_written() {
    let up = FakeUpstream::start();
    up.set_default(Behavior::ok(ANSWER));
    let env = TestEnv::new();
    env.write_config(&config(&up));
    let run = |args: &[&str]| {
        let run = env.run("llm-cooperation", args).expect(0);
        run.stdout
    };
    // llm-cooperation query -q "请解释机器学习的基本概念" --strategy auto
    assert!(
        run(&[
            "query",
            "-q",
            "请解释机器学习的基本概念",
            "--strategy",
            "auto"
        ])
        .contains(ANSWER)
    );
    // llm-cooperation query -q "计算圆周率前10位" --model qwen3_32b
    assert!(run(&["query", "-q", "计算圆周率前10位", "--model", "qwen3_32b"]).contains(ANSWER));
    // llm-cooperation cooperate -q "分析新能源汽车行业发展前景" --mode parallel --models qwen3_32b,qwen3_8b
    assert!(
        run(&[
            "cooperate",
            "-q",
            "分析新能源汽车行业发展前景",
            "--mode",
            "parallel",
            "--models",
            "qwen3_32b,qwen3_8b"
        ])
        .contains(ANSWER)
    );
    run(&["status"]);
    assert!(run(&["test", "--model", "qwen3_8b"]).contains("qwen3_8b"));
    let table = run(&["models", "--format", "table"]);
    assert!(
        table.contains("qwen3_32b") && table.contains("qwen3_8b"),
        "{table}"
    );

    // llm-config preset --name aigcbest --api-key YOUR_API_KEY
    let fresh = TestEnv::new();
    fresh
        .run(
            "llm-config",
            &["preset", "--name", "aigcbest", "--api-key", "YOUR_API_KEY"],
        )
        .expect(0);
    let list = fresh
        .run("llm-config", &["list", "--json"])
        .expect(0)
        .json();
    assert!(
        list["providers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "aigcbest"),
        "{list}"
    );
}

/// The `curl` commands of the README's code blocks, continuation lines joined.
fn readme_curl_commands() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_code = false;
    let mut current: Option<String> = None;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            continue;
        }
        let line = line.trim();
        match &mut current {
            Some(cmd) => cmd.push_str(line.trim_end_matches('\\')),
            None if line.starts_with("curl ") => {
                current = Some(line.trim_end_matches('\\').to_owned());
            }
            None => continue,
        }
        if !line.ends_with('\\') {
            commands.extend(current.take());
        }
    }
    commands
}

/// Every `curl` example in the README, run as written (plain `-d`, so no JSON content type)
/// against a gateway on the examples' models and token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_curl_examples_answer() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `curl` is not installed");
        return;
    }
    let commands = readme_curl_commands();
    assert!(
        commands.len() >= 6
            && commands.iter().any(|c| c.contains("/v1/messages"))
            && commands.iter().any(|c| c.contains(" -d '")),
        "the README's curl examples were not found: {commands:?}"
    );
    let up = FakeUpstream::start();
    up.set_default(Behavior::ok(ANSWER));
    let mut config = format!(
        "[defaults]\nmax_retries = 0\ntotal_timeout_secs = 10.0\n\n[providers.fake]\nkind = \"openai\"\nbase_url = \"{}\"\nneeds_key = false\n",
        up.base_url()
    );
    for name in ["gpt-4o-mini", "claude-haiku-4-5"] {
        config.push_str(&format!(
            "\n[[models]]\nname = \"{name}\"\nprovider = \"fake\"\nupstream = \"fake-model\"\ntasks = [\"chat\", \"math\"]\n"
        ));
    }
    let gw = InProcess::start(&config, &["SECRET"]).await;
    for command in &commands {
        assert!(command.contains("http://127.0.0.1:8080"), "{command}");
        let command = command.replace("http://127.0.0.1:8080", &gw.url);
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{command} -sS -w '\\n%{{http_code}}'"))
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (body, status) = stdout.trim_end().rsplit_once('\n').unwrap_or(("", &stdout));
        assert!(
            out.status.success() && status == "200",
            "{command}\nstatus {status}\n{body}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if command.contains("\"stream\":true") {
            assert!(
                body.contains("chat.completion.chunk") && body.trim_end().ends_with("data: [DONE]"),
                "{command}\n{body}"
            );
        } else {
            let v: Value = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("{command}: not JSON ({e}): {body}"));
            assert!(v.get("error").is_none_or(Value::is_null), "{command}: {v}");
        }
    }
}

/// Every JSON route reads its body without `content-type: application/json` (they answered
/// 415 before), and with the one `curl -d` sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_route_reads_a_body_without_a_json_content_type() {
    let up = FakeUpstream::start();
    up.set_default(Behavior::ok(ANSWER));
    let gw = InProcess::start(&config(&up), &[]).await;
    let client = reqwest::Client::new();
    let user = json!([{ "role": "user", "content": "hi" }]);
    let routes = [
        (
            "/v1/chat/completions",
            json!({ "model": "qwen3_8b", "messages": user }),
        ),
        (
            "/api/v1/chat/completions",
            json!({ "model": "qwen3_8b", "messages": user }),
        ),
        (
            "/v1/messages",
            json!({ "model": "qwen3_8b", "max_tokens": 20, "messages": user }),
        ),
        (
            "/api/v1/messages",
            json!({ "model": "qwen3_8b", "max_tokens": 20, "messages": user }),
        ),
        (
            "/v1/messages/count_tokens",
            json!({ "model": "qwen3_8b", "messages": user }),
        ),
        (
            "/api/v1/messages/count_tokens",
            json!({ "model": "qwen3_8b", "messages": user }),
        ),
        ("/query", json!({ "query": "hi" })),
        (
            "/service",
            json!({ "service_type": "document_analysis", "content": "Short text." }),
        ),
        (
            "/cooperation/task",
            json!({ "query": "hi", "models": ["qwen3_8b", "qwen3_32b"] }),
        ),
    ];
    for content_type in [None, Some("application/x-www-form-urlencoded")] {
        for (path, body) in &routes {
            let mut req = client
                .post(format!("{}{path}", gw.url))
                .body(body.to_string());
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            let r = req.send().await.unwrap();
            let status = r.status();
            let v: Value = r.json().await.unwrap();
            assert_eq!(status, 200, "{path} with {content_type:?}: {v}");
        }
    }
}
