//! Cooperation on a terminal: one live line per model step (waiting, running with tokens so
//! far, done, failed, skipped), and the receipt as a table afterwards. Nothing is drawn when
//! stderr is not a terminal.

use std::io;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::cooperation::{
    DecidedBy, Plan, Progress, Receipt, RunStatus, StepReceipt, StepStatus, answer,
};

/// Live lines for a plan's model steps.
pub struct CooperationView {
    multi: MultiProgress,
    /// Index-aligned with `plan.steps`; `None` for built-in steps.
    bars: Vec<Option<ProgressBar>>,
}

impl std::fmt::Debug for CooperationView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CooperationView").finish_non_exhaustive()
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("valid template")
}

impl CooperationView {
    /// A line per model step, all `waiting`; hidden unless stderr is a terminal.
    pub fn new(plan: &Plan) -> Self {
        let visible = super::stderr_is_terminal();
        let multi = if visible {
            MultiProgress::new()
        } else {
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
        };
        // `id · model`, or just the id when it is the model's name.
        let label = |s: &crate::cooperation::Step| match s.model_name() {
            Some(m) if m != s.id => format!("{} · {m}", s.id),
            _ => s.id.clone(),
        };
        let width = plan
            .model_steps()
            .map(|s| label(s).chars().count())
            .max()
            .unwrap_or(0);
        let bars = plan
            .steps
            .iter()
            .map(|s| {
                s.model_name()?;
                if !visible {
                    return Some(ProgressBar::hidden());
                }
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style("{prefix} {wide_msg}"));
                bar.set_prefix(format!("{:<width$}", label(s)));
                bar.set_message(dim("waiting"));
                Some(bar)
            })
            .collect();
        CooperationView { multi, bars }
    }

    /// Updates the line of the step an event is about.
    pub fn apply(&self, event: &Progress) {
        let step = match event {
            Progress::Started { step, .. }
            | Progress::Tokens { step, .. }
            | Progress::Finished { step, .. } => *step,
        };
        let Some(Some(bar)) = self.bars.get(step) else {
            return;
        };
        match event {
            Progress::Started { .. } => {
                bar.set_style(style("{prefix} {spinner} {msg} {elapsed:.dim}"));
                bar.set_message("running");
                bar.enable_steady_tick(Duration::from_millis(100));
            }
            Progress::Tokens { tokens, .. } => {
                let unit = if *tokens == 1 { "token" } else { "tokens" };
                bar.set_message(format!("running · {tokens} {unit}"));
            }
            Progress::Finished {
                status,
                latency,
                output_tokens,
                cost_usd,
                error,
                ..
            } => {
                bar.set_style(style("{prefix} {wide_msg}"));
                let text = match status {
                    StepStatus::Done => super::good(&format!(
                        "✓ done · {output_tokens} tokens · {} · {}",
                        latency.map_or("-".into(), |l| secs(l.as_secs_f64())),
                        usd(*cost_usd)
                    )),
                    StepStatus::Failed => super::bad(&format!(
                        "✗ failed: {}",
                        answer::clip(error.as_deref().unwrap_or(""), 80)
                    )),
                    StepStatus::Skipped => dim("– skipped"),
                    StepStatus::Cancelled => dim("✗ cancelled"),
                };
                bar.finish_with_message(text);
            }
        }
    }

    /// Applies events until the run drops its sender, then removes the lines (the receipt
    /// table replaces them).
    pub async fn drive(self, mut events: UnboundedReceiver<Progress>) {
        while let Some(event) = events.recv().await {
            self.apply(&event);
        }
        self.clear();
    }

    pub fn clear(&self) {
        for bar in self.bars.iter().flatten() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

fn dim(text: &str) -> String {
    if super::color() {
        console::style(text).dim().to_string()
    } else {
        text.to_owned()
    }
}

fn secs(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    }
}

fn usd(x: f64) -> String {
    if x == 0.0 {
        "$0".into()
    } else if x < 0.01 {
        format!("${x:.6}")
    } else {
        format!("${x:.4}")
    }
}

/// What a step's row shows in the last column.
fn result_cell(s: &StepReceipt) -> String {
    if let Some(v) = &s.vote {
        return format!("vote: {}", answer::clip(&v.answer, 40));
    }
    if let Some(e) = &s.error {
        return answer::clip(e, 70);
    }
    if let Some(n) = &s.note {
        return answer::clip(n, 70);
    }
    answer::clip(&s.output.replace('\n', " "), 50)
}

/// After a run that succeeded: on a terminal (and without `--json`), the receipt table;
/// otherwise one warning per failed member on stderr, so a pipe (where the answer alone goes
/// to stdout) still learns that the answer was made without them.
pub fn finished(receipt: &Receipt, json: bool) {
    if !json && super::stderr_is_terminal() {
        receipt_table(receipt);
        return;
    }
    for s in receipt
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
    {
        super::warn(&failed_member(s));
    }
}

/// `member `b` (m2 on `fake`) failed: HTTP 500 …`, on one line.
fn failed_member(s: &StepReceipt) -> String {
    let on = match (&s.model, &s.provider) {
        (Some(m), Some(p)) => format!(" ({m} on `{p}`)"),
        (Some(m), None) => format!(" ({m})"),
        _ => String::new(),
    };
    let error = s.error.as_deref().unwrap_or("no answer").replace('\n', " ");
    format!("member `{}`{on} failed: {error}", s.id)
}

/// The receipt as a table on stderr, with its totals and how the result was decided.
pub fn receipt_table(receipt: &Receipt) {
    let (table, notes) = receipt_text(receipt, super::stderr_is_terminal());
    eprintln!("{table}");
    for n in notes {
        super::note(&n);
    }
}

/// The receipt's table (sized for a terminal when `terminal`) and the lines that follow it:
/// totals, votes, the judge's choice, what a cascade decided.
pub fn receipt_text(receipt: &Receipt, terminal: bool) -> (String, Vec<String>) {
    let mut notes = Vec::new();
    let header = [
        "step",
        "role",
        "model",
        "status",
        "latency",
        "tokens in→out",
        "cost",
        "result",
    ];
    let rows: Vec<Vec<String>> = receipt
        .steps
        .iter()
        .map(|s| {
            let status = match s.status {
                StepStatus::Done => super::good("done"),
                StepStatus::Failed => super::bad("failed"),
                other => other.as_str().to_owned(),
            };
            let model_step = s.kind == "model";
            vec![
                s.id.clone(),
                s.role.clone(),
                s.model.clone().unwrap_or_default(),
                status,
                s.latency_ms
                    .filter(|_| model_step)
                    .map_or(String::new(), |ms| secs(ms / 1e3)),
                if model_step && s.started_ms.is_some() {
                    format!(
                        "{}→{}{}",
                        s.input_tokens,
                        s.output_tokens,
                        if s.tokens_estimated { "~" } else { "" }
                    )
                } else {
                    String::new()
                },
                if model_step && s.started_ms.is_some() {
                    usd(s.cost_usd)
                } else {
                    String::new()
                },
                result_cell(s),
            ]
        })
        .collect();
    let mut table = super::new_table(&header, &rows, terminal);
    for row in &rows {
        table.add_row(row.iter().map(|t| super::cell(t)).collect::<Vec<_>>());
    }
    let status = match receipt.status {
        RunStatus::Done => String::new(),
        RunStatus::Failed => format!("{} · ", super::bad("failed")),
        RunStatus::Cancelled => "cancelled · ".into(),
    };
    notes.push(format!(
        "{status}{} · {} of {} model steps done · {}→{} tokens · {}",
        secs(receipt.wall_ms / 1e3),
        receipt.finished_model_steps(),
        receipt.model_steps(),
        receipt.input_tokens,
        receipt.output_tokens,
        usd(receipt.cost_usd)
    ));
    // A cascade's tally is its cheap tier's; the cascade line below says what it decided.
    if let Some(t) = receipt.tally.as_ref().filter(|_| receipt.cascade.is_none()) {
        let how = match t.decided_by {
            DecidedBy::Majority if t.unanimous => "unanimous",
            DecidedBy::Majority => "majority",
            DecidedBy::Tier => "tie broken by the higher tier",
            DecidedBy::Order => "tie broken by plan order",
            DecidedBy::Judge => "tie broken by the judge",
        };
        notes.push(format!(
            "votes: {} → {} ({how})",
            t.summary(),
            t.winner.as_deref().unwrap_or("none")
        ));
    }
    if let Some(j) = &receipt.judgement {
        notes.push(format!(
            "judge `{}` chose answer {} (`{}`): {}",
            j.model.as_deref().unwrap_or(&j.step),
            j.choice,
            j.chosen_step,
            answer::clip(&j.reason, 200)
        ));
    }
    if let Some(c) = &receipt.cascade {
        notes.push(format!(
            "cascade: {} `{}` because {} · asking it directly: {}{} · saved {}",
            if c.escalated {
                "escalated to"
            } else {
                "did not need"
            },
            c.strong_model,
            c.reason,
            usd(c.strong_direct_cost_usd),
            if c.direct_cost_estimated {
                " (estimated)"
            } else {
                ""
            },
            usd(c.saved_usd)
        ));
    }
    (table.to_string(), notes)
}

/// A plan, one step per line, on stdout.
pub fn plan(plan: &Plan) -> io::Result<()> {
    super::line(&plan.to_string())
}
