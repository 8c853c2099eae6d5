//! Starting `llm-server` in the background for local models: local models live in the server
//! process (their weights load once), and the CLI reaches them over HTTP. When a local
//! provider's `base_url` is on this machine, nothing answers there and `[local] autostart` is
//! not false, the CLI starts the server next to its own binary and waits until it answers.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::{Config, ConfigError, ProviderKind};
use crate::ui;

/// How long a starting server may take to load its models.
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// Makes sure the local model server answers when `model` (a name, `auto`, or `None` for the
/// default) may be served by a local provider.
pub fn ensure_local_server(config: &Config, model: Option<&str>) -> anyhow::Result<()> {
    let off = std::env::var(crate::env_vars::LLM_COOP_AUTOSTART)
        .is_ok_and(|v| crate::env_vars::parse_bool(&v) == Ok(Some(false)));
    if off || config.settings.local.autostart == Some(false) {
        return Ok(());
    }
    let settings = &config.settings;
    for (name, provider) in &settings.providers {
        if provider.kind != ProviderKind::Local {
            continue;
        }
        let serves = |m: &str| {
            settings
                .models
                .iter()
                .any(|d| d.name == m && &d.provider == name)
        };
        let relevant = match model {
            None | Some("auto") => settings.models.iter().any(|d| &d.provider == name),
            Some(m) if m.starts_with("coop/") => settings
                .models
                .iter()
                .any(|d| &d.provider == name && m.contains(d.name.as_str())),
            Some(m) => serves(m),
        };
        if !relevant {
            continue;
        }
        let url = reqwest::Url::parse(&provider.base_url)
            .map_err(|e| ConfigError::Usage(format!("providers.{name}.base_url: {e}")))?;
        let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
        let port = url.port_or_known_default().unwrap_or(8080);
        let Some(addr) = (host.as_str(), port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
        else {
            continue;
        };
        if answers(addr) || !addr.ip().is_loopback() {
            continue;
        }
        start(config, &host, port, addr)?;
    }
    Ok(())
}

fn answers(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

fn start(config: &Config, host: &str, port: u16, addr: SocketAddr) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("Cannot find this program's own path")?;
    let server: PathBuf = exe.with_file_name(format!("llm-server{}", std::env::consts::EXE_SUFFIX));
    if !server.exists() {
        return Err(ConfigError::Usage(format!(
            "The local models need `llm-server`, which is not next to this program (`{}`); start it yourself (`llm-server --port {port}`) or set `[local] autostart = false`",
            server.display()
        ))
        .into());
    }
    let log_path = server_dir().join("llm-server.log");
    if let Some(dir) = log_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("Cannot open the server log `{}`", log_path.display()))?;
    let mut cmd = Command::new(&server);
    cmd.args(["--host", host, "--port", &port.to_string(), "--config"])
        .arg(&config.paths.dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    #[cfg(unix)]
    {
        // Its own process group: a Ctrl-C meant for this command does not stop the server.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("Failed to start `{}`", server.display()))?;
    let spinner = ui::spinner(format!(
        "Starting the local model server on port {port} (loading models)…"
    ));
    let started = Instant::now();
    let result = loop {
        if answers(addr) {
            break Ok(());
        }
        if let Some(status) = child.try_wait()? {
            break Err(anyhow::anyhow!(
                "`llm-server` exited ({status}) before answering; its log `{}` ends with:\n{}",
                log_path.display(),
                tail(&log_path)
            ));
        }
        if started.elapsed() > START_TIMEOUT {
            break Err(anyhow::anyhow!(
                "`llm-server` did not answer within {} s; see its log `{}`",
                START_TIMEOUT.as_secs(),
                log_path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    spinner.finish_and_clear();
    if result.is_ok() {
        tracing::info!(port, pid = child.id(), log = %log_path.display(), "started the local model server");
        // Beside the log, so scripts (and tests) can stop the server they caused to start.
        let _ = std::fs::write(pid_file(port), child.id().to_string());
    }
    result
}

/// Where a started `llm-server` keeps its log and pid file: the data directory.
fn server_dir() -> std::path::PathBuf {
    crate::store::history::data_dir().unwrap_or_else(|_| std::env::temp_dir())
}

/// The pid file of the `llm-server` started for `port`.
pub fn pid_file(port: u16) -> std::path::PathBuf {
    server_dir().join(format!("llm-server-{port}.pid"))
}

/// Called by `llm-server` as it exits: removes the pid file of its port when the file names
/// this process (a file of another server on that port is left alone), so no stale pid is
/// left for a script to `kill`.
pub fn forget_pid_file(port: u16) {
    let path = pid_file(port);
    let ours = std::fs::read_to_string(&path)
        .is_ok_and(|pid| pid.trim() == std::process::id().to_string());
    if ours {
        let _ = std::fs::remove_file(path);
    }
}

/// The last lines of a log file.
fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}
