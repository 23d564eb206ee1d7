//! The threads dispatches run on: a tokio runtime of their own, at a lower CPU priority.
//!
//! Why not the caller's runtime: a publish is acknowledged only when its task is polled
//! again after the group commit's sync, and on the caller's runtime that task queued
//! behind workers running guests. Measured on the 2-core reference VM at 1,000 events/s
//! with delivery running, the ack p50 went from 2.5-3.0 ms to 1.7-2.2 ms and the p99 from
//! 7.7-18 ms to 6-8.4 ms once the workers moved here (README, "Event routing").
//!
//! Why a lower priority (Linux `nice`): acknowledging an event is what the gateway waits
//! for; running its runbooks is background work that may lag by milliseconds. With a
//! higher nice value the kernel gives the caller's threads and the store's flusher the CPU
//! first when both want it, and the workers all of it otherwise.

use std::future::Future;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

use super::WorkerSettings;
use crate::error::RuntimeError;

/// The dispatch runtime; shut down in the background when dropped (never blocks, so it
/// may be dropped inside the caller's runtime).
#[derive(Debug)]
pub(crate) struct DispatchPool {
    handle: Handle,
    /// Taken only by `Drop` (shutting down consumes the runtime).
    runtime: Option<Runtime>,
}

impl DispatchPool {
    /// Starts `settings.threads` threads (0: one per core) named `runbox-dispatch`.
    pub(crate) fn start(settings: &WorkerSettings) -> Result<Self, RuntimeError> {
        let threads = match settings.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let nice = settings.nice;
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("runbox-dispatch")
            .on_thread_start(move || lower_priority(nice))
            .enable_all()
            .build()
            .map_err(|e| {
                RuntimeError::InvalidConfig(format!("cannot start the dispatch threads: {e}"))
            })?;
        Ok(DispatchPool {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// Runs `task` on the dispatch threads.
    pub(crate) fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(task)
    }
}

impl Drop for DispatchPool {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Raises the calling thread's nice value by `by` (capped at 19). Linux only: there a nice
/// value is per thread. Lowering one's own priority needs no privilege; a failure only
/// costs the ordering, so it is logged, not returned.
#[cfg(target_os = "linux")]
fn lower_priority(by: i32) {
    use rustix::process::{getpriority_process, setpriority_process};
    if by <= 0 {
        return;
    }
    let me = Some(rustix::thread::gettid());
    let target = getpriority_process(me)
        .unwrap_or(0)
        .saturating_add(by)
        .min(19);
    if let Err(e) = setpriority_process(me, target) {
        tracing::warn!(error = %e, "cannot lower the priority of a dispatch thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_by: i32) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The nice value and name of a pool thread started with `nice`.
    fn pool_thread(nice: i32) -> (i32, Option<String>) {
        let settings = WorkerSettings {
            threads: 1,
            nice,
            ..WorkerSettings::default()
        };
        let pool = DispatchPool::start(&settings).expect("pool starts");
        let task = pool.spawn(async {
            let me = Some(rustix::thread::gettid());
            (
                rustix::process::getpriority_process(me).unwrap_or(-100),
                std::thread::current().name().map(str::to_owned),
            )
        });
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
            .block_on(task)
            .expect("task ran")
    }

    fn own_nice() -> i32 {
        rustix::process::getpriority_process(None).unwrap_or(0)
    }

    #[test]
    fn dispatch_threads_run_at_the_configured_lower_priority() {
        let before = own_nice();
        let (nice, name) = pool_thread(5);
        assert_eq!(nice, (before + 5).min(19), "dispatch threads are niced");
        assert_eq!(name.as_deref(), Some("runbox-dispatch"));
        // The caller's thread keeps its priority.
        assert_eq!(own_nice(), before);
    }

    #[test]
    fn nice_zero_keeps_the_callers_priority() {
        let before = own_nice();
        assert_eq!(pool_thread(0).0, before);
    }
}
