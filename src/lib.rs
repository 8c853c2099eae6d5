//! `llm_cooperation`: route chat requests across many LLMs, make several models cooperate,
//! and serve it all over OpenAI- and Anthropic-compatible HTTP.
//!
//! The three binaries are thin wrappers over [`entry`]; only [`ui`] prints.

pub mod cli;
pub mod commands;
pub mod config;
pub mod cooperation;
pub mod entry;
pub mod env_vars;
pub mod protocol;
pub mod providers;
pub mod router;
pub mod runner;
pub mod server;
pub mod services;
pub mod store;
pub mod types;
pub mod ui;
