//! Parallel mode's wall time against its slowest member.
//!
//! Each member is a fake upstream with a fixed latency (it waits, then streams its answer);
//! the plan is `parallel` with `concat` integration, run by the executor on a
//! single-threaded runtime as the CLI runs it. The target: the median wall time is within
//! 5% (+5 ms) of the slowest member's fixed latency. The slowest member asked alone is
//! measured too, as the floor a client can reach over HTTP.
//!
//! `cargo bench --bench cooperation -- [runs]` prints a Markdown table (median of `runs`,
//! default 20, after two warm-up runs) and exits non-zero when a row misses the target.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[allow(dead_code)]
#[path = "../tests/common/upstream.rs"]
mod upstream;

use std::sync::Arc;
use std::time::{Duration, Instant};

use llm_cooperation::config::{Config, EnvSnapshot, Paths};
use llm_cooperation::cooperation::{
    ExecOptions, Integration, Mode, ModeSpec, Outcome, StepStatus, compile, execute,
};
use llm_cooperation::providers::collect_stream;
use llm_cooperation::router::{Preferences, Router};
use llm_cooperation::types::ChatRequest;
use upstream::FakeUpstream;

/// Members' fixed latencies, in milliseconds, per row of the table.
const CASES: &[&[u64]] = &[
    &[50, 100, 150, 200],
    &[25, 50, 75, 100, 125, 150, 175, 200],
    &[200, 200, 200, 200],
    &[
        10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160,
    ],
];

struct Case {
    _ups: Vec<FakeUpstream>,
    _dir: tempfile::TempDir,
    router: Arc<Router>,
    names: Vec<String>,
}

fn case(delays: &[u64]) -> Case {
    let ups: Vec<FakeUpstream> = delays
        .iter()
        .map(|&ms| {
            let up = FakeUpstream::start();
            up.set_delay(Duration::from_millis(ms));
            up
        })
        .collect();
    let mut text = String::from("[defaults]\nmax_retries = 0\ntotal_timeout_secs = 30.0\n\n");
    let names: Vec<String> = (0..delays.len()).map(|i| format!("m{i}")).collect();
    for (i, up) in ups.iter().enumerate() {
        text.push_str(&format!(
            "[providers.p{i}]\nkind = \"openai\"\nbase_url = \"{}\"\nneeds_key = false\n\n[[models]]\nname = \"m{i}\"\nprovider = \"p{i}\"\nupstream = \"fake-model\"\nprice_in = 1.0\nprice_out = 2.0\n\n",
            up.base_url()
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), text).unwrap();
    let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
    Case {
        _ups: ups,
        _dir: dir,
        router: Arc::new(Router::new(&config).unwrap()),
        names,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20)
        .max(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "| members | fixed delays (ms) | slowest member (ms) | slowest alone, median (ms) | parallel wall, median (ms) | overhead (ms) | overhead % | target (ms) | within target |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut all_within = true;
    for delays in CASES {
        let c = case(delays);
        let slowest = *delays.iter().max().unwrap() as f64;
        let slowest_name = &c.names[delays.iter().position(|&d| d as f64 == slowest).unwrap()];
        let mut spec = ModeSpec::new(Mode::Parallel, c.names.clone());
        spec.integration = Some(Integration::Concat);
        let plan = compile(&spec, &c.router).unwrap();
        let (alone, wall) = runtime.block_on(async {
            let one = |router: Arc<Router>| async move {
                let started = Instant::now();
                let routed = router
                    .chat_stream(
                        ChatRequest::simple(slowest_name, None, "bench"),
                        &Preferences::default(),
                    )
                    .await
                    .unwrap();
                collect_stream(routed.value, started, |_| Ok(()))
                    .await
                    .unwrap();
                started.elapsed().as_secs_f64() * 1e3
            };
            let all = |router: Arc<Router>| {
                let plan = &plan;
                async move {
                    let opts = ExecOptions {
                        concurrency: delays.len(),
                        ..ExecOptions::default()
                    };
                    let started = Instant::now();
                    let out: Outcome = execute(router, plan, "bench", opts).await.unwrap();
                    let ms = started.elapsed().as_secs_f64() * 1e3;
                    assert!(
                        out.receipt
                            .steps
                            .iter()
                            .all(|s| s.status == StepStatus::Done)
                    );
                    ms
                }
            };
            // Warm-up: connections are pooled after the first request to each upstream.
            for _ in 0..2 {
                one(c.router.clone()).await;
                all(c.router.clone()).await;
            }
            let mut alone = Vec::with_capacity(runs);
            let mut wall = Vec::with_capacity(runs);
            for _ in 0..runs {
                alone.push(one(c.router.clone()).await);
                wall.push(all(c.router.clone()).await);
            }
            (median(alone), median(wall))
        });
        let overhead = wall - slowest;
        let target = slowest * 1.05 + 5.0;
        let within = wall <= target;
        all_within &= within;
        let list: Vec<String> = delays.iter().map(u64::to_string).collect();
        println!(
            "| {} | {} | {slowest:.0} | {alone:.1} | {wall:.1} | {overhead:.1} | {:.1}% | ≤ {target:.1} | {} |",
            delays.len(),
            list.join(", "),
            overhead / slowest * 100.0,
            if within { "yes" } else { "NO" }
        );
    }
    println!();
    println!("{runs} runs per row; overhead = parallel wall − slowest member's fixed delay.");
    if !all_within {
        std::process::exit(1);
    }
}
