//! The sandbox: one linker for every guest, pre-instantiated components, and the per-run
//! path (fresh store, limits, call, classification).
//!
//! Everything that can be built once is built in [`Sandbox::new`] (linker) or
//! [`Sandbox::prepare`] (type-checked `InstancePre`); a run only creates its store data,
//! the store, and the instance. [`Sandbox::standby`] and [`Sandbox::run_on`] move the
//! instance's creation and teardown off the run's path (see [`crate::standby`]).

use crate::bindings::RunbookPre;
use crate::capabilities::Capabilities;
use crate::classify::{RunFacts, classify, classify_exit, classify_run_error, deadline_exceeded};
use crate::error::{ErrorCode, Failure, HostError};
use crate::limits::Limits;
use crate::outcome::{RunOutcome, Usage};
use crate::output::cap_text;
use crate::standby::{Spent, Standby};
use crate::state::HostState;
use crate::wasi_ctx::{PAYLOAD_ENV, command_env};
use crate::{Invocation, RunError, RunbookInfo};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p2::bindings::{Command, CommandPre};

/// How long past the deadline the outer timeout waits. The epoch callback normally stops
/// the guest at the deadline; the outer timeout catches a guest blocked in a host call.
const OUTER_GRACE: Duration = Duration::from_millis(100);

/// Fuel per slice between yields (about 0.7 ms of CPU).
const FUEL_SLICE: u64 = 10_000_000;

/// The two kinds of guest runbox runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    /// Targets the `runbook` world: exports `describe` and `run`.
    Runbook,
    /// A plain `wasi:cli/command`: exports `wasi:cli/run`.
    Command,
}

impl ComponentKind {
    /// `runbook` or `command`.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Runbook => "runbook",
            ComponentKind::Command => "command",
        }
    }
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One invocation to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// What to run with.
    pub invocation: Invocation,
    /// The limits of this run.
    pub limits: Limits,
    /// What this run is granted.
    pub capabilities: Capabilities,
}

impl RunRequest {
    /// A request with default limits and no capabilities.
    pub fn new(invocation: Invocation) -> Self {
        RunRequest {
            invocation,
            limits: Limits::default(),
            capabilities: Capabilities::default(),
        }
    }
}

#[derive(Clone)]
enum Pre {
    Runbook(RunbookPre<HostState>),
    Command(CommandPre<HostState>),
}

struct PreparedInner {
    kind: ComponentKind,
    pre: Pre,
    imports: Vec<String>,
    exports: Vec<String>,
}

/// A type-checked, pre-instantiated component. Cheap to clone.
#[derive(Clone)]
pub struct Prepared {
    inner: Arc<PreparedInner>,
}

impl Prepared {
    /// Which kind of guest this is.
    pub fn kind(&self) -> ComponentKind {
        self.inner.kind
    }

    /// The component's import names (e.g. `wasi:http/outgoing-handler@0.2.12`).
    pub fn imports(&self) -> &[String] {
        &self.inner.imports
    }

    /// The component's export names.
    pub fn exports(&self) -> &[String] {
        &self.inner.exports
    }

    /// The runbook-world pre-instance, for a runbook component.
    pub fn runbook_pre(&self) -> Option<&RunbookPre<HostState>> {
        match &self.inner.pre {
            Pre::Runbook(pre) => Some(pre),
            Pre::Command(_) => None,
        }
    }

    /// The command pre-instance, for a plain command.
    pub fn command_pre(&self) -> Option<&CommandPre<HostState>> {
        match &self.inner.pre {
            Pre::Command(pre) => Some(pre),
            Pre::Runbook(_) => None,
        }
    }
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("kind", &self.inner.kind)
            .field("imports", &self.inner.imports)
            .field("exports", &self.inner.exports)
            .finish()
    }
}

struct SandboxInner {
    engine: Engine,
    linker: Linker<HostState>,
}

/// Runs runbooks and hooks. Cheap to clone; share one per engine.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<SandboxInner>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

/// A component's instance, with typed access to its exports.
pub(crate) enum Instantiated {
    Runbook(crate::bindings::Runbook),
    Command(Command),
}

/// Where a run's instance comes from.
enum Target<'a> {
    /// Instantiated during the run, in a new store.
    Fresh(&'a Prepared),
    /// Made ahead by [`Sandbox::standby`].
    Standby(Standby),
}

impl Target<'_> {
    fn kind(&self) -> ComponentKind {
        match self {
            Target::Fresh(prepared) => prepared.kind(),
            Target::Standby(standby) => standby.kind(),
        }
    }

    /// The target's store, if it already has one (given back unused when a run is
    /// refused before it starts).
    fn into_spent(self) -> Spent {
        match self {
            Target::Fresh(_) => Spent::none(),
            Target::Standby(standby) => Spent(Some(standby.store)),
        }
    }
}

/// What to call on the instance.
enum Call<'a> {
    Describe,
    Run(&'a Invocation),
    Command,
}

/// What the call returned.
enum Returned {
    Info(RunbookInfo),
    Run(Result<String, RunError>),
    Command(Result<(), ()>),
}

/// Why a call did not return.
enum Stopped {
    Error(wasmtime::Error),
    /// The outer timeout fired (the guest was blocked, typically in a host call).
    Timeout,
    /// The embedder's interrupt future completed.
    Interrupted,
}

/// A finished execution with everything needed to report on it; its store (whose data
/// holds what the run captured) is still alive.
struct Execution {
    returned: Result<Returned, Stopped>,
    fuel_used: u64,
    duration: Duration,
    store: Store<HostState>,
}

impl Sandbox {
    /// Builds the one linker for every guest: WASI p2 (async), `wasi:http`, and the runbox
    /// imports. `engine` must have been configured with [`crate::configure_engine`].
    pub fn new(engine: &Engine) -> Result<Sandbox, HostError> {
        let mut probe = Store::new(engine, ());
        if probe.set_fuel(0).is_err() {
            return Err(HostError::EngineConfig(
                "fuel is not enabled; pass the Config through runbox_host_api::configure_engine"
                    .into(),
            ));
        }
        let link = |what: &str, e: wasmtime::Error| HostError::Linker(format!("{what}: {e:#}"));
        let mut linker = Linker::<HostState>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| link("wasi", e))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| link("wasi:http", e))?;
        use crate::bindings::runbox::runbook as rb;
        rb::log::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| link("runbox log", e))?;
        rb::connection::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| link("runbox connection", e))?;
        rb::config::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| link("runbox config", e))?;
        rb::types::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| link("runbox types", e))?;
        Ok(Sandbox {
            inner: Arc::new(SandboxInner {
                engine: engine.clone(),
                linker,
            }),
        })
    }

    /// The engine this sandbox runs on.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Detects the component's kind, type-checks its imports against the linker and
    /// pre-instantiates it.
    pub fn prepare(&self, component: &Component) -> Result<Prepared, Failure> {
        let invalid = |message: String| Failure::new(ErrorCode::InvalidComponent, message);
        let engine = &self.inner.engine;
        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
        let is_func = |name: &str| {
            matches!(
                ty.get_export(engine, name).map(|e| e.ty),
                Some(ComponentItem::ComponentFunc(_))
            )
        };
        let kind = if is_func("describe") && is_func("run") {
            ComponentKind::Runbook
        } else if exports.iter().any(|n| n.starts_with("wasi:cli/run@0.2.")) {
            ComponentKind::Command
        } else {
            return Err(invalid(format!(
                "the component is neither a runbook (exports `describe` and `run`) nor a \
                 command (exports `wasi:cli/run@0.2.x`); it exports [{}]",
                exports.join(", ")
            )));
        };
        let pre = self.inner.linker.instantiate_pre(component).map_err(|e| {
            invalid(format!(
                "{e:#}; runbox provides WASI 0.2, wasi:http/outgoing-handler and \
                 runbox:runbook/{{log, connection, config}}; the component imports [{}]",
                imports.join(", ")
            ))
        })?;
        let pre = match kind {
            ComponentKind::Runbook => Pre::Runbook(RunbookPre::new(pre).map_err(|e| {
                invalid(format!("the runbook exports have the wrong types: {e:#}"))
            })?),
            ComponentKind::Command => Pre::Command(CommandPre::new(pre).map_err(|e| {
                invalid(format!(
                    "the `wasi:cli/run` export has the wrong type: {e:#}"
                ))
            })?),
        };
        tracing::debug!(%kind, imports = imports.len(), "component prepared");
        Ok(Prepared {
            inner: Arc::new(PreparedInner {
                kind,
                pre,
                imports,
                exports,
            }),
        })
    }

    /// Calls a runbook's `describe` export under `limits` (use [`Limits::describe`]) with
    /// no capabilities. `None` for plain commands (their metadata is a sidecar).
    pub async fn describe(
        &self,
        prepared: &Prepared,
        limits: &Limits,
    ) -> Result<Option<RunbookInfo>, Failure> {
        if prepared.kind() == ComponentKind::Command {
            return Ok(None);
        }
        let span = tracing::info_span!("describe");
        async {
            let state = bare_state(limits, "describe")?;
            let exec = self
                .execute(
                    Target::Fresh(prepared),
                    limits,
                    state,
                    Call::Describe,
                    std::future::pending(),
                )
                .await;
            let facts = facts(exec.store.data(), exec.fuel_used, limits);
            match exec.returned {
                Ok(Returned::Info(info)) => Ok(Some(info)),
                Ok(_) => Err(Failure::new(
                    ErrorCode::Internal,
                    "describe returned something other than runbook-info",
                )),
                Err(Stopped::Error(e)) => Err(classify(e, &facts)),
                Err(Stopped::Timeout) => Err(deadline_exceeded(limits.timeout)),
                Err(Stopped::Interrupted) => Err(interrupted()),
            }
        }
        .instrument(span)
        .await
    }

    /// Runs one invocation on a fresh instance. Never fails: every failure is classified
    /// into the outcome, and usage is always reported.
    pub async fn run(&self, prepared: &Prepared, request: RunRequest) -> RunOutcome {
        self.run_until(prepared, request, std::future::pending())
            .await
    }

    /// Like [`Sandbox::run`], but stops the guest when `interrupt` completes first (e.g. a
    /// shutdown signal): the outcome is then `interrupted` (retryable), still with usage,
    /// console and logs up to that point.
    pub async fn run_until(
        &self,
        prepared: &Prepared,
        request: RunRequest,
        interrupt: impl Future<Output = ()> + Send,
    ) -> RunOutcome {
        let (outcome, spent) = self
            .run_target(Target::Fresh(prepared), request, interrupt)
            .await;
        drop(spent);
        outcome
    }

    /// Instantiates `prepared` ahead of a run under a memory cap of `limits` (see
    /// [`crate::standby`]). No guest code runs. Fails as the instantiation of a run would
    /// (e.g. `memory_limit` when the initial memory exceeds the cap).
    pub async fn standby(&self, prepared: &Prepared, limits: &Limits) -> Result<Standby, Failure> {
        let mut store = self.new_store(bare_state(limits, "standby")?);
        arm(&mut store, limits.fuel, limits, Instant::now());
        let span = tracing::debug_span!("standby", kind = prepared.kind().as_str());
        let made = tokio::time::timeout(
            limits.timeout + OUTER_GRACE,
            instantiate(&prepared.inner.pre, &mut store),
        )
        .instrument(span)
        .await;
        match made {
            Ok(Ok(instance)) => {
                let fuel_used = limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
                Ok(Standby {
                    store,
                    instance,
                    prepared: prepared.clone(),
                    fuel_used,
                })
            }
            Ok(Err(e)) => {
                let facts = facts(store.data(), 0, limits);
                Err(classify(e, &facts))
            }
            Err(_) => Err(deadline_exceeded(limits.timeout)),
        }
    }

    /// Runs one invocation of `prepared`, on `standby` when given one made from it (by
    /// [`Sandbox::standby`]) under the request's memory cap, otherwise on a fresh
    /// instance (a standby that does not fit is dropped); the outcome is the same either
    /// way. The finished store comes back as [`Spent`], for the caller to drop off its
    /// latency path.
    pub async fn run_on(
        &self,
        prepared: &Prepared,
        standby: Option<Standby>,
        request: RunRequest,
    ) -> (RunOutcome, Spent) {
        let usable = standby.filter(|s| {
            s.fits(&request.limits) && Arc::ptr_eq(&s.prepared().inner, &prepared.inner)
        });
        let target = match usable {
            Some(standby) => Target::Standby(standby),
            None => Target::Fresh(prepared),
        };
        self.run_target(target, request, std::future::pending())
            .await
    }

    async fn run_target(
        &self,
        target: Target<'_>,
        request: RunRequest,
        interrupt: impl Future<Output = ()> + Send,
    ) -> (RunOutcome, Spent) {
        let span = tracing::info_span!(
            "run",
            dispatch_id = %request.invocation.dispatch_id,
            attempt = request.invocation.attempt,
            kind = target.kind().as_str(),
            standby = matches!(target, Target::Standby(_)),
        );
        self.run_inner(target, request, interrupt)
            .instrument(span)
            .await
    }

    async fn run_inner(
        &self,
        target: Target<'_>,
        request: RunRequest,
        interrupt: impl Future<Output = ()> + Send,
    ) -> (RunOutcome, Spent) {
        let RunRequest {
            invocation,
            limits,
            capabilities,
        } = request;
        if let Err(failure) = checked(&limits) {
            return (not_started(&limits, failure), target.into_spent());
        }
        let payload_bytes = invocation.payload.len() + invocation.params.len();
        if payload_bytes > limits.payload_bytes {
            let refused = not_started(
                &limits,
                Failure::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "payload and params are {payload_bytes} bytes; the cap is {} bytes",
                        limits.payload_bytes
                    ),
                ),
            );
            return (refused, target.into_spent());
        }
        let kind = target.kind();
        let env = match kind {
            ComponentKind::Command => command_env(&invocation),
            // A session hook gets hoop's payload variable whatever its kind, so a hook
            // written against hoop's convention works as a runbook component too.
            ComponentKind::Runbook if matches!(invocation.trigger, crate::Trigger::Hook(_)) => {
                vec![(PAYLOAD_ENV.to_string(), invocation.payload.clone())]
            }
            ComponentKind::Runbook => Vec::new(),
        };
        let state = HostState::new(
            &limits,
            &capabilities,
            invocation.dispatch_id.clone(),
            invocation.connection.clone(),
            &env,
        );
        let call = match kind {
            ComponentKind::Runbook => Call::Run(&invocation),
            ComponentKind::Command => Call::Command,
        };
        let exec = self.execute(target, &limits, state, call, interrupt).await;
        let (outcome, store) = finish(exec, &limits, kind);
        match &outcome.result {
            Ok(_) => tracing::info!(
                fuel_used = outcome.usage.fuel_used,
                peak_memory_bytes = outcome.usage.peak_memory_bytes,
                duration_ms = outcome.usage.duration.as_millis() as u64,
                "run succeeded"
            ),
            Err(f) => tracing::info!(
                code = f.code.as_str(),
                retryable = f.retryable,
                fuel_used = outcome.usage.fuel_used,
                peak_memory_bytes = outcome.usage.peak_memory_bytes,
                duration_ms = outcome.usage.duration.as_millis() as u64,
                "run failed: {}",
                f.message
            ),
        }
        (outcome, Spent(Some(store)))
    }

    /// A store for `state`, with its memory limiter installed.
    fn new_store(&self, state: HostState) -> Store<HostState> {
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        store
    }

    /// Instantiates (unless the target is a standby) and calls under the limits.
    async fn execute(
        &self,
        target: Target<'_>,
        limits: &Limits,
        state: HostState,
        call: Call<'_>,
        interrupt: impl Future<Output = ()> + Send,
    ) -> Execution {
        let started = Instant::now();
        let (mut store, ready, fuel_used) = match target {
            Target::Fresh(prepared) => (self.new_store(state), Ready::Pre(&prepared.inner.pre), 0),
            Target::Standby(standby) => {
                let (store, instance, fuel_used) = standby.into_run(state);
                (store, Ready::Instance(instance), fuel_used)
            }
        };
        arm(
            &mut store,
            limits.fuel.saturating_sub(fuel_used),
            limits,
            started,
        );
        let outer = limits.timeout + OUTER_GRACE;
        let guarded = tokio::time::timeout(outer, call_guest(ready, &mut store, call));
        let returned = tokio::select! {
            result = guarded => match result {
                Ok(Ok(returned)) => Ok(returned),
                Ok(Err(e)) => Err(Stopped::Error(e)),
                Err(_) => {
                    tracing::warn!(
                        timeout_ms = limits.timeout.as_millis() as u64,
                        "guest stopped by the outer timeout (blocked in a host call?)"
                    );
                    Err(Stopped::Timeout)
                }
            },
            () = interrupt => {
                tracing::info!("guest interrupted");
                Err(Stopped::Interrupted)
            }
        };
        let remaining = store.get_fuel().unwrap_or(0);
        Execution {
            returned,
            fuel_used: limits.fuel.saturating_sub(remaining),
            duration: started.elapsed(),
            store,
        }
    }
}

/// Checks `limits`; invalid ones are the `internal` failure a run reports.
fn checked(limits: &Limits) -> Result<(), Failure> {
    limits
        .validate()
        .map_err(|e| Failure::new(ErrorCode::Internal, format!("invalid limits: {e}")))
}

/// Store data with no capabilities, connection or environment, under valid `limits`:
/// for `describe` calls, and for standby instances (whose run brings its own).
fn bare_state(limits: &Limits, label: &str) -> Result<HostState, Failure> {
    checked(limits)?;
    Ok(HostState::new(
        limits,
        &Capabilities::default(),
        label.into(),
        None,
        &[],
    ))
}

/// Gives the store `fuel` (what is left of the run's budget) and the run's wall-clock
/// deadline (`limits.timeout` from `started`).
fn arm(store: &mut Store<HostState>, fuel: u64, limits: &Limits, started: Instant) {
    // Checked in `Sandbox::new`; a failure here leaves the budget at zero, which fails
    // closed (the first instruction runs out of fuel).
    let _ = store.set_fuel(fuel);
    // Fuel is injected in slices: at the end of each slice wasmtime writes the count
    // back and yields. That keeps `fuel_used` accurate (to one slice) when a run is
    // stopped by the epoch deadline, whose check does not write the count back, and
    // lets the outer timeout fire even if no epoch ticker runs.
    let _ = store.fuel_async_yield_interval(Some(FUEL_SLICE));
    let deadline = started + limits.timeout;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Err(Trap::Interrupt.into())
        } else {
            // Yield on every tick so one guest cannot hog an executor thread.
            Ok(UpdateDeadline::Yield(1))
        }
    });
}

/// What a run calls into: a component still to instantiate, or an instance made ahead.
enum Ready<'a> {
    Pre(&'a Pre),
    Instance(Instantiated),
}

async fn instantiate(pre: &Pre, store: &mut Store<HostState>) -> wasmtime::Result<Instantiated> {
    Ok(match pre {
        Pre::Runbook(pre) => Instantiated::Runbook(pre.instantiate_async(&mut *store).await?),
        Pre::Command(pre) => Instantiated::Command(pre.instantiate_async(&mut *store).await?),
    })
}

async fn call_guest(
    ready: Ready<'_>,
    store: &mut Store<HostState>,
    call: Call<'_>,
) -> wasmtime::Result<Returned> {
    let instance = match ready {
        Ready::Pre(pre) => instantiate(pre, store).await?,
        Ready::Instance(instance) => instance,
    };
    match (&instance, call) {
        (Instantiated::Runbook(instance), Call::Describe) => {
            Ok(Returned::Info(instance.call_describe(&mut *store).await?))
        }
        (Instantiated::Runbook(instance), Call::Run(invocation)) => Ok(Returned::Run(
            instance.call_run(&mut *store, invocation).await?,
        )),
        (Instantiated::Runbook(_), Call::Command) => Err(wasmtime::Error::msg(
            "a runbook component cannot be run as a command",
        )),
        (Instantiated::Command(instance), _) => Ok(Returned::Command(
            instance.wasi_cli_run().call_run(&mut *store).await?,
        )),
    }
}

fn facts(state: &HostState, fuel_used: u64, limits: &Limits) -> RunFacts {
    RunFacts {
        fuel_budget: limits.fuel,
        fuel_used,
        timeout: limits.timeout,
        memory_exceeded: state.limiter.exceeded(),
        hostcall_exceeded: state
            .shared
            .hostcall
            .exceeded()
            .then(|| state.shared.hostcall.cap()),
        stderr_tail: state.output.stderr_tail(),
        console: state.output.console_text(),
        denials: state.shared.denials(),
        agent_offline: state.agent_offline.clone(),
    }
}

/// Turns an execution into the run's outcome; the store comes back for the caller to drop.
fn finish(exec: Execution, limits: &Limits, kind: ComponentKind) -> (RunOutcome, Store<HostState>) {
    let Execution {
        returned,
        fuel_used,
        duration,
        mut store,
    } = exec;
    let state = store.data_mut();
    let facts = facts(state, fuel_used, limits);
    let mut truncated_bytes = state.output.dropped_bytes();
    let (result, exit_code) = match returned {
        Ok(Returned::Run(Ok(output))) => {
            let (output, dropped) = cap_text(output, limits.output_bytes);
            truncated_bytes += dropped;
            (Ok(output), None)
        }
        Ok(Returned::Run(Err(e))) => (Err(classify_run_error(e, &facts)), None),
        Ok(Returned::Command(Ok(()))) => (Ok(facts.console.clone()), Some(0)),
        Ok(Returned::Command(Err(()))) => (Err(classify_exit(1, &facts)), Some(1)),
        Ok(Returned::Info(_)) => (
            Err(Failure::new(
                ErrorCode::Internal,
                "run returned runbook-info",
            )),
            None,
        ),
        Err(Stopped::Error(e)) => match (e.downcast_ref::<I32Exit>().map(|x| x.0), kind) {
            (Some(0), ComponentKind::Command) => (Ok(facts.console.clone()), Some(0)),
            (Some(0), ComponentKind::Runbook) => (
                Err(Failure::new(
                    ErrorCode::GuestError,
                    "the runbook called exit(0) instead of returning a result",
                )),
                None,
            ),
            (Some(code), ComponentKind::Command) => (Err(classify(e, &facts)), Some(code)),
            (_, _) => (Err(classify(e, &facts)), None),
        },
        Err(Stopped::Timeout) => (Err(deadline_exceeded(limits.timeout)), None),
        Err(Stopped::Interrupted) => (Err(interrupted()), None),
    };
    let outcome = RunOutcome {
        result,
        exit_code,
        console: facts.console,
        truncated_bytes,
        logs: std::mem::take(&mut state.logs),
        denials: facts.denials,
        usage: Usage {
            fuel_budget: limits.fuel,
            fuel_used,
            memory_cap: limits.memory_bytes,
            peak_memory_bytes: state.limiter.peak_bytes(),
            duration,
        },
    };
    (outcome, store)
}

fn interrupted() -> Failure {
    Failure::retryable(
        ErrorCode::Interrupted,
        "the run was interrupted by the host (shutdown or cancellation)",
    )
}

/// The outcome of a run refused before anything was instantiated.
fn not_started(limits: &Limits, failure: Failure) -> RunOutcome {
    tracing::info!(
        code = failure.code.as_str(),
        "run refused: {}",
        failure.message
    );
    RunOutcome {
        result: Err(failure),
        exit_code: None,
        console: String::new(),
        truncated_bytes: 0,
        logs: Vec::new(),
        denials: Vec::new(),
        usage: Usage {
            fuel_budget: limits.fuel,
            fuel_used: 0,
            memory_cap: limits.memory_bytes,
            peak_memory_bytes: 0,
            duration: Duration::ZERO,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Trigger;
    use crate::engine::configure_engine;

    fn engine() -> Engine {
        let mut config = wasmtime::Config::new();
        configure_engine(&mut config);
        Engine::new(&config).unwrap()
    }

    #[test]
    fn sandbox_builds_its_linker() {
        let sandbox = Sandbox::new(&engine()).unwrap();
        let _clone = sandbox.clone();
    }

    #[test]
    fn engine_without_fuel_is_refused() {
        let e = Sandbox::new(&Engine::default()).unwrap_err();
        assert!(matches!(e, HostError::EngineConfig(_)), "{e}");
    }

    #[test]
    fn core_module_bytes_are_an_invalid_component() {
        let engine = engine();
        // A component that exports nothing.
        let component = Component::new(&engine, "(component)").unwrap();
        let failure = Sandbox::new(&engine)
            .unwrap()
            .prepare(&component)
            .unwrap_err();
        assert_eq!(failure.code, ErrorCode::InvalidComponent);
        assert!(
            failure.message.contains("exports []"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn unknown_import_is_named() {
        let engine = engine();
        let component = Component::new(
            &engine,
            r#"(component
                (import "acme:evil/thing@1.0.0" (instance (export "f" (func))))
                (core module $m (func (export "f") (result i32) i32.const 0))
                (core instance $i (instantiate $m))
                (func $run (result (result)) (canon lift (core func $i "f")))
                (instance $cli (export "run" (func $run)))
                (export "wasi:cli/run@0.2.12" (instance $cli))
            )"#,
        );
        let failure = Sandbox::new(&engine)
            .unwrap()
            .prepare(&component.unwrap())
            .unwrap_err();
        assert_eq!(failure.code, ErrorCode::InvalidComponent);
        assert!(
            failure.message.contains("acme:evil/thing@1.0.0"),
            "{}",
            failure.message
        );
    }

    #[tokio::test]
    async fn payload_too_large_is_refused_before_instantiation() {
        let engine = engine();
        let component = Component::new(
            &engine,
            r#"(component
                (core module $m (func (export "f") (result i32) i32.const 0))
                (core instance $i (instantiate $m))
                (func $run (result (result)) (canon lift (core func $i "f")))
                (instance $cli (export "run" (func $run)))
                (export "wasi:cli/run@0.2.12" (instance $cli))
            )"#,
        );
        let component = component.unwrap();
        let sandbox = Sandbox::new(&engine).unwrap();
        let prepared = sandbox.prepare(&component).unwrap();
        assert_eq!(prepared.kind(), ComponentKind::Command);
        let mut request = RunRequest::new(Invocation {
            dispatch_id: "d".into(),
            attempt: 1,
            trigger: Trigger::Manual,
            payload: "x".repeat(100),
            params: "{}".into(),
            connection: None,
        });
        request.limits.payload_bytes = 50;
        let outcome = sandbox.run(&prepared, request).await;
        assert_eq!(
            outcome.failure().map(|f| f.code),
            Some(ErrorCode::PayloadTooLarge)
        );
        assert_eq!(outcome.usage.fuel_budget, Limits::default().fuel);
    }
}
