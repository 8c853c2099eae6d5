//! Each mode compiled to a plan. The prompts live here, one constant per role.
//!
//! Step ids are the members' model names (made unique: `a`, `a-2`) plus fixed names for the
//! built-ins and integrators (`answers`, `synthesize`, `judge`, `pick`, `tally`, …), so a
//! receipt reads naturally.

use std::collections::HashSet;

use super::plan::{CascadeSteps, Condition, Labels, Plan, Step, StepKind, sanitize_id};
use super::{CoopError, Integration, MAX_LAYERS, MAX_ROUNDS, Mode, ModeSpec};
use crate::config::{ConfigError, ModelConfig};
use crate::router::{Preferences, RouteError, Router};
use crate::types::ChatRequest;

const IMPROVE: &str = "Question:\n{{input}}\n\nA previous answer:\n{{PREV}}\n\nImprove this answer: correct its errors, fill its gaps, keep what is right. Reply in the language of the question, with the improved answer only.";

const INTEGRATE: &str = "Question:\n{{input}}\n\nSuccessive answers, each meant to improve on the one before:\n\n{{versions}}\n\nWrite the best final answer, using whatever is right in any of them. Reply in the language of the question, with the answer only.";

const SYNTHESIZE: &str = "Question:\n{{input}}\n\nCandidate answers from different assistants:\n\n{{ANSWERS}}\n\nMerge them into one answer that is better than each: keep what they agree on, resolve contradictions in favour of what is correct, and add anything important only one of them has. Reply in the language of the question, with the final answer only.";

const BEST: &str = "Question:\n{{input}}\n\nCandidate answers:\n\n{{answers}}\n\nWhich answer is the most correct and helpful? Reply on the first line with `Best: N`, N being the answer's number, then one or two sentences saying why.";

const VOTE: &str = "{{input}}\n\nWork it out, then end with a last line of the form `Answer: <final answer>` (a number, an option letter, yes/no, or a few words).";

const REVOTE: &str = "{{input}}\n\nIn the previous round the models' final answers were:\n\n{{TALLY}}\n\nConsider them critically (the majority can be wrong), then end with a last line of the form `Answer: <final answer>`.";

const TIE_JUDGE: &str = "Question:\n{{input}}\n\nThe models' votes are tied. Their answers:\n\n{{TALLY}}\n\nWhich answer is correct? Reply on the first line with `Best: N`, N being the answer's number, then one or two sentences saying why.";

const CRITIQUE: &str = "Question:\n{{input}}\n\nDraft answer:\n{{draft}}\n\nCritique this draft: list its errors, gaps and unclear parts, most important first. Do not rewrite it.";

const REVISE: &str = "Question:\n{{input}}\n\nDraft answer:\n{{draft}}\n\nCritique:\n{{critique}}\n\nRewrite the draft, fixing every valid point of the critique. Reply in the language of the question, with the final answer only.";

const PROPOSE_AGAIN: &str = "Question:\n{{input}}\n\nAnswers from other assistants in the previous round (they may contain errors):\n\n{{LAYER}}\n\nUsing them as references, write your own best answer. Reply in the language of the question, with the answer only.";

const VERIFY: &str = "Question:\n{{input}}\n\nProposed answer:\n{{tally}}\n\nCheck the proposed answer carefully. Reply on the first line with exactly ACCEPT if it is correct and complete, or REJECT if it is not, then one sentence why.";

/// Compiles `spec` to a validated plan. Every named model must be configured and usable
/// (else a `ConfigError`, exit code 2); `auto` lets the router pick per step.
pub fn compile(spec: &ModeSpec, router: &Router) -> Result<Plan, CoopError> {
    for m in spec.models.iter().chain(&spec.judge) {
        check_model(router, m)?;
    }
    check_options(spec)?;
    let mut c = Compiler {
        spec,
        router,
        ids: HashSet::new(),
        steps: Vec::new(),
    };
    let (output, cascade) = match spec.mode {
        Mode::Sequential => (c.sequential(), None),
        Mode::Parallel => (c.parallel(), None),
        Mode::Voting => (c.voting(), None),
        Mode::Pipeline => {
            if let Some(w) = &spec.workflow {
                let plan = w
                    .to_plan(&spec.models, spec.max_tokens, spec.temperature)
                    .map_err(CoopError::Invalid)?;
                for s in plan.model_steps() {
                    check_model(router, s.model_name().unwrap_or("auto"))?;
                }
                return Ok(plan);
            }
            (c.pipeline(), None)
        }
        Mode::Ensemble => (c.ensemble(), None),
        Mode::Cascade => {
            let (output, cascade) = c.cascade()?;
            (output, Some(cascade))
        }
    };
    let mut steps = c.steps;
    vary_repeats(&mut steps, router);
    let plan = Plan {
        mode: spec.mode,
        name: None,
        steps,
        output,
        cascade,
    };
    plan.validate().map_err(|e| {
        CoopError::Invalid(ConfigError::Usage(format!(
            "The `{}` plan is invalid: {e}",
            spec.mode
        )))
    })?;
    Ok(plan)
}

/// The temperature repeated members of a greedy model (temperature 0) sample at.
pub const REPEAT_TEMPERATURE: f32 = 0.7;

/// Repeated members (`--models m,m,m`: steps of one model in one role) would otherwise send
/// identical requests, and a vote among them would count one answer several times. Each copy
/// gets its own seed (1, 2, …), and when the temperature that applies is 0 (`--temperature`,
/// else the model's configured default), the copies sample at [`REPEAT_TEMPERATURE`]
/// instead. An unset temperature is the upstream's default, which samples already (OpenAI,
/// Anthropic and the local runner default to 1). The plan and the receipt show both.
fn vary_repeats(steps: &mut [Step], router: &Router) {
    let mut groups: std::collections::HashMap<(String, String), Vec<usize>> =
        std::collections::HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        if let Some(model) = s.model_name() {
            groups
                .entry((model.to_owned(), s.role.clone()))
                .or_default()
                .push(i);
        }
    }
    for ((model, _), members) in groups {
        if members.len() < 2 {
            continue;
        }
        let configured = router
            .model_configs()
            .iter()
            .find(|m| m.name == model)
            .and_then(|m| m.temperature);
        for (k, i) in members.into_iter().enumerate() {
            if let StepKind::Model {
                temperature,
                seed,
                temperature_raised,
                ..
            } = &mut steps[i].kind
            {
                *seed = Some(k as u64 + 1);
                if temperature.or(configured) == Some(0.0) {
                    *temperature = Some(REPEAT_TEMPERATURE);
                    *temperature_raised = true;
                }
            }
        }
    }
}

fn usage(message: String) -> CoopError {
    CoopError::Invalid(ConfigError::Usage(message))
}

/// Every named model must be configured and have a usable deployment (`auto` always is).
pub fn check_models<'a>(
    router: &Router,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<(), CoopError> {
    names.into_iter().try_for_each(|n| check_model(router, n))
}

fn check_model(router: &Router, name: &str) -> Result<(), CoopError> {
    if !Router::is_explicit(name) {
        return Ok(());
    }
    router
        .decide(
            &ChatRequest::simple(name, None, ""),
            &Preferences::default(),
        )
        .map(|_| ())
        .map_err(|e| match e {
            RouteError::Config(c) => CoopError::Invalid(c),
            other => usage(other.to_string()),
        })
}

/// Options that do not apply to the mode are errors, not silently ignored.
fn check_options(spec: &ModeSpec) -> Result<(), CoopError> {
    let mode = spec.mode;
    let needs = |n: usize, what: &str| {
        if spec.models.len() < n && !(mode == Mode::Pipeline && spec.workflow.is_some()) {
            Err(usage(format!(
                "`{mode}` needs {what}; name them with `--models a,b,…` (a model may repeat)"
            )))
        } else {
            Ok(())
        }
    };
    match mode {
        Mode::Cascade => needs(2, "at least two models: cheaper ones and a stronger one")?,
        Mode::Pipeline if spec.workflow.is_some() => {}
        _ => needs(1, "at least one model")?,
    }
    if spec.models.len() > 32 {
        return Err(usage(format!(
            "{} models is more than the 32 a cooperation may use",
            spec.models.len()
        )));
    }
    match (mode, spec.integration) {
        (_, None)
        | (Mode::Parallel, Some(_))
        | (Mode::Sequential, Some(Integration::Synthesize)) => {}
        (_, Some(i)) => {
            return Err(usage(format!(
                "`--integration {}` does not apply to `{mode}`; it is for `parallel` (concat, synthesize, best) and `sequential` (synthesize)",
                i.as_str()
            )));
        }
    }
    if spec.judge.is_some()
        && (mode == Mode::Pipeline || spec.integration == Some(Integration::Concat))
    {
        return Err(usage(format!(
            "`--judge` does not apply to `{mode}`{}",
            if mode == Mode::Parallel {
                " with `concat`"
            } else {
                ""
            }
        )));
    }
    if !(1..=MAX_ROUNDS).contains(&spec.rounds) {
        return Err(usage(format!(
            "`--rounds {}`: use 1 to {MAX_ROUNDS}",
            spec.rounds
        )));
    }
    if spec.rounds > 1 && mode != Mode::Voting {
        return Err(usage(format!(
            "`--rounds` applies to `voting`, not `{mode}`"
        )));
    }
    if !(1..=MAX_LAYERS).contains(&spec.layers) {
        return Err(usage(format!(
            "`--layers {}`: use 1 to {MAX_LAYERS}",
            spec.layers
        )));
    }
    if spec.workflow.is_some() && mode != Mode::Pipeline {
        return Err(usage(format!(
            "`--workflow` applies to `pipeline`, not `{mode}`"
        )));
    }
    Ok(())
}

struct Compiler<'a> {
    spec: &'a ModeSpec,
    router: &'a Router,
    ids: HashSet<String>,
    steps: Vec<Step>,
}

impl Compiler<'_> {
    /// Claims a fixed id (built-ins and integrators are named before members).
    fn fixed(&mut self, id: &str) -> String {
        self.ids.insert(id.to_owned());
        id.to_owned()
    }

    /// A unique id from a model name and a suffix: `a`, `a-2` (the second `a`), `a-r2`,
    /// `a-2-r2`.
    fn member(&mut self, model: &str, suffix: &str) -> String {
        let base = sanitize_id(model);
        let mut id = format!("{base}{suffix}");
        let mut n = 2;
        while id == "input" || !self.ids.insert(id.clone()) {
            id = format!("{base}-{n}{suffix}");
            n += 1;
        }
        id
    }

    fn model_step(&mut self, id: String, role: &str, model: &str, prompt: String) -> String {
        let mut step = Step::model(id.clone(), role, model, prompt);
        if let StepKind::Model {
            max_tokens,
            temperature,
            ..
        } = &mut step.kind
        {
            *max_tokens = self.spec.max_tokens;
            *temperature = self.spec.temperature;
        }
        self.steps.push(step);
        id
    }

    fn config(&self, name: &str) -> Option<&ModelConfig> {
        self.router.model_configs().iter().find(|m| m.name == name)
    }

    /// The highest tier, then the highest price, then the later-listed model.
    fn strongest(&self, models: &[String]) -> String {
        let key = |m: &String| {
            self.config(m)
                .map_or((0, 0.0), |c| (c.tier, c.price_in + c.price_out))
        };
        models
            .iter()
            .max_by(|a, b| {
                let (ta, pa) = key(a);
                let (tb, pb) = key(b);
                ta.cmp(&tb).then(pa.total_cmp(&pb))
            })
            .cloned()
            .unwrap_or_else(|| "auto".into())
    }

    /// The integrating model: `--judge`, else the strongest member.
    fn integrator(&self) -> String {
        self.spec
            .judge
            .clone()
            .unwrap_or_else(|| self.strongest(&self.spec.models))
    }

    /// At least half of `n`, rounded up.
    fn half(n: usize) -> usize {
        n.div_ceil(2).max(1)
    }

    fn sequential(&mut self) -> Vec<String> {
        let integrate =
            self.spec.judge.is_some() || self.spec.integration == Some(Integration::Synthesize);
        if integrate {
            self.fixed("versions");
            self.fixed("integrate");
        }
        let models = self.spec.models.clone();
        let mut done: Vec<String> = Vec::new();
        for (k, m) in models.iter().enumerate() {
            let id = self.member(m, "");
            let prompt = if k == 0 {
                "{{input}}".to_owned()
            } else {
                // The latest answer that exists: a failed link does not break the chain.
                let prev: Vec<&str> = done.iter().rev().map(String::as_str).collect();
                IMPROVE.replace("PREV", &prev.join("|"))
            };
            let role = if k == 0 { "answer" } else { "improve" };
            done.push(self.model_step(id, role, m, prompt));
        }
        if integrate {
            self.steps.push(Step::builtin(
                "versions",
                "collect",
                StepKind::Concat {
                    inputs: done,
                    min: 1,
                    labels: Labels::Numbered,
                },
            ));
            let judge = self.integrator();
            self.model_step("integrate".into(), "integrate", &judge, INTEGRATE.into());
            vec!["integrate".into()]
        } else {
            done.into_iter().rev().collect()
        }
    }

    /// One step per model (ids suffixed with `suffix`), then a concat of their answers that
    /// needs at least half of them; returns the member ids.
    fn members(
        &mut self,
        prompt: &str,
        concat: &str,
        labels: Labels,
        role: &str,
        suffix: &str,
    ) -> Vec<String> {
        let models = self.spec.models.clone();
        let ids: Vec<String> = models
            .iter()
            .map(|m| {
                let id = self.member(m, suffix);
                self.model_step(id, role, m, prompt.to_owned())
            })
            .collect();
        self.steps.push(Step::builtin(
            concat,
            "collect",
            StepKind::Concat {
                inputs: ids.clone(),
                min: Self::half(ids.len()),
                labels,
            },
        ));
        ids
    }

    fn parallel(&mut self) -> Vec<String> {
        let integration = self.spec.integration.unwrap_or(Integration::Synthesize);
        let answers = self.fixed("answers");
        match integration {
            Integration::Concat => {
                self.members("{{input}}", &answers, Labels::Models, "answer", "");
                vec![answers]
            }
            Integration::Synthesize => {
                let out = self.fixed("synthesize");
                self.members("{{input}}", &answers, Labels::Numbered, "answer", "");
                let m = self.integrator();
                self.model_step(
                    out.clone(),
                    "synthesize",
                    &m,
                    SYNTHESIZE.replace("ANSWERS", "answers"),
                );
                vec![out]
            }
            Integration::Best => {
                let judge = self.fixed("judge");
                let pick = self.fixed("pick");
                self.members("{{input}}", &answers, Labels::Numbered, "answer", "");
                let m = self.integrator();
                self.model_step(judge.clone(), "judge", &m, BEST.into());
                self.steps.push(Step::builtin(
                    pick.clone(),
                    "pick",
                    StepKind::Pick {
                        judge,
                        from: vec![answers],
                    },
                ));
                vec![pick]
            }
        }
    }

    fn voting(&mut self) -> Vec<String> {
        let rounds = self.spec.rounds as usize;
        let tally_id = |r: usize| {
            if r == 1 {
                "tally".to_owned()
            } else {
                format!("tally-r{r}")
            }
        };
        let tallies: Vec<String> = (1..=rounds).map(|r| self.fixed(&tally_id(r))).collect();
        let judged = self.spec.judge.is_some();
        if judged {
            self.fixed("judge");
            self.fixed("pick");
        }
        let models = self.spec.models.clone();
        for r in 1..=rounds {
            let suffix = if r == 1 {
                String::new()
            } else {
                format!("-r{r}")
            };
            let prompt = if r == 1 {
                VOTE.to_owned()
            } else {
                REVOTE.replace("TALLY", &format!("{}.tally", tallies[r - 2]))
            };
            // Later rounds run only while the previous round disagrees.
            let when = (r > 1).then(|| Condition::Disagree(vec![tallies[r - 2].clone()]));
            let ids: Vec<String> = models
                .iter()
                .map(|m| {
                    let id = self.member(m, &suffix);
                    self.model_step(
                        id,
                        if r == 1 { "vote" } else { "revote" },
                        m,
                        prompt.clone(),
                    )
                })
                .collect();
            if let Some(w) = &when {
                for id in &ids {
                    self.set_when(id, w.clone());
                }
            }
            let mut tally = Step::builtin(
                tallies[r - 1].clone(),
                "tally",
                StepKind::Tally {
                    min: Self::half(ids.len()),
                    inputs: ids,
                },
            );
            tally.when = when;
            self.steps.push(tally);
        }
        // The last round that ran decides; the judge breaks its tie.
        let latest: Vec<String> = tallies.iter().rev().cloned().collect();
        let mut output = Vec::new();
        if judged {
            let alternatives: Vec<String> = latest.iter().map(|t| format!("{t}.tally")).collect();
            let judge = self.spec.judge.clone().unwrap_or_default();
            let id = self.model_step(
                "judge".into(),
                "judge",
                &judge,
                TIE_JUDGE.replace("TALLY", &alternatives.join("|")),
            );
            self.set_when(&id, Condition::Tie(latest.clone()));
            self.steps.push(
                Step::builtin(
                    "pick",
                    "pick",
                    StepKind::Pick {
                        judge: id,
                        from: latest.clone(),
                    },
                )
                .when(Condition::Tie(latest.clone())),
            );
            output.push("pick".to_owned());
        }
        output.extend(latest);
        output
    }

    fn set_when(&mut self, id: &str, c: Condition) {
        if let Some(s) = self.steps.iter_mut().find(|s| s.id == id) {
            s.when = Some(c);
        }
    }

    fn pipeline(&mut self) -> Vec<String> {
        let models = &self.spec.models;
        let pick = |k: usize| {
            models
                .get(k)
                .or(models.first())
                .cloned()
                .unwrap_or_default()
        };
        // Two models: the first drafts and revises, the second critiques.
        let (draft, critique, revise) = match models.len() {
            1 => (pick(0), pick(0), pick(0)),
            2 => (pick(0), pick(1), pick(0)),
            _ => (pick(0), pick(1), pick(2)),
        };
        self.model_step("draft".into(), "draft", &draft, "{{input}}".into());
        self.model_step("critique".into(), "critique", &critique, CRITIQUE.into());
        self.model_step("revise".into(), "revise", &revise, REVISE.into());
        vec!["revise".into()]
    }

    fn ensemble(&mut self) -> Vec<String> {
        let layers = self.spec.layers as usize;
        let concat_ids: Vec<String> = (1..=layers)
            .map(|l| self.fixed(&format!("layer{l}")))
            .collect();
        let out = self.fixed("aggregate");
        for l in 1..=layers {
            let prompt = if l == 1 {
                "{{input}}".to_owned()
            } else {
                PROPOSE_AGAIN.replace("LAYER", &concat_ids[l - 2])
            };
            self.members(
                &prompt,
                &concat_ids[l - 1],
                Labels::Numbered,
                "propose",
                &format!("-l{l}"),
            );
        }
        let m = self.integrator();
        let last = concat_ids.last().cloned().unwrap_or_default();
        self.model_step(
            out.clone(),
            "aggregate",
            &m,
            SYNTHESIZE.replace("ANSWERS", &last),
        );
        vec![out]
    }

    fn cascade(&mut self) -> Result<(Vec<String>, CascadeSteps), CoopError> {
        let strong = self.strongest(&self.spec.models);
        let mut cheap: Vec<String> = self.spec.models.clone();
        if let Some(k) = cheap.iter().rposition(|m| *m == strong) {
            cheap.remove(k);
        }
        if cheap.iter().all(|m| *m == strong) {
            return Err(usage(format!(
                "`cascade` needs cheaper models and a stronger one to escalate to; only `{strong}` is named"
            )));
        }
        // Cheapest first (the order they are listed in the receipt).
        let price = |m: &String| self.config(m).map_or(0.0, |c| c.price_in + c.price_out);
        cheap.sort_by(|a, b| price(a).total_cmp(&price(b)));
        let tally = self.fixed("tally");
        let escalate = self.fixed("escalate");
        let verifier = self
            .spec
            .judge
            .clone()
            .or_else(|| (cheap.len() == 1).then(|| cheap[0].clone()));
        let verify = verifier.as_ref().map(|_| self.fixed("verify"));
        let ids: Vec<String> = cheap
            .iter()
            .map(|m| {
                let id = self.member(m, "");
                self.model_step(id, "cheap", m, VOTE.into())
            })
            .collect();
        self.steps.push(Step::builtin(
            tally.clone(),
            "tally",
            StepKind::Tally {
                inputs: ids.clone(),
                min: 1,
            },
        ));
        let mut escalate_when = vec![Condition::Disagree(vec![tally.clone()])];
        if let (Some(v), Some(model)) = (&verify, &verifier) {
            self.model_step(v.clone(), "verify", model, VERIFY.into());
            // Only an agreed answer is worth verifying.
            self.set_when(v, Condition::Unanimous(vec![tally.clone()]));
            escalate_when.push(Condition::Rejected(vec![v.clone()]));
        }
        self.model_step(escalate.clone(), "escalate", &strong, "{{input}}".into());
        self.set_when(&escalate, Condition::Any(escalate_when));
        Ok((
            vec![escalate.clone(), tally.clone()],
            CascadeSteps {
                cheap: ids,
                tally,
                verify,
                strong: escalate,
                strong_model: strong,
            },
        ))
    }
}
