//! Recording runs in the history from commands: opening the database when history is on,
//! and turning any failure into a warning (history never fails or slows an answer).

use crate::config::Config;
use crate::store::history::{History, NewRun};
use crate::ui;

/// The history database, unless `--no-log`, `[history] enabled = false`, or it cannot be
/// opened (then a warning says why).
pub fn open(config: &Config, no_log: bool) -> Option<History> {
    if no_log || config.settings.history.enabled == Some(false) {
        return None;
    }
    let opened = match &config.settings.history.path {
        Some(path) => History::open(path),
        None => History::open_default(),
    };
    match opened {
        Ok(h) => Some(h),
        Err(e) => {
            ui::warn(&format!(
                "{:#}; this run is not recorded",
                anyhow::Error::from(e)
            ));
            None
        }
    }
}

/// Records `run`, warning on failure.
pub fn record(history: Option<&History>, run: &NewRun) {
    if let Some(h) = history
        && let Err(e) = h.record(run)
    {
        ui::warn(&format!(
            "{:#}; this run is not recorded",
            anyhow::Error::from(e)
        ));
    }
}
