//! Session hooks: hoop's `hoop-hooks/session-open` and `hoop-hooks/session-close` run as
//! sandboxed components whenever the gateway reports a session opening or closing.
//!
//! - [`session`]: what the gateway reports ([`SessionInfo`]) and its checks.
//! - [`payload`]: hoop's exact hook payload and its stable hook id (UUIDv5).
//! - `runner`: picks the hook from the org's repository snapshot (TTL-cached by the
//!   repository registry), runs it with the payload in `HOOP_RUNBOOK_HOOK_PAYLOAD` and as
//!   the typed invocation, under the sandbox limits and the hook bound.
//! - [`result`]: the recorded run, hoop's `{id, exit_code, output, execution_time_sec}`.
//! - [`journal`]: runs, open sessions and org settings, durable in `<data_dir>/hooks`.
//! - `embed`: `Runtime::session_opened`, `session_closed`, `hook_runs`.
//! - `in_flight`: hook tasks still running, for a shutdown to wait on.
//!
//! A hook never blocks or fails the session: firing spawns a task and returns; the task
//! is bounded by [`HookSettings::bound`] and only records what happened.

mod embed;
mod in_flight;
pub mod journal;
pub mod payload;
pub mod result;
mod runner;
pub mod session;

pub use embed::HookTicket;
pub use journal::{HookJournal, OrgHookSettings};
pub use payload::{HookPayload, hook_id};
pub use result::{HOOK_OUTPUT_BYTES, HookError, HookRun};
pub use runner::{DEFAULT_HOOK_BOUND, HookSettings};
pub use session::SessionInfo;

pub(crate) use in_flight::InFlight;
pub(crate) use runner::HookRunner;
