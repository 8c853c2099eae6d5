//! The router end to end: the analyser on a labelled prompt set, strategies, balancing,
//! cooldowns and failover over fake upstreams.

use llm_cooperation::router::analyze;
use llm_cooperation::types::ChatRequest;

/// Accuracy of the analyser on a labelled set, printed with its misses.
fn accuracy(name: &str, text: &str) -> f64 {
    let mut total = 0;
    let mut right = 0;
    let mut by_lang: std::collections::BTreeMap<&str, (u32, u32)> = Default::default();
    let mut misses = Vec::new();
    for line in text.lines().skip(1) {
        let mut fields = line.splitn(3, '\t');
        let (label, lang, prompt) = (
            fields.next().unwrap(),
            fields.next().unwrap(),
            fields.next().unwrap(),
        );
        let got = analyze(&ChatRequest::simple("auto", None, prompt)).task;
        total += 1;
        let e = by_lang.entry(lang).or_default();
        e.1 += 1;
        if got.as_str() == label {
            right += 1;
            e.0 += 1;
        } else {
            misses.push(format!("{label:>13} → {:<13} {prompt}", got.as_str()));
        }
    }
    let accuracy = right as f64 / total as f64;
    println!(
        "analyser accuracy on {name}: {right}/{total} = {:.1}%",
        accuracy * 100.0
    );
    for (lang, (r, t)) in &by_lang {
        println!("  {lang}: {r}/{t}");
    }
    for m in &misses {
        println!("  miss: {m}");
    }
    assert!(total >= 80);
    accuracy
}

/// The analyser names the task of at least 90% of a labelled set (120 prompts, half English,
/// half Chinese) written without looking at its cue lists. The cue lists were then tuned on
/// this set, so it is also measured on a held-out set written later and never tuned on.
#[test]
fn analyser_accuracy_on_the_labelled_sets() {
    let tuned = accuracy("the labelled set", include_str!("data/routing_prompts.tsv"));
    assert!(tuned >= 0.9, "accuracy {tuned:.3} < 0.9");
    let held_out = accuracy(
        "the held-out set",
        include_str!("data/routing_prompts_holdout.tsv"),
    );
    assert!(held_out >= 0.75, "held-out accuracy {held_out:.3} < 0.75");
}

mod over_fake_upstreams {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use llm_cooperation::config::{Config, EnvSnapshot, Paths};
    use llm_cooperation::router::{Preferences, RouteError, Router, Strategy};
    use llm_cooperation::types::ChatRequest;

    use crate::common::upstream::{Behavior, FakeUpstream, refused_url};

    /// A deployment in a test config: model name, base URL, tier, weight.
    struct Dep<'a> {
        model: &'a str,
        url: String,
        tier: u8,
        weight: f64,
    }

    fn dep(model: &str, url: String) -> Dep<'_> {
        Dep {
            model,
            url,
            tier: 3,
            weight: 1.0,
        }
    }

    /// A router over `deps` (one provider each), no retries, short timeouts.
    fn router(deps: &[Dep], router_settings: &str) -> (tempfile::TempDir, Arc<Router>) {
        let (dir, config) = config(deps, "max_retries = 0", router_settings);
        (dir, Arc::new(Router::new(&config).unwrap()))
    }

    /// The configuration of [`router`], with `defaults` in `[defaults]`.
    fn config(deps: &[Dep], defaults: &str, router_settings: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let mut text = format!(
            "[defaults]\n{defaults}\nconnect_timeout_secs = 1.0\nfirst_byte_timeout_secs = 3.0\ntotal_timeout_secs = 10.0\n\n[router]\n{router_settings}\n\n"
        );
        for (i, d) in deps.iter().enumerate() {
            text.push_str(&format!(
                "[providers.p{i}]\nkind = \"openai\"\nbase_url = \"{}\"\nneeds_key = false\n\n[[models]]\nname = \"{}\"\nprovider = \"p{i}\"\nupstream = \"fake-model\"\ntasks = [\"chat\"]\ntier = {}\nweight = {}\n\n",
                d.url, d.model, d.tier, d.weight
            ));
        }
        std::fs::write(dir.path().join("config.toml"), text).unwrap();
        let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
        (dir, config)
    }

    fn ask(model: &str) -> ChatRequest {
        ChatRequest::simple(model, None, "hello there")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn repeated_failures_cool_a_replica_down_until_a_probe_succeeds() {
        let bad = FakeUpstream::start();
        let good = FakeUpstream::start();
        bad.push((0..2).map(|_| Behavior::status(500)));
        let (_dir, router) = router(
            &[dep("m", bad.base_url()), dep("m", good.base_url())],
            "balance = \"round-robin\"\nfailures_before_cooldown = 2\ncooldown_secs = 0.5",
        );
        let prefs = Preferences::default();
        for _ in 0..8 {
            let routed = router.chat(ask("m"), &prefs).await.unwrap();
            assert_eq!(routed.value.provider, "p1");
        }
        // Two failures started the cooldown; later requests skipped `bad` without a request.
        assert_eq!(bad.request_count(), 2);
        let failed_over = router.stats().model_failures.get("m").copied();
        assert_eq!(failed_over, Some(2));
        tokio::time::sleep(Duration::from_millis(600)).await;
        // The cooldown is over: one request probes `bad`, which has recovered.
        let mut providers = BTreeMap::new();
        for _ in 0..6 {
            let routed = router.chat(ask("m"), &prefs).await.unwrap();
            *providers.entry(routed.value.provider).or_insert(0) += 1;
        }
        assert_eq!(
            bad.request_count(),
            2 + providers.get("p0").copied().unwrap_or(0)
        );
        assert!(
            providers.get("p0").copied().unwrap_or(0) >= 2,
            "{providers:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_429_cools_down_a_single_deployment_for_its_retry_after() {
        let up = FakeUpstream::start();
        up.push([Behavior::rate_limited(1)]);
        let (_dir, router) = router(&[dep("solo", up.base_url())], "cooldown_secs = 30");
        let prefs = Preferences::default();
        let err = router.chat(ask("solo"), &prefs).await.unwrap_err();
        assert!(matches!(err, RouteError::Exhausted { .. }), "{err}");
        // During the outage a request fails at once instead of paying for another 429.
        let started = Instant::now();
        let err = router.chat(ask("solo"), &prefs).await.unwrap_err();
        assert!(matches!(err, RouteError::AllCoolingDown { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_millis(50));
        assert_eq!(up.request_count(), 1);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        router.chat(ask("solo"), &prefs).await.unwrap();
        assert_eq!(up.request_count(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn auto_routing_fails_over_in_rank_order_and_reports_every_attempt() {
        let failing = FakeUpstream::start();
        let good = FakeUpstream::start();
        failing.push([Behavior::status(503)]);
        let (_dir, router) = router(
            &[
                Dep {
                    tier: 5,
                    ..dep("best", refused_url())
                },
                Dep {
                    tier: 4,
                    ..dep("second", failing.base_url())
                },
                Dep {
                    tier: 3,
                    ..dep("third", good.base_url())
                },
                Dep {
                    tier: 1,
                    ..dep("worst", good.base_url())
                },
            ],
            "",
        );
        let prefs = Preferences {
            strategy: Some(Strategy::Quality),
            ..Default::default()
        };
        let routed = router.chat(ask("auto"), &prefs).await.unwrap();
        assert_eq!(routed.value.model, "third");
        let tried: Vec<(&str, Option<&str>)> = routed
            .attempts
            .iter()
            .map(|a| (a.model.as_str(), a.error_kind))
            .collect();
        assert_eq!(
            tried,
            [
                ("best", Some("connect")),
                ("second", Some("upstream")),
                ("third", None)
            ]
        );
        assert_eq!(
            routed.decision.order()[..3]
                .iter()
                .map(|m| &**m)
                .collect::<Vec<_>>(),
            ["best", "second", "third"]
        );
    }

    /// Sends `n` sequential requests to `m` and counts which provider answered.
    async fn spread(router: &Router, n: usize) -> Vec<usize> {
        let mut counts = vec![0; 4];
        for i in 0..n {
            let req = ChatRequest::simple("m", None, &format!("question number {i}"));
            let routed = router.chat(req, &Preferences::default()).await.unwrap();
            let p: usize = routed.value.provider[1..].parse().unwrap();
            counts[p] += 1;
        }
        counts
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn balancing_policies_spread_requests_as_stated() {
        let ups: Vec<FakeUpstream> = (0..4).map(|_| FakeUpstream::start()).collect();
        let deps = |weights: [f64; 4]| -> Vec<Dep> {
            ups.iter()
                .zip(weights)
                .map(|(u, weight)| Dep {
                    weight,
                    ..dep("m", u.base_url())
                })
                .collect()
        };
        // Round-robin: exactly even.
        let (_d, r) = router(&deps([1.0; 4]), "balance = \"round-robin\"");
        assert_eq!(spread(&r, 200).await, [50, 50, 50, 50]);
        // Least in flight, one request at a time: ties rotate, so exactly even too.
        let (_d, r) = router(&deps([1.0; 4]), "balance = \"least-in-flight\"");
        assert_eq!(spread(&r, 200).await, [50, 50, 50, 50]);
        // Weighted 1:1:2:4 of 400: expected 50/50/100/200, each within ±40%.
        let (_d, r) = router(&deps([1.0, 1.0, 2.0, 4.0]), "balance = \"weighted\"");
        let got = spread(&r, 400).await;
        for (g, want) in got.iter().zip([50.0, 50.0, 100.0, 200.0]) {
            assert!((*g as f64 - want).abs() <= want * 0.4, "weighted: {got:?}");
        }
        // Shortest TTFT: once measured, the fast replicas take almost everything.
        ups[2].set_delay(Duration::from_millis(40));
        ups[3].set_delay(Duration::from_millis(40));
        let (_d, r) = router(&deps([1.0; 4]), "balance = \"shortest-ttft\"");
        let got = spread(&r, 100).await;
        assert!(got[0] + got[1] >= 90, "shortest TTFT: {got:?}");
        ups[2].set_delay(Duration::ZERO);
        ups[3].set_delay(Duration::ZERO);
        // Power of two choices at random: about even, each within ±40% of 100.
        let (_d, r) = router(&deps([1.0; 4]), "balance = \"power-of-two\"");
        let got = spread(&r, 400).await;
        assert!(
            got.iter().all(|&g| (60..=140).contains(&g)),
            "power of two: {got:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn prefix_affinity_keeps_a_prefix_on_one_replica_and_spills_when_overloaded() {
        let ups: Vec<FakeUpstream> = (0..4).map(|_| FakeUpstream::start()).collect();
        let deps: Vec<Dep> = ups.iter().map(|u| dep("m", u.base_url())).collect();
        let (_d, router) = router(
            &deps,
            "balance = \"prefix-affinity\"\naffinity_imbalance = 1",
        );
        let same = || {
            let mut r = ChatRequest::simple(
                "m",
                Some("You are a long shared system prompt."),
                "same question",
            );
            r.max_tokens = Some(32);
            r
        };
        let prefs = Preferences::default();
        let first = router.chat(same(), &prefs).await.unwrap().value.provider;
        for _ in 0..20 {
            assert_eq!(
                router.chat(same(), &prefs).await.unwrap().value.provider,
                first
            );
        }
        // Different prompts spread over several replicas.
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..20 {
            let req = ChatRequest::simple("m", None, &format!("a different question {i}"));
            seen.insert(router.chat(req, &prefs).await.unwrap().value.provider);
        }
        assert!(seen.len() >= 2, "{seen:?}");
        // Overload the affine replica with slow requests: the next one spills elsewhere.
        let affine: usize = first[1..].parse().unwrap();
        ups[affine].push((0..3).map(|_| Behavior::Delay {
            before_headers: Duration::from_millis(800),
        }));
        let slow: Vec<_> = (0..3)
            .map(|_| {
                let router = router.clone();
                tokio::spawn(async move { router.chat(same(), &Preferences::default()).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let spilled = router.chat(same(), &prefs).await.unwrap().value.provider;
        assert_ne!(spilled, first, "an overloaded affine replica must spill");
        for s in slow {
            s.await.unwrap().unwrap();
        }
    }

    /// With no other deployment, one that may recover (a 5xx) is tried again after a short
    /// backoff, up to `max_retries`, whole and streamed; the HTTP client itself never retries.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_only_deployment_is_tried_again_up_to_max_retries() {
        use futures::StreamExt;
        let up = FakeUpstream::start();
        let (_dir, config) = config(
            &[dep("solo", up.base_url())],
            "max_retries = 2",
            "failures_before_cooldown = 5\nmax_retry_wait_secs = 0.05",
        );
        let router = Arc::new(Router::new(&config).unwrap());
        let prefs = Preferences::default();
        up.push([Behavior::status(500), Behavior::status(503)]);
        let routed = router.chat(ask("solo"), &prefs).await.unwrap();
        assert_eq!(up.request_count(), 3, "one attempt and two retries");
        let kinds: Vec<_> = routed.attempts.iter().map(|a| a.error_kind).collect();
        assert_eq!(kinds, [Some("upstream"), Some("upstream"), None]);

        up.push([Behavior::status(502)]);
        let routed = router.chat_stream(ask("solo"), &prefs).await.unwrap();
        let events: Vec<_> = routed.value.collect().await;
        assert!(events.iter().all(Result::is_ok), "{events:?}");
        assert_eq!(up.request_count(), 5);

        // Past `max_retries` the error comes back: three attempts in all.
        up.push((0..3).map(|_| Behavior::status(502)));
        let err = router.chat(ask("solo"), &prefs).await.unwrap_err();
        assert_eq!(err.attempts().len(), 3, "{err}");
        assert_eq!(up.request_count(), 8);
    }

    /// A failure fails over at once when another deployment exists: the failing one gets
    /// one attempt per request, never a retry, and after `failures_before_cooldown` none.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_a_second_deployment_a_failure_fails_over_at_once() {
        let bad = FakeUpstream::start();
        let good = FakeUpstream::start();
        bad.push((0..20).map(|_| Behavior::status(503)));
        let (_dir, config) = config(
            &[
                Dep {
                    weight: 1e6,
                    ..dep("m", bad.base_url())
                },
                Dep {
                    weight: 1e-6,
                    ..dep("m", good.base_url())
                },
            ],
            "max_retries = 2",
            "balance = \"weighted\"",
        );
        let router = Arc::new(Router::new(&config).unwrap());
        for i in 0..20 {
            let routed = router
                .chat(ask("m"), &Preferences::default())
                .await
                .unwrap();
            assert_eq!(routed.value.provider, "p1");
            assert!(
                routed.attempts.len() <= 2,
                "request {i}: {:?}",
                routed.attempts
            );
        }
        assert_eq!(good.request_count(), 20);
        assert_eq!(bad.request_count(), 3, "three failures start the cooldown");
    }

    /// A probe whose future is dropped before its verdict (its client went away, a
    /// cooperation failed fast, a stream was dropped before its end) frees the probe slot:
    /// it used to leave the deployment unavailable until the next reload.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_probe_dropped_before_its_verdict_frees_the_slot() {
        use futures::StreamExt;
        let up = FakeUpstream::start();
        let (_dir, router) = router(
            &[dep("solo", up.base_url())],
            "failures_before_cooldown = 1\ncooldown_secs = 0.2",
        );
        let prefs = Preferences::default();
        let cool_down = || async {
            up.push([Behavior::status(500)]);
            router.chat(ask("solo"), &prefs).await.unwrap_err();
            let err = router.chat(ask("solo"), &prefs).await.unwrap_err();
            assert!(matches!(err, RouteError::AllCoolingDown { .. }), "{err}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        };

        // A whole answer's probe, cancelled while waiting for the headers.
        cool_down().await;
        up.push([Behavior::Delay {
            before_headers: Duration::from_secs(5),
        }]);
        let cancelled =
            tokio::time::timeout(Duration::from_millis(100), router.chat(ask("solo"), &prefs))
                .await;
        assert!(cancelled.is_err(), "the probe was still waiting");
        router
            .chat(ask("solo"), &prefs)
            .await
            .expect("the next request probes");

        // A stream's probe, dropped after its first event.
        cool_down().await;
        up.push([Behavior::SlowDrip {
            chunk_delay: Duration::from_millis(200),
        }]);
        let mut stream = router.chat_stream(ask("solo"), &prefs).await.unwrap().value;
        stream.next().await.unwrap().unwrap();
        drop(stream);
        router
            .chat(ask("solo"), &prefs)
            .await
            .expect("the next request probes");
    }

    /// A reload builds a new router; the deployments both configurations share keep their
    /// health (a cooldown holds) and the counters run on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rebuilt_router_keeps_health_and_counters() {
        let up = FakeUpstream::start();
        let other = FakeUpstream::start();
        up.push([Behavior::rate_limited(30)]);
        let (_dir, config) = config(&[dep("solo", up.base_url())], "max_retries = 0", "");
        let router = Router::new(&config).unwrap();
        let prefs = Preferences::default();
        router.chat(ask("solo"), &prefs).await.unwrap_err();
        let (_dir2, changed) = config_pair(&up, &other);
        let rebuilt = Router::rebuild(&changed, &BTreeMap::new(), Some(&router)).unwrap();
        let err = rebuilt.chat(ask("solo"), &prefs).await.unwrap_err();
        assert!(matches!(err, RouteError::AllCoolingDown { .. }), "{err}");
        assert_eq!(up.request_count(), 1, "nothing sent while cooling");
        // The added model starts fresh and answers.
        rebuilt.chat(ask("added"), &prefs).await.unwrap();
        assert_eq!(rebuilt.stats().total_requests, 3, "counters run on");
    }

    /// `solo` on `up` (the same deployment as before) and a new model `added` on `other`.
    fn config_pair(up: &FakeUpstream, other: &FakeUpstream) -> (tempfile::TempDir, Config) {
        config(
            &[dep("solo", up.base_url()), dep("added", other.base_url())],
            "max_retries = 0",
            "",
        )
    }
}
