//! The cooperation engine over fake upstreams (one per model, each with a scripted answer and
//! latency), then the `cooperate` command end to end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use llm_cooperation::config::{Config, EnvSnapshot, Paths};
use llm_cooperation::router::Router;

use crate::common::upstream::{Behavior, FakeUpstream, Recorded};

/// A model in a test fleet: name, tier, USD per million input and output tokens.
pub type Spec<'a> = (&'a str, u8, f64, f64);

/// `config.toml` with one provider per model, each at its own base URL; no retries and
/// short timeouts so failures are quick.
pub fn fleet_config(models: &[(Spec<'_>, String)]) -> String {
    let mut text = String::from(
        "[defaults]\nmax_retries = 0\nconnect_timeout_secs = 1.0\nfirst_byte_timeout_secs = 5.0\ntotal_timeout_secs = 10.0\n\n",
    );
    for (i, ((name, tier, price_in, price_out), url)) in models.iter().enumerate() {
        text.push_str(&format!(
            "[providers.p{i}]\nkind = \"openai\"\nbase_url = \"{url}\"\nneeds_key = false\n\n[[models]]\nname = \"{name}\"\nprovider = \"p{i}\"\nupstream = \"up-{name}\"\ntasks = [\"chat\"]\ntier = {tier}\nprice_in = {price_in}\nprice_out = {price_out}\n\n"
        ));
    }
    text
}

/// Models, each on its own fake upstream, and a router over them.
pub struct Fleet {
    _dir: tempfile::TempDir,
    pub router: Arc<Router>,
    ups: BTreeMap<String, FakeUpstream>,
}

impl Fleet {
    pub fn new(models: &[Spec<'_>]) -> Fleet {
        let ups: BTreeMap<String, FakeUpstream> = models
            .iter()
            .map(|m| (m.0.to_owned(), FakeUpstream::start()))
            .collect();
        let with_urls: Vec<(Spec<'_>, String)> =
            models.iter().map(|m| (*m, ups[m.0].base_url())).collect();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), fleet_config(&with_urls)).unwrap();
        let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
        Fleet {
            _dir: dir,
            router: Arc::new(Router::new(&config).unwrap()),
            ups,
        }
    }

    /// Tier-2 models priced alike.
    pub fn plain(names: &[&'static str]) -> Fleet {
        let specs: Vec<Spec<'_>> = names.iter().map(|n| (*n, 2, 1.0, 2.0)).collect();
        Fleet::new(&specs)
    }

    pub fn up(&self, name: &str) -> &FakeUpstream {
        &self.ups[name]
    }

    /// `name` always answers `text`.
    pub fn answers(&self, name: &str, text: &str) -> &Self {
        self.up(name).set_default(Behavior::ok(text));
        self
    }
}

/// The user message of a recorded request.
pub fn prompt(r: &Recorded) -> String {
    r.body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned()
}

mod engine {
    use std::time::Instant;

    use llm_cooperation::config::ConfigError;
    use llm_cooperation::cooperation::{
        AnswerKind, Cancel, CoopError, DecidedBy, ExecOptions, FailurePolicy, Integration, Mode,
        ModeSpec, Outcome, Progress, RunStatus, StepStatus, Workflow, compile, execute,
    };
    use llm_cooperation::providers::ProviderError;

    use super::*;

    async fn run(fleet: &Fleet, spec: &ModeSpec, input: &str) -> Result<Outcome, CoopError> {
        run_with(fleet, spec, input, ExecOptions::default()).await
    }

    async fn run_with(
        fleet: &Fleet,
        spec: &ModeSpec,
        input: &str,
        opts: ExecOptions,
    ) -> Result<Outcome, CoopError> {
        let plan = compile(spec, &fleet.router).expect("the spec compiles");
        execute(fleet.router.clone(), &plan, input, opts).await
    }

    fn statuses(o: &llm_cooperation::cooperation::Receipt) -> Vec<(String, StepStatus)> {
        o.steps.iter().map(|s| (s.id.clone(), s.status)).collect()
    }

    #[tokio::test]
    async fn voting_returns_the_majority_and_reports_the_tally() {
        let f = Fleet::plain(&["a", "b", "c", "j"]);
        f.answers("a", "6 × 7 = 42.\nAnswer: 42")
            .answers("b", "Answer: 41")
            .answers("c", "答案是 42.0");
        let mut spec = ModeSpec::new(Mode::Voting, ["a", "b", "c"]);
        // A judge only breaks ties: with a majority it is never asked.
        spec.judge = Some("j".into());
        let out = run(&f, &spec, "What is 6 × 7?").await.unwrap();
        assert_eq!(out.text, "6 × 7 = 42.\nAnswer: 42");
        let r = &out.receipt;
        let t = r.tally.as_ref().unwrap();
        assert_eq!(t.winner.as_deref(), Some("42"));
        assert_eq!(
            (t.tie, t.unanimous, t.decided_by),
            (false, false, DecidedBy::Majority)
        );
        assert_eq!(t.options[0].votes, 2);
        assert_eq!(t.options[0].voters, vec!["a", "c"]);
        assert_eq!(
            (t.options[1].answer.as_str(), t.options[1].votes),
            ("41", 1)
        );
        // Each member's own vote, normalised.
        let c = r.step("c").unwrap();
        assert_eq!(
            c.vote.as_ref().map(|v| (v.kind, v.answer.as_str())),
            Some((AnswerKind::Number, "42"))
        );
        assert_eq!(r.step("b").unwrap().vote.as_ref().unwrap().answer, "41");
        assert_eq!(r.step("judge").unwrap().status, StepStatus::Skipped);
        assert_eq!(f.up("j").request_count(), 0);
        // Every member was asked once, with the instruction to end with an answer line.
        for m in ["a", "b", "c"] {
            let reqs = f.up(m).requests();
            assert_eq!(reqs.len(), 1);
            assert!(prompt(&reqs[0]).starts_with("What is 6 × 7?"));
            assert!(prompt(&reqs[0]).contains("Answer: <final answer>"));
        }
        // Tokens and cost come from the upstream's usage at the configured prices.
        let a = r.step("a").unwrap();
        assert_eq!(a.input_tokens, crate::common::upstream::INPUT_TOKENS);
        assert!(a.output_tokens > 0 && !a.tokens_estimated);
        let expected = (f64::from(a.input_tokens) * 1.0 + f64::from(a.output_tokens) * 2.0) / 1e6;
        assert!(
            (a.cost_usd - expected).abs() < 1e-9,
            "{} vs {expected}",
            a.cost_usd
        );
        assert!(r.cost_usd > 0.0 && r.wall_ms > 0.0);
        assert_eq!(
            (r.status, r.result_step.as_deref()),
            (RunStatus::Done, Some("tally"))
        );
    }

    #[tokio::test]
    async fn a_voting_tie_goes_to_the_judge_or_else_to_the_higher_tier() {
        let f = Fleet::new(&[
            ("low", 1, 0.1, 0.1),
            ("high", 4, 1.0, 1.0),
            ("j", 5, 1.0, 1.0),
        ]);
        f.answers("low", "Answer: 42")
            .answers("high", "Answer: (B)");
        let spec = ModeSpec::new(Mode::Voting, ["low", "high"]);
        let out = run(&f, &spec, "q").await.unwrap();
        let t = out.receipt.tally.unwrap();
        assert_eq!(
            (t.winner.as_deref(), t.tie, t.decided_by),
            (Some("B"), true, DecidedBy::Tier)
        );
        assert_eq!(out.text, "Answer: (B)");

        // With a judge: it sees both answers, numbered (the tier winner first), and picks.
        f.answers("j", "Best: 2\nThe arithmetic checks out.");
        let mut spec = ModeSpec::new(Mode::Voting, ["low", "high"]);
        spec.judge = Some("j".into());
        let out = run(&f, &spec, "q").await.unwrap();
        assert_eq!(out.text, "Answer: 42");
        let t = out.receipt.tally.as_ref().unwrap();
        assert_eq!(
            (t.winner.as_deref(), t.decided_by),
            (Some("42"), DecidedBy::Judge)
        );
        let j = out.receipt.judgement.as_ref().unwrap();
        assert_eq!((j.choice, j.chosen_step.as_str()), (2, "low"));
        assert_eq!(j.reason, "The arithmetic checks out.");
        let asked = prompt(&f.up("j").last());
        assert!(
            asked.contains("Answer 1: B (1 vote)") && asked.contains("Answer 2: 42 (1 vote)"),
            "{asked}"
        );

        // A judge whose reply names no answer: the tier decision stands.
        f.answers("j", "They are both fine.");
        let out = run(&f, &spec, "q").await.unwrap();
        assert_eq!(out.text, "Answer: (B)");
        assert_eq!(out.receipt.step("pick").unwrap().status, StepStatus::Failed);
        assert_eq!(out.receipt.tally.unwrap().decided_by, DecidedBy::Tier);
    }

    #[tokio::test]
    async fn later_rounds_show_the_tally_and_run_only_while_models_disagree() {
        let f = Fleet::plain(&["a", "b", "c"]);
        f.answers("a", "Answer: 42").answers("c", "Answer: 42");
        f.up("b").push([
            Behavior::ok("Answer: 41"),
            Behavior::ok("On reflection, Answer: 42"),
        ]);
        let mut spec = ModeSpec::new(Mode::Voting, ["a", "b", "c"]);
        spec.rounds = 3;
        let out = run(&f, &spec, "q").await.unwrap();
        let r = &out.receipt;
        // Round 2 ran (round 1 was split) and was unanimous, so round 3 did not run.
        assert_eq!(
            r.step("tally").unwrap().votes.as_ref().unwrap().summary(),
            "42 (2) · 41 (1)"
        );
        assert!(
            r.step("tally-r2")
                .unwrap()
                .votes
                .as_ref()
                .unwrap()
                .unanimous
        );
        assert_eq!(r.step("b-r3").unwrap().status, StepStatus::Skipped);
        assert_eq!(r.step("tally-r3").unwrap().status, StepStatus::Skipped);
        assert_eq!(r.result_step.as_deref(), Some("tally-r2"));
        assert!(r.tally.as_ref().unwrap().unanimous);
        let second = prompt(&f.up("b").requests()[1]);
        assert!(
            second.contains("Answer 1: 42 (2 votes)") && second.contains("Answer 2: 41 (1 vote)"),
            "{second}"
        );
        for m in ["a", "b", "c"] {
            assert_eq!(f.up(m).request_count(), 2, "{m}");
        }

        // Unanimous at once: one round only.
        let f = Fleet::plain(&["a", "b"]);
        f.answers("a", "Yes.").answers("b", "yes");
        let out = run(&f, &spec_with_rounds(&["a", "b"], 3), "q")
            .await
            .unwrap();
        assert_eq!(
            (f.up("a").request_count(), f.up("b").request_count()),
            (1, 1)
        );
        assert_eq!(out.receipt.result_step.as_deref(), Some("tally"));
    }

    fn spec_with_rounds(models: &[&str], rounds: u32) -> ModeSpec {
        let mut s = ModeSpec::new(Mode::Voting, models.iter().copied());
        s.rounds = rounds;
        s
    }

    fn cascade_fleet() -> Fleet {
        let f = Fleet::new(&[
            ("tiny", 1, 0.1, 0.2),
            ("small", 2, 0.2, 0.4),
            ("strong", 5, 5.0, 15.0),
            ("checker", 2, 0.2, 0.4),
        ]);
        f.answers("strong", "The answer is 42, because 6 × 7 = 42.");
        f
    }

    #[tokio::test]
    async fn cascade_escalates_on_disagreement_and_not_on_agreement() {
        let f = cascade_fleet();
        f.answers("tiny", "Answer: 42")
            .answers("small", "I think 42.0");
        let spec = ModeSpec::new(Mode::Cascade, ["strong", "small", "tiny"]);
        let out = run(&f, &spec, "6 × 7?").await.unwrap();
        assert_eq!(f.up("strong").request_count(), 0);
        assert_eq!(out.text, "Answer: 42");
        let r = &out.receipt;
        let c = r.cascade.as_ref().unwrap();
        assert!(!c.escalated && c.reason.contains("agree"), "{c:?}");
        assert_eq!(c.strong_model, "strong");
        assert!(c.direct_cost_estimated);
        // The strong model's price on the cheap steps' token counts, and the difference.
        let cheap: Vec<_> = ["tiny", "small"]
            .map(|id| r.step(id).unwrap().clone())
            .into();
        let avg = |f: fn(&llm_cooperation::cooperation::StepReceipt) -> u32| {
            (cheap.iter().map(|s| f64::from(f(s))).sum::<f64>() / 2.0).round()
        };
        let direct = (avg(|s| s.input_tokens) * 5.0 + avg(|s| s.output_tokens) * 15.0) / 1e6;
        assert!(
            (c.strong_direct_cost_usd - direct).abs() < 1e-7,
            "{c:?} vs {direct}"
        );
        assert!(c.saved_usd > 0.0 && (c.saved_usd - (direct - r.cost_usd)).abs() < 1e-7);
        assert_eq!(r.step("escalate").unwrap().status, StepStatus::Skipped);
        // Cheapest first in the plan.
        assert_eq!(r.steps[0].id, "tiny");

        let f = cascade_fleet();
        f.answers("tiny", "Answer: 42")
            .answers("small", "Answer: 41");
        let out = run(&f, &spec, "6 × 7?").await.unwrap();
        assert_eq!(f.up("strong").request_count(), 1);
        assert_eq!(prompt(&f.up("strong").last()), "6 × 7?");
        assert_eq!(out.text, "The answer is 42, because 6 × 7 = 42.");
        let c = out.receipt.cascade.as_ref().unwrap();
        assert!(
            c.escalated
                && c.reason.contains("disagree")
                && c.reason.contains("42 (1)")
                && c.reason.contains("41 (1)"),
            "{c:?}"
        );
        assert!(!c.direct_cost_estimated);
        assert_eq!(
            c.strong_direct_cost_usd,
            out.receipt.step("escalate").unwrap().cost_usd
        );
        assert!(
            c.saved_usd < 0.0,
            "trying the cheap tier first cost extra: {c:?}"
        );
        assert_eq!(out.receipt.result_step.as_deref(), Some("escalate"));
    }

    #[tokio::test]
    async fn cascade_escalates_when_the_verifier_rejects() {
        let f = cascade_fleet();
        f.answers("tiny", "Answer: 41")
            .answers("small", "Answer: 41");
        f.answers("checker", "REJECT\n6 × 7 is 42.");
        let mut spec = ModeSpec::new(Mode::Cascade, ["tiny", "small", "strong"]);
        spec.judge = Some("checker".into());
        let out = run(&f, &spec, "6 × 7?").await.unwrap();
        assert_eq!(f.up("strong").request_count(), 1);
        let verify = prompt(&f.up("checker").last());
        assert!(verify.contains("Proposed answer:\nAnswer: 41"), "{verify}");
        assert!(
            out.receipt
                .cascade
                .as_ref()
                .unwrap()
                .reason
                .contains("verifier")
        );
        assert!(out.text.starts_with("The answer is 42"));

        let f = cascade_fleet();
        f.answers("tiny", "Answer: 42")
            .answers("small", "Answer: 42");
        f.answers("checker", "ACCEPT");
        let out = run(&f, &spec, "6 × 7?").await.unwrap();
        assert_eq!(f.up("strong").request_count(), 0);
        assert!(
            out.receipt
                .cascade
                .unwrap()
                .reason
                .contains("verifier accepted")
        );
    }

    /// The verifier used to need ACCEPT on its first line: a reply that reasons first and
    /// concludes at the end sent every cascade to the strong model.
    #[tokio::test]
    async fn the_cascade_verifier_reads_a_verdict_anywhere_and_the_receipt_names_it() {
        let mut spec = ModeSpec::new(Mode::Cascade, ["tiny", "small", "strong"]);
        spec.judge = Some("checker".into());
        for (reply, escalates, word) in [
            (
                "Let me check: 6 × 7 = 42.\nThe proposed answer matches.\n\nACCEPT",
                false,
                "ACCEPT",
            ),
            ("I multiplied it out.\nCorrect: it is 42.", false, "CORRECT"),
            ("我算了一下。\n是的，是 42。", false, "是的"),
            ("Checking.\nNo, the product is 43.", true, "NO"),
        ] {
            let f = cascade_fleet();
            f.answers("tiny", "Answer: 42")
                .answers("small", "Answer: 42");
            f.answers("checker", reply);
            let out = run(&f, &spec, "6 × 7?").await.unwrap();
            let c = out.receipt.cascade.clone().unwrap();
            assert_eq!(c.escalated, escalates, "{reply}: {c:?}");
            assert_eq!(f.up("strong").request_count(), usize::from(escalates));
            assert_eq!(c.verifier_word.as_deref(), Some(word), "{reply}: {c:?}");
            assert!(c.reason.contains(&format!("(`{word}`)")), "{c:?}");
        }
    }

    #[tokio::test]
    async fn workflow_steps_run_in_depends_on_order() {
        let f = Fleet::plain(&["m1", "m2", "m3", "m4"]);
        for (m, text) in [
            ("m1", "DRAFT-OUT"),
            ("m2", "REVIEW-OUT"),
            ("m3", "FINAL-OUT"),
            ("m4", "FACTS-OUT"),
        ] {
            f.answers(m, text);
            f.up(m).set_delay(Duration::from_millis(80));
        }
        // Listed backwards: the order comes from the references and `depends_on`.
        let w = Workflow::parse(
            r#"
name = "review"
[[steps]]
id = "final"
model = "m3"
prompt = "Task: {{input}}\nReview: {{review}}\nFacts: {{facts}}"
[[steps]]
id = "review"
model = "m2"
prompt = "Review this: {{draft}}"
[[steps]]
id = "facts"
model = "m4"
prompt = "List facts about {{input}}"
depends_on = ["draft"]
[[steps]]
id = "draft"
model = "m1"
prompt = "Draft: {{input}}"
"#,
            std::path::Path::new("flow.toml"),
        )
        .unwrap();
        let mut spec = ModeSpec::new(Mode::Pipeline, Vec::<String>::new());
        spec.workflow = Some(w);
        let out = run(&f, &spec, "TASK").await.unwrap();
        assert_eq!(out.text, "FINAL-OUT");
        let r = &out.receipt;
        assert_eq!(
            (r.workflow.as_deref(), r.result_step.as_deref()),
            (Some("review"), Some("final"))
        );
        let at = |id: &str| {
            let s = r.step(id).unwrap();
            (
                s.started_ms.unwrap(),
                s.started_ms.unwrap() + s.latency_ms.unwrap(),
            )
        };
        let (draft, review, facts, fin) = (at("draft"), at("review"), at("facts"), at("final"));
        assert!(
            review.0 >= draft.1 && facts.0 >= draft.1,
            "{draft:?} {review:?} {facts:?}"
        );
        assert!(
            fin.0 >= review.1 && fin.0 >= facts.1,
            "{review:?} {facts:?} {fin:?}"
        );
        // `review` and `facts` only need the draft, so they ran side by side.
        assert!((review.0 - facts.0).abs() < 40.0, "{review:?} {facts:?}");
        assert_eq!(prompt(&f.up("m1").last()), "Draft: TASK");
        assert_eq!(prompt(&f.up("m2").last()), "Review this: DRAFT-OUT");
        assert_eq!(
            prompt(&f.up("m3").last()),
            "Task: TASK\nReview: REVIEW-OUT\nFacts: FACTS-OUT"
        );
        // Four steps of 80 ms, three levels deep: about 240 ms, not 320.
        assert!(r.wall_ms < 320.0, "{}", r.wall_ms);
    }

    #[tokio::test]
    async fn a_failing_member_is_tolerated_while_a_quorum_remains() {
        let f = Fleet::plain(&["a", "b", "c"]);
        f.answers("a", "alpha").answers("c", "gamma");
        f.up("b").set_default(Behavior::status(500));
        let mut spec = ModeSpec::new(Mode::Parallel, ["a", "b", "c"]);
        spec.integration = Some(Integration::Concat);
        let out = run(&f, &spec, "q").await.unwrap();
        assert_eq!(out.text, "### a\nalpha\n\n### c\ngamma");
        let b = out.receipt.step("b").unwrap();
        assert_eq!(b.status, StepStatus::Failed);
        assert!(b.error.as_deref().unwrap().contains("HTTP 500"), "{b:?}");
        assert_eq!(
            out.receipt.step("answers").unwrap().note.as_deref(),
            Some("2 of 3 answers")
        );

        // Two of three failing leaves fewer than the quorum (2): the run fails, with the
        // receipt, and the cause chain ends at the upstream's error (exit code 1).
        f.up("c").set_default(Behavior::status(503));
        let err = run(&f, &spec, "q").await.unwrap_err();
        let CoopError::Failed {
            message, receipt, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(message.contains("`answers`"), "{message}");
        assert_eq!(receipt.status, RunStatus::Failed);
        assert_eq!(receipt.step("b").unwrap().status, StepStatus::Failed);
        assert_eq!(receipt.step("c").unwrap().status, StepStatus::Failed);
        let chain: Vec<String> = anyhow::Error::from(err)
            .chain()
            .map(|e| e.to_string())
            .collect();
        assert!(
            chain
                .iter()
                .any(|c| c
                    .contains("2 of 3 answers failed, so fewer than the quorum of 2 can arrive")),
            "{chain:?}"
        );
        let err = run(&f, &spec, "q").await.unwrap_err();
        let any = anyhow::Error::from(err);
        assert!(any.chain().any(|e| e.is::<ProviderError>()), "{any:#}");
        assert_eq!(llm_cooperation::entry::exit_code(&any), 1);

        // A lower quorum keeps it going.
        let opts = ExecOptions {
            policy: FailurePolicy::Quorum { min: Some(1) },
            ..ExecOptions::default()
        };
        let out = run_with(&f, &spec, "q", opts).await.unwrap();
        assert_eq!(out.text, "### a\nalpha");
    }

    #[tokio::test]
    async fn fail_fast_stops_at_the_first_failure() {
        let f = Fleet::plain(&["a", "b", "c"]);
        for m in ["a", "c"] {
            f.up(m).set_delay(Duration::from_secs(3));
        }
        f.up("b").set_default(Behavior::status(500));
        let mut spec = ModeSpec::new(Mode::Parallel, ["a", "b", "c"]);
        spec.integration = Some(Integration::Concat);
        let opts = ExecOptions {
            policy: FailurePolicy::FailFast,
            ..ExecOptions::default()
        };
        let started = Instant::now();
        let err = run_with(&f, &spec, "q", opts).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let CoopError::Failed {
            message, receipt, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(
            message.contains("Step `b`") && message.contains("fail-fast"),
            "{message}"
        );
        let s = statuses(receipt);
        assert_eq!(s[0], ("a".into(), StepStatus::Cancelled));
        assert_eq!(s[1], ("b".into(), StepStatus::Failed));
        assert_eq!(s[2], ("c".into(), StepStatus::Cancelled));
        assert_eq!(s[3], ("answers".into(), StepStatus::Skipped));
    }

    /// A member that was its deployment's probe and is cancelled by fail-fast frees the probe
    /// slot: the next request probes (it used to find the deployment unavailable until the
    /// next reload).
    #[tokio::test]
    async fn a_probe_cancelled_by_fail_fast_frees_its_slot() {
        use llm_cooperation::router::{Preferences, RouteError};
        use llm_cooperation::types::ChatRequest;
        let f = Fleet::plain(&["a", "b"]);
        let ask = || ChatRequest::simple("a", None, "q");
        // A 429 with `Retry-After: 1` cools `a` down for a second; then `a`'s next request
        // is the probe.
        f.up("a").push([Behavior::rate_limited(1)]);
        f.router
            .chat(ask(), &Preferences::default())
            .await
            .unwrap_err();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        f.up("a").set_delay(Duration::from_secs(3));
        f.up("b").set_default(Behavior::status(500));
        let mut spec = ModeSpec::new(Mode::Parallel, ["a", "b"]);
        spec.integration = Some(Integration::Concat);
        let opts = ExecOptions {
            policy: FailurePolicy::FailFast,
            ..ExecOptions::default()
        };
        run_with(&f, &spec, "q", opts).await.unwrap_err();
        f.up("a").set_delay(Duration::ZERO);
        let next = f.router.chat(ask(), &Preferences::default()).await;
        assert!(
            !matches!(next, Err(RouteError::AllCoolingDown { .. })),
            "the cancelled probe still holds the slot"
        );
        next.unwrap();
    }

    #[tokio::test]
    async fn cancellation_returns_a_partial_receipt() {
        let f = Fleet::plain(&["fast", "slow"]);
        f.answers("fast", "quick answer");
        f.up("slow").set_default(Behavior::SlowDrip {
            chunk_delay: Duration::from_millis(300),
        });
        let mut spec = ModeSpec::new(Mode::Parallel, ["fast", "slow"]);
        spec.integration = Some(Integration::Concat);
        let plan = compile(&spec, &f.router).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = Cancel::new();
        let opts = ExecOptions {
            cancel: cancel.clone(),
            progress: Some(tx),
            ..ExecOptions::default()
        };
        let started = Instant::now();
        let watcher = async {
            // Cancel once the fast model is done and the slow one has streamed something.
            let (mut fast_done, mut slow_streaming) = (false, false);
            let mut events = Vec::new();
            while let Some(e) = rx.recv().await {
                match &e {
                    Progress::Finished {
                        step: 0,
                        status: StepStatus::Done,
                        ..
                    } => fast_done = true,
                    Progress::Tokens { step: 1, .. } => slow_streaming = true,
                    _ => {}
                }
                events.push(e);
                if fast_done && slow_streaming && !cancel.is_cancelled() {
                    cancel.cancel();
                }
            }
            events
        };
        let (result, events) = tokio::join!(execute(f.router.clone(), &plan, "q", opts), watcher);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        let CoopError::Cancelled { receipt } = result.unwrap_err() else {
            panic!("not cancelled")
        };
        assert_eq!(receipt.status, RunStatus::Cancelled);
        let fast = receipt.step("fast").unwrap();
        assert_eq!(
            (fast.status, fast.output.as_str()),
            (StepStatus::Done, "quick answer")
        );
        let slow = receipt.step("slow").unwrap();
        assert_eq!(slow.status, StepStatus::Cancelled);
        assert!(
            !slow.output.is_empty() && "Hello from the fake upstream".starts_with(&slow.output),
            "{slow:?}"
        );
        assert_eq!(
            receipt.step("answers").unwrap().status,
            StepStatus::Cancelled
        );
        assert_eq!(
            (receipt.finished_model_steps(), receipt.model_steps()),
            (1, 2)
        );
        // Progress: both started, the slow one ended as cancelled.
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Progress::Started { step: 1, .. }))
        );
        assert!(events.iter().any(|e| matches!(
            e,
            Progress::Finished {
                step: 1,
                status: StepStatus::Cancelled,
                ..
            }
        )));
    }

    #[tokio::test]
    async fn a_step_timeout_fails_only_that_step() {
        let f = Fleet::plain(&["a", "b", "c"]);
        f.answers("a", "A").answers("c", "C");
        f.up("b").set_delay(Duration::from_secs(3));
        let mut spec = ModeSpec::new(Mode::Parallel, ["a", "b", "c"]);
        spec.integration = Some(Integration::Concat);
        let opts = ExecOptions {
            step_timeout: Duration::from_millis(300),
            ..ExecOptions::default()
        };
        let started = Instant::now();
        let out = run_with(&f, &spec, "q", opts).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
        let b = out.receipt.step("b").unwrap();
        assert_eq!(b.status, StepStatus::Failed);
        assert!(
            b.error
                .as_deref()
                .unwrap()
                .contains("0.3 s, the per-step timeout"),
            "{b:?}"
        );
        assert_eq!(out.text, "### a\nA\n\n### c\nC");
    }

    #[tokio::test]
    async fn sequential_improves_the_previous_answer_and_survives_a_failed_link() {
        let f = Fleet::plain(&["a", "b", "c"]);
        f.answers("a", "first")
            .answers("b", "second")
            .answers("c", "third");
        let spec = ModeSpec::new(Mode::Sequential, ["a", "b", "c"]);
        let out = run(&f, &spec, "task").await.unwrap();
        assert_eq!(out.text, "third");
        assert!(prompt(&f.up("b").last()).contains("A previous answer:\nfirst"));
        assert!(prompt(&f.up("c").last()).contains("A previous answer:\nsecond"));
        assert_eq!(
            statuses(&out.receipt)
                .iter()
                .map(|s| s.0.as_str())
                .collect::<Vec<_>>(),
            ["a", "b", "c"]
        );

        // `b` fails: `c` improves `a`'s answer instead.
        f.up("b").set_default(Behavior::status(500));
        let out = run(&f, &spec, "task").await.unwrap();
        assert_eq!(out.text, "third");
        assert!(prompt(&f.up("c").last()).contains("A previous answer:\nfirst"));
        assert_eq!(out.receipt.step("b").unwrap().status, StepStatus::Failed);

        // With an integrator, it reads every version.
        let f = Fleet::plain(&["a", "b", "i"]);
        f.answers("a", "v1")
            .answers("b", "v2")
            .answers("i", "merged");
        let mut spec = ModeSpec::new(Mode::Sequential, ["a", "b"]);
        spec.judge = Some("i".into());
        let out = run(&f, &spec, "task").await.unwrap();
        assert_eq!(out.text, "merged");
        assert!(prompt(&f.up("i").last()).contains("Answer 1:\nv1\n\nAnswer 2:\nv2"));
    }

    #[tokio::test]
    async fn parallel_best_and_synthesize_integrate_the_answers() {
        let f = Fleet::new(&[("a", 2, 1.0, 1.0), ("b", 2, 1.0, 1.0), ("big", 4, 3.0, 9.0)]);
        f.answers("a", "short answer")
            .answers("b", "complete answer")
            .answers("big", "Best: 2\nIt is complete.");
        let mut spec = ModeSpec::new(Mode::Parallel, ["a", "b"]);
        spec.integration = Some(Integration::Best);
        spec.judge = Some("big".into());
        let out = run(&f, &spec, "q").await.unwrap();
        assert_eq!(out.text, "complete answer");
        let j = out.receipt.judgement.as_ref().unwrap();
        assert_eq!(
            (j.choice, j.chosen_step.as_str(), j.model.as_deref()),
            (2, "b", Some("big"))
        );
        assert_eq!(j.reason, "It is complete.");
        // The judge does not learn which model wrote what.
        let judged = prompt(&f.up("big").last());
        assert!(
            judged.contains("Answer 1:\nshort answer") && !judged.contains("### a"),
            "{judged}"
        );

        // Synthesize: the aggregator defaults to the highest tier among the members.
        f.answers("big", "merged answer");
        let spec = ModeSpec::new(Mode::Parallel, ["a", "b", "big"]);
        let out = run(&f, &spec, "q").await.unwrap();
        assert_eq!(out.text, "merged answer");
        let s = out.receipt.step("synthesize").unwrap();
        assert_eq!(s.model.as_deref(), Some("big"));
        let merged = prompt(&f.up("big").last());
        assert!(
            merged.contains("short answer") && merged.contains("complete answer"),
            "{merged}"
        );
    }

    #[tokio::test]
    async fn ensemble_layers_see_the_previous_layer() {
        let f = Fleet::plain(&["a", "b", "agg"]);
        f.up("a")
            .push([Behavior::ok("a-layer1"), Behavior::ok("a-layer2")]);
        f.up("b")
            .push([Behavior::ok("b-layer1"), Behavior::ok("b-layer2")]);
        f.answers("agg", "aggregated");
        let mut spec = ModeSpec::new(Mode::Ensemble, ["a", "b"]);
        spec.judge = Some("agg".into());
        let out = run(&f, &spec, "q").await.unwrap();
        assert_eq!(out.text, "aggregated");
        let second = prompt(&f.up("a").requests()[1]);
        assert!(
            second.contains("a-layer1") && second.contains("b-layer1"),
            "{second}"
        );
        let agg = prompt(&f.up("agg").last());
        assert!(
            agg.contains("a-layer2") && agg.contains("b-layer2") && !agg.contains("layer1"),
            "{agg}"
        );
        assert_eq!(f.up("agg").request_count(), 1);
    }

    #[tokio::test]
    async fn invalid_plans_and_unknown_models_are_rejected_before_any_request() {
        let f = Fleet::plain(&["a"]);
        let w = Workflow::parse(
            "[[steps]]\nid = \"x\"\nmodel = \"a\"\nprompt = \"{{input}} {{z}}\"\n[[steps]]\nid = \"y\"\nmodel = \"a\"\nprompt = \"{{x}}\"\n[[steps]]\nid = \"z\"\nmodel = \"a\"\nprompt = \"{{y}}\"\n",
            std::path::Path::new("loop.toml"),
        )
        .unwrap();
        let mut spec = ModeSpec::new(Mode::Pipeline, Vec::<String>::new());
        spec.workflow = Some(w);
        let err = compile(&spec, &f.router).unwrap_err();
        let CoopError::Invalid(ConfigError::Invalid { key, message, .. }) = &err else {
            panic!("{err:?}")
        };
        assert!(
            key.starts_with("step `") && message.contains("cycle"),
            "{key}: {message}"
        );

        let err = compile(&ModeSpec::new(Mode::Voting, ["a", "nope"]), &f.router).unwrap_err();
        assert!(
            matches!(&err, CoopError::Invalid(ConfigError::UnknownModel { name, .. }) if name == "nope"),
            "{err:?}"
        );
        assert_eq!(
            llm_cooperation::entry::exit_code(&anyhow::Error::from(err)),
            2
        );

        let err = compile(&ModeSpec::new(Mode::Cascade, ["a"]), &f.router).unwrap_err();
        assert!(err.source_text().contains("at least two models"), "{err:?}");
        let mut spec = ModeSpec::new(Mode::Voting, ["a"]);
        spec.integration = Some(Integration::Best);
        assert!(
            compile(&spec, &f.router)
                .unwrap_err()
                .source_text()
                .contains("does not apply")
        );

        // A hand-made plan with a missing reference fails in `execute` too, naming the step.
        let mut plan = compile(&ModeSpec::new(Mode::Pipeline, ["a"]), &f.router).unwrap();
        plan.steps[1].depends_on.push("ghost".into());
        let err = execute(f.router.clone(), &plan, "q", ExecOptions::default())
            .await
            .unwrap_err();
        assert!(
            err.source_text()
                .contains("step `critique`: refers to `ghost`"),
            "{err:?}"
        );
        assert_eq!(f.up("a").request_count(), 0);
    }

    /// The first cause's text (the `ConfigError` under `CoopError::Invalid`).
    trait SourceText {
        fn source_text(&self) -> String;
    }

    impl SourceText for CoopError {
        fn source_text(&self) -> String {
            std::error::Error::source(self)
                .map(|s| s.to_string())
                .unwrap_or_default()
        }
    }

    #[test]
    fn virtual_model_names_compile_like_flags() {
        let f = Fleet::plain(&["a", "b", "j"]);
        let spec = ModeSpec::parse_virtual_model("coop/voting:a,b,a?judge=j&rounds=2").unwrap();
        let plan = compile(&spec, &f.router).unwrap();
        let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "a", "b", "a-2", "tally", "a-r2", "b-r2", "a-2-r2", "tally-r2", "judge", "pick"
            ]
        );
        assert_eq!(plan.output, ["pick", "tally-r2", "tally"]);
    }
}

mod cli {
    use super::*;
    use crate::common::TestEnv;

    /// A `TestEnv` whose config holds `models`, each on its own fake upstream.
    fn env(models: &[Spec<'_>]) -> (TestEnv, BTreeMap<String, FakeUpstream>) {
        let env = TestEnv::new();
        let ups: BTreeMap<String, FakeUpstream> = models
            .iter()
            .map(|m| (m.0.to_owned(), FakeUpstream::start()))
            .collect();
        let with_urls: Vec<(Spec<'_>, String)> =
            models.iter().map(|m| (*m, ups[m.0].base_url())).collect();
        env.write_config(&fleet_config(&with_urls));
        (env, ups)
    }

    fn trio() -> (TestEnv, BTreeMap<String, FakeUpstream>) {
        let (env, ups) = env(&[("a", 1, 0.5, 1.0), ("b", 2, 1.0, 2.0), ("c", 3, 2.0, 4.0)]);
        ups["a"].set_default(Behavior::ok("Answer: 42"));
        ups["b"].set_default(Behavior::ok("Answer: 41"));
        ups["c"].set_default(Behavior::ok("The answer is 42."));
        (env, ups)
    }

    #[test]
    fn voting_json_has_the_answer_and_the_receipt() {
        let (env, ups) = trio();
        let out = env
            .run(
                "llm-cooperation",
                &[
                    "cooperate",
                    "-q",
                    "What is 6 × 7?",
                    "--mode",
                    "voting",
                    "--models",
                    "a,b,c",
                    "--json",
                ],
            )
            .expect(0)
            .json();
        assert_eq!(out["text"], "Answer: 42");
        let r = &out["receipt"];
        assert_eq!(
            (r["mode"].as_str(), r["status"].as_str()),
            (Some("voting"), Some("done"))
        );
        assert_eq!(r["tally"]["winner"], "42");
        assert_eq!(r["tally"]["options"][0]["votes"], 2);
        let a = &r["steps"][0];
        for key in [
            "id",
            "role",
            "model",
            "provider",
            "status",
            "latency_ms",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "output",
            "vote",
        ] {
            assert!(!a[key].is_null(), "step field `{key}` missing: {a}");
        }
        assert_eq!(
            (a["id"].as_str(), a["vote"]["answer"].as_str()),
            (Some("a"), Some("42"))
        );
        assert_eq!(r["steps"][3]["kind"], "tally");
        assert!(r["wall_ms"].as_f64().unwrap() > 0.0 && r["cost_usd"].as_f64().unwrap() > 0.0);
        assert!(prompt(&ups["b"].last()).starts_with("What is 6 × 7?"));
    }

    #[test]
    fn the_task_can_come_from_stdin_and_the_answer_prints_plain() {
        let (env, ups) = trio();
        let run = env
            .run_stdin(
                "llm-cooperation",
                &[
                    "cooperate",
                    "--mode",
                    "parallel",
                    "--integration",
                    "concat",
                    "--models",
                    "a,b",
                ],
                "piped task\n",
            )
            .expect(0);
        assert_eq!(run.stdout, "### a\nAnswer: 42\n\n### b\nAnswer: 41\n");
        assert_eq!(prompt(&ups["a"].last()), "piped task\n");
        // Not a terminal: no progress lines and no table on stderr.
        assert!(run.stderr.is_empty(), "{}", run.stderr);
    }

    #[test]
    fn plan_prints_the_steps_without_calling_a_model() {
        let (env, ups) = trio();
        let run = env
            .run(
                "llm-cooperation",
                &[
                    "cooperate",
                    "--plan",
                    "--mode",
                    "cascade",
                    "--models",
                    "c,a,b",
                    "--judge",
                    "b",
                ],
            )
            .expect(0);
        assert!(
            run.stdout.contains("escalate (escalate): model `c`"),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout
                .contains("[when tally disagrees or verify rejects]"),
            "{}",
            run.stdout
        );
        let plan = env
            .run(
                "llm-cooperation",
                &[
                    "cooperate",
                    "--plan",
                    "--json",
                    "--mode",
                    "voting",
                    "--models",
                    "a,b",
                ],
            )
            .expect(0)
            .json();
        assert_eq!(plan["steps"][2]["kind"], "tally");
        assert!(ups.values().all(|u| u.request_count() == 0));
    }

    /// `--quorum` larger than the members was accepted (and silently lowered), and `--plan`
    /// printed the default quorum instead of the one given.
    #[test]
    fn quorum_is_checked_against_the_members_and_shown_in_the_plan() {
        let (env, ups) = trio();
        let voting = ["cooperate", "--mode", "voting", "--models", "a,b,c"];
        let with = |extra: &[&'static str]| [&voting[..], extra].concat();
        let run = env
            .run("llm-cooperation", &with(&["--quorum", "4", "6 × 7?"]))
            .expect(2);
        assert!(
            run.stderr
                .contains("`--quorum 4` is more than the 3 answers step")
                && run.stderr.contains("use 1 to 3"),
            "{}",
            run.stderr
        );
        let run = env
            .run("llm-cooperation", &with(&["--plan", "--quorum", "3"]))
            .expect(0);
        assert!(run.stdout.contains("tally ≥3/3"), "{}", run.stdout);
        let run = env.run("llm-cooperation", &with(&["--plan"])).expect(0);
        assert!(
            run.stdout.contains("tally ≥2/3"),
            "the default: {}",
            run.stdout
        );
        let run = env
            .run(
                "llm-cooperation",
                &[
                    "cooperate",
                    "--mode",
                    "sequential",
                    "--models",
                    "a,b",
                    "--quorum",
                    "1",
                    "x",
                ],
            )
            .expect(2);
        assert!(
            run.stderr
                .contains("`--quorum` applies to steps that gather several answers"),
            "{}",
            run.stderr
        );
        assert!(ups.values().all(|u| u.request_count() == 0));
    }

    #[test]
    fn a_bad_workflow_file_exits_2_naming_the_step() {
        let (env, ups) = trio();
        let file = env.cwd.path().join("flow.toml");
        std::fs::write(
            &file,
            "[[steps]]\nid = \"draft\"\nmodel = \"a\"\nprompt = \"{{input}}\"\n\n[[steps]]\nid = \"revise\"\nmodel = \"b\"\nprompt = \"{{draft}} {{critique}}\"\n",
        )
        .unwrap();
        let run = env
            .run(
                "llm-cooperation",
                &["cooperate", "--workflow", "flow.toml", "-q", "x"],
            )
            .expect(2);
        assert!(run.stderr.contains("flow.toml"), "{}", run.stderr);
        assert!(
            run.stderr.contains("step `revise`") && run.stderr.contains("`critique`"),
            "{}",
            run.stderr
        );

        std::fs::write(
            &file,
            "[[steps]]\nid = \"draft\"\nmodle = \"a\"\nprompt = \"x\"\n",
        )
        .unwrap();
        let run = env
            .run(
                "llm-cooperation",
                &["cooperate", "--workflow", "flow.toml", "-q", "x"],
            )
            .expect(2);
        assert!(
            run.stderr.contains("step `draft`") && run.stderr.contains("unknown field `modle`"),
            "{}",
            run.stderr
        );

        let run = env
            .run(
                "llm-cooperation",
                &["cooperate", "--workflow", "missing.toml", "-q", "x"],
            )
            .expect(2);
        assert!(run.stderr.contains("missing.toml"), "{}", run.stderr);
        assert!(ups.values().all(|u| u.request_count() == 0));
    }

    #[test]
    fn usage_errors_exit_2() {
        let (env, _ups) = trio();
        let run = env
            .run(
                "llm-cooperation",
                &[
                    "cooperate",
                    "--mode",
                    "debate",
                    "--models",
                    "a,b",
                    "-q",
                    "x",
                ],
            )
            .expect(2);
        assert!(run.stderr.contains("debate"), "{}", run.stderr);
        let run = env
            .run(
                "llm-cooperation",
                &[
                    "cooperate",
                    "--mode",
                    "voting",
                    "--models",
                    "a,zz",
                    "-q",
                    "x",
                ],
            )
            .expect(2);
        assert!(run.stderr.contains("Unknown model `zz`"), "{}", run.stderr);
        let run = env
            .run(
                "llm-cooperation",
                &["cooperate", "--mode", "voting", "--models", "a,b"],
            )
            .expect(2);
        assert!(run.stderr.contains("No task"), "{}", run.stderr);
        let run = env
            .run(
                "llm-cooperation",
                &["cooperate", "--mode", "cascade", "--models", "a", "-q", "x"],
            )
            .expect(2);
        assert!(run.stderr.contains("at least two models"), "{}", run.stderr);
    }

    #[test]
    fn failed_members_exit_1_with_the_partial_receipt() {
        let (env, ups) = trio();
        for u in ups.values() {
            u.set_default(Behavior::status(500));
        }
        // `c` is slow: once `a` and `b` failed, the quorum (2 of 3) is out of reach, so the run
        // stops without waiting for it.
        ups["c"].set_default(Behavior::ok("still here"));
        ups["c"].set_delay(Duration::from_secs(5));
        let started = std::time::Instant::now();
        let run = env
            .run(
                "llm-cooperation",
                &[
                    "cooperate",
                    "--mode",
                    "parallel",
                    "--integration",
                    "concat",
                    "--models",
                    "a,b,c",
                    "-q",
                    "x",
                    "--json",
                ],
            )
            .expect(1);
        let out = run.json();
        assert!(out["text"].is_null());
        assert_eq!(out["receipt"]["status"], "failed");
        assert!(started.elapsed() < Duration::from_secs(4));
        assert_eq!(out["receipt"]["steps"][2]["status"], "cancelled");
        assert_eq!(out["receipt"]["steps"][0]["status"], "failed");
        assert_eq!(out["error"]["kind"], "failed", "{out}");
        assert!(
            out["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Too few answers for `answers`"),
            "{out}"
        );
        assert!(run.stderr.contains("HTTP 500"), "{}", run.stderr);

        // Without --json the receipt is a table on stderr; stdout stays empty.
        let run = env
            .run(
                "llm-cooperation",
                &[
                    "cooperate",
                    "--mode",
                    "parallel",
                    "--integration",
                    "concat",
                    "--models",
                    "a,b,c",
                    "-q",
                    "x",
                    "--fail-fast",
                ],
            )
            .expect(1);
        assert!(run.stdout.is_empty());
        assert!(
            run.stderr.contains("failed") && run.stderr.contains("fail-fast"),
            "{}",
            run.stderr
        );
    }

    #[test]
    fn ctrl_c_prints_the_partial_receipt_and_exits_130() {
        let (env, ups) = trio();
        ups["b"].set_delay(Duration::from_secs(20));
        let child = env
            .cmd("llm-cooperation")
            .args([
                "cooperate",
                "--mode",
                "parallel",
                "--integration",
                "concat",
                "--models",
                "a,b",
                "-q",
                "x",
                "--json",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until both calls are out and `a` has had time to answer.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while ups["b"].request_count() == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(150));
        let status = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let started = std::time::Instant::now();
        let out = child.wait_with_output().unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(130),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["receipt"]["status"], "cancelled");
        assert_eq!(json["receipt"]["steps"][0]["status"], "done");
        assert_eq!(json["receipt"]["steps"][0]["output"], "Answer: 42");
        assert_eq!(json["receipt"]["steps"][1]["status"], "cancelled");
        assert!(String::from_utf8_lossy(&out.stderr).contains("Interrupted"));
    }
}

/// `--models m,m,m` used to send three identical requests: a vote among copies of a greedy
/// model counted one answer three times.
mod repeats {
    use super::*;
    use crate::common::TestEnv;

    fn greedy(temperature: &str) -> (TestEnv, FakeUpstream) {
        let env = TestEnv::new();
        let up = FakeUpstream::start();
        up.set_default(Behavior::ok("Answer: 42"));
        env.write_config(&format!(
            r#"[defaults]
max_retries = 0

[providers.fake]
kind = "openai"
base_url = "{}"
needs_key = false

[[models]]
name = "g"
provider = "fake"
upstream = "greedy"
{temperature}

[[models]]
name = "h"
provider = "fake"
upstream = "other"
"#,
            up.base_url()
        ));
        (env, up)
    }

    fn sent(up: &FakeUpstream, upstream: &str) -> Vec<(Value, Value)> {
        let mut v: Vec<(Value, Value)> = up
            .requests()
            .into_iter()
            .filter(|r| r.body["model"] == upstream)
            .map(|r| (r.body["seed"].clone(), r.body["temperature"].clone()))
            .collect();
        v.sort_by_key(|(s, _)| s.as_u64());
        v
    }

    use serde_json::{Value, json};

    #[test]
    fn repeated_members_of_a_greedy_model_get_their_own_seed_and_sample() {
        let (env, up) = greedy("temperature = 0.0");
        let out = env
            .run(
                "llm-cooperation",
                &[
                    "cooperate",
                    "--json",
                    "--mode",
                    "voting",
                    "--models",
                    "g,g,g,h",
                    "6*7?",
                ],
            )
            .expect(0)
            .json();
        assert_eq!(
            sent(&up, "greedy"),
            [
                (json!(1), json!(0.7)),
                (json!(2), json!(0.7)),
                (json!(3), json!(0.7))
            ]
        );
        // A member that is not repeated is sent as configured.
        assert_eq!(sent(&up, "other"), [(Value::Null, Value::Null)]);
        let steps = out["receipt"]["steps"].as_array().unwrap();
        let repeats: Vec<&Value> = steps.iter().filter(|s| s["model"] == "g").collect();
        assert_eq!(repeats.len(), 3);
        for (k, s) in repeats.iter().enumerate() {
            assert_eq!(s["seed"], k as u64 + 1, "{s}");
            assert!(
                s["note"]
                    .as_str()
                    .unwrap()
                    .contains("temperature 0.7 instead of 0"),
                "{s}"
            );
        }
        // The plan shows the same before anything runs.
        let plan = env
            .run(
                "llm-cooperation",
                &[
                    "cooperate",
                    "--plan",
                    "--json",
                    "--mode",
                    "voting",
                    "--models",
                    "g,g",
                ],
            )
            .expect(0)
            .json();
        let seeds: Vec<&Value> = plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["model"] == "g")
            .map(|s| &s["seed"])
            .collect();
        assert_eq!(seeds, [&json!(1), &json!(2)], "{plan}");
    }

    #[test]
    fn a_chosen_temperature_is_kept_and_only_the_seeds_differ() {
        let (env, up) = greedy("");
        env.run(
            "llm-cooperation",
            &[
                "cooperate",
                "--mode",
                "parallel",
                "--integration",
                "concat",
                "--models",
                "g,g",
                "-t",
                "0.2",
                "hi",
            ],
        )
        .expect(0);
        let sent = sent(&up, "greedy");
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert_eq!(sent[0].0, 1);
        assert_eq!(sent[1].0, 2);
        // Sent as written (it used to be 0.20000000298023224, the f32's exact value).
        assert!(sent.iter().all(|(_, t)| *t == json!(0.2)), "{sent:?}");
    }
}
