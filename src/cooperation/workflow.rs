//! Workflow files: a pipeline's named steps in TOML.
//!
//! ```toml
//! name = "review"                 # optional
//! output = "revise"               # optional; default: the last-listed step that no other
//!                                 # step uses
//!
//! [[steps]]
//! id = "draft"                    # letters, digits, `_`, `-`
//! model = "gpt-4o-mini"           # optional: a configured name or `auto`; default: the
//!                                 # `--models` list in turn, else `auto`
//! role = "drafter"                # optional; default: the id
//! prompt = "Answer: {{input}}"    # a template (`template` is accepted too)
//!
//! [[steps]]
//! id = "critique"
//! depends_on = ["draft"]          # optional: steps that must finish first, besides the
//!                                 # ones the prompt names
//! prompt = "Critique this answer to {{input}}:\n{{draft}}"
//! system = "You are a strict reviewer."   # optional, also a template
//! max_tokens = 400                # optional, also `temperature`
//! ```
//!
//! Unknown keys are errors, and every error names the file, the step and the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Mode;
use super::plan::{Plan, PlanError, Step, StepKind};
use crate::config::ConfigError;

/// A parsed workflow file.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// Where it was read from (for error messages).
    pub path: PathBuf,
    pub name: Option<String>,
    pub description: Option<String>,
    /// The step whose output is the result; default the last-listed step no other uses.
    pub output: Option<String>,
    pub steps: Vec<WorkflowStep>,
}

/// One `[[steps]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowStep {
    pub id: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(alias = "template")]
    pub prompt: String,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub temperature: Option<f32>,
}

const TOP_KEYS: [&str; 4] = ["name", "description", "output", "steps"];

impl Workflow {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Workflow, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Workflow::parse(&text, path)
    }

    /// Parses workflow TOML; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Workflow, ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key,
            message,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.message().to_owned() + &line_of(text, e.span()),
        })?;
        for key in table.keys() {
            if !TOP_KEYS.contains(&key.as_str()) {
                return Err(invalid(
                    key.clone(),
                    format!(
                        "unknown key; a workflow has {}",
                        TOP_KEYS.map(|k| format!("`{k}`")).join(", ")
                    ),
                ));
            }
        }
        let string = |key: &str| -> Result<Option<String>, ConfigError> {
            match table.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(invalid(
                    key.to_owned(),
                    format!("expected a string, found {}", other.type_str()),
                )),
            }
        };
        let name = string("name")?;
        let description = string("description")?;
        let output = string("output")?;
        let raw = match table.get("steps") {
            Some(toml::Value::Array(a)) => a.clone(),
            Some(other) => {
                return Err(invalid(
                    "steps".into(),
                    format!("expected `[[steps]]` tables, found {}", other.type_str()),
                ));
            }
            None => {
                return Err(invalid(
                    "steps".into(),
                    "no steps; add `[[steps]]` tables with `id` and `prompt`".into(),
                ));
            }
        };
        let mut steps = Vec::with_capacity(raw.len());
        for (i, value) in raw.into_iter().enumerate() {
            let label = match value.get("id").and_then(toml::Value::as_str) {
                Some(id) => format!("step `{id}`"),
                None => format!("steps[{i}]"),
            };
            if !value.is_table() {
                return Err(invalid(
                    label,
                    format!("expected a table, found {}", value.type_str()),
                ));
            }
            let step: WorkflowStep = value
                .try_into()
                .map_err(|e: toml::de::Error| invalid(label, e.message().to_owned()))?;
            steps.push(step);
        }
        Ok(Workflow {
            path: path.to_owned(),
            name,
            description,
            output,
            steps,
        })
    }

    /// The plan of this workflow. Steps without a model take `models` in turn (or `auto`).
    /// Errors (cycles, unknown steps, bad templates) name the file and the step.
    pub fn to_plan(
        &self,
        models: &[String],
        max_tokens: Option<u32>,
        temperature: Option<f32>,
    ) -> Result<Plan, ConfigError> {
        let mut next = 0;
        let steps = self
            .steps
            .iter()
            .map(|s| {
                let model = s.model.clone().unwrap_or_else(|| {
                    let m = models.get(next % models.len().max(1)).cloned();
                    next += 1;
                    m.unwrap_or_else(|| "auto".into())
                });
                Step {
                    id: s.id.clone(),
                    role: s.role.clone().unwrap_or_else(|| s.id.clone()),
                    kind: StepKind::Model {
                        model,
                        prompt: s.prompt.clone(),
                        system: s.system.clone(),
                        max_tokens: s.max_tokens.or(max_tokens),
                        temperature: s.temperature.or(temperature),
                        seed: None,
                        temperature_raised: false,
                    },
                    depends_on: s.depends_on.clone(),
                    when: None,
                }
            })
            .collect();
        let output = match &self.output {
            Some(o) => o.clone(),
            None => self.default_output(),
        };
        let plan = Plan {
            mode: Mode::Pipeline,
            name: Some(self.name.clone().unwrap_or_else(|| {
                self.path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "workflow".into())
            })),
            steps,
            output: vec![output],
            cascade: None,
        };
        plan.validate().map_err(|e| self.plan_error(e))?;
        Ok(plan)
    }

    /// The last-listed step no other step uses (the end of the flow, however it is listed).
    fn default_output(&self) -> String {
        let used = |id: &str| {
            self.steps.iter().any(|s| {
                s.depends_on.iter().any(|d| d == id)
                    || [Some(&s.prompt), s.system.as_ref()].into_iter().flatten().any(|t| {
                        super::plan::parse_template(t).is_ok_and(|pieces| {
                            pieces.iter().any(|p| {
                                matches!(p, super::plan::Piece::Ref(alts) if alts.iter().any(|r| r.step() == Some(id)))
                            })
                        })
                    })
            })
        };
        self.steps
            .iter()
            .rev()
            .find(|s| !used(&s.id))
            .or(self.steps.last())
            .map(|s| s.id.clone())
            .unwrap_or_default()
    }

    fn plan_error(&self, e: PlanError) -> ConfigError {
        let key = if e.step == "-" {
            "steps".to_owned()
        } else if self.output.as_deref() == Some(e.step.as_str())
            && !self.steps.iter().any(|s| s.id == e.step)
        {
            "output".to_owned()
        } else {
            format!("step `{}`", e.step)
        };
        ConfigError::Invalid {
            path: self.path.clone(),
            key,
            message: e.message,
        }
    }
}

/// ` (line N)` for an error span.
fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(r) if r.start <= text.len() => {
            format!(" (line {})", text[..r.start].matches('\n').count() + 1)
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Workflow::parse(text, Path::new("flow.toml"))
            .and_then(|w| w.to_plan(&["m".into()], None, None))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn parses_steps_and_assigns_models_in_turn() {
        let w = Workflow::parse(
            r#"
name = "review"
[[steps]]
id = "draft"
prompt = "{{input}}"
[[steps]]
id = "critique"
model = "big"
template = "{{draft}}"
[[steps]]
id = "revise"
role = "reviser"
prompt = "{{draft}} {{critique}}"
depends_on = ["critique"]
"#,
            Path::new("flow.toml"),
        )
        .unwrap();
        let plan = w
            .to_plan(&["a".into(), "b".into()], Some(99), None)
            .unwrap();
        let models: Vec<&str> = plan.steps.iter().map(|s| s.model_name().unwrap()).collect();
        assert_eq!(models, vec!["a", "big", "b"]);
        assert_eq!(plan.output, vec!["revise"]);
        assert_eq!(plan.name.as_deref(), Some("review"));
        assert_eq!(plan.steps[2].role, "reviser");
        assert!(matches!(
            plan.steps[0].kind,
            StepKind::Model {
                max_tokens: Some(99),
                ..
            }
        ));
    }

    #[test]
    fn errors_name_the_file_the_step_and_the_key() {
        let e = err("[[steps]]\nid = \"a\"\nprompt = \"x\"\nmodle = \"m\"\n");
        assert!(
            e.contains("`flow.toml`") && e.contains("step `a`") && e.contains("`modle`"),
            "{e}"
        );

        let e = err(
            "[[steps]]\nid = \"a\"\nprompt = \"{{b}}\"\n[[steps]]\nid = \"b\"\nprompt = \"{{a}}\"\n",
        );
        assert!(e.contains("step `") && e.contains("cycle"), "{e}");

        let e = err("[[steps]]\nid = \"a\"\nprompt = \"x\"\ndepends_on = [\"zz\"]\n");
        assert!(e.contains("step `a`") && e.contains("`zz`"), "{e}");

        let e = err("[[steps]]\nprompt = \"x\"\n");
        assert!(e.contains("steps[0]") && e.contains("`id`"), "{e}");

        let e = err("title = \"x\"\n[[steps]]\nid = \"a\"\nprompt = \"x\"\n");
        assert!(e.contains("title") && e.contains("unknown key"), "{e}");

        let e = err("output = \"nope\"\n[[steps]]\nid = \"a\"\nprompt = \"x\"\n");
        assert!(e.contains("output") && e.contains("nope"), "{e}");

        let e = err("[[steps]\n");
        assert!(
            e.contains("`flow.toml` is not valid") && e.contains("line 1"),
            "{e}"
        );

        assert!(err("name = \"x\"\n").contains("no steps"));
    }
}
