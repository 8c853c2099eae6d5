//! Plans: a DAG of steps that every cooperation mode compiles to, and its validation.
//!
//! A step is a model call (a prompt template over `{{input}}` and earlier steps' outputs) or
//! a built-in computation (concatenate answers, tally votes, take a judge's pick). Any step
//! may carry a run condition (`when`) over earlier tallies or verifiers, so voting ties,
//! cascades and judges live in the same graph as everything else. [`Plan::validate`] rejects
//! cycles and references to missing steps before anything runs, naming the step.
//!
//! Template references: `{{input}}` is the task; `{{id}}` is step `id`'s output; `{{id.tally}}`
//! is tally step `id`'s numbered options with their votes; `{{a|b}}` is the first of `a`, `b`
//! that finished (so a chain survives a failed link). A model step runs only when each of its
//! references has one finished alternative; otherwise it is skipped.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use serde::Serialize;

use super::Mode;

/// A DAG of steps and where its result comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub mode: Mode,
    /// A workflow's name, when the plan came from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub steps: Vec<Step>,
    /// The result is the output of the first of these steps that finished.
    pub output: Vec<String>,
    /// For a cascade: which steps are the cheap tier and which is the strong model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cascade: Option<CascadeSteps>,
}

/// The parts of a cascade the receipt reports on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CascadeSteps {
    pub cheap: Vec<String>,
    pub tally: String,
    pub verify: Option<String>,
    pub strong: String,
    /// The strong model's configured name (its prices give the direct cost).
    pub strong_model: String,
}

/// One node of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Unique in the plan: letters, digits, `_` and `-`.
    pub id: String,
    /// What the step does, in a word (`answer`, `critique`, `judge`, `tally`, …).
    pub role: String,
    #[serde(flatten)]
    pub kind: StepKind,
    /// Steps that must finish successfully first, besides those the template names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Run only when this holds; otherwise the step is skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
}

/// A model call or a built-in computation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// Ask `model` (a configured name, or `auto` for the router's pick).
    Model {
        model: String,
        /// The user message, a template.
        prompt: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        system: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max_tokens: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        temperature: Option<f32>,
        /// The sampling seed: set on repeated members (`--models m,m,m`) so that each copy
        /// samples its own answer.
        #[serde(skip_serializing_if = "Option::is_none")]
        seed: Option<u64>,
        /// `temperature` was raised from 0 because this step repeats a member.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        temperature_raised: bool,
    },
    /// The finished inputs' outputs, one after another; fails with fewer than `min`.
    Concat {
        inputs: Vec<String>,
        min: usize,
        /// Headed by model name (for people) or numbered `Answer N` (for a judge, who
        /// should not know which model wrote what).
        labels: Labels,
    },
    /// Extracts each finished input's final answer, normalises and counts them; fails with
    /// fewer than `min` votes. Its output is the first full answer for the winner.
    Tally { inputs: Vec<String>, min: usize },
    /// The answer a judge step chose among the options of the first finished step of `from`
    /// (a concat or a tally), with the judge's reason.
    Pick { judge: String, from: Vec<String> },
}

/// How a concat labels its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Labels {
    Models,
    Numbered,
}

/// When a step runs. Each refers to steps by id; the first of them that finished is read.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "if", content = "steps", rename_all = "snake_case")]
pub enum Condition {
    /// The tally's votes are split (or no tally finished).
    Disagree(Vec<String>),
    /// Every vote of the tally is for one answer.
    Unanimous(Vec<String>),
    /// The tally's top answers have equal votes.
    Tie(Vec<String>),
    /// The verifier rejected, answered unclearly, or did not finish.
    Rejected(Vec<String>),
    /// Any of these holds.
    Any(Vec<Condition>),
}

impl Condition {
    /// Every step id the condition reads.
    pub fn refs(&self) -> Vec<&str> {
        match self {
            Condition::Disagree(s)
            | Condition::Unanimous(s)
            | Condition::Tie(s)
            | Condition::Rejected(s) => s.iter().map(String::as_str).collect(),
            Condition::Any(cs) => cs.iter().flat_map(Condition::refs).collect(),
        }
    }
}

/// A plan that cannot run, and the step at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step `{step}`: {message}")]
pub struct PlanError {
    pub step: String,
    pub message: String,
}

impl PlanError {
    fn new(step: &str, message: impl Into<String>) -> Self {
        PlanError {
            step: step.to_owned(),
            message: message.into(),
        }
    }
}

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// Alternatives, the first finished one is used.
    Ref(Vec<Ref<'a>>),
}

/// One reference inside `{{…}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ref<'a> {
    Input,
    Output(&'a str),
    Tally(&'a str),
}

impl<'a> Ref<'a> {
    pub fn step(&self) -> Option<&'a str> {
        match *self {
            Ref::Input => None,
            Ref::Output(s) | Ref::Tally(s) => Some(s),
        }
    }
}

/// Splits a template into text and references; an error says what is malformed.
pub fn parse_template(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            pieces.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| {
            format!(
                "`{{{{` without `}}}}` in the template near `{}`",
                clip(&rest[open..])
            )
        })?;
        let inner = after[..close].trim();
        if inner.is_empty() {
            return Err("an empty `{{}}` in the template".into());
        }
        let mut alternatives = Vec::new();
        for name in inner.split('|').map(str::trim) {
            let r = if name == "input" {
                Ref::Input
            } else if let Some(step) = name.strip_suffix(".tally") {
                Ref::Tally(step)
            } else {
                Ref::Output(name)
            };
            if let Some(step) = r.step()
                && !valid_id(step)
            {
                return Err(format!(
                    "`{{{{{inner}}}}}` names `{name}`; a reference is `input`, a step id, or `<id>.tally`, alternatives separated by `|`"
                ));
            }
            alternatives.push(r);
        }
        pieces.push(Piece::Ref(alternatives));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

fn clip(s: &str) -> String {
    s.chars().take(24).collect()
}

/// Letters, digits, `_` and `-`; not `input`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id != "input"
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A step id made from free text (a model name): other characters become `_`.
pub fn sanitize_id(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Step {
    /// A model call.
    pub fn model(
        id: impl Into<String>,
        role: &str,
        model: &str,
        prompt: impl Into<String>,
    ) -> Step {
        Step {
            id: id.into(),
            role: role.to_owned(),
            kind: StepKind::Model {
                model: model.to_owned(),
                prompt: prompt.into(),
                system: None,
                max_tokens: None,
                temperature: None,
                seed: None,
                temperature_raised: false,
            },
            depends_on: Vec::new(),
            when: None,
        }
    }

    /// A built-in step.
    pub fn builtin(id: impl Into<String>, role: &str, kind: StepKind) -> Step {
        Step {
            id: id.into(),
            role: role.to_owned(),
            kind,
            depends_on: Vec::new(),
            when: None,
        }
    }

    pub fn when(mut self, condition: Condition) -> Step {
        self.when = Some(condition);
        self
    }

    pub fn is_model(&self) -> bool {
        matches!(self.kind, StepKind::Model { .. })
    }

    /// The model a model step calls.
    pub fn model_name(&self) -> Option<&str> {
        match &self.kind {
            StepKind::Model { model, .. } => Some(model),
            _ => None,
        }
    }

    /// Every step this one reads or waits for, deduplicated, in order of mention.
    pub fn refs(&self) -> Vec<&str> {
        let mut all: Vec<&str> = Vec::new();
        match &self.kind {
            StepKind::Model { prompt, system, .. } => {
                for t in std::iter::once(prompt).chain(system) {
                    for piece in parse_template(t).unwrap_or_default() {
                        if let Piece::Ref(alts) = piece {
                            all.extend(alts.iter().filter_map(Ref::step));
                        }
                    }
                }
            }
            StepKind::Concat { inputs, .. } | StepKind::Tally { inputs, .. } => {
                all.extend(inputs.iter().map(String::as_str));
            }
            StepKind::Pick { judge, from } => {
                all.push(judge);
                all.extend(from.iter().map(String::as_str));
            }
        }
        all.extend(self.depends_on.iter().map(String::as_str));
        if let Some(c) = &self.when {
            all.extend(c.refs());
        }
        let mut out: Vec<&str> = Vec::with_capacity(all.len());
        for s in all {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }

    /// For a model step: groups of steps of which at least one must have succeeded for the
    /// step to run (each template reference, and each `depends_on` alone). A reference with
    /// `input` as an alternative is always satisfied.
    pub fn required(&self) -> Vec<Vec<&str>> {
        let mut groups = Vec::new();
        if let StepKind::Model { prompt, system, .. } = &self.kind {
            for t in std::iter::once(prompt).chain(system) {
                for piece in parse_template(t).unwrap_or_default() {
                    if let Piece::Ref(alts) = piece
                        && !alts.contains(&Ref::Input)
                    {
                        groups.push(alts.iter().filter_map(Ref::step).collect());
                    }
                }
            }
        }
        groups.extend(self.depends_on.iter().map(|d| vec![d.as_str()]));
        groups
    }
}

impl Plan {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The model steps, in plan order.
    pub fn model_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.is_model())
    }

    /// Checks ids, references, templates, inputs and the absence of cycles. The error names
    /// the first step at fault.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.steps.is_empty() {
            return Err(PlanError::new("-", "the plan has no steps"));
        }
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, s) in self.steps.iter().enumerate() {
            if !valid_id(&s.id) {
                return Err(PlanError::new(
                    &s.id,
                    "a step id is letters, digits, `_` and `-` (and not `input`)",
                ));
            }
            if index.insert(&s.id, i).is_some() {
                return Err(PlanError::new(&s.id, "two steps have this id"));
            }
        }
        let kind_of = |id: &str| index.get(id).map(|&i| &self.steps[i].kind);
        for s in &self.steps {
            let missing = |r: &str| {
                PlanError::new(
                    &s.id,
                    format!("refers to `{r}`, which is not a step of the plan"),
                )
            };
            match &s.kind {
                StepKind::Model {
                    model,
                    prompt,
                    system,
                    ..
                } => {
                    if model.trim().is_empty() {
                        return Err(PlanError::new(&s.id, "no model named"));
                    }
                    for t in std::iter::once(prompt).chain(system) {
                        let pieces = parse_template(t).map_err(|m| PlanError::new(&s.id, m))?;
                        for piece in pieces {
                            let Piece::Ref(alts) = piece else { continue };
                            for r in alts {
                                match r {
                                    Ref::Input => {}
                                    Ref::Output(id) => {
                                        kind_of(id).ok_or_else(|| missing(id))?;
                                    }
                                    Ref::Tally(id) => match kind_of(id) {
                                        None => return Err(missing(id)),
                                        Some(StepKind::Tally { .. }) => {}
                                        Some(_) => {
                                            return Err(PlanError::new(
                                                &s.id,
                                                format!(
                                                    "`{{{{{id}.tally}}}}`: `{id}` is not a tally step"
                                                ),
                                            ));
                                        }
                                    },
                                }
                            }
                        }
                    }
                }
                StepKind::Concat { inputs, min, .. } | StepKind::Tally { inputs, min } => {
                    if inputs.is_empty() {
                        return Err(PlanError::new(&s.id, "has no inputs"));
                    }
                    if *min == 0 || *min > inputs.len() {
                        return Err(PlanError::new(
                            &s.id,
                            format!(
                                "needs {min} of {} inputs; use 1 to {}",
                                inputs.len(),
                                inputs.len()
                            ),
                        ));
                    }
                }
                StepKind::Pick { judge, from } => {
                    if !matches!(kind_of(judge), Some(StepKind::Model { .. })) {
                        return Err(match kind_of(judge) {
                            None => missing(judge),
                            Some(_) => PlanError::new(
                                &s.id,
                                format!("the judge `{judge}` is not a model step"),
                            ),
                        });
                    }
                    if from.is_empty() {
                        return Err(PlanError::new(&s.id, "picks from nothing"));
                    }
                    for f in from {
                        match kind_of(f) {
                            None => return Err(missing(f)),
                            Some(StepKind::Concat { .. } | StepKind::Tally { .. }) => {}
                            Some(_) => {
                                return Err(PlanError::new(
                                    &s.id,
                                    format!("picks from `{f}`, which is not a concat or a tally"),
                                ));
                            }
                        }
                    }
                }
            }
            if let Some(c) = &s.when {
                check_condition(c, &s.id, &kind_of)?;
            }
            for r in s.refs() {
                if !index.contains_key(r) {
                    return Err(missing(r));
                }
            }
        }
        if self.output.is_empty() {
            return Err(PlanError::new("-", "the plan names no output step"));
        }
        for o in &self.output {
            if !index.contains_key(o.as_str()) {
                return Err(PlanError::new(
                    o,
                    format!("the output `{o}` is not a step of the plan"),
                ));
            }
        }
        self.check_acyclic(&index)
    }

    /// Depth-first search; a back edge is a cycle, reported with its path.
    fn check_acyclic(&self, index: &HashMap<&str, usize>) -> Result<(), PlanError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        let deps: Vec<Vec<usize>> = self
            .steps
            .iter()
            .map(|s| s.refs().iter().map(|r| index[r]).collect())
            .collect();
        let mut mark = vec![Mark::New; self.steps.len()];
        for root in 0..self.steps.len() {
            if mark[root] != Mark::New {
                continue;
            }
            // (node, next dependency to visit)
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            mark[root] = Mark::Open;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&dep) = deps[node].get(*next) {
                    *next += 1;
                    match mark[dep] {
                        Mark::New => {
                            mark[dep] = Mark::Open;
                            stack.push((dep, 0));
                        }
                        Mark::Open => {
                            let start = stack.iter().position(|&(n, _)| n == dep).unwrap_or(0);
                            let mut path: Vec<&str> = stack[start..]
                                .iter()
                                .map(|&(n, _)| self.steps[n].id.as_str())
                                .collect();
                            path.reverse();
                            path.insert(0, &self.steps[dep].id);
                            let path: Vec<String> = path.iter().map(|p| format!("`{p}`")).collect();
                            return Err(PlanError::new(
                                &self.steps[dep].id,
                                format!(
                                    "is part of a cycle ({}); a step can only use steps that finish before it",
                                    path.join(" → ")
                                ),
                            ));
                        }
                        Mark::Done => {}
                    }
                } else {
                    mark[node] = Mark::Done;
                    stack.pop();
                }
            }
        }
        Ok(())
    }

    /// Step ids in an order where every step comes after the steps it uses (plan order
    /// among independent steps). Only for a validated plan.
    pub fn topological(&self) -> Vec<usize> {
        let index: HashMap<&str, usize> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let mut placed: BTreeSet<usize> = BTreeSet::new();
        let mut order = Vec::with_capacity(self.steps.len());
        while order.len() < self.steps.len() {
            let before = order.len();
            for (i, s) in self.steps.iter().enumerate() {
                if !placed.contains(&i) && s.refs().iter().all(|r| placed.contains(&index[r])) {
                    placed.insert(i);
                    order.push(i);
                }
            }
            if order.len() == before {
                break;
            }
        }
        order
    }
}

fn check_condition<'p>(
    c: &Condition,
    step: &str,
    kind_of: &impl Fn(&str) -> Option<&'p StepKind>,
) -> Result<(), PlanError> {
    let (refs, want_tally) = match c {
        Condition::Disagree(r) | Condition::Unanimous(r) | Condition::Tie(r) => (r, true),
        Condition::Rejected(r) => (r, false),
        Condition::Any(cs) => {
            for c in cs {
                check_condition(c, step, kind_of)?;
            }
            return Ok(());
        }
    };
    if refs.is_empty() {
        return Err(PlanError::new(step, "a condition names no step"));
    }
    for r in refs {
        match kind_of(r) {
            None => {
                return Err(PlanError::new(
                    step,
                    format!("its condition refers to `{r}`, which is not a step of the plan"),
                ));
            }
            Some(StepKind::Tally { .. }) if want_tally => {}
            Some(StepKind::Model { .. }) if !want_tally => {}
            Some(_) => {
                let want = if want_tally {
                    "a tally"
                } else {
                    "a model (verifier) step"
                };
                return Err(PlanError::new(
                    step,
                    format!("its condition reads `{r}`, which is not {want}"),
                ));
            }
        }
    }
    Ok(())
}

impl fmt::Display for Plan {
    /// One line per step: `id (role): model or builtin ← dependencies [when …]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            let what = match &s.kind {
                StepKind::Model { model, .. } => format!("model `{model}`"),
                StepKind::Concat { min, inputs, .. } => format!("concat ≥{min}/{}", inputs.len()),
                StepKind::Tally { min, inputs } => format!("tally ≥{min}/{}", inputs.len()),
                StepKind::Pick { judge, .. } => format!("pick by `{judge}`"),
            };
            write!(f, "{} ({}): {what}", s.id, s.role)?;
            let refs = s.refs();
            if !refs.is_empty() {
                write!(f, " ← {}", refs.join(", "))?;
            }
            if let Some(c) = &s.when {
                write!(f, " [when {}]", condition_text(c))?;
            }
            writeln!(f)?;
        }
        write!(f, "output: {}", self.output.join(" | "))
    }
}

fn condition_text(c: &Condition) -> String {
    match c {
        Condition::Disagree(r) => format!("{} disagrees", r.join("|")),
        Condition::Unanimous(r) => format!("{} is unanimous", r.join("|")),
        Condition::Tie(r) => format!("{} is tied", r.join("|")),
        Condition::Rejected(r) => format!("{} rejects", r.join("|")),
        Condition::Any(cs) => cs
            .iter()
            .map(condition_text)
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// An `f32` option (a temperature, `top_p`) as the `f64` the JSON request carries, with the
/// digits it was written with: `0.7`, not `f64::from(0.7f32)` = `0.699999988079071`.
pub fn as_written(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(steps: Vec<Step>, output: &str) -> Plan {
        Plan {
            mode: Mode::Pipeline,
            name: None,
            steps,
            output: vec![output.into()],
            cascade: None,
        }
    }

    #[test]
    fn templates_parse_references_and_alternatives() {
        let pieces = parse_template("Q: {{input}}\nA: {{ b | a }} {{t.tally}}").unwrap();
        assert_eq!(
            pieces,
            vec![
                Piece::Text("Q: "),
                Piece::Ref(vec![Ref::Input]),
                Piece::Text("\nA: "),
                Piece::Ref(vec![Ref::Output("b"), Ref::Output("a")]),
                Piece::Text(" "),
                Piece::Ref(vec![Ref::Tally("t")]),
            ]
        );
        assert!(parse_template("{{input").unwrap_err().contains("without"));
        assert!(parse_template("{{ }}").is_err());
        assert!(parse_template("{{a b}}").unwrap_err().contains("`a b`"));
    }

    #[test]
    fn a_cycle_is_rejected_naming_a_step_in_it() {
        let p = plan(
            vec![
                Step::model("a", "draft", "m", "{{input}} {{c}}"),
                Step::model("b", "critique", "m", "{{a}}"),
                Step::model("c", "revise", "m", "{{b}}"),
            ],
            "c",
        );
        let e = p.validate().unwrap_err();
        assert!(["a", "b", "c"].contains(&e.step.as_str()), "{e}");
        assert!(e.message.contains("cycle"), "{e}");
        assert!(
            e.message.contains("`a` → `b` → `c` → `a`") || e.message.contains('→'),
            "{e}"
        );
        // A step that depends on itself.
        let p = plan(vec![Step::model("a", "x", "m", "{{a}}")], "a");
        assert_eq!(p.validate().unwrap_err().step, "a");
    }

    #[test]
    fn a_missing_step_is_rejected_naming_the_step_that_refers_to_it() {
        let p = plan(
            vec![
                Step::model("a", "draft", "m", "{{input}}"),
                Step::model("b", "critique", "m", "{{a}} {{nope}}"),
            ],
            "b",
        );
        let e = p.validate().unwrap_err();
        assert_eq!(e.step, "b");
        assert!(e.message.contains("`nope`"), "{e}");

        let mut s = Step::model("b", "x", "m", "{{input}}");
        s.depends_on = vec!["ghost".into()];
        let e = plan(vec![s], "b").validate().unwrap_err();
        assert_eq!(
            (e.step.as_str(), e.message.contains("`ghost`")),
            ("b", true)
        );

        let e = plan(vec![Step::model("a", "x", "m", "{{input}}")], "z")
            .validate()
            .unwrap_err();
        assert_eq!(e.step, "z");

        let t = Step::builtin(
            "t",
            "tally",
            StepKind::Tally {
                inputs: vec!["a".into()],
                min: 1,
            },
        );
        let judge =
            Step::model("j", "judge", "m", "{{t.tally}}").when(Condition::Tie(vec!["a".into()]));
        let e = plan(vec![Step::model("a", "x", "m", "{{input}}"), t, judge], "j")
            .validate()
            .unwrap_err();
        assert_eq!(e.step, "j");
        assert!(e.message.contains("not a tally"), "{e}");
    }

    #[test]
    fn valid_plans_pass_and_sort_topologically() {
        let p = plan(
            vec![
                Step::model("c", "revise", "m", "{{b|a}}"),
                Step::model("a", "draft", "m", "{{input}}"),
                Step::model("b", "critique", "m", "{{a}}"),
            ],
            "c",
        );
        p.validate().unwrap();
        let order: Vec<&str> = p
            .topological()
            .iter()
            .map(|&i| p.steps[i].id.as_str())
            .collect();
        assert_eq!(order, vec!["a", "b", "c"]);
        assert_eq!(p.steps[0].required(), vec![vec!["b", "a"]]);
        assert!(p.steps[1].required().is_empty());
    }
}
