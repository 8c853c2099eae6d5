//! Receipts: what every step of a run did, what it cost, and how the result was decided.
//!
//! A receipt is built for every run, also a failed or cancelled one (then it holds the
//! partial outputs of the steps that were running). Costs are estimates from the configured
//! prices and the token counts the upstreams reported (or, when they reported none, counted
//! from the streamed text and marked `tokens_estimated`).

use serde::Serialize;

use super::Mode;
use super::answer::{DecidedBy, Tally, Vote};

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Done,
    Failed,
    /// Not run: its condition did not hold, or a step it needs did not finish.
    Skipped,
    /// Stopped or never started because the run was cancelled or failed.
    Cancelled,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Done => "done",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Done,
    Failed,
    Cancelled,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReceipt {
    pub id: String,
    pub role: String,
    /// `model`, `concat`, `tally` or `pick`.
    pub kind: &'static str,
    /// The configured model that answered (or, before routing, the one asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub status: StepStatus,
    /// When the step started, in milliseconds from the start of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Time to the first streamed token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// The upstream reported no token counts; they were estimated from the text.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tokens_estimated: bool,
    pub cost_usd: f64,
    /// The answer (partial when the step failed or was cancelled mid-answer).
    pub output: String,
    /// A voting member's normalised final answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vote: Option<Vote>,
    /// A tally step's count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub votes: Option<Tally>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The seed sent: repeated members (`--models m,m,m`) each get their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The temperature sent, where the plan set one (a repeated greedy member samples at
    /// 0.7; `note` then says so).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Why a step was skipped, or what a built-in step did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A pick step's choice: the 1-based answer number, the chosen step and the reason.
    #[serde(skip)]
    pub(crate) pick: Option<(usize, String, String)>,
}

/// A judge's decision (`best` integration, or a voting tie).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// The judge step and its model.
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The chosen answer's number as the judge saw it (1-based).
    pub choice: usize,
    /// The step whose answer was chosen.
    pub chosen_step: String,
    pub reason: String,
}

/// What a cascade did and what it saved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CascadeReport {
    pub escalated: bool,
    pub reason: String,
    /// The word in the verifier's reply that decided (`ACCEPT`, `INCORRECT`, `YES`, `是`, …);
    /// absent when there was no verifier or its reply decided nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verifier_word: Option<String>,
    pub strong_model: String,
    /// What asking the strong model directly costs: its actual cost when it was asked,
    /// else estimated from the cheap steps' token counts at its prices.
    pub strong_direct_cost_usd: f64,
    /// `strong_direct_cost_usd` minus this run's cost (negative when escalating cost more).
    pub saved_usd: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub direct_cost_estimated: bool,
}

/// Everything a run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receipt {
    pub mode: Mode,
    /// The workflow's name, for a workflow file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    pub status: RunStatus,
    /// The step whose output is the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_step: Option<String>,
    pub wall_ms: f64,
    pub cost_usd: f64,
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub steps: Vec<StepReceipt>,
    /// Voting: the deciding tally, after any judge's tie-break. Cascade: the cheap tier's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tally: Option<Tally>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judgement: Option<Judgement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cascade: Option<CascadeReport>,
}

impl Receipt {
    pub fn step(&self, id: &str) -> Option<&StepReceipt> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// How many model steps there are.
    pub fn model_steps(&self) -> usize {
        self.steps.iter().filter(|s| s.kind == "model").count()
    }

    /// How many model steps finished with an answer.
    pub fn finished_model_steps(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.kind == "model" && s.status == StepStatus::Done)
            .count()
    }

    /// Fills the totals and the tally, judgement and cascade summaries from the steps.
    pub(crate) fn summarise(
        &mut self,
        plan: &super::Plan,
        strong_price: Option<&crate::config::ModelConfig>,
    ) {
        self.cost_usd = self.steps.iter().map(|s| s.cost_usd).sum();
        self.input_tokens = self.steps.iter().map(|s| s.input_tokens).sum();
        self.output_tokens = self.steps.iter().map(|s| s.output_tokens).sum();
        let done = |id: &str| self.step(id).filter(|s| s.status == StepStatus::Done);

        // The deciding tally: the one a done judge picked from, else the last done tally.
        let mut tally: Option<Tally> = None;
        let mut judgement = None;
        for s in &plan.steps {
            if let super::StepKind::Pick { judge, from } = &s.kind
                && let Some(pick) = done(&s.id)
            {
                let judge_step = self.step(judge);
                let Some((choice, chosen_step, reason)) = pick.pick.clone() else {
                    continue;
                };
                judgement = Some(Judgement {
                    step: judge.clone(),
                    model: judge_step.and_then(|j| j.model.clone()),
                    choice,
                    chosen_step: chosen_step.clone(),
                    reason,
                });
                if let Some(t) = from
                    .iter()
                    .find_map(|f| done(f))
                    .and_then(|f| f.votes.clone())
                {
                    let mut t = t;
                    if let Some(k) = choice.checked_sub(1)
                        && k < t.options.len()
                    {
                        t.winner = Some(t.options[k].answer.clone());
                        t.decided_by = DecidedBy::Judge;
                    }
                    tally = Some(t);
                }
            }
        }
        if tally.is_none() {
            tally = self
                .steps
                .iter()
                .rev()
                .filter(|s| s.status == StepStatus::Done)
                .find_map(|s| s.votes.clone());
        }
        let mut cascade = None;

        if let (Some(c), Some(strong)) = (&plan.cascade, strong_price) {
            let strong_step = self.step(&c.strong);
            let escalated = strong_step.is_some_and(|s| s.started_ms.is_some());
            let cheap: Vec<&StepReceipt> = c.cheap.iter().filter_map(|id| done(id)).collect();
            let (direct, estimated) = match strong_step.filter(|s| s.status == StepStatus::Done) {
                Some(s) => (s.cost_usd, false),
                None if !cheap.is_empty() => {
                    let n = cheap.len() as f64;
                    let input = cheap.iter().map(|s| f64::from(s.input_tokens)).sum::<f64>() / n;
                    let output = cheap
                        .iter()
                        .map(|s| f64::from(s.output_tokens))
                        .sum::<f64>()
                        / n;
                    (
                        strong.cost(input.round() as u32, output.round() as u32),
                        true,
                    )
                }
                None => (0.0, true),
            };
            let cheap_tally = done(&c.tally).and_then(|t| t.votes.as_ref());
            let read = c
                .verify
                .as_deref()
                .and_then(done)
                .map(|v| super::answer::read_verdict(&v.output));
            let verifier_word = read.clone().flatten().map(|v| v.word);
            let verdict = read.map(|v| v.map(|v| v.accept));
            let reason = match (escalated, cheap_tally, verdict) {
                (true, Some(t), _) if !t.unanimous => {
                    format!("the cheap answers disagree: {}", t.summary())
                }
                (true, Some(_), Some(Some(false))) => format!(
                    "the verifier rejected the cheap answer (`{}`)",
                    verifier_word.as_deref().unwrap_or("")
                ),
                (true, Some(_), Some(None)) => {
                    "the verifier's reply had no verdict (ACCEPT/REJECT, yes/no, correct/incorrect, 是/否)".to_owned()
                }
                (true, None, _) => "the cheap models gave no answer to compare".to_owned(),
                (true, _, _) => "the cheap answer could not be verified".to_owned(),
                (false, Some(t), Some(Some(true))) => format!(
                    "the cheap answers agree ({}) and the verifier accepted (`{}`)",
                    t.winner.as_deref().unwrap_or(""),
                    verifier_word.as_deref().unwrap_or("")
                ),
                (false, Some(t), _) => {
                    format!(
                        "the cheap answers agree ({})",
                        t.winner.as_deref().unwrap_or("")
                    )
                }
                (false, None, _) => "the run stopped before the cascade decided".to_owned(),
            };
            cascade = Some(CascadeReport {
                escalated,
                reason,
                verifier_word,
                strong_model: c.strong_model.clone(),
                strong_direct_cost_usd: round_usd(direct),
                saved_usd: round_usd(direct - self.cost_usd),
                direct_cost_estimated: estimated && !escalated,
            });
        }
        self.tally = tally;
        self.judgement = judgement;
        self.cascade = cascade;
        self.cost_usd = round_usd(self.cost_usd);
    }
}

/// USD rounded to a millionth of a cent, so sums print cleanly.
pub(crate) fn round_usd(x: f64) -> f64 {
    (x * 1e8).round() / 1e8
}

/// The result of a successful run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub text: String,
    pub receipt: Receipt,
}
