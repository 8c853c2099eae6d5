//! Local inference on libtorch (cargo feature `local`; without it only the GGUF header parser,
//! which needs no libtorch, is built): GGUF and Hugging Face loaders, the
//! Llama/Qwen2 decoder, tensor parallelism across ranks, and an engine with continuous batching
//! that runs on its own OS threads.
//!
//! ```no_run
//! # fn main() -> Result<(), llm_cooperation::runner::RunnerError> {
//! use llm_cooperation::runner::{Engine, EngineConfig, GenerateRequest};
//! use llm_cooperation::types::Message;
//! let engine = Engine::start(EngineConfig::new("SmolLM2-135M-Instruct.Q4_1.gguf"))?;
//! let answer = engine.generate(GenerateRequest::chat(vec![Message::user("Hi")]))?;
//! # Ok(()) }
//! ```

#[cfg(feature = "local")]
mod api;
#[cfg(feature = "local")]
pub mod chat_template;
#[cfg(feature = "local")]
pub mod checkpoint;
#[cfg(feature = "local")]
mod engine;
mod error;
pub mod gguf;
#[cfg(feature = "local")]
pub mod models;
#[cfg(feature = "local")]
pub mod parallel;
#[cfg(feature = "local")]
pub mod safetensors;
#[cfg(feature = "local")]
pub mod sampling;
#[cfg(feature = "local")]
pub mod tokenizer;

#[cfg(feature = "local")]
pub use api::*;
pub use error::RunnerError;
#[cfg(feature = "local")]
pub use sampling::SamplingParams;
