//! Application services built on routing and cooperation: document analysis, data insight and
//! decision support.
//!
//! Each service computes what can be computed (document length, the numeric series in the
//! data and their statistics, the options a decision lists) itself, exactly, then asks a
//! model (one routed call, or several models in parallel merged by an aggregator) for the
//! analysis, giving it those facts so it does not have to guess them. The result is one
//! serialisable value: the facts, the analysis, what could be read out of the analysis
//! (key points, sentiment, the recommended option) and the cooperation receipt.

mod data;
mod decision;
mod document;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use data::{DataFacts, Outlier, SeriesStats, Trend};
pub use decision::{DecisionFacts, DecisionOption};
pub use document::DocumentFacts;

use crate::config::ConfigError;
use crate::cooperation::{
    self, CoopError, ExecOptions, Integration, Mode, ModeSpec, Plan, Receipt, Step, StepKind,
};
use crate::router::Router;

/// The services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    /// Summaries, key points, sentiment or a full analysis of a text.
    DocumentAnalysis,
    /// Trends, anomalies and statistics of the numbers in CSV, JSON or text.
    DataInsight,
    /// Comparison, risks or a recommendation among the options of a decision.
    DecisionSupport,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::DocumentAnalysis => "document-analysis",
            Service::DataInsight => "data-insight",
            Service::DecisionSupport => "decision-support",
        }
    }

    /// The analysis types, the default first.
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            Service::DocumentAnalysis => &["comprehensive", "summary", "key-points", "sentiment"],
            Service::DataInsight => &["trends", "anomalies", "statistics"],
            Service::DecisionSupport => &["recommendation", "comparison", "risk"],
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service request, as the CLI and the HTTP API make it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ServiceRequest {
    pub service: Service,
    /// The analysis type (`--type`); default the service's first.
    #[serde(default, alias = "type")]
    pub kind: Option<String>,
    /// The document, data or decision text.
    pub content: String,
    /// Optional: `models` (several: asked in parallel and merged), `model` (one), `judge`
    /// (the merging model), `max_tokens`, `temperature`.
    #[serde(default)]
    pub parameters: serde_json::Value,
}

/// The options a request may set in `parameters`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Parameters {
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    judge: Option<String>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    temperature: Option<f32>,
}

/// Facts computed from the input, by service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Facts {
    Document(DocumentFacts),
    Data(DataFacts),
    Decision(DecisionFacts),
}

/// A sentiment read from the analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sentiment {
    /// `positive`, `negative`, `neutral` or `mixed`.
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

/// The option the analysis recommends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    /// What the model wrote.
    pub text: String,
    /// The listed option it matches (0-based), when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option: Option<usize>,
}

/// What could be read out of the analysis.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Findings {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key_points: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<Sentiment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<Recommendation>,
}

/// A service's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceResult {
    pub service: Service,
    #[serde(rename = "type")]
    pub kind: String,
    /// Computed by us from the input, not by a model.
    pub facts: Facts,
    /// The model's analysis.
    pub analysis: String,
    pub findings: Findings,
    /// The models that answered.
    pub models: Vec<String>,
    pub receipt: Receipt,
}

/// Why a service could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A bad type, parameters or input (exit code 2).
    #[error("Invalid `{service}` request")]
    Invalid {
        service: Service,
        #[source]
        source: ConfigError,
    },
    /// The models failed, or the run was cancelled; the error carries the receipt.
    #[error(transparent)]
    Cooperation(#[from] CoopError),
}

/// Runs a service with default execution options.
pub async fn run(router: Arc<Router>, req: ServiceRequest) -> Result<ServiceResult, ServiceError> {
    run_with(router, req, ExecOptions::default()).await
}

/// Runs a service; `opts` carries cancellation and progress.
pub async fn run_with(
    router: Arc<Router>,
    req: ServiceRequest,
    opts: ExecOptions,
) -> Result<ServiceResult, ServiceError> {
    let prepared = prepare(&router, &req)?;
    run_prepared(router, prepared, opts).await
}

/// A validated request: its computed facts, and the plan and input that ask for the analysis.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub service: Service,
    pub kind: String,
    pub facts: Facts,
    pub plan: Plan,
    /// The plan's `{{input}}`: the task, the computed facts and the content.
    pub prompt: String,
}

/// Runs a prepared request.
pub async fn run_prepared(
    router: Arc<Router>,
    p: Prepared,
    opts: ExecOptions,
) -> Result<ServiceResult, ServiceError> {
    let outcome = cooperation::execute(router, &p.plan, &p.prompt, opts).await?;
    let findings = findings(p.service, &p.kind, &outcome.text, &p.facts);
    let mut models: Vec<String> = Vec::new();
    for s in &outcome.receipt.steps {
        if s.kind == "model"
            && s.status == cooperation::StepStatus::Done
            && let Some(m) = &s.model
            && !models.contains(m)
        {
            models.push(m.clone());
        }
    }
    Ok(ServiceResult {
        service: p.service,
        kind: p.kind,
        facts: p.facts,
        analysis: outcome.text.trim().to_owned(),
        findings,
        models,
        receipt: outcome.receipt,
    })
}

/// Validates the request, computes the facts and builds the plan and its input.
pub fn prepare(router: &Router, req: &ServiceRequest) -> Result<Prepared, ServiceError> {
    let invalid = |message: String| ServiceError::Invalid {
        service: req.service,
        source: ConfigError::Usage(message),
    };
    let kinds = req.service.kinds();
    // `key_points` (the original system's spelling) is `key-points`.
    let kind = req.kind.as_deref().map(|k| k.trim().replace('_', "-"));
    let kind = match kind.as_deref() {
        None | Some("") => kinds[0].to_owned(),
        Some(k) if kinds.contains(&k) => k.to_owned(),
        Some(k) => {
            return Err(invalid(format!(
                "Unknown type `{k}` for `{}`; types: {}",
                req.service,
                kinds.join(", ")
            )));
        }
    };
    if req.content.trim().is_empty() {
        return Err(invalid(format!(
            "No input: give `{}` a file or pipe the text to it",
            req.service
        )));
    }
    let params: Parameters = if req.parameters.is_null() {
        Parameters::default()
    } else {
        serde_json::from_value(req.parameters.clone())
            .map_err(|e| invalid(format!("Invalid parameters: {e}")))?
    };
    let (facts, prompt) = match req.service {
        Service::DocumentAnalysis => {
            let f = document::facts(&req.content);
            let p = document::prompt(&kind, &f, &req.content);
            (Facts::Document(f), p)
        }
        Service::DataInsight => {
            let f = data::facts(&req.content);
            if f.series.is_empty() {
                return Err(invalid(
                    "No numbers found in the data: `data-insight` reads CSV or TSV with numeric columns, JSON arrays or objects of numbers, or text lines such as `sales: 10, 12, 15`".into(),
                ));
            }
            let p = data::prompt(&kind, &f, &req.content);
            (Facts::Data(f), p)
        }
        Service::DecisionSupport => {
            let f = decision::facts(&req.content);
            let p = decision::prompt(&kind, &f, &req.content);
            (Facts::Decision(f), p)
        }
    };
    let mut models = params.models.clone();
    if let Some(m) = &params.model {
        models.insert(0, m.clone());
    }
    let plan = if models.len() >= 2 {
        let mut spec = ModeSpec::new(Mode::Parallel, models);
        spec.integration = Some(Integration::Synthesize);
        spec.judge = params.judge.clone();
        spec.max_tokens = params.max_tokens;
        spec.temperature = params.temperature;
        let mut plan = cooperation::compile(&spec, router)?;
        plan.name = Some(format!("{}/{kind}", req.service));
        plan
    } else {
        // One model (or the router's pick): a one-step plan, so the receipt looks the same.
        let model = models.pop().unwrap_or_else(|| "auto".into());
        cooperation::check_models(router, [model.as_str()])?;
        let mut step = Step::model("analysis", "analyze", &model, "{{input}}");
        if let StepKind::Model {
            system,
            max_tokens,
            temperature,
            ..
        } = &mut step.kind
        {
            *system = Some(SYSTEM.into());
            *max_tokens = params.max_tokens;
            *temperature = params.temperature;
        }
        Plan {
            mode: Mode::Pipeline,
            name: Some(format!("{}/{kind}", req.service)),
            steps: vec![step],
            output: vec!["analysis".into()],
            cascade: None,
        }
    };
    Ok(Prepared {
        service: req.service,
        kind,
        facts,
        plan,
        prompt,
    })
}

const SYSTEM: &str = "You are a careful analyst. Facts marked as computed are exact: rely on them rather than recounting. Answer in the language of the input.";

/// Reads key points, a sentiment or a recommendation out of the analysis.
fn findings(service: Service, kind: &str, analysis: &str, facts: &Facts) -> Findings {
    let mut f = Findings::default();
    match (service, kind) {
        (Service::DocumentAnalysis, "key-points" | "comprehensive") => {
            f.key_points = bullets(analysis);
            if f.key_points.is_empty() && kind == "key-points" {
                f.key_points = analysis
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
        }
        (Service::DocumentAnalysis, "sentiment") => f.sentiment = sentiment(analysis),
        (Service::DecisionSupport, "recommendation") => {
            if let Facts::Decision(d) = facts {
                f.recommendation = decision::recommendation(analysis, &d.options);
            }
        }
        _ => {}
    }
    f
}

/// Lines that are list items (`- `, `* `, `• `, `1. `, `1) `), without their markers.
pub(crate) fn bullets(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| list_item(l.trim()).map(|(_, t)| t.to_owned()))
        .filter(|t| !t.is_empty())
        .collect()
}

/// `(marker, text)` when `line` is a list item: `- x`, `* x`, `• x`, `1. x`, `1) x`, `(1) x`,
/// `A) x`, `A. x`, `(a) x`, `① x`.
pub(crate) fn list_item(line: &str) -> Option<(String, &str)> {
    for m in ["- ", "* ", "• ", "· ", "– "] {
        if let Some(rest) = line.strip_prefix(m) {
            return Some((String::new(), rest.trim()));
        }
    }
    if let Some(c) = line.chars().next()
        && ('①'..='⑳').contains(&c)
    {
        let n = c as u32 - '①' as u32 + 1;
        return Some((n.to_string(), line[c.len_utf8()..].trim()));
    }
    let inner = line.strip_prefix('(').or_else(|| line.strip_prefix('（'));
    let s = inner.unwrap_or(line);
    let label_len = s
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_digit())
        .last()
        .map(|(i, c)| i + c.len_utf8())
        .or_else(|| {
            s.chars()
                .next()
                .filter(|c| c.is_ascii_alphabetic())
                .map(|_| 1)
        })?;
    let label = &s[..label_len];
    if label.len() > 3 {
        return None;
    }
    let rest = &s[label_len..];
    let after = if inner.is_some() {
        rest.strip_prefix(')').or_else(|| rest.strip_prefix('）'))?
    } else {
        rest.strip_prefix(". ")
            .or_else(|| rest.strip_prefix(") "))
            .or_else(|| rest.strip_prefix('）'))
            .or_else(|| rest.strip_prefix('、'))?
    };
    // A lone letter must be a capital or bracketed (`a. m. …` is not a list).
    if label.chars().all(|c| c.is_ascii_alphabetic())
        && inner.is_none()
        && !label.chars().all(|c| c.is_ascii_uppercase())
    {
        return None;
    }
    Some((label.to_owned(), after.trim()))
}

/// `Sentiment: positive` (or 积极/正面, 消极/负面, 中性, 复杂/混合) and `Confidence: 0.8`.
fn sentiment(text: &str) -> Option<Sentiment> {
    let lower = text.to_lowercase();
    let label = lower.lines().find_map(|l| {
        let l = l.trim().trim_start_matches(['*', '#', ' ']);
        let rest = l
            .strip_prefix("sentiment")
            .or_else(|| l.strip_prefix("情感"))
            .or_else(|| l.strip_prefix("情绪"))?;
        let v = rest.trim_start_matches([':', '：', '*', ' ']);
        [
            ("positive", "positive"),
            ("negative", "negative"),
            ("neutral", "neutral"),
            ("mixed", "mixed"),
            ("积极", "positive"),
            ("正面", "positive"),
            ("消极", "negative"),
            ("负面", "negative"),
            ("中性", "neutral"),
            ("混合", "mixed"),
            ("复杂", "mixed"),
        ]
        .iter()
        .find(|(k, _)| v.starts_with(k))
        .map(|(_, l)| (*l).to_owned())
    })?;
    let confidence = lower.lines().find_map(|l| {
        let l = l.trim().trim_start_matches(['*', '#', ' ']);
        let rest = l
            .strip_prefix("confidence")
            .or_else(|| l.strip_prefix("置信度"))?;
        let n: f64 = cooperation::answer::numbers(rest)
            .first()?
            .trim_end_matches('%')
            .parse()
            .ok()?;
        let n = if n > 1.0 && n <= 100.0 { n / 100.0 } else { n };
        (0.0..=1.0).contains(&n).then_some(n)
    });
    Some(Sentiment { label, confidence })
}

/// Rounds to six decimals, so computed facts print without float noise.
pub(crate) fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_and_bullets() {
        assert_eq!(list_item("- one"), Some((String::new(), "one")));
        assert_eq!(list_item("2. two"), Some(("2".into(), "two")));
        assert_eq!(list_item("(3) three"), Some(("3".into(), "three")));
        assert_eq!(list_item("B) bee"), Some(("B".into(), "bee")));
        assert_eq!(list_item("② two"), Some(("2".into(), "two")));
        assert_eq!(list_item("1、第一"), Some(("1".into(), "第一")));
        assert_eq!(list_item("a. m. is early"), None);
        assert_eq!(list_item("2024. was a year"), None);
        assert_eq!(list_item("Plain text"), None);
        assert_eq!(bullets("Intro\n- a\n* b\n\n1. c\n"), vec!["a", "b", "c"]);
    }

    #[test]
    fn sentiment_lines() {
        let s = sentiment("Sentiment: Positive\nConfidence: 0.85\nThe author is happy.").unwrap();
        assert_eq!((s.label.as_str(), s.confidence), ("positive", Some(0.85)));
        let s = sentiment("**Sentiment:** mixed\nConfidence: 70%").unwrap();
        assert_eq!((s.label.as_str(), s.confidence), ("mixed", Some(0.7)));
        assert_eq!(sentiment("情感：负面").unwrap().label, "negative");
        assert_eq!(sentiment("I like it"), None);
    }
}
