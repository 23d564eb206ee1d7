//! Host side of the runbox WIT contract (`runbox:runbook@0.1.0`).
//!
//! This crate knows how to run one runbook or session hook in a wasmtime sandbox and
//! report what happened; it knows nothing of events, subscriptions or the admin API.
//!
//! - [`bindings`]: `bindgen!` output for the `runbook` world; the WIT types are
//!   re-exported here ([`Invocation`], [`RunbookInfo`], ...).
//! - One module per imported interface: [`log`], [`connection`], [`config`], [`http`].
//! - The seams to the embedder: [`Agent`] (connection exec), [`ConfigSource`] (config
//!   values), [`EgressPolicy`] (outbound HTTP), bundled as [`Capabilities`].
//! - Limits: [`Limits`], [`MemoryLimiter`], [`OutputCapture`], [`HostcallBudget`].
//! - [`Sandbox`]: one linker, [`Sandbox::prepare`] a component, [`Sandbox::run`] an
//!   invocation into a [`RunOutcome`]; failures are classified into stable
//!   [`ErrorCode`]s by [`classify`].
//!
//! ```no_run
//! # async fn demo(bytes: &[u8], invocation: runbox_host_api::Invocation) -> Result<(), Box<dyn std::error::Error>> {
//! use runbox_host_api::*;
//! let mut config = wasmtime::Config::new();
//! configure_engine(&mut config);
//! let engine = wasmtime::Engine::new(&config)?;
//! let _ticker = EpochTicker::start(&engine, DEFAULT_EPOCH_INTERVAL);
//! let sandbox = Sandbox::new(&engine)?;
//! let component = wasmtime::component::Component::new(&engine, bytes)?;
//! let prepared = sandbox.prepare(&component)?;
//! let outcome = sandbox.run(&prepared, RunRequest::new(invocation)).await;
//! println!("{:?} used {} fuel", outcome.result, outcome.usage.fuel_used);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod agent;
pub mod bindings;
pub mod capabilities;
pub mod classify;
pub mod config;
pub mod config_source;
pub mod connection;
pub mod egress;
pub mod engine;
pub mod error;
pub mod hostcall;
pub mod http;
pub mod limiter;
pub mod limits;
pub mod log;
pub mod outcome;
pub mod output;
pub mod sandbox;
pub mod sidecar;
pub mod standby;
pub mod state;
pub mod types;
pub mod wasi_ctx;

pub use agent::{Agent, AgentError, NoAgent};
pub use bindings::runbox::runbook::config::ConfigError;
pub use bindings::runbox::runbook::connection::{ExecError, ExecOutput};
pub use bindings::runbox::runbook::log::Level;
pub use bindings::runbox::runbook::types::{
    ConnectionInfo, HookKind, InvalidParams, Invocation, ParamKind, ParamSpec, RunError,
    RunbookInfo, Trigger,
};
pub use bindings::{Runbook, RunbookPre};
pub use capabilities::Capabilities;
pub use classify::{RunFacts, classify, classify_exit, classify_run_error, deadline_exceeded};
pub use config_source::{ConfigSource, ConfigSourceError, StaticConfig};
pub use egress::{
    EgressDenial, EgressPolicy, EgressRule, EgressScheme, EgressTarget, HostPattern, IpNetwork,
    blocked_range,
};
pub use engine::{
    ASYNC_STACK_SIZE, DEFAULT_EPOCH_INTERVAL, EpochTicker, MAX_WASM_STACK, configure_engine,
};
pub use error::{ErrorCode, Failure, HostError};
pub use hostcall::HostcallBudget;
pub use limiter::MemoryLimiter;
pub use limits::{Limits, parse_duration, parse_size};
pub use log::{LogLevel, LogLine};
pub use outcome::{RunOutcome, Usage};
pub use output::{OutputCapture, STDERR_TAIL_BYTES, cap_text, truncation_marker};
pub use sandbox::{ComponentKind, Prepared, RunRequest, Sandbox};
pub use sidecar::parse_sidecar;
pub use standby::{Spent, Standby};
pub use state::HostState;
pub use wasi_ctx::{ARGV0, ATTEMPT_ENV, DISPATCH_ID_ENV, PAYLOAD_ENV, command_env, is_env_name};
