//! `llm-cooperation query`: one prompt to one model, streamed to a terminal.

use std::io::Read;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::cli::{GlobalArgs, QueryArgs};
use crate::config::ConfigError;
use crate::providers::{CollectError, Deployment, ProviderError, Registry, collect_stream};
use crate::types::{ChatRequest, ChatResponse, FinishReason};
use crate::ui;

pub fn run(global: &GlobalArgs, args: QueryArgs) -> anyhow::Result<ExitCode> {
    let prompt = read_prompt(&args)?;
    let config = super::load_config(global)?;
    let model = match &args.model {
        Some(m) => m.clone(),
        None => config.default_model()?.to_owned(),
    };
    let registry = Registry::from_config(&config)?;
    let deployments = registry.deployments(&config, &model)?;

    let mut req = ChatRequest::simple(&model, args.system.as_deref(), &prompt);
    req.max_tokens = args.max_tokens;
    req.temperature = args.temperature;
    req.top_p = args.top_p;
    req.seed = args.seed;
    req.stop = args.stop.clone();

    let stream = !args.json && !args.no_stream && (args.stream || ui::stdout_is_terminal());
    let runtime = super::runtime()?;
    let response = runtime.block_on(answer(&deployments, req, stream))?;
    if args.json {
        ui::json(&response)?;
    } else {
        if !stream {
            ui::line(&response.text)?;
        }
        if ui::stderr_is_terminal() {
            ui::note(&summary(&response));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The prompt from the arguments, `--query`, or piped standard input.
fn read_prompt(args: &QueryArgs) -> anyhow::Result<String> {
    let prompt = if let Some(q) = &args.query {
        q.clone()
    } else if !args.prompt.is_empty() {
        args.prompt.join(" ")
    } else if !ui::stdin_is_terminal() {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("Failed to read the prompt from standard input")?;
        text
    } else {
        String::new()
    };
    if prompt.trim().is_empty() {
        return Err(ConfigError::Usage(
            "No prompt: pass it as an argument (`llm-cooperation query \"…\"`), with `--query`, or on standard input".into(),
        )
        .into());
    }
    Ok(prompt)
}

/// Tries the deployments in turn while failures are retriable; a stream is never retried
/// once text has been shown.
async fn answer(
    deployments: &[&Deployment],
    req: ChatRequest,
    stream: bool,
) -> anyhow::Result<ChatResponse> {
    let mut last: Option<ProviderError> = None;
    for deployment in deployments {
        let started = Instant::now();
        let result = if stream {
            stream_one(deployment, req.clone(), started).await
        } else {
            deployment.chat(req.clone()).await.map_err(Into::into)
        };
        match result {
            Ok(resp) => return Ok(resp),
            Err(Failure::Provider(e)) if e.is_retriable() => {
                tracing::warn!(model = %deployment.model.name, provider = deployment.provider(), error = %e, "trying the next deployment");
                last = Some(e);
            }
            Err(Failure::Provider(e)) => return Err(e.into()),
            Err(Failure::AfterOutput(e)) => return Err(e),
        }
    }
    match last {
        Some(e) => Err(e.into()),
        None => bail!("No deployment could be tried"),
    }
}

enum Failure {
    /// Nothing was shown yet: another deployment may answer.
    Provider(ProviderError),
    /// Text already reached the user: stop here.
    AfterOutput(anyhow::Error),
}

impl From<ProviderError> for Failure {
    fn from(e: ProviderError) -> Self {
        Failure::Provider(e)
    }
}

async fn stream_one(
    deployment: &Deployment,
    req: ChatRequest,
    started: Instant,
) -> Result<ChatResponse, Failure> {
    let events = deployment.chat_stream(req).await?;
    let mut shown = false;
    let collected = tokio::select! {
        result = collect_stream(events, started, |text| {
            shown = true;
            ui::write(text)
        }) => result,
        _ = tokio::signal::ctrl_c() => {
            let _ = ui::line("");
            return Err(Failure::AfterOutput(anyhow::anyhow!("Interrupted")));
        }
    };
    match collected {
        Ok(c) => {
            if !c.text.ends_with('\n') {
                ui::line("").map_err(|e| Failure::AfterOutput(e.into()))?;
            }
            Ok(ChatResponse {
                text: c.text,
                model: deployment.model.name.clone(),
                provider: deployment.provider().to_owned(),
                finish_reason: c.finish_reason.unwrap_or(FinishReason::Stop),
                usage: c.usage,
                latency: started.elapsed(),
                ttft: c.ttft,
            })
        }
        Err((_, CollectError::Output(e))) => Err(Failure::AfterOutput(e.into())),
        Err((partial, CollectError::Provider(e))) if partial.text.is_empty() && !shown => {
            Err(Failure::Provider(e))
        }
        Err((_, CollectError::Provider(e))) => {
            let _ = ui::line("");
            Err(Failure::AfterOutput(anyhow::Error::from(e).context(
                "The answer broke off; the text above is incomplete",
            )))
        }
    }
}

fn summary(r: &ChatResponse) -> String {
    let mut s = format!(
        "{} via {} · {} → {} tokens · {:.0} ms",
        r.model,
        r.provider,
        r.usage.input_tokens,
        r.usage.output_tokens,
        r.latency.as_secs_f64() * 1e3
    );
    if let Some(ttft) = r.ttft {
        s.push_str(&format!(
            " (first token {:.0} ms)",
            ttft.as_secs_f64() * 1e3
        ));
    }
    if r.finish_reason == FinishReason::Length {
        s.push_str(" · stopped at max tokens");
    }
    s
}
