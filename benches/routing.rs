//! A full routing decision (analysis, scoring 50 models, balancing among their replicas)
//! over 50 models and 200 deployments, with the decision cache off and on.
//!
//! `cargo bench --bench routing` prints Criterion's estimates, then a percentile table from
//! timing 20,000 individual decisions (the target is p99 under 20 µs).
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use llm_cooperation::config::{Config, EnvSnapshot, Paths};
use llm_cooperation::router::{Preferences, Router};
use llm_cooperation::types::ChatRequest;

const PROMPTS: &[&str] = &[
    "What is the capital of France?",
    "解方程 x^2 - 5x + 6 = 0，并写出步骤",
    "Write a Python function that parses ISO dates and add unit tests.",
    "请把这段话翻译成英文：我们下周一开会讨论新产品的发布计划。",
    "Summarize the following paragraph in two sentences: The committee met on Tuesday to review the budget, and after a long debate approved most items.",
    "Analyze step by step: 1. Why did sales drop? 2. Compare Q1 and Q2. 3. What should we do next?",
];

fn router(cache_ms: u64) -> Router {
    let dir = tempfile::tempdir().unwrap();
    let tasks = [
        "chat",
        "code",
        "math",
        "reasoning",
        "translation",
        "summarization",
        "extraction",
        "creative",
    ];
    let mut text =
        format!("[router]\ndecision_cache_ttl_ms = {cache_ms}\nbalance = \"power-of-two\"\n\n");
    for p in 0..10 {
        text.push_str(&format!(
            "[providers.p{p}]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\nneeds_key = false\n\n"
        ));
    }
    for m in 0..50 {
        for r in 0..4 {
            let t1 = tasks[m % tasks.len()];
            let t2 = tasks[(m / 3) % tasks.len()];
            text.push_str(&format!(
                "[[models]]\nname = \"model-{m}\"\nprovider = \"p{}\"\nupstream = \"up-{m}\"\ntasks = [\"{t1}\", \"{t2}\"]\ntier = {}\nprice_in = {}\nprice_out = {}\ncontext_window = {}\n\n",
                (m + r) % 10,
                1 + m % 5,
                0.1 * (m % 7) as f64,
                0.3 * (m % 11) as f64,
                8192 << (m % 5),
            ));
        }
    }
    std::fs::write(dir.path().join("config.toml"), text).unwrap();
    let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
    Router::new(&config).unwrap()
}

fn decide(router: &Router, req: &ChatRequest, prefs: &Preferences) -> usize {
    let decision = router.decide(req, prefs).unwrap();
    router.replicas(&decision.order()[0], req).len()
}

fn requests() -> Vec<ChatRequest> {
    PROMPTS
        .iter()
        .map(|p| ChatRequest::simple("auto", None, p))
        .collect()
}

fn bench(c: &mut Criterion) {
    let prefs = Preferences::default();
    let reqs = requests();
    for (name, cache_ms) in [("decision, cache off", 0), ("decision, cache on", 60_000)] {
        let router = router(cache_ms);
        let mut i = 0;
        c.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % reqs.len();
                black_box(decide(&router, &reqs[i], &prefs))
            })
        });
    }
}

fn percentiles() {
    let prefs = Preferences::default();
    let reqs = requests();
    println!(
        "\n| routing decision (50 models, 200 deployments) | p50 µs | p90 µs | p99 µs | max µs |"
    );
    println!("|---|---|---|---|---|");
    for (name, cache_ms) in [("cache off", 0), ("cache on", 60_000)] {
        let router = router(cache_ms);
        for i in 0..2_000 {
            black_box(decide(&router, &reqs[i % reqs.len()], &prefs));
        }
        let mut samples: Vec<f64> = (0..20_000)
            .map(|i| {
                let t = Instant::now();
                black_box(decide(&router, &reqs[i % reqs.len()], &prefs));
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        let q = |f: f64| samples[((samples.len() - 1) as f64 * f) as usize];
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} |",
            q(0.5),
            q(0.9),
            q(0.99),
            samples[samples.len() - 1]
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    percentiles();
}
