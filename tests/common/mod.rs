//! Shared test helpers: a temporary configuration directory and a way to run the binaries.
#![allow(dead_code)]

pub mod gateway;
pub mod upstream;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary configuration directory and a clean environment to run binaries in.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    /// The working directory binaries run in (no stray `.env`).
    pub cwd: tempfile::TempDir,
}

/// What a binary printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

pub fn bin(name: &str) -> PathBuf {
    match name {
        "llm-cooperation" => PathBuf::from(env!("CARGO_BIN_EXE_llm-cooperation")),
        "llm-config" => PathBuf::from(env!("CARGO_BIN_EXE_llm-config")),
        "llm-server" => PathBuf::from(env!("CARGO_BIN_EXE_llm-server")),
        other => panic!("unknown binary {other}"),
    }
}

impl TestEnv {
    pub fn new() -> Self {
        TestEnv {
            dir: tempfile::tempdir().unwrap(),
            cwd: tempfile::tempdir().unwrap(),
        }
    }

    pub fn config_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A command for `name` with this config dir, no inherited provider keys or `.env`
    /// variables, and stdin closed (so nothing can prompt).
    pub fn cmd(&self, name: &str) -> Command {
        let mut cmd = Command::new(bin(name));
        cmd.current_dir(self.cwd.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.cwd.path())
            .env("LLM_COOP_CONFIG_DIR", self.dir.path())
            .env("NO_COLOR", "1")
            // Never start a background llm-server on the default port from a test; the one
            // test of autostart turns it back on for a port of its own.
            .env("LLM_COOP_AUTOSTART", "0")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `name args…` and captures its output.
    pub fn run(&self, name: &str, args: &[&str]) -> Run {
        Run::from(self.cmd(name).args(args).output().unwrap())
    }

    /// Runs with extra environment variables.
    pub fn run_env(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.cmd(name);
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Run::from(cmd.output().unwrap())
    }

    /// Runs with `input` on stdin (a pipe, not a terminal).
    pub fn run_stdin(&self, name: &str, args: &[&str], input: &str) -> Run {
        let mut child = self
            .cmd(name)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        Run::from(child.wait_with_output().unwrap())
    }

    /// Writes `config.toml` directly.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.dir.path().join("config.toml"), text).unwrap();
    }

    pub fn read_config(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("config.toml")).unwrap_or_default()
    }
}
