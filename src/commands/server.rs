//! `llm-server`: load the configuration, bind, serve until SIGINT/SIGTERM (draining within the
//! grace period), reload on SIGHUP or when the config file changes, sweep expired sessions.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use crate::cli::ServerCli;
use crate::config::{Config, ConfigError, EnvSnapshot, Paths};
use crate::server::{AppState, app, serve_with_grace, spawn_background};
use crate::store::{MemoryState, RedisState, SharedState};

/// How often the config files are checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);

pub fn run(cli: ServerCli) -> anyhow::Result<ExitCode> {
    let paths = super::paths(&cli.global)?;
    let config = Config::load(paths.clone(), EnvSnapshot::capture())?;
    let host = cli
        .host
        .or_else(|| config.settings.server.host.clone())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = cli.port.or(config.settings.server.port).unwrap_or(8080);
    let grace = crate::server::Policies::shutdown_grace(&config.settings.server);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli
        .workers
        .map(usize::from)
        .or(config.settings.server.workers)
    {
        if n == 0 {
            return Err(ConfigError::Usage(
                "`[server] workers` must be at least 1 (or left out for one per core)".into(),
            )
            .into());
        }
        runtime.worker_threads(n);
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("Failed to start the async runtime")?;
    let state_url = cli
        .state
        .clone()
        .or_else(|| config.settings.server.state.clone());
    runtime.block_on(async move {
        let memory = Arc::new(MemoryState::new());
        let (shared, sweep): (Arc<dyn SharedState>, Box<dyn Fn() -> usize + Send>) = match state_url.as_deref() {
            None | Some("memory") => {
                let m = memory.clone();
                (memory, Box::new(move || m.sweep()))
            }
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                let redis = Arc::new(RedisState::new(url).map_err(|e| {
                    ConfigError::Usage(format!("`--state {url}` is not a usable Redis URL ({e}); use `redis://host:port/db`"))
                })?);
                redis.connect().await;
                let r = redis.clone();
                (redis, Box::new(move || r.fallback().sweep()))
            }
            Some(other) => {
                return Err(ConfigError::Usage(format!(
                    "Unknown state backend `{other}`: use `memory` or `redis://host:port/db`"
                ))
                .into());
            }
        };
        let state = AppState::with_state(config, cli.token, shared)?;
        let listener = tokio::net::TcpListener::bind((host.as_str(), port))
            .await
            .with_context(|| {
                format!("Failed to listen on `{host}:{port}`; is another server using the port? Pick one with `--port`")
            })?;
        let addr = listener.local_addr()?;
        let shutdown = shutdown_signal();
        tracing::info!(%addr, models = state.live().config.model_names().len(), "llm-server listening");
        crate::ui::note(&format!("llm-server listening on http://{addr}"));
        spawn_background(&state, sweep);
        tokio::spawn(reload_on_change(state.clone(), paths));
        let served = serve_with_grace(listener, app(state), shutdown, grace).await;
        super::autostart::forget_pid_file(addr.port());
        served?;
        Ok(ExitCode::SUCCESS)
    })
}

fn modified(files: &[PathBuf]) -> Vec<Option<SystemTime>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}

/// Reloads providers and models on SIGHUP and when `config.toml` or `credentials.toml`
/// change. A new configuration that does not load is logged and the old one stays.
async fn reload_on_change(state: Arc<AppState>, paths: Paths) {
    let files = vec![paths.config_file.clone(), paths.credentials_file.clone()];
    let mut seen = modified(&files);
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<()>();
        let reason = tokio::select! {
            () = hangup => "SIGHUP",
            () = tokio::time::sleep(WATCH_INTERVAL) => {
                let now = modified(&files);
                if now == seen {
                    continue;
                }
                seen = now;
                "a changed config file"
            }
        };
        let (st, p) = (state.clone(), paths.clone());
        // Loading local models blocks: keep it off the async workers.
        let result = tokio::task::spawn_blocking(move || {
            Config::load(p, EnvSnapshot::capture()).and_then(|c| st.reload(c))
        })
        .await
        .unwrap_or_else(|e| Err(ConfigError::Usage(format!("the reload task failed: {e}"))));
        match result {
            Ok(()) => tracing::info!(
                reason,
                models = state.live().config.model_names().len(),
                "configuration reloaded"
            ),
            Err(e) => {
                tracing::error!(reason, error = %e, "the new configuration is invalid; keeping the old one")
            }
        }
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled: a SIGTERM sent as soon as "listening" is printed must stop the
/// server gracefully (removing its pid file), not kill it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            let wait = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
                match s {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(int) => {},
                () = wait(term) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
