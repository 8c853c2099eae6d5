//! The `llm-server` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    llm_cooperation::entry::server(std::env::args_os())
}
