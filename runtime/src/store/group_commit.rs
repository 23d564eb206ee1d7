//! Group commit: one sync covers every write committed before it started.
//!
//! Why: a sync costs the same whatever it carries (a journal `fdatasync` about 0.3 ms on
//! the reference VM, a sled flush about 1 ms), so syncing per write caps a store at a few
//! thousand acknowledged writes per second. Writers instead take a *ticket* right after
//! their transaction commits (and its journal record is queued) and wait until a sync that
//! started after the ticket was issued has completed, so N concurrent writers share one
//! sync.
//!
//! Why several flushers (*lanes*): with one, a write committed while a sync is in flight
//! waits for that sync to end and then for its own, two syncs at worst. A journal sync is a
//! short serialized write then an `fdatasync` that may run beside others, so the journal
//! gets [`JOURNAL_LANES`] flusher threads: a write committed during a sync starts its own
//! at once on an idle lane. Measured on the reference VM (README, "Event routing"), that
//! cut the publish acknowledgement's p99 under load. A store without a journal flushes
//! sled, which serializes its flushes anyway, on one lane.
//!
//! Correctness: a ticket is a counter value taken (under the state lock) after the write is
//! queued. A flusher reads the counter under the same lock *before* its sync, and
//! publishes "durable up to that value" only after the sync returns Ok; so a writer is
//! released only by a sync that began after its write. With lanes, syncs may end out of
//! order; `durable` is the highest target any successful sync reached, which is sound
//! because `make_durable` guarantees each sync covers every write queued before it began,
//! whichever lane wrote it out (`journal.rs`: the writes are serialized, and each lane's
//! `fdatasync` covers the whole file and sees every write error on it).
//!
//! What a sync is comes from the store: the journal's write + `fdatasync` (see
//! `journal.rs`), or sled's flush for a store without a journal (`sync_file_range`, which
//! survives a process crash but is not a power-loss guarantee).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::error::StoreError;

/// Flusher threads of a store with a journal (see the module docs).
pub(crate) const JOURNAL_LANES: usize = 3;

/// Makes every write committed before the call durable; its error says why not. Called
/// from several flusher threads at once, each with its lane number (`0..lanes`).
pub(crate) type MakeDurable = Arc<LaneSync>;
pub(crate) type LaneSync = dyn Fn(usize) -> Result<(), String> + Send + Sync;

/// What the flushers have achieved so far.
#[derive(Debug, Clone, Default)]
struct Flushed {
    /// Every ticket <= this is durable.
    durable: u64,
    /// The highest target of a failed flush: tickets <= the value (and > `durable`) are
    /// not known durable.
    failed: Option<(u64, String)>,
    /// The flushers have exited: a ticket no sync covered never will be.
    closed: bool,
}

impl Flushed {
    /// What became of `ticket`, once a flush covering it has ended.
    fn verdict(&self, ticket: u64) -> Option<Result<(), StoreError>> {
        if self.durable >= ticket {
            return Some(Ok(()));
        }
        match &self.failed {
            Some((g, reason)) if *g >= ticket => Some(Err(StoreError::NotDurable(reason.clone()))),
            _ if self.closed => Some(Err(StoreError::Closed)),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    issued: u64,
    /// The highest ticket a flusher has started a sync for.
    claimed: u64,
    shutdown: bool,
    /// Flushers waiting on `wake` (a new ticket must wake one).
    waiting: usize,
    /// Flushers that have not exited; at 0, no ticket issued now will be covered.
    running: usize,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    flushed: watch::Sender<Flushed>,
    flushes: AtomicU64,
    flush_nanos: AtomicU64,
}

/// The flusher threads and the tickets they serve.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl GroupCommit {
    /// Starts `lanes` flusher threads (at least one); `make_durable` makes every write
    /// committed before the call durable (a journal sync, or a sled flush for stores
    /// without a journal).
    pub(crate) fn start(make_durable: MakeDurable, lanes: usize) -> Result<Self, StoreError> {
        let lanes = lanes.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                running: lanes,
                ..State::default()
            }),
            wake: Condvar::new(),
            flushed: watch::Sender::new(Flushed::default()),
            flushes: AtomicU64::new(0),
            flush_nanos: AtomicU64::new(0),
        });
        let commit = GroupCommit {
            shared: Arc::clone(&shared),
            threads: Mutex::new(Vec::with_capacity(lanes)),
        };
        for lane in 0..lanes {
            let worker = Arc::clone(&shared);
            let make_durable = Arc::clone(&make_durable);
            let spawned = std::thread::Builder::new()
                .name(format!("runbox-store-flush-{lane}"))
                .spawn(move || flush_loop(&worker, lane, &*make_durable));
            match spawned {
                Ok(thread) => lock(&commit.threads).push(thread),
                Err(e) => {
                    // Those already started stop with the commit; the others never ran.
                    lock(&shared.state).running -= lanes - lane;
                    return Err(StoreError::Backend(format!(
                        "cannot start the flusher thread: {e}"
                    )));
                }
            }
        }
        Ok(commit)
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

    /// Total time spent inside `flush` so far, summed over the lanes.
    pub(crate) fn flush_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.shared.flush_nanos.load(Ordering::Relaxed))
    }

    /// Stops the flushers after a last flush of everything outstanding.
    pub(crate) fn shutdown(&self) {
        lock(&self.shared.state).shutdown = true;
        self.shared.wake.notify_all();
        let threads = std::mem::take(&mut *lock(&self.threads));
        for thread in threads {
            // A panicked flusher has nothing left to flush; its waiters see `Closed`.
            let _ = thread.join();
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
        let waiting = state.waiting > 0;
        drop(state);
        // Busy flushers re-read `issued` before their next sync; waking one is a syscall.
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
/// flushers, on every publish's path, do no extra work for the one waiter (the applier)
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
            std::thread::sleep(SYNC_POLL);
        }
    }
}

/// One lane: waits for tickets no sync has started for, syncs, publishes the result.
fn flush_loop(shared: &Shared, lane: usize, make_durable: &LaneSync) {
    loop {
        let target = {
            let mut state = lock(&shared.state);
            while state.issued <= state.claimed && !state.shutdown {
                state.waiting += 1;
                state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
                state.waiting -= 1;
            }
            if state.issued <= state.claimed {
                // Shut down with nothing outstanding.
                state.running -= 1;
                if state.running == 0 {
                    // Each flusher synced what was outstanding before it exited; a write
                    // committed since is told so rather than left waiting for a sync that
                    // will not come. (Under the state lock: no ticket slips in between.)
                    shared.flushed.send_modify(|f| f.closed = true);
                }
                return;
            }
            state.claimed = state.issued;
            state.issued
        };
        let started = std::time::Instant::now();
        let result = make_durable(lane);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        shared.flush_nanos.fetch_add(nanos, Ordering::Relaxed);
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(()) => {
                shared.flushed.send_if_modified(|f| {
                    let advanced = target > f.durable;
                    f.durable = f.durable.max(target);
                    advanced
                });
            }
            Err(e) => {
                tracing::error!(error = %e, "store sync failed; writers are told their change is not durable");
                shared.flushed.send_modify(|f| {
                    let highest = f.failed.as_ref().map_or(target, |(g, _)| target.max(*g));
                    f.failed = Some((highest, e));
                });
            }
        }
    }
}

/// The state is a few integers; a panic elsewhere cannot leave it inconsistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// A sync that blocks its first call until released (the slow sync in flight), and
    /// returns at once on every later call.
    fn first_sync_held() -> (MakeDurable, mpsc::Sender<()>, mpsc::Receiver<()>) {
        let (release, released) = mpsc::channel::<()>();
        let (started_tx, started) = mpsc::channel::<()>();
        let released = Mutex::new(Some(released));
        let calls = AtomicU64::new(0);
        let sync: MakeDurable = Arc::new(move |_lane| {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                let _ = started_tx.send(());
                let held = lock(&released).take();
                if let Some(held) = held {
                    let _ = held.recv();
                }
            }
            Ok(())
        });
        (sync, release, started)
    }

    fn finishes_within(commit: &GroupCommit, ticket: u64, within: Duration) -> bool {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async { tokio::time::timeout(within, commit.wait(ticket)).await })
            .map(|r| r.unwrap())
            .is_ok()
    }

    #[test]
    fn a_write_committed_during_a_slow_sync_is_synced_beside_it() {
        let (sync, release, started) = first_sync_held();
        let commit = GroupCommit::start(sync, 3).unwrap();
        let first = commit.ticket();
        started.recv().unwrap();
        // The first sync is still in flight; the next write does not wait for it.
        let second = commit.ticket();
        assert!(finishes_within(&commit, second, Duration::from_secs(10)));
        // A sync that began after both writes covers the first one too.
        assert!(finishes_within(&commit, first, Duration::from_millis(10)));
        release.send(()).unwrap();
    }

    #[test]
    fn with_one_lane_a_write_waits_for_the_sync_in_flight() {
        let (sync, release, started) = first_sync_held();
        let commit = GroupCommit::start(sync, 1).unwrap();
        commit.ticket();
        started.recv().unwrap();
        let second = commit.ticket();
        assert!(!finishes_within(
            &commit,
            second,
            Duration::from_millis(100)
        ));
        release.send(()).unwrap();
        assert!(finishes_within(&commit, second, Duration::from_secs(10)));
    }

    #[test]
    fn a_failed_sync_fails_the_writes_no_successful_sync_covered() {
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let failing = Arc::clone(&fail);
        let sync: MakeDurable = Arc::new(move |_| {
            if failing.load(Ordering::SeqCst) {
                Err("disk on fire".into())
            } else {
                Ok(())
            }
        });
        let commit = GroupCommit::start(sync, 3).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let ok = commit.ticket();
        rt.block_on(commit.wait(ok)).unwrap();
        fail.store(true, Ordering::SeqCst);
        let lost = commit.ticket();
        let err = rt.block_on(commit.wait(lost)).unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
        // What a successful sync covered stays acknowledged.
        rt.block_on(commit.wait(ok)).unwrap();
    }

    #[test]
    fn shutdown_syncs_what_is_outstanding_and_stops_every_lane() {
        let syncs = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&syncs);
        let sync: MakeDurable = Arc::new(move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        let commit = GroupCommit::start(sync, 3).unwrap();
        let handle = commit.handle();
        handle.durable().unwrap();
        let outstanding = commit.ticket();
        commit.shutdown();
        assert!(commit.shared.flushed.borrow().durable >= outstanding);
        assert_eq!(lock(&commit.shared.state).running, 0);
        assert!(matches!(handle.durable(), Err(StoreError::Closed)));
        assert!(lock(&commit.threads).is_empty());
    }

    #[test]
    fn a_write_after_shutdown_is_told_closed_instead_of_waiting_forever() {
        let commit = GroupCommit::start(Arc::new(|_| Ok(())), 3).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let before = commit.ticket();
        commit.shutdown();
        // Covered by the last sync before the flushers exited.
        rt.block_on(commit.wait(before)).unwrap();
        let after = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), commit.durable()).await
        });
        assert!(matches!(after, Ok(Err(StoreError::Closed))), "{after:?}");
    }
}
