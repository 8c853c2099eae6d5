//! `llm-server`: load the configuration, bind, serve until SIGINT/SIGTERM.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::ServerCli;
use crate::server::{AppState, app, serve};

pub fn run(cli: ServerCli) -> anyhow::Result<ExitCode> {
    let config = super::load_config(&cli.global)?;
    let host = cli
        .host
        .or_else(|| config.settings.server.host.clone())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = cli.port.or(config.settings.server.port).unwrap_or(8080);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Failed to start the async runtime")?;
    runtime.block_on(async move {
        let state = AppState::new(config, cli.token)?;
        let listener = tokio::net::TcpListener::bind((host.as_str(), port))
            .await
            .with_context(|| format!("Failed to listen on `{host}:{port}`; is another server using the port? Pick one with `--port`"))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "llm-server listening");
        crate::ui::note(&format!("llm-server listening on http://{addr}"));
        serve(listener, app(state), shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
