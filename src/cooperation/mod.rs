//! Cooperation: several models working on one task, as plans run by one executor.
//!
//! Every mode compiles ([`compile`]) to a [`Plan`], a DAG of steps: model calls with prompt
//! templates over `{{input}}` and earlier outputs, and built-in computations (concatenate,
//! tally votes, take a judge's pick) that may only run under a condition (a tie, a split
//! vote, a verifier's rejection). One executor ([`execute`]) runs any plan with bounded
//! concurrency, per-step timeouts, cancellation and a failure policy, streams [`Progress`]
//! events, and returns the answer with a [`Receipt`] (per step: model, role, latency, tokens,
//! cost, output, votes) — also when the run fails or is cancelled.
//!
//! Modes:
//! - `sequential`: each model improves the previous answer; the last one (or, with `--judge`,
//!   an integrator that reads every version) gives the result.
//! - `parallel`: all models at once, integrated by `concat`, `synthesize` (an aggregator
//!   merges the answers; the default) or `best` (a judge picks one and says why).
//! - `voting`: each model answers; final answers are extracted, normalised and tallied; the
//!   most votes win; a tie goes to the judge, or else to the higher tier. `rounds` > 1 shows
//!   the models the tally and lets them vote again while they disagree.
//! - `pipeline`: draft → critique → revise, or a workflow file of named steps.
//! - `ensemble`: mixture-of-agents; `layers` of proposers, each seeing the previous layer's
//!   answers, then an aggregator.
//! - `cascade`: the cheaper models answer first; the strongest is asked only when they
//!   disagree or a verifier rejects their answer. The receipt shows the saving.
//!
//! # Virtual model names
//!
//! The gateway exposes every mode as a model name:
//!
//! ```text
//! coop/<mode>:<model>,<model>,…[?integration=<concat|synthesize|best>&judge=<model>&rounds=<N>&layers=<N>]
//! ```
//!
//! e.g. `coop/voting:gpt-4o-mini,claude-haiku,qwen?rounds=2&judge=gpt-4o` or
//! `coop/parallel:a,b?integration=best`. Models are configured names (or `auto`); a model
//! may repeat (`coop/voting:m,m,m` is self-consistency). Unknown modes, keys or models are
//! errors that name them ([`ModeSpec::parse_virtual_model`]).

pub mod answer;
pub mod auto;
mod executor;
mod modes;
pub mod plan;
mod receipt;
pub mod workflow;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use answer::{AnswerKind, DecidedBy, Tally, TallyOption, Vote};
pub use executor::{Cancel, ExecOptions, FailurePolicy, Progress, execute};
pub use modes::{check_models, compile};
pub use plan::{CascadeSteps, Condition, Labels, Plan, PlanError, Step, StepKind};
pub use receipt::{CascadeReport, Judgement, Outcome, Receipt, RunStatus, StepReceipt, StepStatus};
pub use workflow::Workflow;

use crate::config::ConfigError;

/// The prefix of virtual model names.
pub const VIRTUAL_PREFIX: &str = "coop/";

/// How the models cooperate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Each model improves the previous answer.
    Sequential,
    /// All at once, then integrated (concat, synthesize or best).
    Parallel,
    /// Each model answers; the normalised final answers are tallied.
    Voting,
    /// Named stages (draft → critique → revise) or a workflow file.
    Pipeline,
    /// Mixture-of-agents: layers of proposers, then an aggregator.
    #[value(alias = "moa")]
    Ensemble,
    /// Cheap models first; the strong one only when they disagree or are rejected.
    Cascade,
}

impl Mode {
    pub const ALL: [Mode; 6] = [
        Mode::Sequential,
        Mode::Parallel,
        Mode::Voting,
        Mode::Pipeline,
        Mode::Ensemble,
        Mode::Cascade,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sequential => "sequential",
            Mode::Parallel => "parallel",
            Mode::Voting => "voting",
            Mode::Pipeline => "pipeline",
            Mode::Ensemble => "ensemble",
            Mode::Cascade => "cascade",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = CoopError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "moa" | "mixture-of-agents" => return Ok(Mode::Ensemble),
            _ => {}
        }
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                usage(format!(
                    "Unknown mode `{s}`; modes: {}",
                    Mode::ALL.map(Mode::as_str).join(", ")
                ))
            })
    }
}

/// How parallel answers become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Integration {
    /// Every answer, one after another, headed by its model.
    Concat,
    /// An aggregator model merges the answers into one (`ensemble` in the original system).
    #[serde(alias = "ensemble")]
    #[value(alias = "ensemble")]
    Synthesize,
    /// A judge model picks the best answer and says why.
    Best,
}

impl Integration {
    pub fn as_str(self) -> &'static str {
        match self {
            Integration::Concat => "concat",
            Integration::Synthesize => "synthesize",
            Integration::Best => "best",
        }
    }
}

impl FromStr for Integration {
    type Err = CoopError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Integration::Concat,
            Integration::Synthesize,
            Integration::Best,
        ]
        .into_iter()
        .find(|i| i.as_str() == s)
        // The original system's name for merging by an aggregator.
        .or((s == "ensemble").then_some(Integration::Synthesize))
        .ok_or_else(|| {
            usage(format!(
                "Unknown integration `{s}`; use `concat`, `synthesize` (or `ensemble`) or `best`"
            ))
        })
    }
}

/// What to run: a mode, its models and its options.
#[derive(Debug, Clone, PartialEq)]
pub struct ModeSpec {
    pub mode: Mode,
    /// Configured model names (or `auto`), in order; repeats are allowed.
    pub models: Vec<String>,
    /// For `parallel` (default `synthesize`) and `sequential` (`synthesize` adds an
    /// integrator).
    pub integration: Option<Integration>,
    /// The aggregator (`parallel`/`synthesize`, `ensemble`), the judge (`best`, voting ties),
    /// the integrator (`sequential`) or the verifier (`cascade`). Default: the highest-tier
    /// member where one is needed.
    pub judge: Option<String>,
    /// Voting rounds (1 to 10).
    pub rounds: u32,
    /// Ensemble proposer layers (1 to 6).
    pub layers: u32,
    /// For `pipeline`: the steps of a workflow file instead of draft → critique → revise.
    pub workflow: Option<Workflow>,
    /// Passed to every model call.
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
}

impl ModeSpec {
    /// A spec with the defaults: one voting round, two ensemble layers.
    pub fn new(mode: Mode, models: impl IntoIterator<Item = impl Into<String>>) -> ModeSpec {
        ModeSpec {
            mode,
            models: models.into_iter().map(Into::into).collect(),
            integration: None,
            judge: None,
            rounds: 1,
            layers: 2,
            workflow: None,
            max_tokens: None,
            temperature: None,
        }
    }

    /// Whether `name` is a virtual cooperation model (`coop/…`).
    pub fn is_virtual_model(name: &str) -> bool {
        name.starts_with(VIRTUAL_PREFIX)
    }

    /// Parses `coop/<mode>:<m1>,<m2>,…[?integration=…&judge=…&rounds=N&layers=N]`.
    pub fn parse_virtual_model(name: &str) -> Result<ModeSpec, CoopError> {
        let grammar = "coop/<mode>:<model>,<model>,…[?integration=…&judge=…&rounds=N&layers=N]";
        let rest = name.strip_prefix(VIRTUAL_PREFIX).ok_or_else(|| {
            usage(format!(
                "`{name}` is not a cooperation model; the form is `{grammar}`"
            ))
        })?;
        let (head, query) = match rest.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (rest, None),
        };
        let (mode, models) = head.split_once(':').ok_or_else(|| {
            usage(format!(
                "`{name}` names no models; the form is `{grammar}`, e.g. `coop/voting:a,b,c`"
            ))
        })?;
        let mode: Mode = mode.trim().parse()?;
        let models: Vec<String> = models.split(',').map(|m| m.trim().to_owned()).collect();
        if models.iter().any(String::is_empty) {
            return Err(usage(format!(
                "`{name}` has an empty model name; separate models with single commas"
            )));
        }
        let mut spec = ModeSpec::new(mode, models);
        for pair in query
            .into_iter()
            .flat_map(|q| q.split('&'))
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| usage(format!("`{pair}` in `{name}` is not `key=value`")))?;
            let number = |max: u32| {
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        usage(format!(
                            "`{key}={value}` in `{name}`: use a whole number from 1 to {max}"
                        ))
                    })
            };
            match key {
                "integration" => spec.integration = Some(value.parse()?),
                "judge" if !value.is_empty() => spec.judge = Some(value.to_owned()),
                "rounds" => spec.rounds = number(MAX_ROUNDS)?,
                "layers" => spec.layers = number(MAX_LAYERS)?,
                _ => {
                    return Err(usage(format!(
                        "Unknown option `{key}` in `{name}`; options: integration, judge, rounds, layers"
                    )));
                }
            }
        }
        Ok(spec)
    }
}

/// Most voting rounds.
pub const MAX_ROUNDS: u32 = 10;
/// Most ensemble layers.
pub const MAX_LAYERS: u32 = 6;

/// A cooperation that could not be built, failed or was cancelled. Failed and cancelled runs
/// carry the receipt of what happened.
#[derive(Debug, thiserror::Error)]
pub enum CoopError {
    /// Bad mode, options, models or workflow; the source says which (exit code 2).
    #[error("Cannot build the cooperation plan")]
    Invalid(#[source] ConfigError),
    /// A step failed and the plan could not finish without it. `source` is the step's error
    /// (a `RouteError`, `ProviderError`, `ConfigError` or [`StepError`]).
    #[error("{message}")]
    Failed {
        message: String,
        receipt: Box<Receipt>,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The run was cancelled; the receipt shows what finished and the partial outputs.
    #[error("Cancelled after {} of {} model steps finished", receipt.finished_model_steps(), receipt.model_steps())]
    Cancelled { receipt: Box<Receipt> },
}

impl CoopError {
    /// The receipt of a failed or cancelled run.
    pub fn receipt(&self) -> Option<&Receipt> {
        match self {
            CoopError::Failed { receipt, .. } | CoopError::Cancelled { receipt } => Some(receipt),
            CoopError::Invalid(_) => None,
        }
    }
}

/// Failures the executor itself detects.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("No answer within {:.1} s, the per-step timeout", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("{failed} of {inputs} answers failed, so fewer than the quorum of {min} can arrive")]
    Quorum {
        failed: usize,
        inputs: usize,
        min: usize,
        /// The last member failure.
        #[source]
        cause: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("No final answer could be read from any of the {0} answers")]
    NoVotes(usize),
    #[error("The judge's reply names none of the {options} answers: “{reply}”")]
    NoChoice { options: usize, reply: String },
    /// A step ended without an answer and its own error was already reported.
    #[error("Step `{0}` did not finish")]
    Unfinished(String),
}

fn usage(message: String) -> CoopError {
    CoopError::Invalid(ConfigError::Usage(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_model_names_parse() {
        let s = ModeSpec::parse_virtual_model(
            "coop/voting:a, b ,c?judge=big&rounds=3&integration=synthesize",
        )
        .unwrap();
        assert_eq!(s.mode, Mode::Voting);
        assert_eq!(s.models, vec!["a", "b", "c"]);
        assert_eq!(s.judge.as_deref(), Some("big"));
        assert_eq!((s.rounds, s.layers), (3, 2));
        assert_eq!(s.integration, Some(Integration::Synthesize));

        let s = ModeSpec::parse_virtual_model("coop/moa:x,x?layers=3").unwrap();
        assert_eq!((s.mode, s.layers, s.models.len()), (Mode::Ensemble, 3, 2));
        assert!(ModeSpec::is_virtual_model("coop/parallel:a"));
        assert!(!ModeSpec::is_virtual_model("gpt-4o"));
    }

    #[test]
    fn bad_virtual_model_names_say_what_is_wrong() {
        let err = |name: &str| match ModeSpec::parse_virtual_model(name).unwrap_err() {
            CoopError::Invalid(ConfigError::Usage(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(err("coop/vote:a,b").contains("Unknown mode `vote`"));
        assert!(err("coop/voting").contains("names no models"));
        assert!(err("coop/voting:a,,b").contains("empty model name"));
        assert!(err("coop/voting:a?rounds=0").contains("1 to 10"));
        assert!(err("coop/voting:a?color=red").contains("Unknown option `color`"));
        assert!(err("coop/parallel:a?integration=merge").contains("Unknown integration"));
        assert!(err("gpt-4o").contains("not a cooperation model"));
    }
}
