//! Cooperation through the gateway: virtual models (`coop/voting:a,b,c?…`), complex requests
//! routed to a plan when `allow_cooperation` is set, `POST /cooperation/task` and
//! `POST /service`. The receipt comes back in the response (`receipt`) and in the logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::body::JsonBody;
use super::middleware::ModelUsed;
use super::{ApiError, AppState};
use crate::config::ConfigError;
use crate::cooperation::{CoopError, ExecOptions, Mode, ModeSpec, compile, execute};
use crate::providers::ProviderError;
use crate::router::Router;
use crate::services::{self, Service, ServiceError, ServiceRequest};
use crate::types::{ChatRequest, ChatResponse, FinishReason, Role, Usage};

/// The cooperation's input: the last user message, after the system prompt and earlier turns
/// as a transcript when there are any.
pub fn input_of(req: &ChatRequest) -> String {
    let users = req
        .messages
        .iter()
        .filter(|m| m.role != Role::System)
        .count();
    if users <= 1 {
        let system: Vec<String> = req
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.joined_text())
            .collect();
        let last = req
            .messages
            .last()
            .map(|m| m.joined_text())
            .unwrap_or_default();
        return if system.is_empty() {
            last
        } else {
            format!("{}\n\n{last}", system.join("\n"))
        };
    }
    req.messages
        .iter()
        .map(|m| format!("{}: {}", m.role.as_str(), m.joined_text()))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The outcome of a cooperation, as the protocols need it.
#[derive(Debug)]
pub struct CoopAnswer {
    pub response: ChatResponse,
    pub receipt: Value,
}

/// Runs `spec` on `input`.
pub async fn run(
    router: Arc<Router>,
    spec: &ModeSpec,
    input: &str,
    name: &str,
) -> Result<CoopAnswer, ApiError> {
    let started = Instant::now();
    let plan = compile(spec, &router).map_err(coop_error)?;
    let outcome = execute(
        router,
        &plan,
        input,
        ExecOptions {
            step_timeout: Duration::from_secs(300),
            ..ExecOptions::default()
        },
    )
    .await
    .map_err(coop_error)?;
    let r = &outcome.receipt;
    tracing::info!(
        cooperation = %name,
        steps = r.steps.len(),
        cost_usd = r.cost_usd,
        wall_ms = r.wall_ms,
        "cooperation finished"
    );
    Ok(CoopAnswer {
        response: ChatResponse {
            model: name.to_owned(),
            provider: "cooperation".into(),
            latency: started.elapsed(),
            ..ChatResponse::from_text(
                outcome.text.clone(),
                FinishReason::Stop,
                Usage {
                    input_tokens: r.input_tokens,
                    output_tokens: r.output_tokens,
                    ..Usage::default()
                },
            )
        },
        receipt: serde_json::to_value(&outcome.receipt).unwrap_or_default(),
    })
}

/// A cooperation failure in the API's terms; upstream addresses never reach the client.
pub fn coop_error(e: CoopError) -> ApiError {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        parts.push(match s.downcast_ref::<ProviderError>() {
            Some(ProviderError::Connect { provider, .. }) => {
                format!("Cannot connect to provider `{provider}`")
            }
            _ => s.to_string(),
        });
        source = s.source();
    }
    let message = parts.join(": ");
    match e {
        CoopError::Invalid(ConfigError::UnknownModel { .. }) => {
            ApiError::new(StatusCode::NOT_FOUND, "model_not_found", message)
        }
        CoopError::Invalid(_) => ApiError::bad_request(message),
        CoopError::Failed { .. } => {
            ApiError::new(StatusCode::BAD_GATEWAY, "cooperation_failed", message)
        }
        CoopError::Cancelled { .. } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "cancelled", message)
        }
    }
}

/// `POST /cooperation/task`, as a JSON body or query parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    pub query: String,
    #[serde(default)]
    pub mode: Option<String>,
    /// A list, or names separated by commas.
    #[serde(default)]
    pub models: Option<Models>,
    #[serde(default)]
    pub integration_strategy: Option<String>,
    #[serde(default)]
    pub judge: Option<String>,
    #[serde(default)]
    pub rounds: Option<u32>,
    #[serde(default)]
    pub layers: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Models {
    List(Vec<String>),
    Joined(String),
}

/// [`TaskRequest`] as query parameters, the way Python `requests` sends `params=`: a list
/// becomes repeated keys (`models=a&models=b`); `models=a,b` works too.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskQuery {
    query: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    integration_strategy: Option<String>,
    #[serde(default)]
    judge: Option<String>,
    #[serde(default)]
    rounds: Option<u32>,
    #[serde(default)]
    layers: Option<u32>,
}

impl From<TaskQuery> for TaskRequest {
    fn from(q: TaskQuery) -> Self {
        TaskRequest {
            query: q.query,
            mode: q.mode,
            models: (!q.models.is_empty()).then_some(Models::List(q.models)),
            integration_strategy: q.integration_strategy,
            judge: q.judge,
            rounds: q.rounds,
            layers: q.layers,
        }
    }
}

/// Reads a task from a query string.
fn task_from_query(query: &str) -> Result<TaskRequest, ApiError> {
    serde_html_form::from_str::<TaskQuery>(query)
        .map(TaskRequest::from)
        .map_err(|e| {
            usage(format!(
                "The query parameters are not a cooperation task ({e}); send `query`, `mode`, `models` (repeated or comma-separated) and `integration_strategy`"
            ))
        })
}

fn usage(message: String) -> ApiError {
    ApiError::bad_request(message)
}

pub async fn cooperation_task(
    State(state): State<Arc<AppState>>,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let task = if !body.iter().all(u8::is_ascii_whitespace) {
        serde_json::from_slice::<TaskRequest>(&body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request_error",
                format!("The body is not a cooperation task ({e}); send `query`, `mode`, `models`, `integration_strategy`"),
            )
        })?
    } else if let Some(query) = uri.query().filter(|q| !q.is_empty()) {
        task_from_query(query)?
    } else {
        return Err(usage(
            "Send `query`, `mode` and `models` as a JSON body or as query parameters".into(),
        ));
    };
    if task.query.trim().is_empty() {
        return Err(usage("`query` is empty".into()));
    }
    let mode: Mode = task
        .mode
        .as_deref()
        .unwrap_or("parallel")
        .parse()
        .map_err(coop_error)?;
    // Each entry may itself be a comma-separated list (`models=a,b`, `["a,b"]`).
    let models: Vec<String> = match task.models {
        Some(Models::List(v)) => v,
        Some(Models::Joined(s)) => vec![s],
        None => Vec::new(),
    }
    .iter()
    .flat_map(|m| m.split(','))
    .map(|m| m.trim().to_owned())
    .filter(|m| !m.is_empty())
    .collect();
    let live = state.live();
    let models = if models.is_empty() {
        // Let the router pick the members: its top three for this query.
        let decision = live
            .router
            .decide(
                &ChatRequest::simple("auto", None, &task.query),
                &Default::default(),
            )
            .map_err(ApiError::from)?;
        decision
            .order()
            .iter()
            .take(3)
            .map(|m| m.to_string())
            .collect()
    } else {
        models
    };
    let mut spec = ModeSpec::new(mode, models);
    spec.integration = task
        .integration_strategy
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(coop_error)?;
    spec.judge = task.judge;
    if let Some(r) = task.rounds {
        spec.rounds = r;
    }
    if let Some(l) = task.layers {
        spec.layers = l;
    }
    let name = format!("coop/{}:{}", spec.mode, spec.models.join(","));
    let answer = run(live.router.clone(), &spec, &task.query, &name).await?;
    let mut resp = Json(json!({
        "request_id": format!("{:032x}", rand::random::<u128>()),
        "success": true,
        "result": answer.response.text(),
        "mode": spec.mode.as_str(),
        "models": spec.models,
        "integration_strategy": spec.integration.map(|i| i.as_str()),
        "processing_time": started.elapsed().as_secs_f64(),
        "receipt": answer.receipt,
    }))
    .into_response();
    resp.extensions_mut().insert(ModelUsed(name));
    Ok(resp)
}

/// `POST /service`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceBody {
    pub service_type: String,
    pub content: String,
    /// The type of analysis: `type`, or the original system's `analysis_type`,
    /// `insight_type` or `decision_type`; `models`, `model`, `judge`, `max_tokens` and
    /// `temperature` are passed on.
    #[serde(default)]
    pub parameters: serde_json::Map<String, Value>,
    /// Who asked (the original system's field): recorded in the request log only.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// The parameter names that pick the type of analysis: ours, then the original system's.
const TYPE_KEYS: [&str; 4] = ["type", "analysis_type", "insight_type", "decision_type"];

/// Takes the type of analysis out of `parameters`; naming two different types is an error.
fn take_kind(parameters: &mut serde_json::Map<String, Value>) -> Result<Option<String>, ApiError> {
    let mut kind: Option<(&str, String)> = None;
    for key in TYPE_KEYS {
        let Some(value) = parameters.remove(key) else {
            continue;
        };
        let Value::String(value) = value else {
            return Err(usage(format!(
                "`parameters.{key}` must be a string, such as `\"summary\"`"
            )));
        };
        match &kind {
            Some((first, v)) if *v != value => {
                return Err(usage(format!(
                    "`parameters.{first}` is `{v}` but `parameters.{key}` is `{value}`; give one type"
                )));
            }
            Some(_) => {}
            None => kind = Some((key, value)),
        }
    }
    Ok(kind.map(|(_, v)| v))
}

/// The fields the original system's services answered with, beside ours: a document's
/// `document_length` (words), data's `data_points` and `trend_analysis`, a decision's
/// `comparison`.
fn original_fields(result: &services::ServiceResult) -> serde_json::Map<String, Value> {
    let mut fields = serde_json::Map::new();
    match &result.facts {
        services::Facts::Document(d) => {
            fields.insert("document_length".into(), json!(d.words));
        }
        services::Facts::Data(d) => {
            let points: usize = d.series.iter().map(|s| s.count).sum();
            fields.insert("data_points".into(), json!(points));
        }
        services::Facts::Decision(_) => {}
    }
    let named = match (result.service, result.kind.as_str()) {
        (Service::DataInsight, "trends") => Some("trend_analysis"),
        (Service::DecisionSupport, "comparison") => Some("comparison"),
        _ => None,
    };
    if let Some(name) = named {
        fields.insert(name.into(), json!(result.analysis));
    }
    fields
}

pub async fn service(
    State(state): State<Arc<AppState>>,
    body: Result<JsonBody<ServiceBody>, ApiError>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let JsonBody(body) = body?;
    let service = <Service as clap::ValueEnum>::from_str(&body.service_type.replace('_', "-"), true)
        .map_err(|_| {
            usage(format!(
                "Unknown `service_type` `{}`; use `document_analysis`, `data_insight` or `decision_support`",
                body.service_type
            ))
        })?;
    if let Some(user) = &body.user_id {
        tracing::debug!(user_id = %user, service = %service, "service request");
    }
    let mut parameters = body.parameters;
    let kind = take_kind(&mut parameters)?;
    let req = ServiceRequest {
        service,
        kind,
        content: body.content,
        parameters: Value::Object(parameters),
    };
    let result = services::run(state.live().router.clone(), req)
        .await
        .map_err(|e| match e {
            ServiceError::Cooperation(c) => coop_error(c),
            other => ApiError::bad_request(format!("{:#}", anyhow::Error::from(other))),
        })?;
    let models = result.models.join(",");
    let mut value = serde_json::to_value(&result).unwrap_or_default();
    if let Value::Object(map) = &mut value {
        map.extend(original_fields(&result));
    }
    let mut resp = Json(json!({
        "request_id": format!("{:032x}", rand::random::<u128>()),
        "success": true,
        "result": value,
        "model_used": models,
        "processing_time": started.elapsed().as_secs_f64(),
    }))
    .into_response();
    resp.extensions_mut().insert(ModelUsed(models));
    Ok(resp)
}
