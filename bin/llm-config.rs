//! The `llm-config` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    llm_cooperation::entry::config(std::env::args_os())
}
