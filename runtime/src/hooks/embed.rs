//! The hooks part of the embedding API: a separate `impl Runtime` block.
//!
//! `session_opened` / `session_closed` are plain (not `async`) functions that spawn the
//! hook and return a [`HookTicket`] at once: the session path never waits on git, on the
//! guest or on the journal, and nothing a hook does can make them fail.

use std::sync::Arc;

use super::journal::OrgHookSettings;
use super::result::HookRun;
use super::runner::{Fired, HookSettings};
use super::session::SessionInfo;
use crate::dispatch::RoutingServiceError;
use crate::repo::Clock;
use crate::runtime::{Runtime, RuntimeBuilder};

/// A fired hook. Dropping it does not cancel the hook; gateways usually ignore it, tests
/// and tools [`HookTicket::wait`] for the recorded run.
#[derive(Debug)]
pub struct HookTicket {
    task: tokio::task::JoinHandle<Option<HookRun>>,
}

impl HookTicket {
    /// Waits for the hook's recorded run; `None` when no hook ran (hooks off for the org,
    /// no such hook in the repository, a `plain-exec` session).
    pub async fn wait(self) -> Option<HookRun> {
        // A hook task that panicked recorded nothing: same as no run.
        self.task.await.ok().flatten()
    }
}

impl RuntimeBuilder {
    /// How session hooks run (default: hoop's 15 s bound).
    pub fn hook_settings(mut self, settings: HookSettings) -> Self {
        self.hook_settings = settings;
        self
    }

    /// The clock of the repository registry's TTLs (tests use
    /// [`crate::repo::ManualClock`]).
    pub fn repo_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.repo_clock = clock;
        self
    }
}

impl Runtime {
    /// A session opened (or was re-opened after a review): runs the org's
    /// `hoop-hooks/session-open` hook with hoop's payload, in the background. Returns at
    /// once. `plain-exec` sessions run no hooks.
    pub fn session_opened(&self, org: &str, info: SessionInfo) -> HookTicket {
        self.spawn_hook(org, Fired::Open(info))
    }

    /// A session closed: runs the org's `hoop-hooks/session-close` hook in the
    /// background. `exit_code` / `output` are the session's (`null` in the payload when
    /// `None`). Returns at once.
    pub fn session_closed(
        &self,
        org: &str,
        sid: &str,
        exit_code: Option<i32>,
        output: Option<String>,
    ) -> HookTicket {
        self.spawn_hook(
            org,
            Fired::Close {
                sid: sid.to_owned(),
                exit_code,
                output,
            },
        )
    }

    fn spawn_hook(&self, org: &str, fired: Fired) -> HookTicket {
        let runner = Arc::clone(&self.hooks);
        let org = org.to_owned();
        // Counted before the task starts, so a shutdown right after firing still waits.
        let running = runner.in_flight.enter();
        let task = runner.handle.clone().spawn(async move {
            let _running = running;
            runner.fire(&org, fired).await
        });
        HookTicket { task }
    }

    /// The recorded hook runs of a session, oldest first.
    pub fn hook_runs(&self, org: &str, sid: &str) -> Result<Vec<HookRun>, RoutingServiceError> {
        Ok(self.hooks.journal.runs(org, sid)?)
    }

    /// The org's hook settings.
    pub fn hook_org_settings(&self, org: &str) -> Result<OrgHookSettings, RoutingServiceError> {
        Ok(self.hooks.journal.settings(org)?)
    }

    /// Sets whether the org's hooks see connection secret values (durable).
    pub async fn set_hook_org_settings(
        &self,
        org: &str,
        settings: OrgHookSettings,
    ) -> Result<(), RoutingServiceError> {
        Ok(self.hooks.journal.set_settings(org, settings).await?)
    }
}
