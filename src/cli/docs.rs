//! Shell completions and man pages for the three binaries, generated from the clap
//! definitions. `completions/` and `man/` hold the committed output; a test fails when they
//! are stale, and `LLM_COOP_REGENERATE=1 cargo test generated` rewrites them.

use clap::CommandFactory;
use clap_complete::Shell;

use super::{ConfigCli, CooperationCli, ServerCli};

/// Every generated file: (path relative to the repository root, contents).
pub fn generated_files() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for mut cmd in [
        CooperationCli::command(),
        ConfigCli::command(),
        ServerCli::command(),
    ] {
        cmd.build();
        let name = cmd.get_name().to_owned();
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Elvish,
            Shell::PowerShell,
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd.clone(), &name, &mut out);
            if shell == Shell::Bash {
                out = fix_bash_dispatch(&out, &name);
            }
            let file = match shell {
                Shell::Bash => format!("completions/{name}.bash"),
                Shell::Zsh => format!("completions/_{name}"),
                Shell::Fish => format!("completions/{name}.fish"),
                Shell::Elvish => format!("completions/{name}.elv"),
                Shell::PowerShell => format!("completions/_{name}.ps1"),
                _ => unreachable!("only the shells listed above"),
            };
            files.push((file, out));
        }
        man_pages(&cmd, &name, &mut files);
    }
    files
}

/// clap_complete's bash script (4.6) names a subcommand's state for a binary with a dash in
/// its name two ways: the loop that walks the words sets `llm__cooperation__subcmd__query`,
/// the `case` that completes matches `llm__subcmd__cooperation__subcmd__query`, so nothing
/// below the top level completed. The case labels are rewritten to the names the loop sets.
fn fix_bash_dispatch(script: &[u8], name: &str) -> Vec<u8> {
    let script = String::from_utf8_lossy(script);
    let wrong = name.replace('-', "__subcmd__");
    let right = name.replace('-', "__");
    if wrong == right {
        return script.into_owned().into_bytes();
    }
    script.replace(&wrong, &right).into_bytes()
}

/// A page for the command and one for each visible subcommand (`llm-config-preset.1`).
fn man_pages(cmd: &clap::Command, name: &str, files: &mut Vec<(String, Vec<u8>)>) {
    let mut out = Vec::new();
    // No page is shipped for `help` (it prints the help shown in these pages), so none may
    // refer to `…-help(1)`: hidden here, it leaves the SUBCOMMANDS list.
    let cmd = &cmd.clone().mut_subcommands(|s| {
        if s.get_name() == "help" {
            s.hide(true)
        } else {
            s
        }
    });
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .expect("rendering to memory cannot fail");
    files.push((format!("man/{name}.1"), out));
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let sub_name = format!("{name}-{}", sub.get_name());
        let sub = sub.clone().name(sub_name.clone());
        man_pages(&sub, &sub_name, files);
    }
}
