//! The only place that prints: plain lines, JSON, tables, spinners, prompts, colour.
//!
//! Everything checks whether its stream is a terminal: no colour, spinner or prompt goes to
//! a pipe. Writes return `io::Result` so a closed pipe ends the program quietly.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod progress;

use std::io::{self, IsTerminal, Write};
use std::sync::OnceLock;
use std::time::Duration;

use comfy_table::{
    Attribute, Cell, Color, ColumnConstraint, ContentArrangement, Table, Width,
    presets::UTF8_FULL_CONDENSED,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::ColorChoice;
use crate::env_vars;

static COLOR: OnceLock<bool> = OnceLock::new();

/// Decides once whether stderr/stdout get colour.
pub fn init_color(choice: ColorChoice) {
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os(env_vars::NO_COLOR).is_none_or(|v| v.is_empty())
                && io::stderr().is_terminal()
        }
    };
    let _ = COLOR.set(on);
    console::set_colors_enabled(on);
    console::set_colors_enabled_stderr(on);
}

fn color() -> bool {
    *COLOR.get().unwrap_or(&false)
}

pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

pub fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

pub fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal()
}

/// A line on stdout.
pub fn line(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{text}")
}

/// Text on stdout without a newline, flushed (for streamed answers).
pub fn write(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Pretty JSON on stdout.
pub fn json(value: &impl serde::Serialize) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    line(&text)
}

/// A note on stderr (dimmed on a terminal).
pub fn note(text: &str) {
    if color() {
        eprintln!("{}", console::style(text).dim());
    } else {
        eprintln!("{text}");
    }
}

/// A warning on stderr.
pub fn warn(text: &str) {
    if color() {
        eprintln!("{} {text}", console::style("warning:").yellow().bold());
    } else {
        eprintln!("warning: {text}");
    }
}

/// An error with its chain of causes on stderr.
pub fn error(err: &anyhow::Error) {
    let head = if color() {
        console::style("error:").red().bold().to_string()
    } else {
        "error:".to_owned()
    };
    let mut chain = err.chain();
    if let Some(first) = chain.next() {
        eprintln!("{head} {first}");
    }
    for cause in chain {
        eprintln!("  caused by: {cause}");
    }
}

/// Green on a terminal with colour.
pub fn good(text: &str) -> String {
    if color() {
        console::style(text).green().to_string()
    } else {
        text.to_owned()
    }
}

/// Red on a terminal with colour.
pub fn bad(text: &str) -> String {
    if color() {
        console::style(text).red().to_string()
    } else {
        text.to_owned()
    }
}

/// A table cell from text that may carry colour (from [`good`], [`bad`]): comfy-table would
/// count the escape codes as width and misalign the column, so the cell holds the plain text
/// and comfy-table applies the colour itself.
pub(crate) fn cell(text: &str) -> Cell {
    let plain = console::strip_ansi_codes(text);
    if plain.len() == text.len() {
        return Cell::new(text);
    }
    let mut cell = Cell::new(plain.as_ref());
    for (code, color) in [
        ("\x1b[32m", Color::Green),
        ("\x1b[31m", Color::Red),
        ("\x1b[33m", Color::Yellow),
    ] {
        if text.contains(code) {
            cell = cell.fg(color);
        }
    }
    for (code, attribute) in [("\x1b[1m", Attribute::Bold), ("\x1b[2m", Attribute::Dim)] {
        if text.contains(code) {
            cell = cell.add_attribute(attribute);
        }
    }
    cell
}

/// A table's common set-up. On a terminal it fits the terminal's width, wrapping cells only
/// between words: no column is narrower than its longest word, so a model name is never cut.
/// In a pipe nothing wraps (grep sees whole values). Colour follows `--color`.
pub(crate) fn new_table(header: &[&str], rows: &[Vec<String>], terminal: bool) -> Table {
    let mut table = Table::new();
    let arrangement = if terminal {
        ContentArrangement::Dynamic
    } else {
        ContentArrangement::Disabled
    };
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(arrangement)
        .set_header(header.iter().copied());
    if color() {
        table.enforce_styling();
    }
    if terminal {
        let longest_word = |i: usize| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|t| console::strip_ansi_codes(t).into_owned())
                .chain(header.get(i).map(|h| (*h).to_owned()))
                .flat_map(|t| {
                    t.split_whitespace()
                        .map(console::measure_text_width)
                        .collect::<Vec<_>>()
                })
                .max()
                .unwrap_or(0)
        };
        // comfy-table's widths include the cell's padding, one space on each side.
        let constraints: Vec<ColumnConstraint> = (0..header.len())
            .map(|i| ColumnConstraint::LowerBoundary(Width::Fixed(longest_word(i) as u16 + 2)))
            .collect();
        table.set_constraints(constraints);
    }
    table
}

fn build_table(header: &[&str], rows: Vec<Vec<String>>, terminal: bool) -> Table {
    let mut table = new_table(header, &rows, terminal);
    for row in rows {
        table.add_row(row.iter().map(|t| cell(t)).collect::<Vec<_>>());
    }
    table
}

/// A table with a header row on stdout, sized to the terminal when there is one.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> io::Result<()> {
    line(&build_table(header, rows, stdout_is_terminal()).to_string())
}

/// A table on stderr (diagnostics that must not mix with the answer on stdout).
pub fn table_stderr(header: &[&str], rows: Vec<Vec<String>>) {
    eprintln!("{}", build_table(header, rows, stderr_is_terminal()));
}

/// A spinner on stderr while work runs; hidden when stderr is not a terminal.
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    if !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
    );
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Asks for a secret with hidden input. Only called when stdin and stderr are terminals.
pub fn prompt_secret(prompt: &str) -> io::Result<String> {
    dialoguer::Password::new()
        .with_prompt(prompt)
        .interact()
        .map_err(|e| match e {
            dialoguer::Error::IO(e) => e,
        })
}

/// Asks a yes/no question (default no). Only called when stdin and stderr are terminals.
pub fn confirm(prompt: &str) -> io::Result<bool> {
    dialoguer::Confirm::new()
        .with_prompt(prompt)
        .default(false)
        .interact()
        .map_err(|e| match e {
            dialoguer::Error::IO(e) => e,
        })
}
