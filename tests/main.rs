//! The one integration-test binary: binaries run through `CARGO_BIN_EXE_*`, upstreams are
//! real HTTP servers on `127.0.0.1:0`.
#![allow(clippy::print_stdout, clippy::print_stderr)] // tests report measurements

mod bad_input;
mod binaries;
mod cli_config;
mod cli_query;
mod cli_router;
mod cli_rules;
mod common;
mod cooperation;
mod documented_interface;
mod embeddings;
mod faults;
mod gateway;
mod gateway_coop;
mod generated;
mod history;
mod human_output;
mod protocol_conformance;
mod providers;
mod real_clients;
mod replicas;
mod responses_api;
mod routing;
mod secrets;
mod server;
mod services;

// The local runner (feature `local`, which needs libtorch: `.ci/deps.sh` installs it).
#[cfg(feature = "local")]
mod local_serving;
#[cfg(feature = "local")]
mod runner;
