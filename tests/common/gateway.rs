//! A gateway running in this test process: `app(state)` served on `127.0.0.1:0` over a
//! config file in a temporary directory; it stops when dropped.

use std::sync::Arc;

use llm_cooperation::config::{Config, EnvSnapshot, Paths};
use llm_cooperation::server::{AppState, app, serve};

pub struct InProcess {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub state: Arc<AppState>,
    /// Holds `config.toml` (tests may rewrite it to reload).
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl InProcess {
    /// Serves `config` (the text of a `config.toml`), accepting `tokens` (none: no auth).
    pub async fn start(config: &str, tokens: &[&str]) -> InProcess {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let config = Config::load(Paths::in_dir(dir.path()), EnvSnapshot::default()).unwrap();
        let state = AppState::new(config, tokens.iter().map(|t| t.to_string()).collect()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app(state.clone()), async {
            let _ = stopped.await;
        }));
        InProcess {
            url,
            state,
            dir,
            stop: Some(stop),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
