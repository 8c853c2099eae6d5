//! `llm-cooperation embed`: text in, vectors out, through an embedding model (a model with
//! the task `embedding`), with failover between its replicas. One JSON array a line, in input
//! order, for shell pipelines; `--json` prints the whole answer.

use std::io::BufRead;
use std::process::ExitCode;

use crate::cli::{EmbedArgs, GlobalArgs};
use crate::config::ConfigError;
use crate::protocol::openai_embeddings::MAX_INPUTS;
use crate::router::{RouteError, Router};
use crate::types::{EmbedInput, EmbedRequest};
use crate::ui;

pub fn run(global: &GlobalArgs, args: EmbedArgs) -> anyhow::Result<ExitCode> {
    let texts: Vec<String> = if !args.text.is_empty() {
        vec![args.text.join(" ")]
    } else if ui::stdin_is_terminal() {
        return Err(ConfigError::Usage(
            "No text: pass it as an argument (`llm-cooperation embed \"…\"`), or pipe lines on standard input (one vector per line)".into(),
        )
        .into());
    } else {
        std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect()
    };
    if texts.is_empty() {
        return Err(
            ConfigError::Usage("Standard input has no non-empty line to embed".into()).into(),
        );
    }
    let config = super::load_config(global)?;
    let router = Router::new(&config)?;
    let runtime = super::runtime()?;
    let model = args
        .model
        .as_deref()
        .map_or_else(|| "auto".into(), |m| config.resolve_model(m));
    let mut vectors = Vec::with_capacity(texts.len());
    let mut used = String::new();
    let mut tokens = 0u64;
    // Batches of the API's limit, in order.
    for batch in texts.chunks(MAX_INPUTS) {
        let req = EmbedRequest {
            model: model.clone(),
            input: EmbedInput::Texts(batch.to_vec()),
            dimensions: args.dimensions,
            user: None,
        };
        let routed = runtime.block_on(router.embed(req)).map_err(|e| match e {
            RouteError::NoCandidate(why) => ConfigError::Usage(why).into(),
            RouteError::Config(c) => c.into(),
            RouteError::Exhausted { source, .. } => anyhow::Error::from(source),
            other => anyhow::Error::from(other),
        })?;
        used = routed.value.model;
        tokens += u64::from(routed.value.usage.input_tokens);
        vectors.extend(routed.value.vectors);
    }
    if args.json {
        ui::json(&serde_json::json!({
            "model": used,
            "usage": { "input_tokens": tokens },
            "vectors": vectors,
        }))?;
    } else {
        for v in &vectors {
            ui::line(&serde_json::to_string(v)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
