//! The store data of one run: WASI context, resource table, the run's capture buffers,
//! its capabilities and the shared record the HTTP sender writes into.

use crate::agent::Agent;
use crate::capabilities::Capabilities;
use crate::config_source::ConfigSource;
use crate::egress::EgressDenial;
use crate::hostcall::HostcallBudget;
use crate::http::EgressHooks;
use crate::limiter::MemoryLimiter;
use crate::limits::Limits;
use crate::log::LogLine;
use crate::output::OutputCapture;
use crate::{ConnectionInfo, wasi_ctx};
use std::fmt;
use std::sync::{Arc, Mutex};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Run-wide facts written from places without access to the store (HTTP requests run on
/// tokio tasks of their own).
#[derive(Debug)]
pub(crate) struct RunShared {
    pub(crate) hostcall: HostcallBudget,
    denials: Mutex<Vec<String>>,
}

impl RunShared {
    pub(crate) fn new(hostcall_bytes: u64) -> Self {
        RunShared {
            hostcall: HostcallBudget::new(hostcall_bytes),
            denials: Mutex::new(Vec::new()),
        }
    }

    /// Records an egress denial; the run's outcome lists it, and a run that then fails is
    /// classified `policy_denied`.
    pub(crate) fn record_denial(&self, denial: &EgressDenial) {
        tracing::warn!(host = denial.host(), "{denial}");
        self.denials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(denial.to_string());
    }

    pub(crate) fn denials(&self) -> Vec<String> {
        self.denials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// The `T` of `Store<T>` for every runbox run.
///
/// Built fresh for each invocation by the sandbox; its methods are the host side of the
/// WIT imports (see the `log`, `connection`, `config` and `http` modules).
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    egress: EgressHooks,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) output: OutputCapture,
    pub(crate) logs: Vec<LogLine>,
    pub(crate) dispatch_id: String,
    pub(crate) connection: Option<ConnectionInfo>,
    pub(crate) agent: Arc<dyn Agent>,
    pub(crate) config: Arc<dyn ConfigSource>,
    pub(crate) shared: Arc<RunShared>,
    /// Set when the agent reported the connection offline during this run.
    pub(crate) agent_offline: Option<String>,
}

impl HostState {
    /// State for one run. `env` is the guest's environment (empty for runbook-world
    /// components; see [`crate::command_env`] for plain commands).
    pub(crate) fn new(
        limits: &Limits,
        capabilities: &Capabilities,
        dispatch_id: String,
        connection: Option<ConnectionInfo>,
        env: &[(String, String)],
    ) -> Self {
        let output = OutputCapture::new(limits.output_bytes);
        let shared = Arc::new(RunShared::new(limits.hostcall_bytes));
        HostState {
            wasi: wasi_ctx::build(&output, env),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            egress: EgressHooks::new(capabilities.egress.clone(), shared.clone()),
            limiter: MemoryLimiter::new(limits.memory_bytes),
            output,
            logs: Vec::new(),
            dispatch_id,
            connection,
            agent: capabilities.agent.clone(),
            config: capabilities.config.clone(),
            shared,
            agent_offline: None,
        }
    }

    /// Charges `bytes` against the run's host-call budget; an error traps the guest.
    pub(crate) fn charge(&self, bytes: usize) -> wasmtime::Result<()> {
        Ok(self.shared.hostcall.charge(bytes as u64)?)
    }

    /// The log lines captured so far.
    pub fn logs(&self) -> &[LogLine] {
        &self.logs
    }

    /// The console captured so far (with the truncation marker if cut).
    pub fn console(&self) -> String {
        self.output.console_text()
    }

    /// The egress denials recorded so far.
    pub fn denials(&self) -> Vec<String> {
        self.shared.denials()
    }
}

impl fmt::Debug for HostState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostState")
            .field("dispatch_id", &self.dispatch_id)
            .field("connection", &self.connection.as_ref().map(|c| &c.name))
            .field("logs", &self.logs.len())
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

impl crate::bindings::runbox::runbook::types::Host for HostState {}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A state with default limits and capabilities, for host-call tests.
    pub(crate) fn state_with(limits: &Limits, caps: &Capabilities) -> HostState {
        HostState::new(limits, caps, "d-1".into(), None, &[])
    }
}
