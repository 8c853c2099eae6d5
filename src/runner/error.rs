//! [`RunnerError`]: everything that can go wrong loading a model or generating with it.

use std::path::PathBuf;

/// An error from the local runner. Loader errors name the file, the tensor and what was
/// expected; engine errors say whether the caller may retry ([`RunnerError::Overloaded`]).
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("Failed to read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file is not what its format promises (bad magic, truncated, inconsistent sizes).
    #[error("Bad model file `{}`: {message}", path.display())]
    Format { path: PathBuf, message: String },

    /// A tensor is missing, has the wrong shape or a type the loader cannot read.
    #[error("Bad model file `{}`: tensor `{tensor}`: {message}", path.display())]
    Tensor {
        path: PathBuf,
        tensor: String,
        message: String,
    },

    /// The model's configuration is incomplete or unsupported.
    #[error("Unsupported model `{}`: {message}", path.display())]
    Config { path: PathBuf, message: String },

    #[error("Tokenizer error: {0}")]
    Tokenizer(String),

    #[error("Chat template error: {0}")]
    Template(String),

    /// The tensor-parallel degree does not divide the model's head or MLP sizes.
    #[error(
        "Tensor parallelism `tp = {tp}` does not fit the model: {what} ({count}) is not divisible by {tp}; choose a `tp` that divides it"
    )]
    Parallelism {
        tp: usize,
        what: &'static str,
        count: usize,
    },

    /// The request cannot be served as given.
    #[error("Invalid request: {0}")]
    InvalidRequest(String),

    /// The prompt and `max_tokens` do not fit the model's context.
    #[error(
        "The prompt has {prompt} tokens and asks for {max_tokens} more, but the context holds {context}: shorten the prompt or lower `max_tokens`"
    )]
    ContextOverflow {
        prompt: usize,
        max_tokens: usize,
        context: usize,
    },

    /// The engine's queue is full; the caller may retry later (HTTP 503).
    #[error("The local engine is busy: {queued} requests are already waiting; retry later")]
    Overloaded { queued: usize },

    /// The engine's threads have stopped (after a panic or shutdown).
    #[error("The local engine has stopped{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Stopped { reason: Option<String> },

    #[cfg(feature = "local")]
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

impl RunnerError {
    pub(crate) fn format(path: &std::path::Path, message: impl Into<String>) -> Self {
        RunnerError::Format {
            path: path.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn tensor(
        path: &std::path::Path,
        tensor: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        RunnerError::Tensor {
            path: path.to_owned(),
            tensor: tensor.into(),
            message: message.into(),
        }
    }

    #[cfg(feature = "local")]
    pub(crate) fn config(path: &std::path::Path, message: impl Into<String>) -> Self {
        RunnerError::Config {
            path: path.to_owned(),
            message: message.into(),
        }
    }

    /// Whether retrying the same request later may succeed (the server answers 503).
    pub fn is_overloaded(&self) -> bool {
        matches!(self, RunnerError::Overloaded { .. })
    }
}
