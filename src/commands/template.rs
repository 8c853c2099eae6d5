//! `--template NAME`: a saved prompt, the file `templates/NAME.txt` (or `.md`) in the
//! configuration directory, with `{{input}}` standing for the input (standard input and the
//! prompt arguments).

use std::path::{Path, PathBuf};

use crate::config::{ConfigError, Paths};

/// Where templates live: `templates/` in the configuration directory.
pub fn dir(paths: &Paths) -> PathBuf {
    paths.dir.join("templates")
}

/// The template `name` with `input` in place of each `{{input}}`; a template without the
/// placeholder gets the input after it, following a blank line. A missing template is a
/// usage error that lists the templates there are.
pub fn apply(paths: &Paths, name: &str, input: &str) -> Result<String, ConfigError> {
    let dir = dir(paths);
    let text = if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        None
    } else {
        ["txt", "md"]
            .iter()
            .find_map(|ext| std::fs::read_to_string(dir.join(format!("{name}.{ext}"))).ok())
    };
    let Some(text) = text else {
        let known = list(&dir);
        return Err(ConfigError::Usage(format!(
            "No template `{name}`: write it to `{}` ({}), with `{{{{input}}}}` where the input goes",
            dir.join(format!("{name}.txt")).display(),
            if known.is_empty() {
                "there are no templates yet".to_owned()
            } else {
                format!("templates there: {}", known.join(", "))
            }
        )));
    };
    let text = text.trim_end();
    Ok(if text.contains("{{input}}") {
        text.replace("{{input}}", input.trim_end())
    } else if input.trim().is_empty() {
        text.to_owned()
    } else {
        format!("{text}\n\n{}", input.trim_end())
    })
}

/// The names of the templates in `dir`, sorted.
fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let path = e.path();
            let ext = path.extension()?.to_str()?;
            matches!(ext, "txt" | "md").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_goes_where_the_placeholder_is_or_after_the_template() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::in_dir(dir.path());
        std::fs::create_dir_all(super::dir(&paths)).unwrap();
        std::fs::write(
            super::dir(&paths).join("sum.txt"),
            "Summarise:\n{{input}}\nBriefly.\n",
        )
        .unwrap();
        std::fs::write(super::dir(&paths).join("poem.md"), "Write a poem.\n").unwrap();
        assert_eq!(
            apply(&paths, "sum", "the text\n").unwrap(),
            "Summarise:\nthe text\nBriefly."
        );
        assert_eq!(
            apply(&paths, "poem", "about rain").unwrap(),
            "Write a poem.\n\nabout rain"
        );
        assert_eq!(apply(&paths, "poem", "").unwrap(), "Write a poem.");
        let e = apply(&paths, "nope", "x").unwrap_err().to_string();
        assert!(e.contains("`nope`") && e.contains("poem, sum"), "{e}");
        assert!(
            apply(&paths, "../sum", "x").is_err(),
            "names stay in the directory"
        );
    }
}
