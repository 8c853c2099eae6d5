//! When the router may hand a request to several models: a complex request (with
//! `allow_cooperation`) becomes a cooperation of the models it ranked highest.

use super::{Integration, Mode, ModeSpec};
use crate::config::Task;
use crate::router::Decision;

/// Complexity above which `allow_cooperation` turns a request into a cooperation.
pub const COOPERATE_ABOVE: f32 = 0.6;

/// A cooperation for a complex request the router ranked: voting among the top three for
/// tasks with one right answer, otherwise the top two or three answering in parallel and the
/// best of them merging the answers.
pub fn for_decision(decision: &Decision) -> Option<ModeSpec> {
    if decision.analysis.complexity < COOPERATE_ABOVE || decision.order().len() < 2 {
        return None;
    }
    let top: Vec<String> = decision
        .order()
        .iter()
        .take(3)
        .map(|m| m.to_string())
        .collect();
    let mut spec = match decision.analysis.task {
        Task::Math if top.len() >= 3 => ModeSpec::new(Mode::Voting, top),
        _ => {
            let mut s = ModeSpec::new(Mode::Parallel, top);
            s.integration = Some(Integration::Synthesize);
            s
        }
    };
    spec.judge = decision.order().first().map(|m| m.to_string());
    Some(spec)
}
