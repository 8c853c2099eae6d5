//! The executor: runs any plan with bounded concurrency, per-step timeouts, cancellation and
//! a failure policy, and builds the receipt as it goes.
//!
//! One task drives the plan: it settles every step whose dependencies finished (evaluating
//! conditions, computing built-ins on the spot, queueing model calls), starts queued model
//! calls up to the concurrency bound, and waits for the next to finish or for cancellation.
//! Model calls are futures polled by that task (no spawned tasks): dropping them on cancel
//! or failure closes their HTTP streams at once. Under the quorum policy a failure only ends
//! the run when the result can no longer be produced (too few answers left for a tally or
//! concat, or a required step gone), so a run keeps going while a quorum remains.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, watch};

use super::answer::{self, Ballot, Tally};
use super::plan::{Condition, Labels, Piece, Plan, Ref, StepKind, parse_template};
use super::receipt::{Outcome, Receipt, RunStatus, StepReceipt, StepStatus, round_usd};
use super::{CoopError, StepError};
use crate::config::{ConfigError, ModelConfig};
use crate::providers::{CollectError, collect_stream};
use crate::router::{Preferences, RouteError, Router};
use crate::types::{ChatRequest, duration_ms};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What to do when a step fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Stop at the first failed step; running steps are cancelled.
    FailFast,
    /// Keep going while the result can still be produced: each concat or tally needs `min`
    /// of its inputs (`None`: the plan's own minimum, at least half of them).
    Quorum { min: Option<usize> },
}

impl Default for FailurePolicy {
    fn default() -> Self {
        FailurePolicy::Quorum { min: None }
    }
}

/// A cancellation handle: clone it, give one to [`execute`], call [`Cancel::cancel`] on
/// another (e.g. from a Ctrl-C handler).
#[derive(Debug, Clone)]
pub struct Cancel {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Cancel {
    fn default() -> Self {
        let (tx, rx) = watch::channel(false);
        Cancel {
            tx: Arc::new(tx),
            rx,
        }
    }
}

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.rx.clone();
        // The sender lives as long as any clone of this handle, so this only ends on cancel.
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// Options of one run.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Most model calls in flight at once.
    pub concurrency: usize,
    /// Longest a model call may take, from its start to its last token.
    pub step_timeout: Duration,
    pub policy: FailurePolicy,
    pub cancel: Cancel,
    /// Receives an event when a model step starts, streams tokens, and finishes.
    pub progress: Option<mpsc::UnboundedSender<Progress>>,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            concurrency: 8,
            step_timeout: Duration::from_secs(120),
            policy: FailurePolicy::default(),
            cancel: Cancel::new(),
            progress: None,
        }
    }
}

/// A model step's progress. `step` indexes `plan.steps`.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// The call was sent.
    Started { step: usize, model: String },
    /// Streamed tokens so far (counted as streamed pieces until the upstream reports usage).
    Tokens { step: usize, tokens: u32 },
    /// The step ended (including skipped and cancelled steps that never started).
    Finished {
        step: usize,
        status: StepStatus,
        model: Option<String>,
        latency: Option<Duration>,
        output_tokens: u32,
        cost_usd: f64,
        error: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Queued,
    Running,
    Finished(StepStatus),
}

/// A step's state while the plan runs.
struct Slot {
    state: State,
    record: StepReceipt,
    /// For a concat or tally: the texts a judge may choose among and the step each came from.
    choices: Vec<(String, String)>,
    tally: Option<Tally>,
    error: Option<BoxError>,
    /// Text streamed so far by a running model step.
    live: Arc<Mutex<String>>,
}

impl Slot {
    fn done(&self) -> bool {
        self.state == State::Finished(StepStatus::Done)
    }

    fn finished(&self) -> bool {
        matches!(self.state, State::Finished(_))
    }
}

/// What a model call produced.
struct Answered {
    text: String,
    model: String,
    provider: String,
    input_tokens: u32,
    output_tokens: u32,
    estimated: bool,
    ttft: Option<Duration>,
}

struct CallFailure {
    error: BoxError,
    model: Option<String>,
    provider: Option<String>,
}

/// Runs `plan` on `input`. A failed or cancelled run returns its partial receipt inside the
/// error. Model calls go through [`Router::chat_stream`] with default preferences.
pub async fn execute(
    router: Arc<Router>,
    plan: &Plan,
    input: &str,
    opts: ExecOptions,
) -> Result<Outcome, CoopError> {
    plan.validate().map_err(|e| {
        CoopError::Invalid(ConfigError::Usage(format!(
            "The cooperation plan is invalid: {e}"
        )))
    })?;
    Run::new(router, plan, input, opts).go().await
}

struct Run<'p> {
    router: Arc<Router>,
    plan: &'p Plan,
    input: &'p str,
    opts: ExecOptions,
    index: HashMap<&'p str, usize>,
    deps: Vec<Vec<usize>>,
    required: Vec<Vec<Vec<usize>>>,
    slots: Vec<Slot>,
    start: Instant,
    /// The most recent failure, reported when the run cannot finish.
    last_failure: Option<usize>,
}

impl<'p> Run<'p> {
    fn new(router: Arc<Router>, plan: &'p Plan, input: &'p str, opts: ExecOptions) -> Self {
        let index: HashMap<&str, usize> = plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let deps = plan
            .steps
            .iter()
            .map(|s| s.refs().iter().map(|r| index[r]).collect())
            .collect();
        let required = plan
            .steps
            .iter()
            .map(|s| {
                s.required()
                    .iter()
                    .map(|g| g.iter().map(|r| index[r]).collect())
                    .collect()
            })
            .collect();
        let slots = plan
            .steps
            .iter()
            .map(|s| Slot {
                state: State::Pending,
                record: StepReceipt {
                    id: s.id.clone(),
                    role: s.role.clone(),
                    kind: match s.kind {
                        StepKind::Model { .. } => "model",
                        StepKind::Concat { .. } => "concat",
                        StepKind::Tally { .. } => "tally",
                        StepKind::Pick { .. } => "pick",
                    },
                    model: s.model_name().map(str::to_owned),
                    provider: None,
                    status: StepStatus::Skipped,
                    started_ms: None,
                    latency_ms: None,
                    ttft_ms: None,
                    input_tokens: 0,
                    output_tokens: 0,
                    tokens_estimated: false,
                    cost_usd: 0.0,
                    output: String::new(),
                    vote: None,
                    votes: None,
                    error: None,
                    seed: match s.kind {
                        StepKind::Model { seed, .. } => seed,
                        _ => None,
                    },
                    temperature: match s.kind {
                        StepKind::Model { temperature, .. } => temperature,
                        _ => None,
                    },
                    note: sampling_note(s),
                    pick: None,
                },
                choices: Vec::new(),
                tally: None,
                error: None,
                live: Arc::new(Mutex::new(String::new())),
            })
            .collect();
        Run {
            router,
            plan,
            input,
            opts,
            index,
            deps,
            required,
            slots,
            start: Instant::now(),
            last_failure: None,
        }
    }

    fn model_config(&self, name: &str) -> Option<&ModelConfig> {
        self.router.model_configs().iter().find(|m| m.name == name)
    }

    fn emit(&self, p: Progress) {
        if let Some(tx) = &self.opts.progress {
            let _ = tx.send(p);
        }
    }

    /// Marks step `i` finished and tells the progress listener about model steps.
    fn finish(&mut self, i: usize, status: StepStatus) {
        let slot = &mut self.slots[i];
        slot.state = State::Finished(status);
        slot.record.status = status;
        if status == StepStatus::Failed {
            self.last_failure = Some(i);
        }
        if self.plan.steps[i].is_model() {
            let r = &self.slots[i].record;
            self.emit(Progress::Finished {
                step: i,
                status,
                model: r.model.clone(),
                latency: r.latency_ms.map(|ms| Duration::from_secs_f64(ms / 1e3)),
                output_tokens: r.output_tokens,
                cost_usd: r.cost_usd,
                error: r.error.clone(),
            });
        }
    }

    fn skip(&mut self, i: usize, note: String) {
        self.slots[i].record.note = Some(note);
        self.finish(i, StepStatus::Skipped);
    }

    fn fail(&mut self, i: usize, error: BoxError) {
        self.slots[i].record.error = Some(error_text(&*error));
        self.slots[i].error = Some(error);
        self.finish(i, StepStatus::Failed);
    }

    async fn go(mut self) -> Result<Outcome, CoopError> {
        let concurrency = self.opts.concurrency.max(1);
        let cancel = self.opts.cancel.clone();
        let mut queue: VecDeque<usize> = VecDeque::new();
        let mut running = FuturesUnordered::new();
        loop {
            self.settle(&mut queue);
            if let Some(err) = self.check_failure() {
                return Err(err);
            }
            while running.len() < concurrency
                && let Some(i) = queue.pop_front()
            {
                running.push(self.launch(i));
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    drop(running);
                    return Err(self.cancelled());
                }
                Some((i, result)) = running.next() => {
                    self.record(i, result);
                    // Before settling, so fail-fast names the model step, not a tally.
                    if let Some(err) = self.check_failure() {
                        return Err(err);
                    }
                }
            }
        }
        self.complete()
    }

    /// Settles every pending step whose dependencies all finished, until nothing changes.
    fn settle(&mut self, queue: &mut VecDeque<usize>) {
        loop {
            let mut changed = false;
            for i in 0..self.plan.steps.len() {
                if self.slots[i].state != State::Pending
                    || !self.deps[i].iter().all(|&d| self.slots[d].finished())
                {
                    continue;
                }
                changed = true;
                let step = &self.plan.steps[i];
                if let Some(c) = &step.when
                    && !self.holds(c)
                {
                    self.skip(i, format!("not needed: {}", describe(c)));
                    continue;
                }
                match &step.kind {
                    StepKind::Model { .. } => {
                        let missing = self.required[i]
                            .iter()
                            .find(|g| !g.iter().any(|&d| self.slots[d].done()));
                        match missing {
                            Some(g) => {
                                let names: Vec<String> = g
                                    .iter()
                                    .map(|&d| format!("`{}`", self.plan.steps[d].id))
                                    .collect();
                                self.skip(
                                    i,
                                    format!("needs {}, which did not finish", names.join(" or ")),
                                );
                            }
                            None => {
                                self.slots[i].state = State::Queued;
                                queue.push_back(i);
                            }
                        }
                    }
                    StepKind::Concat {
                        inputs,
                        min,
                        labels,
                    } => self.concat(i, inputs, *min, *labels),
                    StepKind::Tally { inputs, min } => self.tally(i, inputs, *min),
                    StepKind::Pick { judge, from } => self.pick(i, judge, from),
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// The minimum of `inputs` a built-in needs under the policy.
    fn quorum(&self, inputs: usize, min: usize) -> usize {
        match self.opts.policy {
            FailurePolicy::Quorum { min: Some(q) } => q.clamp(1, inputs),
            _ => min.clamp(1, inputs),
        }
    }

    fn lost_quorum(&mut self, i: usize, inputs: &[String], got: usize, min: usize) {
        let error = self.quorum_error(inputs, inputs.len() - got, min);
        self.fail(i, Box::new(error));
    }

    /// A quorum error whose cause is the most recent failed input's error.
    fn quorum_error(&mut self, inputs: &[String], failed: usize, min: usize) -> StepError {
        let failed_input = inputs
            .iter()
            .rev()
            .filter_map(|id| self.index.get(id.as_str()).copied())
            .find(|&d| {
                self.slots[d].state == State::Finished(StepStatus::Failed)
                    && self.slots[d].error.is_some()
            });
        let cause = failed_input.and_then(|d| self.slots[d].error.take());
        StepError::Quorum {
            failed,
            inputs: inputs.len(),
            min,
            cause,
        }
    }

    fn concat(&mut self, i: usize, inputs: &[String], min: usize, labels: Labels) {
        let done: Vec<usize> = inputs
            .iter()
            .map(|id| self.index[id.as_str()])
            .filter(|&d| self.slots[d].done())
            .collect();
        let min = self.quorum(inputs.len(), min);
        if done.len() < min {
            return self.lost_quorum(i, inputs, done.len(), min);
        }
        let mut parts = Vec::new();
        let mut choices = Vec::new();
        for (k, &d) in done.iter().enumerate() {
            let r = &self.slots[d].record;
            let head = match labels {
                Labels::Models => format!("### {}", r.model.as_deref().unwrap_or(&r.id)),
                Labels::Numbered => format!("Answer {}:", k + 1),
            };
            parts.push(format!("{head}\n{}", r.output.trim()));
            choices.push((r.output.clone(), r.id.clone()));
        }
        let slot = &mut self.slots[i];
        slot.record.output = parts.join("\n\n");
        slot.record.note = Some(format!("{} of {} answers", done.len(), inputs.len()));
        slot.choices = choices;
        self.finish(i, StepStatus::Done);
    }

    fn tally(&mut self, i: usize, inputs: &[String], min: usize) {
        let done: Vec<usize> = inputs
            .iter()
            .map(|id| self.index[id.as_str()])
            .filter(|&d| self.slots[d].done())
            .collect();
        let min = self.quorum(inputs.len(), min);
        if done.len() < min {
            return self.lost_quorum(i, inputs, done.len(), min);
        }
        let tiers: Vec<u8> = done
            .iter()
            .map(|&d| {
                let model = self.slots[d].record.model.as_deref().unwrap_or("");
                self.model_config(model).map_or(0, |m| m.tier)
            })
            .collect();
        let ballots: Vec<Ballot<'_>> = done
            .iter()
            .zip(&tiers)
            .map(|(&d, &tier)| {
                let r = &self.slots[d].record;
                Ballot {
                    step: &r.id,
                    model: r.model.as_deref().unwrap_or(""),
                    tier,
                    text: &r.output,
                }
            })
            .collect();
        let tally = Tally::count(&ballots);
        drop(ballots);
        for &d in &done {
            self.slots[d].record.vote = answer::extract(&self.slots[d].record.output);
        }
        if tally.options.is_empty() {
            return self.fail(i, Box::new(StepError::NoVotes(done.len())));
        }
        let slot = &mut self.slots[i];
        slot.record.output = tally.options[0].sample.clone();
        slot.record.note = Some(format!(
            "{}{}",
            tally.summary(),
            match (tally.tie, tally.decided_by) {
                (true, answer::DecidedBy::Tier) => "; tie broken by tier",
                (true, _) => "; tie broken by plan order",
                _ => "",
            }
        ));
        slot.choices = tally
            .options
            .iter()
            .map(|o| (o.sample.clone(), o.voters[0].clone()))
            .collect();
        slot.record.votes = Some(tally.clone());
        slot.tally = Some(tally);
        self.finish(i, StepStatus::Done);
    }

    fn pick(&mut self, i: usize, judge: &str, from: &[String]) {
        let j = self.index[judge];
        if !self.slots[j].done() {
            return self.skip(i, format!("the judge `{judge}` did not answer"));
        }
        let Some(f) = from
            .iter()
            .map(|id| self.index[id.as_str()])
            .find(|&f| self.slots[f].done())
        else {
            return self.skip(i, "nothing to choose from".into());
        };
        let options = self.slots[f].choices.len();
        let reply = self.slots[j].record.output.clone();
        match answer::judge_choice(&reply, options) {
            Some((k, reason)) => {
                let (text, chosen) = self.slots[f].choices[k].clone();
                let slot = &mut self.slots[i];
                slot.record.output = text;
                slot.record.note = Some(format!("answer {} (`{chosen}`): {reason}", k + 1));
                slot.record.pick = Some((k + 1, chosen, reason));
                self.finish(i, StepStatus::Done);
            }
            None => self.fail(
                i,
                Box::new(StepError::NoChoice {
                    options,
                    reply: answer::clip(&reply, 200),
                }),
            ),
        }
    }

    /// Whether a condition holds; its steps have all finished.
    fn holds(&self, c: &Condition) -> bool {
        let first_tally = |ids: &[String]| {
            ids.iter()
                .map(|id| &self.slots[self.index[id.as_str()]])
                .find(|s| s.done())
                .and_then(|s| s.tally.as_ref())
        };
        match c {
            Condition::Disagree(ids) => first_tally(ids).is_none_or(|t| !t.unanimous),
            Condition::Unanimous(ids) => first_tally(ids).is_some_and(|t| t.unanimous),
            Condition::Tie(ids) => first_tally(ids).is_some_and(|t| t.tie),
            Condition::Rejected(ids) => ids
                .iter()
                .map(|id| &self.slots[self.index[id.as_str()]])
                .find(|s| s.done())
                .is_none_or(|s| answer::verdict(&s.record.output) != Some(true)),
            Condition::Any(cs) => cs.iter().any(|c| self.holds(c)),
        }
    }

    /// Renders a model step's template with the outputs available now.
    fn render(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len() + self.input.len());
        for piece in parse_template(template).unwrap_or_default() {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Ref(alts) => {
                    for r in alts {
                        let text = match r {
                            Ref::Input => Some(self.input.to_owned()),
                            Ref::Output(id) => {
                                let s = &self.slots[self.index[id]];
                                s.done().then(|| s.record.output.trim().to_owned())
                            }
                            Ref::Tally(id) => {
                                let s = &self.slots[self.index[id]];
                                s.tally.as_ref().filter(|_| s.done()).map(Tally::render)
                            }
                        };
                        if let Some(text) = text {
                            out.push_str(&text);
                            break;
                        }
                    }
                }
            }
        }
        out
    }

    /// Starts model step `i`.
    fn launch(
        &mut self,
        i: usize,
    ) -> impl Future<Output = (usize, Result<Answered, CallFailure>)> + use<> {
        let StepKind::Model {
            model,
            prompt,
            system,
            max_tokens,
            temperature,
            seed,
            ..
        } = &self.plan.steps[i].kind
        else {
            unreachable!("only model steps are queued")
        };
        let prompt = self.render(prompt);
        let system = system.as_deref().map(|s| self.render(s));
        let mut req = ChatRequest::simple(model, system.as_deref(), &prompt);
        req.max_tokens = *max_tokens;
        req.temperature = temperature.map(super::plan::as_written);
        req.seed = seed.map(|s| s as i64);
        let prompt_tokens = crate::router::analysis::estimate_tokens(&prompt)
            + system
                .as_deref()
                .map_or(0, crate::router::analysis::estimate_tokens);
        self.emit(Progress::Started {
            step: i,
            model: model.clone(),
        });
        let slot = &mut self.slots[i];
        slot.state = State::Running;
        slot.record.started_ms = Some(duration_ms(self.start.elapsed()));
        let live = slot.live.clone();
        let router = self.router.clone();
        let progress = self.opts.progress.clone();
        let timeout = self.opts.step_timeout;
        async move {
            let started = Instant::now();
            let call = call_model(router, req, live, progress, i, started, prompt_tokens);
            let result = match tokio::time::timeout(timeout, call).await {
                Ok(r) => r,
                Err(_) => Err(CallFailure {
                    error: Box::new(StepError::Timeout(timeout)),
                    model: None,
                    provider: None,
                }),
            };
            (i, result)
        }
    }

    /// Records a finished model call.
    fn record(&mut self, i: usize, result: Result<Answered, CallFailure>) {
        let started_ms = self.slots[i].record.started_ms.unwrap_or(0.0);
        let latency = duration_ms(self.start.elapsed()) - started_ms;
        let partial = self.slots[i]
            .live
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default();
        match result {
            Ok(a) => {
                let cost = self
                    .model_config(&a.model)
                    .map_or(0.0, |m| m.cost(a.input_tokens, a.output_tokens));
                let r = &mut self.slots[i].record;
                r.model = Some(a.model);
                r.provider = Some(a.provider);
                r.latency_ms = Some(round_ms(latency));
                r.ttft_ms = a.ttft.map(duration_ms);
                r.input_tokens = a.input_tokens;
                r.output_tokens = a.output_tokens;
                r.tokens_estimated = a.estimated;
                r.cost_usd = round_usd(cost);
                r.output = a.text;
                self.finish(i, StepStatus::Done);
            }
            Err(f) => {
                let r = &mut self.slots[i].record;
                if let Some(m) = f.model {
                    r.model = Some(m);
                }
                r.provider = f.provider.or(r.provider.take());
                r.latency_ms = Some(round_ms(latency));
                r.output = partial;
                self.fail(i, f.error);
            }
        }
    }

    /// After a failure: the error that ends the run, if it must end.
    fn check_failure(&mut self) -> Option<CoopError> {
        let failed = self.last_failure?;
        let fail_fast = self.opts.policy == FailurePolicy::FailFast;
        if !fail_fast && self.reachable() {
            return None;
        }
        // What blocks the result: a concat or tally that can no longer reach its quorum,
        // or else the failed step.
        let blocker = if fail_fast { None } else { self.blocker() };
        let (message, source, at): (String, BoxError, usize) = match blocker {
            Some((b, inputs, failed_inputs, min)) => {
                let error = self.quorum_error(&inputs, failed_inputs, min);
                (
                    format!(
                        "Too few answers for `{}`: the cooperation cannot finish",
                        self.plan.steps[b].id
                    ),
                    Box::new(error),
                    b,
                )
            }
            None => {
                let step = &self.plan.steps[failed];
                let what = match step.model_name() {
                    Some(_) => format!(
                        "{} on `{}`",
                        step.role,
                        self.slots[failed].record.model.as_deref().unwrap_or("?")
                    ),
                    None => step.role.clone(),
                };
                let message = if fail_fast {
                    format!(
                        "Step `{}` ({what}) failed; stopping the run (fail-fast)",
                        step.id
                    )
                } else {
                    format!(
                        "Step `{}` ({what}) failed, and the cooperation cannot finish without it",
                        step.id
                    )
                };
                let id = step.id.clone();
                let source = self.slots[failed]
                    .error
                    .take()
                    .unwrap_or_else(|| Box::new(StepError::Unfinished(id)));
                (message, source, failed)
            }
        };
        let note = format!("not run: the run stopped at `{}`", self.plan.steps[at].id);
        self.stop(StepStatus::Skipped, &note);
        let receipt = self.receipt(RunStatus::Failed, None);
        Some(CoopError::Failed {
            message,
            receipt: Box::new(receipt),
            source,
        })
    }

    /// The first pending concat or tally on the way to the output that can no longer
    /// reach its quorum: (step, its inputs, how many of them cannot finish, the quorum).
    fn blocker(&self) -> Option<(usize, Vec<String>, usize, usize)> {
        let mut memo: Vec<Option<bool>> = vec![None; self.plan.steps.len()];
        let mut stack: Vec<usize> = self
            .plan
            .output
            .iter()
            .map(|o| self.index[o.as_str()])
            .collect();
        let mut seen = vec![false; self.plan.steps.len()];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) || self.slots[i].state != State::Pending {
                continue;
            }
            match &self.plan.steps[i].kind {
                StepKind::Concat { inputs, min, .. } | StepKind::Tally { inputs, min } => {
                    let need = self.quorum(inputs.len(), *min);
                    let possible = inputs
                        .iter()
                        .filter(|id| self.can_finish(self.index[id.as_str()], &mut memo))
                        .count();
                    if possible < need {
                        return Some((i, inputs.clone(), inputs.len() - possible, need));
                    }
                }
                _ => stack.extend(self.deps[i].iter().copied()),
            }
        }
        None
    }

    /// Whether some output step can still finish (optimistic about steps not yet run).
    fn reachable(&self) -> bool {
        let mut memo: Vec<Option<bool>> = vec![None; self.plan.steps.len()];
        self.plan
            .output
            .iter()
            .any(|o| self.can_finish(self.index[o.as_str()], &mut memo))
    }

    fn can_finish(&self, i: usize, memo: &mut Vec<Option<bool>>) -> bool {
        if let Some(v) = memo[i] {
            return v;
        }
        let v = match self.slots[i].state {
            State::Finished(s) => s == StepStatus::Done,
            State::Queued | State::Running => true,
            State::Pending => match &self.plan.steps[i].kind {
                StepKind::Model { .. } => {
                    let groups = self.required[i].clone();
                    groups
                        .iter()
                        .all(|g| g.iter().any(|&d| self.can_finish(d, memo)))
                }
                StepKind::Concat { inputs, min, .. } | StepKind::Tally { inputs, min } => {
                    let need = self.quorum(inputs.len(), *min);
                    inputs
                        .iter()
                        .filter(|id| self.can_finish(self.index[id.as_str()], memo))
                        .count()
                        >= need
                }
                StepKind::Pick { judge, from } => {
                    self.can_finish(self.index[judge.as_str()], memo)
                        && from
                            .iter()
                            .any(|f| self.can_finish(self.index[f.as_str()], memo))
                }
            },
        };
        memo[i] = Some(v);
        v
    }

    /// Ends every unfinished step: running ones are cancelled with their partial text;
    /// the others get `pending` with `note`.
    fn stop(&mut self, pending: StepStatus, note: &str) {
        for i in 0..self.slots.len() {
            match self.slots[i].state {
                State::Running => {
                    let started_ms = self.slots[i].record.started_ms.unwrap_or(0.0);
                    let partial = self.slots[i]
                        .live
                        .lock()
                        .map(|s| s.clone())
                        .unwrap_or_default();
                    let r = &mut self.slots[i].record;
                    r.latency_ms = Some(round_ms(duration_ms(self.start.elapsed()) - started_ms));
                    r.output = partial;
                    r.note = Some("stopped mid-answer".into());
                    self.finish(i, StepStatus::Cancelled);
                }
                State::Pending | State::Queued => {
                    self.slots[i].record.note = Some(note.to_owned());
                    self.finish(i, pending);
                }
                State::Finished(_) => {}
            }
        }
    }

    fn cancelled(mut self) -> CoopError {
        self.stop(StepStatus::Cancelled, "not started: the run was cancelled");
        CoopError::Cancelled {
            receipt: Box::new(self.receipt(RunStatus::Cancelled, None)),
        }
    }

    fn complete(mut self) -> Result<Outcome, CoopError> {
        let result = self
            .plan
            .output
            .iter()
            .map(|o| self.index[o.as_str()])
            .find(|&o| self.slots[o].done());
        match result {
            Some(o) => {
                let text = self.slots[o].record.output.clone();
                let receipt = self.receipt(RunStatus::Done, Some(o));
                Ok(Outcome { text, receipt })
            }
            None => {
                // Every output alternative was skipped or failed (e.g. a judge that named no
                // answer); report the most recent failure.
                let (message, source): (String, BoxError) = match self.last_failure {
                    Some(f) => (
                        format!(
                            "Step `{}` ({}) failed, and the cooperation cannot finish without it",
                            self.plan.steps[f].id, self.plan.steps[f].role
                        ),
                        self.slots[f].error.take().unwrap_or_else(|| {
                            Box::new(StepError::Unfinished(self.plan.steps[f].id.clone()))
                        }),
                    ),
                    None => (
                        "No output step ran".to_owned(),
                        Box::new(StepError::Unfinished(self.plan.output.join("|"))),
                    ),
                };
                let receipt = self.receipt(RunStatus::Failed, None);
                Err(CoopError::Failed {
                    message,
                    receipt: Box::new(receipt),
                    source,
                })
            }
        }
    }

    fn receipt(&self, status: RunStatus, result: Option<usize>) -> Receipt {
        let mut receipt = Receipt {
            mode: self.plan.mode,
            workflow: self.plan.name.clone(),
            status,
            result_step: result.map(|o| self.plan.steps[o].id.clone()),
            wall_ms: round_ms(duration_ms(self.start.elapsed())),
            cost_usd: 0.0,
            input_tokens: 0,
            output_tokens: 0,
            steps: self.slots.iter().map(|s| s.record.clone()).collect(),
            tally: None,
            judgement: None,
            cascade: None,
        };
        let strong = self
            .plan
            .cascade
            .as_ref()
            .and_then(|c| self.model_config(&c.strong_model));
        receipt.summarise(self.plan, strong);
        receipt
    }
}

fn round_ms(ms: f64) -> f64 {
    (ms * 1e3).round() / 1e3
}

/// An error and its causes on one line.
fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Why a condition did not hold, in words.
fn describe(c: &Condition) -> String {
    match c {
        Condition::Disagree(ids) => format!("`{}` was unanimous", ids.join("`/`")),
        Condition::Unanimous(ids) => format!("`{}` was not unanimous", ids.join("`/`")),
        Condition::Tie(ids) => format!("`{}` had no tie", ids.join("`/`")),
        Condition::Rejected(ids) => format!("`{}` accepted", ids.join("`/`")),
        Condition::Any(cs) => cs.iter().map(describe).collect::<Vec<_>>().join(" and "),
    }
}

/// One routed, streamed model call; the text streamed so far is kept in `live`.
async fn call_model(
    router: Arc<Router>,
    req: ChatRequest,
    live: Arc<Mutex<String>>,
    progress: Option<mpsc::UnboundedSender<Progress>>,
    step: usize,
    started: Instant,
    prompt_tokens: u32,
) -> Result<Answered, CallFailure> {
    let routed = router
        .chat_stream(req, &Preferences::default())
        .await
        .map_err(|e| CallFailure {
            model: e.attempts().last().map(|a| a.model.clone()),
            provider: e.attempts().last().map(|a| a.provider.clone()),
            error: match e {
                // Unknown or unusable models are configuration errors (exit code 2).
                RouteError::Config(c) => Box::new(c),
                other => Box::new(other),
            },
        })?;
    let (model, provider) = routed
        .attempts
        .last()
        .map(|a| (a.model.clone(), a.provider.clone()))
        .unwrap_or_default();
    let mut pieces = 0u32;
    let collected = collect_stream(routed.value, started, |delta| {
        pieces += 1;
        if let Ok(mut text) = live.lock() {
            text.push_str(delta);
        }
        if let Some(tx) = &progress {
            let _ = tx.send(Progress::Tokens {
                step,
                tokens: pieces,
            });
        }
        Ok(())
    })
    .await;
    match collected {
        Ok(c) => {
            let (text, usage) = (c.text(), c.usage());
            let estimated = usage.output_tokens == 0 && !text.is_empty();
            let (input_tokens, output_tokens) = if estimated {
                (prompt_tokens, pieces)
            } else {
                (usage.input_tokens, usage.output_tokens)
            };
            Ok(Answered {
                text,
                model,
                provider,
                input_tokens,
                output_tokens,
                estimated,
                ttft: c.ttft,
            })
        }
        Err((_, e)) => Err(CallFailure {
            error: match e {
                CollectError::Provider(p) => Box::new(p),
                CollectError::Output(io) => Box::new(io),
            },
            model: Some(model),
            provider: Some(provider),
        }),
    }
}

/// Says why a repeated member samples: a distinct seed, and a temperature raised from 0.
fn sampling_note(s: &super::plan::Step) -> Option<String> {
    let StepKind::Model {
        seed: Some(seed),
        temperature,
        temperature_raised,
        ..
    } = s.kind
    else {
        return None;
    };
    Some(if temperature_raised {
        format!(
            "repeated member: seed {seed}, temperature {} instead of 0 (copies of a greedy model would repeat one answer)",
            temperature.unwrap_or(super::modes::REPEAT_TEMPERATURE)
        )
    } else {
        format!("repeated member: seed {seed}")
    })
}
