//! Group commit: one sync covers every write committed before it started.
//!
//! Why: a sync costs the same whatever it carries (a journal `fdatasync` about 0.3 ms on
//! the reference VM, a sled flush about 1 ms), so syncing per write caps a store at a few
//! thousand acknowledged writes per second. Writers instead take a *ticket* right after
//! their transaction commits (and its journal record is queued) and wait until a sync that
//! started after the ticket was issued has completed. One flusher thread runs syncs back to
//! back while tickets are outstanding, so N concurrent writers share one sync.
//!
//! Correctness: a ticket is a counter value taken (under the state lock) after the write is
//! queued. The flusher reads the counter under the same lock *before* syncing, and
//! publishes "durable up to that value" only after the sync returns Ok; so a writer is
//! released only by a sync that began after its write.
//!
//! What a sync is comes from the store: the journal's write + `fdatasync` (see
//! `journal.rs`), or sled's flush for a store without a journal (`sync_file_range`, which
//! survives a process crash but is not a power-loss guarantee).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::error::StoreError;

/// Makes committed writes durable; its error says why not.
pub(crate) type MakeDurable = Box<dyn FnMut() -> Result<(), String> + Send>;

/// What the flusher has achieved so far.
#[derive(Debug, Clone, Default)]
struct Flushed {
    /// Every ticket <= this is durable.
    durable: u64,
    /// The latest failed flush: tickets <= the value (and > `durable`) are not known durable.
    failed: Option<(u64, String)>,
}

impl Flushed {
    /// What became of `ticket`, once a flush covering it has ended.
    fn verdict(&self, ticket: u64) -> Option<Result<(), StoreError>> {
        if self.durable >= ticket {
            return Some(Ok(()));
        }
        match &self.failed {
            Some((g, reason)) if *g >= ticket => Some(Err(StoreError::NotDurable(reason.clone()))),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    issued: u64,
    shutdown: bool,
    /// The flusher is waiting on `wake` (so a new ticket must wake it).
    waiting: bool,
    /// The flusher has stopped: no ticket issued now will be covered.
    exited: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    flushed: watch::Sender<Flushed>,
    flushes: AtomicU64,
    flush_nanos: AtomicU64,
}

/// The flusher thread and the tickets it serves.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl GroupCommit {
    /// Starts the flusher; `make_durable` makes every write committed before the call
    /// durable (a journal sync, or a sled flush for stores without a journal).
    pub(crate) fn start(mut make_durable: MakeDurable) -> Result<Self, StoreError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            flushed: watch::Sender::new(Flushed::default()),
            flushes: AtomicU64::new(0),
            flush_nanos: AtomicU64::new(0),
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("runbox-store-flush".into())
            .spawn(move || flush_loop(&worker, &mut make_durable))
            .map_err(|e| StoreError::Backend(format!("cannot start the flusher thread: {e}")))?;
        Ok(GroupCommit {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Takes a ticket for writes that have committed; call after the transaction returns.
    pub(crate) fn ticket(&self) -> u64 {
        self.shared.ticket()
    }

    /// Waits until a flush covering `ticket` completed.
    pub(crate) async fn wait(&self, ticket: u64) -> Result<(), StoreError> {
        let mut rx = self.shared.flushed.subscribe();
        let seen = rx
            .wait_for(|f| f.verdict(ticket).is_some())
            .await
            .map_err(|_| StoreError::Closed)?;
        seen.verdict(ticket).unwrap_or(Err(StoreError::Closed))
    }

    /// A handle for threads outside tokio (the applier) to wait for durability.
    pub(crate) fn handle(&self) -> SyncHandle {
        SyncHandle(Arc::clone(&self.shared))
    }

    /// Commits already applied become durable: ticket + wait.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        let ticket = self.ticket();
        self.wait(ticket).await
    }

    /// Flushes performed so far (for tests and benchmarks: fewer than writes under load).
    pub(crate) fn flushes(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }

    /// Total time spent inside `flush` so far.
    pub(crate) fn flush_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.shared.flush_nanos.load(Ordering::Relaxed))
    }

    /// Stops the flusher after a last flush of everything outstanding.
    pub(crate) fn shutdown(&self) {
        lock(&self.shared.state).shutdown = true;
        self.shared.wake.notify_all();
        let handle = lock(&self.thread).take();
        if let Some(handle) = handle {
            // A panicked flusher has nothing left to flush; its waiters see `Closed`.
            let _ = handle.join();
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    fn ticket(&self) -> u64 {
        let mut state = lock(&self.state);
        state.issued += 1;
        let ticket = state.issued;
        let waiting = state.waiting;
        drop(state);
        // A busy flusher re-reads `issued` before its next sync; waking it is a syscall.
        if waiting {
            self.wake.notify_one();
        }
        ticket
    }
}

/// Waits for durability from a plain thread.
#[derive(Debug, Clone)]
pub(crate) struct SyncHandle(Arc<Shared>);

/// How often [`SyncHandle::durable`] looks whether its sync has ended. It polls so that the
/// flusher, on every publish's path, does no extra work for the one waiter (the applier)
/// that is not on it.
const SYNC_POLL: std::time::Duration = std::time::Duration::from_millis(1);

impl SyncHandle {
    /// Blocks until every write committed before the call is durable.
    pub(crate) fn durable(&self) -> Result<(), StoreError> {
        let shared = &self.0;
        let ticket = shared.ticket();
        loop {
            if let Some(verdict) = shared.flushed.borrow().verdict(ticket) {
                return verdict;
            }
            if lock(&shared.state).exited {
                return Err(StoreError::Closed);
            }
            std::thread::sleep(SYNC_POLL);
        }
    }
}

fn flush_loop(shared: &Shared, make_durable: &mut MakeDurable) {
    let mut covered = 0u64;
    loop {
        let target = {
            let mut state = lock(&shared.state);
            while state.issued <= covered && !state.shutdown {
                state.waiting = true;
                state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
                state.waiting = false;
            }
            if state.issued <= covered {
                // Shut down with nothing outstanding.
                state.exited = true;
                return;
            }
            state.issued
        };
        let started = std::time::Instant::now();
        let result = make_durable();
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        shared.flush_nanos.fetch_add(nanos, Ordering::Relaxed);
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        covered = target;
        match result {
            Ok(_) => shared.flushed.send_modify(|f| f.durable = target),
            Err(e) => {
                tracing::error!(error = %e, "store sync failed; writers are told their change is not durable");
                shared.flushed.send_modify(|f| f.failed = Some((target, e)));
            }
        }
    }
}

/// The state is two integers; a panic elsewhere cannot leave it inconsistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
