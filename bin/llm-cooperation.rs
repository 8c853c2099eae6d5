//! The `llm-cooperation` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    llm_cooperation::entry::cooperation(std::env::args_os())
}
