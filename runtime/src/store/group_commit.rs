//! Group commit: one `flush` covers every write committed before it started.
//!
//! Why: a sled flush costs 64-220 µs whatever it carries, so flushing per write caps a
//! store at a few thousand acknowledged writes per second. Writers instead take a *ticket*
//! right after their transaction commits and wait until a flush that started after the
//! ticket was issued has completed. One flusher thread runs flushes back to back while
//! tickets are outstanding, so N concurrent writers share one flush.
//!
//! Correctness: a ticket is a counter value taken (under the state lock) after the write is
//! in sled's log buffer. The flusher reads the counter under the same lock *before* calling
//! `flush`, and publishes "durable up to that value" only after the flush returns Ok; so
//! a writer is released only by a flush that began after its write.
//!
//! Durability is sled's: `flush` uses `sync_file_range`, which survives a process crash but
//! is not a power-loss guarantee.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::error::StoreError;

/// What the flusher has achieved so far.
#[derive(Debug, Clone, Default)]
struct Flushed {
    /// Every ticket <= this is durable.
    durable: u64,
    /// The latest failed flush: tickets <= the value (and > `durable`) are not known durable.
    failed: Option<(u64, String)>,
}

#[derive(Debug, Default)]
struct State {
    issued: u64,
    shutdown: bool,
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
    /// Starts the flusher for `db`.
    pub(crate) fn start(db: sled::Db) -> Result<Self, StoreError> {
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
            .spawn(move || flush_loop(&worker, &db))
            .map_err(|e| StoreError::Backend(format!("cannot start the flusher thread: {e}")))?;
        Ok(GroupCommit {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Takes a ticket for writes that have committed; call after the transaction returns.
    pub(crate) fn ticket(&self) -> u64 {
        let mut state = lock(&self.shared.state);
        state.issued += 1;
        let ticket = state.issued;
        drop(state);
        self.shared.wake.notify_one();
        ticket
    }

    /// Waits until a flush covering `ticket` completed.
    pub(crate) async fn wait(&self, ticket: u64) -> Result<(), StoreError> {
        let mut rx = self.shared.flushed.subscribe();
        let seen = rx
            .wait_for(|f| {
                f.durable >= ticket || f.failed.as_ref().is_some_and(|(g, _)| *g >= ticket)
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        if seen.durable >= ticket {
            return Ok(());
        }
        let reason = seen
            .failed
            .as_ref()
            .map_or_else(String::new, |(_, e)| e.clone());
        Err(StoreError::NotDurable(reason))
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

fn flush_loop(shared: &Shared, db: &sled::Db) {
    let mut covered = 0u64;
    loop {
        let target = {
            let mut state = lock(&shared.state);
            while state.issued <= covered && !state.shutdown {
                state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            if state.issued <= covered {
                return; // shut down with nothing outstanding
            }
            state.issued
        };
        let started = std::time::Instant::now();
        let result = db.flush();
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        shared.flush_nanos.fetch_add(nanos, Ordering::Relaxed);
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        covered = target;
        match result {
            Ok(_) => shared.flushed.send_modify(|f| f.durable = target),
            Err(e) => {
                tracing::error!(error = %e, "store flush failed; writers are told their change is not durable");
                shared
                    .flushed
                    .send_modify(|f| f.failed = Some((target, e.to_string())));
            }
        }
    }
}

/// The state is two integers; a panic elsewhere cannot leave it inconsistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
