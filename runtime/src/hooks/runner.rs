//! Runs one session hook: find the org's hook component in its repository snapshot (the
//! repository registry refetches at most once per `hook_config_ttl`), build hoop's
//! payload, run it under the sandbox limits within the wall bound, record the result.
//!
//! Nothing here can fail the session: every path ends in a recorded [`HookRun`] (or, when
//! hooks are off for the org or the commit has no such hook, in nothing at all), a panic
//! in the host included, and the whole of it is spawned off the caller's task.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;

use runbox_host_api::{
    ConnectionInfo, ErrorCode, HookKind, Invocation, Limits, RunRequest, Trigger,
};
use tracing::Instrument;

use super::journal::{HookJournal, OpenSession};
use super::payload::{ConnectionFacts, HookPayload};
use super::result::{HookRun, RunContext};
use super::session::SessionInfo;
use crate::engine::Engine;
use crate::model::{ConnectionType, Timestamp};
use crate::org_capabilities::OrgCapabilities;
use crate::repo::Repositories;
use crate::store::Store;

/// hoop waits at most 15 s for a hook.
pub const DEFAULT_HOOK_BOUND: Duration = Duration::from_secs(15);

/// Past the bound, how long the outer timeout waits for the sandbox to stop the guest by
/// itself (its own deadline is set to what is left of the bound, so it normally reports
/// the run with its usage; the outer timeout only catches a hook stuck before the run).
const OUTER_GRACE: Duration = Duration::from_millis(250);

/// The shortest sandbox deadline given to a run that starts late in its bound.
const MIN_RUN_TIMEOUT: Duration = Duration::from_millis(10);

/// How hooks run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookSettings {
    /// The most a hook may take from being fired to being recorded, including waiting
    /// for the repository's first fetch and for an instance slot. The sandbox deadline
    /// of the run is the smaller of this and the runtime's `limits.timeout`.
    pub bound: Duration,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            bound: DEFAULT_HOOK_BOUND,
        }
    }
}

/// Everything a hook run needs; shared by the spawned tasks.
pub(crate) struct HookRunner {
    pub(crate) journal: HookJournal,
    pub(crate) settings: HookSettings,
    pub(crate) repos: Repositories,
    pub(crate) engine: Engine,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) limits: Limits,
    pub(crate) capabilities: OrgCapabilities,
    /// Where hook tasks are spawned (captured at build, so firing a hook from a thread
    /// outside the runtime still works).
    pub(crate) handle: tokio::runtime::Handle,
    /// Hook tasks still running (see `Runtime::shutdown`).
    pub(crate) in_flight: super::InFlight,
}

impl std::fmt::Debug for HookRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookRunner")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What fired.
#[derive(Debug, Clone)]
pub(crate) enum Fired {
    Open(SessionInfo),
    Close {
        sid: String,
        exit_code: Option<i32>,
        output: Option<String>,
    },
}

impl HookRunner {
    /// Fires the hook and records its run; `None` when nothing ran (hooks off for the
    /// org, no such hook in the commit, a `plain-exec` session). Never fails.
    pub(crate) async fn fire(&self, org: &str, fired: Fired) -> Option<HookRun> {
        let (sid, kind) = match &fired {
            Fired::Open(info) => (info.sid.clone(), HookKind::SessionOpen),
            Fired::Close { sid, .. } => (sid.clone(), HookKind::SessionClose),
        };
        // hoop enables hooks with the repository's TTL setting: an org without a hook
        // repository costs nothing here, not even a journal write.
        if !self.repos.status(org).iter().any(|s| s.hooks_enabled) {
            return None;
        }
        let span = tracing::info_span!("hook", %org, %sid, hook = kind.as_str());
        let fired_at = Timestamp::now().to_string();
        let order = self.journal.fired_order();
        let started = Instant::now();
        async {
            let outer = self.settings.bound + OUTER_GRACE;
            // A panic in the host (an embedder's config source or clock, or a runbox bug)
            // ends this run as failed and recorded; unwound, it would end the spawned task
            // and the run would go unrecorded.
            let work =
                AssertUnwindSafe(self.fire_inner(org, fired, fired_at.clone())).catch_unwind();
            let run = match tokio::time::timeout(outer, work).await
            {
                Ok(Ok(run)) => run?,
                Ok(Err(panic)) => HookRun::failed(
                    Self::started_ctx(&sid, kind, fired_at),
                    ErrorCode::Internal.as_str(),
                    crate::error::host_panicked_run("hook run", panic.as_ref()).to_owned(),
                    started.elapsed().as_secs_f64(),
                ),
                // Only the parts outside the sandbox (a first fetch, a wait for a slot)
                // can get here; the sandbox stops the guest at the same bound itself.
                Err(_) => HookRun::failed(
                    Self::started_ctx(&sid, kind, fired_at),
                    "deadline_exceeded",
                    format!(
                        "the {} hook did not finish within the hook bound of {} ms",
                        kind.as_str(),
                        self.settings.bound.as_millis()
                    ),
                    started.elapsed().as_secs_f64(),
                ),
            };
            match &run.error {
                None => tracing::info!(exit_code = run.exit_code, secs = run.execution_time_sec, "hook ran"),
                Some(e) => tracing::info!(code = %e.code, exit_code = run.exit_code, "hook failed: {}", e.message),
            }
            let recorded = match order {
                Ok(order) => self.journal.record(org, order, &run).await,
                Err(e) => Err(e),
            };
            if let Err(e) = recorded {
                tracing::error!(error = %e, "recording the hook run failed");
            }
            Some(run)
        }
        .instrument(span)
        .await
    }

    fn started_ctx(sid: &str, kind: HookKind, started_at: String) -> RunContext {
        RunContext {
            id: super::payload::hook_id(kind, sid),
            sid: sid.to_owned(),
            hook: kind.as_str(),
            started_at,
            repository: None,
            commit: None,
        }
    }

    async fn fire_inner(&self, org: &str, fired: Fired, fired_at: String) -> Option<HookRun> {
        let started = Instant::now();
        let (payload, connection) = match fired {
            Fired::Open(info) => {
                let open = OpenSession {
                    verb: info.verb.clone(),
                    command: info.command.clone(),
                    input_file: info.input_file.clone(),
                    opened_at_ms: 0, // set by the journal
                };
                // Remembered even for plain-exec: its close must be skipped too.
                if let Err(e) = self.journal.remember_open(org, &info.sid, &open).await {
                    tracing::warn!(error = %e, "remembering the session's open failed");
                }
                if info.skips_hooks() {
                    tracing::debug!("plain-exec session: hooks skipped");
                    return None;
                }
                let facts = self.connection_facts(org, &info.connection_name).await;
                let show = match self.journal.settings(org) {
                    Ok(s) => s.show_secret_values,
                    Err(e) => {
                        // Fail closed: keys only.
                        tracing::warn!(error = %e, "reading the org's hook settings failed");
                        false
                    }
                };
                let payload = HookPayload::open(&info, &facts, show);
                let connection = ConnectionInfo {
                    name: info.connection_name.clone(),
                    type_: payload
                        .event_session_open
                        .as_ref()
                        .map(|o| o.connection_type.clone())
                        .unwrap_or_default(),
                    subtype: payload
                        .event_session_open
                        .as_ref()
                        .map(|o| o.connection_subtype.clone())
                        .unwrap_or_default(),
                    tags: Vec::new(),
                };
                (payload, Some(connection))
            }
            Fired::Close {
                sid,
                exit_code,
                output,
            } => {
                let open = match self.journal.take_open(org, &sid).await {
                    Ok(open) => open.unwrap_or_default(),
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the session's open failed");
                        OpenSession::default()
                    }
                };
                if open.verb == super::session::PLAIN_EXEC {
                    tracing::debug!("plain-exec session: hooks skipped");
                    return None;
                }
                let payload =
                    HookPayload::close(&sid, open.command, open.input_file, exit_code, output);
                (payload, None)
            }
        };
        let kind = payload.kind();
        let mut ctx = Self::started_ctx(&payload.sid, kind, fired_at);
        let hooks = match self.repos.hooks(org).await {
            Ok(Some(hooks)) => hooks,
            Ok(None) => return None,
            Err(e) => {
                return Some(HookRun::failed(
                    ctx,
                    e.code(),
                    e.to_string(),
                    started.elapsed().as_secs_f64(),
                ));
            }
        };
        ctx.repository = Some(hooks.repository.to_string());
        ctx.commit = Some(hooks.commit.clone());
        let handle = match hooks.get(kind)? {
            Ok(handle) => handle.clone(),
            Err(e) => {
                return Some(HookRun::failed(
                    ctx,
                    e.code(),
                    e.to_string(),
                    started.elapsed().as_secs_f64(),
                ));
            }
        };
        let invocation = Invocation {
            dispatch_id: payload.id.clone(),
            attempt: 1,
            trigger: Trigger::Hook(kind),
            payload: payload.to_json(),
            params: "{}".into(),
            connection,
        };
        // Hooks observe sessions; they do not exec on connections.
        let capabilities = self.capabilities.for_org(org, None);
        // The bound counts from the firing: loading the snapshot and waiting for an
        // instance slot come out of it.
        let left = self
            .settings
            .bound
            .saturating_sub(started.elapsed())
            .max(MIN_RUN_TIMEOUT);
        let mut limits = self.limits.clone();
        limits.timeout = limits.timeout.min(left);
        let request = RunRequest {
            invocation,
            limits,
            capabilities,
        };
        let (outcome, aftercare) = self
            .engine
            .run_with_standby(&handle.component, request)
            .await;
        // The run's teardown and the next standby instance are made in a task of their
        // own, so they delay neither this result nor its recording.
        self.handle.spawn(aftercare.finish());
        Some(HookRun::from_outcome(ctx, outcome))
    }

    /// Type, subtype and secrets of the connection as registered in runbox (empty when it
    /// is not registered: the gateway's facts are used alone).
    async fn connection_facts(&self, org: &str, name: &str) -> ConnectionFacts {
        match self.store.connection_by_name(org, name).await {
            Ok(c) => ConnectionFacts {
                connection_type: Some(
                    match c.kind {
                        ConnectionType::Database => "database",
                        ConnectionType::Application => "application",
                        ConnectionType::Custom => "custom",
                    }
                    .to_owned(),
                ),
                connection_subtype: Some(c.subtype.clone()),
                secrets: c.secrets.0.clone(),
            },
            Err(_) => ConnectionFacts::default(),
        }
    }
}
