//! The application services over fake upstreams: computed facts, the prompt the model gets,
//! the structured result, and the `service` command.

use serde_json::json;

use llm_cooperation::services::{self, Facts, Service, ServiceError, ServiceRequest, Trend};

use crate::common::TestEnv;
use crate::common::upstream::{Behavior, FakeUpstream};
use crate::cooperation::{Fleet, fleet_config, prompt};

fn request(service: Service, kind: &str, content: &str) -> ServiceRequest {
    ServiceRequest {
        service,
        kind: Some(kind.into()),
        content: content.into(),
        parameters: serde_json::Value::Null,
    }
}

#[tokio::test]
async fn document_analysis_counts_words_itself_and_works_with_one_model() {
    // One configured model, asked through the router (`auto`), like the local demo model.
    let f = Fleet::plain(&["tiny"]);
    f.answers("tiny", "- Rust is fast\n- 它也很安全\n");
    let text = "Rust is fast. It's memory-safe!\n\n它也很安全。";
    let r = services::run(
        f.router.clone(),
        request(Service::DocumentAnalysis, "key-points", text),
    )
    .await
    .unwrap();
    let Facts::Document(d) = &r.facts else {
        panic!("{:?}", r.facts)
    };
    // Rust, is, fast, It's, memory-safe + 它也很安全 (5 characters, one word each).
    assert_eq!(
        (d.words, d.cjk_characters, d.sentences, d.paragraphs),
        (10, 5, 3, 2)
    );
    assert_eq!(r.findings.key_points, vec!["Rust is fast", "它也很安全"]);
    assert_eq!(r.models, vec!["tiny"]);
    assert_eq!(r.kind, "key-points");
    let sent = prompt(&f.up("tiny").last());
    assert!(
        sent.contains("10 words (5 of them CJK characters)"),
        "{sent}"
    );
    assert!(sent.contains(text), "{sent}");
    assert_eq!(r.receipt.steps.len(), 1);
    assert_eq!(
        r.receipt.workflow.as_deref(),
        Some("document-analysis/key-points")
    );

    f.answers(
        "tiny",
        "Sentiment: negative\nConfidence: 0.9\nIt complains.",
    );
    let r = services::run(
        f.router.clone(),
        request(Service::DocumentAnalysis, "sentiment", "This is awful."),
    )
    .await
    .unwrap();
    let s = r.findings.sentiment.unwrap();
    assert_eq!((s.label.as_str(), s.confidence), ("negative", Some(0.9)));
}

#[tokio::test]
async fn data_insight_computes_the_series_and_gives_them_to_the_model() {
    let f = Fleet::plain(&["m"]);
    f.answers("m", "Sales rise steadily; load spiked once.");
    let csv = "week,sales,load\n1,10,5\n2,12,5\n3,14,6\n4,16,5\n5,18,5\n6,20,60\n";
    let r = services::run(
        f.router.clone(),
        request(Service::DataInsight, "anomalies", csv),
    )
    .await
    .unwrap();
    let Facts::Data(d) = &r.facts else { panic!() };
    assert_eq!((d.format, d.rows), ("table", 6));
    let sales = d.series.iter().find(|s| s.name == "sales").unwrap();
    assert_eq!(
        (sales.count, sales.min, sales.max, sales.mean),
        (6, 10.0, 20.0, 15.0)
    );
    assert_eq!((sales.slope, sales.trend), (2.0, Trend::Rising));
    let load = d.series.iter().find(|s| s.name == "load").unwrap();
    assert_eq!(load.outliers.len(), 1);
    assert_eq!((load.outliers[0].index, load.outliers[0].value), (5, 60.0));
    let sent = prompt(&f.up("m").last());
    assert!(
        sent.contains("- sales: n=6, min=10, max=20, mean=15"),
        "{sent}"
    );
    assert!(sent.contains("outliers: 60 at position 6"), "{sent}");
    assert_eq!(r.analysis, "Sales rise steadily; load spiked once.");
}

#[tokio::test]
async fn decision_support_lists_the_options_and_matches_the_recommendation() {
    let f = Fleet::new(&[("a", 2, 1.0, 1.0), ("b", 2, 1.0, 1.0), ("big", 4, 2.0, 2.0)]);
    f.answers("a", "Rent.").answers("b", "Remote.");
    f.answers("big", "Recommendation: Stay remote\nIt is cheapest.");
    let text = "Where should the team work next year?\n1. Rent an office\n2. Buy a building\n3. Stay remote\n";
    let mut req = request(Service::DecisionSupport, "recommendation", text);
    // Several models: asked in parallel, merged by the highest tier.
    req.parameters = json!({ "models": ["a", "b", "big"] });
    let r = services::run(f.router.clone(), req).await.unwrap();
    let Facts::Decision(d) = &r.facts else {
        panic!()
    };
    let options: Vec<&str> = d.options.iter().map(|o| o.text.as_str()).collect();
    assert_eq!(options, ["Rent an office", "Buy a building", "Stay remote"]);
    let rec = r.findings.recommendation.as_ref().unwrap();
    assert_eq!((rec.text.as_str(), rec.option), ("Stay remote", Some(2)));
    assert_eq!(r.receipt.result_step.as_deref(), Some("synthesize"));
    assert_eq!(
        f.up("big").request_count(),
        2,
        "a member and the aggregator"
    );
    assert!(prompt(&f.up("a").last()).contains("Options found in the text:\n1. Rent an office"));
}

#[tokio::test]
async fn bad_requests_are_rejected_with_what_to_do() {
    let f = Fleet::plain(&["m"]);
    let err = |req| {
        let router = f.router.clone();
        async move {
            match services::run(router, req).await.unwrap_err() {
                ServiceError::Invalid { source, .. } => source.to_string(),
                other => panic!("{other:?}"),
            }
        }
    };
    let e = err(request(Service::DataInsight, "forecast", "1,2")).await;
    assert!(
        e.contains("Unknown type `forecast`") && e.contains("trends, anomalies, statistics"),
        "{e}"
    );
    assert!(
        err(request(Service::DataInsight, "trends", "no numbers"))
            .await
            .contains("No numbers")
    );
    assert!(
        err(request(Service::DocumentAnalysis, "summary", "  \n"))
            .await
            .contains("No input")
    );
    let mut req = request(Service::DocumentAnalysis, "summary", "text");
    req.parameters = json!({ "temprature": 0.2 });
    assert!(err(req).await.contains("unknown field `temprature`"));
    assert_eq!(f.up("m").request_count(), 0);
}

/// One model on a fake upstream, configured in a `TestEnv`.
fn env_with_model(answer: &str) -> (TestEnv, FakeUpstream) {
    let env = TestEnv::new();
    let up = FakeUpstream::start();
    up.set_default(Behavior::ok(answer));
    env.write_config(&fleet_config(&[(("solo", 2, 1.0, 2.0), up.base_url())]));
    (env, up)
}

#[test]
fn service_json_from_stdin_and_from_a_file() {
    let (env, up) = env_with_model("A short summary.");
    let out = env
        .run_stdin(
            "llm-cooperation",
            &[
                "service",
                "document-analysis",
                "--type",
                "summary",
                "--json",
            ],
            "Cats sleep a lot. 猫很懒。\n",
        )
        .expect(0)
        .json();
    assert_eq!(out["service"], "document-analysis");
    assert_eq!(out["type"], "summary");
    assert_eq!(out["facts"]["words"], 4 + 3);
    assert_eq!(out["facts"]["cjk_characters"], 3);
    assert_eq!(out["analysis"], "A short summary.");
    assert_eq!(out["models"], json!(["solo"]));
    assert_eq!(out["receipt"]["steps"][0]["status"], "done");
    assert!(prompt(&up.last()).contains("Cats sleep a lot."));

    std::fs::write(env.cwd.path().join("data.csv"), "x,y\n1,2\n2,4\n3,6\n").unwrap();
    let out = env
        .run(
            "llm-cooperation",
            &["service", "data-insight", "data.csv", "--json"],
        )
        .expect(0)
        .json();
    assert_eq!(out["type"], "trends");
    assert_eq!(out["facts"]["series"][1]["name"], "y");
    assert_eq!(out["facts"]["series"][1]["slope"], 2.0);
    assert_eq!(out["facts"]["series"][1]["trend"], "rising");

    // Plain output: the facts, then the analysis.
    let run = env
        .run("llm-cooperation", &["service", "data-insight", "data.csv"])
        .expect(0);
    assert!(
        run.stdout.contains("rising (2)") && run.stdout.contains("A short summary."),
        "{}",
        run.stdout
    );
}

#[test]
fn service_usage_errors_exit_2() {
    let (env, up) = env_with_model("x");
    let run = env
        .run_stdin(
            "llm-cooperation",
            &["service", "decision-support", "--type", "vote"],
            "A or B?",
        )
        .expect(2);
    assert!(
        run.stderr.contains("Unknown type `vote`")
            && run.stderr.contains("recommendation, comparison, risk"),
        "{}",
        run.stderr
    );
    let run = env
        .run(
            "llm-cooperation",
            &["service", "document-analysis", "nothere.txt"],
        )
        .expect(2);
    assert!(run.stderr.contains("nothere.txt"), "{}", run.stderr);
    let run = env
        .run_stdin(
            "llm-cooperation",
            &["service", "document-analysis", "--models", "ghost"],
            "text",
        )
        .expect(2);
    assert!(
        run.stderr.contains("Unknown model `ghost`"),
        "{}",
        run.stderr
    );
    env.run("llm-cooperation", &["service", "sing"]).expect(2);
    assert_eq!(up.request_count(), 0);
}
