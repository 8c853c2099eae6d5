//! The history of runs: every query, chat turn, cooperation run and service call with its
//! receipt, in SQLite in the user data directory (`LLM_COOP_DATA_DIR` overrides).
//!
//! Writing history must never slow or fail an answer: callers write after the answer is shown
//! and turn an error into a warning.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::env_vars;

/// What can go wrong with the history database.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("Cannot open the history database `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("Cannot create the data directory `{}`", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("History database error")]
    Sql(#[from] rusqlite::Error),
    #[error(
        "Cannot find a home directory for the history; set `{}`",
        env_vars::LLM_COOP_DATA_DIR
    )]
    NoHome,
}

/// One run to record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewRun {
    /// `query`, `chat`, `cooperate` or `service`.
    pub kind: String,
    /// Cooperation mode or service type.
    pub mode: Option<String>,
    /// The model(s) that answered.
    pub model: Option<String>,
    /// The chat session this turn belongs to.
    pub session: Option<String>,
    pub prompt: String,
    pub response: String,
    /// `ok`, `failed` or `cancelled`.
    pub status: String,
    pub error: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: f64,
    /// The whole receipt as JSON.
    pub receipt: serde_json::Value,
}

/// A stored run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub id: i64,
    /// RFC 3339, UTC.
    pub created_at: String,
    #[serde(flatten)]
    pub run: NewRun,
}

/// One conversation (a chat session, or a query continued with `--continue`).
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub session: String,
    /// How many runs it holds (failed ones included).
    pub runs: u64,
    /// `chat`, `query` or both, comma-separated.
    pub kinds: String,
    /// RFC 3339, UTC: its first and latest run.
    pub started_at: String,
    pub last_at: String,
    /// The model of its latest run.
    pub model: Option<String>,
    /// The prompt of its first run.
    pub first_prompt: String,
}

/// Filters for listing runs (newest first).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub limit: usize,
    pub model: Option<String>,
    pub mode: Option<String>,
    pub kind: Option<String>,
    pub session: Option<String>,
    /// Text searched in prompts and responses.
    pub text: Option<String>,
}

/// The history database.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    pub path: PathBuf,
}

/// `LLM_COOP_DATA_DIR`, else the platform data directory (`~/.local/share/llm-cooperation`).
pub fn data_dir() -> Result<PathBuf, HistoryError> {
    if let Some(dir) = std::env::var_os(env_vars::LLM_COOP_DATA_DIR).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "llm-cooperation")
        .map(|d| d.data_dir().to_owned())
        .ok_or(HistoryError::NoHome)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    kind TEXT NOT NULL,
    mode TEXT,
    model TEXT,
    session TEXT,
    prompt TEXT NOT NULL,
    response TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    latency_ms REAL NOT NULL DEFAULT 0,
    receipt TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_session ON runs (session, id);
";

impl History {
    /// Opens (creating if needed) `history.db` in the data directory.
    pub fn open_default() -> Result<History, HistoryError> {
        Self::open(&data_dir()?.join("history.db"))
    }

    pub fn open(path: &Path) -> Result<History, HistoryError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| HistoryError::Dir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let open = || -> Result<Connection, rusqlite::Error> {
            let conn = Connection::open(path)?;
            // Several processes may write at once (a chat and a query): wait, don't fail.
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.execute_batch(SCHEMA)?;
            Ok(conn)
        };
        let conn = open().map_err(|source| HistoryError::Open {
            path: path.to_owned(),
            source,
        })?;
        Ok(History {
            conn,
            path: path.to_owned(),
        })
    }

    /// Records a run; returns its id.
    pub fn record(&self, r: &NewRun) -> Result<i64, HistoryError> {
        self.conn.execute(
            "INSERT INTO runs (kind, mode, model, session, prompt, response, status, error,
                input_tokens, output_tokens, cost_usd, latency_ms, receipt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                r.kind,
                r.mode,
                r.model,
                r.session,
                r.prompt,
                r.response,
                r.status,
                r.error,
                r.input_tokens as i64,
                r.output_tokens as i64,
                r.cost_usd,
                r.latency_ms,
                r.receipt.to_string(),
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Run> {
        let receipt: String = row.get(14)?;
        Ok(Run {
            id: row.get(0)?,
            created_at: row.get(1)?,
            run: NewRun {
                kind: row.get(2)?,
                mode: row.get(3)?,
                model: row.get(4)?,
                session: row.get(5)?,
                prompt: row.get(6)?,
                response: row.get(7)?,
                status: row.get(8)?,
                error: row.get(9)?,
                input_tokens: row.get::<_, i64>(10)? as u64,
                output_tokens: row.get::<_, i64>(11)? as u64,
                cost_usd: row.get(12)?,
                latency_ms: row.get(13)?,
                receipt: serde_json::from_str(&receipt).unwrap_or(serde_json::Value::Null),
            },
        })
    }

    const COLUMNS: &'static str =
        "id, created_at, kind, mode, model, session, prompt, response, status, error,
        input_tokens, output_tokens, cost_usd, latency_ms, receipt";

    /// Runs matching `f`, newest first.
    pub fn list(&self, f: &Filter) -> Result<Vec<Run>, HistoryError> {
        let mut sql = format!("SELECT {} FROM runs WHERE 1 = 1", Self::COLUMNS);
        let mut args: Vec<String> = Vec::new();
        for (column, value) in [
            ("model", &f.model),
            ("kind", &f.kind),
            ("session", &f.session),
        ] {
            if let Some(v) = value {
                args.push(v.clone());
                sql.push_str(&format!(" AND {column} = ?{}", args.len()));
            }
        }
        // A service's runs are recorded as `service/type`: its name alone finds every type.
        if let Some(mode) = &f.mode {
            args.push(mode.clone());
            let n = args.len();
            sql.push_str(&format!(
                " AND (mode = ?{n} OR substr(mode, 1, length(?{n}) + 1) = ?{n} || '/')"
            ));
        }
        if let Some(text) = &f.text {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            args.push(format!("%{escaped}%"));
            let n = args.len();
            sql.push_str(&format!(
                " AND (prompt LIKE ?{n} ESCAPE '\\' OR response LIKE ?{n} ESCAPE '\\')"
            ));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", f.limit.max(1)));
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), Self::row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn get(&self, id: i64) -> Result<Option<Run>, HistoryError> {
        let sql = format!("SELECT {} FROM runs WHERE id = ?1", Self::COLUMNS);
        Ok(self.conn.query_row(&sql, [id], Self::row).optional()?)
    }

    /// Deletes runs by id; returns how many existed.
    pub fn remove(&self, ids: &[i64]) -> Result<usize, HistoryError> {
        let mut n = 0;
        for id in ids {
            n += self.conn.execute("DELETE FROM runs WHERE id = ?1", [id])?;
        }
        Ok(n)
    }

    pub fn clear(&self) -> Result<usize, HistoryError> {
        Ok(self.conn.execute("DELETE FROM runs", [])?)
    }

    /// The session of the most recent chat turn.
    pub fn last_session(&self) -> Result<Option<String>, HistoryError> {
        Ok(self
            .conn
            .query_row(
                "SELECT session FROM runs WHERE kind = 'chat' AND session IS NOT NULL ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The answered turns of a conversation (chat turns and continued queries), oldest first.
    pub fn session_turns(&self, session: &str) -> Result<Vec<Run>, HistoryError> {
        let mut runs = self.list(&Filter {
            limit: 10_000,
            session: Some(session.to_owned()),
            ..Filter::default()
        })?;
        runs.retain(|r| r.run.status == "ok" && matches!(r.run.kind.as_str(), "chat" | "query"));
        runs.reverse();
        Ok(runs)
    }

    /// The most recent answered query or chat turn: what `query --continue` continues.
    pub fn last_conversation(&self) -> Result<Option<Run>, HistoryError> {
        let sql = format!(
            "SELECT {} FROM runs WHERE kind IN ('query', 'chat') AND status = 'ok' ORDER BY id DESC LIMIT 1",
            Self::COLUMNS
        );
        Ok(self.conn.query_row(&sql, [], Self::row).optional()?)
    }

    /// The conversations, the most recently used first.
    pub fn sessions(&self, limit: usize) -> Result<Vec<Session>, HistoryError> {
        let sql = format!(
            "SELECT session, COUNT(*), GROUP_CONCAT(DISTINCT kind), MIN(created_at), MAX(created_at),
                (SELECT model FROM runs l WHERE l.session = runs.session ORDER BY id DESC LIMIT 1),
                (SELECT prompt FROM runs f WHERE f.session = runs.session ORDER BY id LIMIT 1)
             FROM runs WHERE session IS NOT NULL
             GROUP BY session ORDER BY MAX(id) DESC LIMIT {}",
            limit.max(1)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok(Session {
                session: r.get(0)?,
                runs: r.get::<_, i64>(1)? as u64,
                kinds: r.get(2)?,
                started_at: r.get(3)?,
                last_at: r.get(4)?,
                model: r.get(5)?,
                first_prompt: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Makes run `id` the first turn of `session` (a query that is being continued).
    pub fn set_session(&self, id: i64, session: &str) -> Result<(), HistoryError> {
        self.conn.execute(
            "UPDATE runs SET session = ?1 WHERE id = ?2",
            params![session, id],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_list_filter_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::open(&dir.path().join("h.db")).unwrap();
        let mut run = NewRun {
            kind: "query".into(),
            model: Some("m1".into()),
            prompt: "100% sure?".into(),
            response: "yes".into(),
            status: "ok".into(),
            receipt: serde_json::json!({ "a": 1 }),
            ..NewRun::default()
        };
        let a = h.record(&run).unwrap();
        run.model = Some("m2".into());
        run.prompt = "other".into();
        let b = h.record(&run).unwrap();
        let all = h
            .list(&Filter {
                limit: 10,
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), [b, a]);
        let m1 = h
            .list(&Filter {
                limit: 10,
                model: Some("m1".into()),
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(m1.len(), 1);
        let pct = h
            .list(&Filter {
                limit: 10,
                text: Some("100%".into()),
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(pct.len(), 1, "`%` is matched literally");
        assert_eq!(h.get(a).unwrap().unwrap().run.receipt["a"], 1);
        assert_eq!(h.remove(&[a, 999]).unwrap(), 1);
        assert!(h.get(a).unwrap().is_none());
    }
}
