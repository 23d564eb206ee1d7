//! The applier: a thread that moves the overlay's committed writes into sled in batches
//! (see `overlay.rs` for why), then checkpoints the journal.
//!
//! A round: freeze the active generation (its last LSN is `M`); wait until the journal has
//! synced every record up to `M` (so sled never holds a write a crash could take back from
//! the journal); write the generation to sled key by key; write `M` as sled's applied LSN
//! (last, so if it survives a crash every earlier write of the round did, sled keeping a
//! prefix of its log); release the generation; delete journal segments sled now holds.
//!
//! A failure poisons the journal (nothing more is acknowledged) and keeps the frozen
//! generation readable; a restart recovers sled from the journal.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::group_commit::SyncHandle;
use super::journal::{APPLIED_KEY, Journal};
use super::overlay::{Generation, Overlay};
use crate::error::StoreError;

/// Time between rounds: writes to the same key within it reach sled once.
const APPLY_EVERY: Duration = Duration::from_millis(50);

/// What a round works on.
struct Target {
    overlay: Arc<Overlay>,
    trees: Vec<sled::Tree>,
    meta: usize,
    journal: Arc<Journal>,
    sync: SyncHandle,
}

/// The applier thread; [`Applier::stop`] (or drop) runs a last round first.
#[derive(Debug)]
pub(crate) struct Applier {
    /// Whether to stop, and its signal.
    control: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Applier {
    pub(crate) fn start(
        overlay: Arc<Overlay>,
        trees: Vec<sled::Tree>,
        meta: usize,
        journal: Arc<Journal>,
        sync: SyncHandle,
    ) -> Result<Self, StoreError> {
        let control = Arc::new((Mutex::new(false), Condvar::new()));
        let target = Target {
            overlay,
            trees,
            meta,
            journal,
            sync,
        };
        let shared = Arc::clone(&control);
        let thread = std::thread::Builder::new()
            .name("runbox-store-apply".into())
            .spawn(move || run(&shared, &target))
            .map_err(|e| StoreError::Backend(format!("cannot start the applier thread: {e}")))?;
        Ok(Applier {
            control,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Applies what is left and stops the thread.
    pub(crate) fn stop(&self) {
        let (lock, wake) = &*self.control;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl Drop for Applier {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(control: &(Mutex<bool>, Condvar), target: &Target) {
    let (lock, wake) = control;
    let mut healthy = true;
    loop {
        let stopping = {
            let state = lock.lock().unwrap_or_else(|p| p.into_inner());
            let (stop, _) = wake
                .wait_timeout_while(state, APPLY_EVERY, |stop| !*stop)
                .unwrap_or_else(|p| p.into_inner());
            *stop
        };
        if healthy && let Err(e) = round(target) {
            target.journal.poison(format!(
                "committed writes could not be applied to sled: {e}"
            ));
            healthy = false;
        }
        if stopping {
            return;
        }
    }
}

/// One round (see the module docs). Nothing to apply is a successful round.
fn round(target: &Target) -> Result<(), StoreError> {
    let Some(generation) = target.overlay.freeze() else {
        return Ok(());
    };
    let _span = tracing::debug_span!("store_apply", last_lsn = generation.last_lsn).entered();
    target.sync.durable()?;
    apply(&target.trees, target.meta, &generation)?;
    target.overlay.release();
    target.journal.checkpoint(generation.last_lsn);
    Ok(())
}

/// Writes a generation to sled, then its last LSN as the applied one.
fn apply(trees: &[sled::Tree], meta: usize, generation: &Generation) -> Result<(), StoreError> {
    for (tree, writes) in trees.iter().zip(&generation.trees) {
        for (key, value) in writes {
            match value {
                Some(value) => tree.insert(key.as_slice(), value.clone())?,
                None => tree.remove(key.as_slice())?,
            };
        }
    }
    let Some(meta_tree) = trees.get(meta) else {
        return Err(StoreError::Backend(format!("no journal meta tree {meta}")));
    };
    meta_tree.insert(APPLIED_KEY, &generation.last_lsn.to_le_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Instant;

    use super::super::journal::applied_lsn;
    use super::super::sled_store::{SledStore, t};

    /// Commits `n` transactions, each writing one flag key; returns the last LSN's count.
    fn write_flags(store: &SledStore, n: usize) {
        for i in 0..n {
            store
                .tx_on(&[t::ORG_FLAGS], |tx| {
                    tx.put_raw(t::ORG_FLAGS, format!("k{i:04}").into_bytes(), b"1")
                })
                .unwrap();
        }
    }

    fn sled_only(dir: &std::path::Path) -> (sled::Db, sled::Tree, sled::Tree) {
        let db = sled::Config::new().path(dir).open().unwrap();
        let flags = db.open_tree(t::NAMES[t::ORG_FLAGS]).unwrap();
        let meta = db.open_tree(t::NAMES[t::JOURNAL_META]).unwrap();
        (db, flags, meta)
    }

    #[tokio::test]
    async fn committed_writes_reach_sled_once_synced_and_reads_see_them_throughout() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        write_flags(&store, 100);
        // Readers see every write at once, wherever it is.
        assert_eq!(store.tree(t::ORG_FLAGS).len(), 100);
        store.durable().await.unwrap();
        let meta = &store.inner.trees[t::JOURNAL_META];
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while applied_lsn(meta).unwrap() < 100 {
            assert!(Instant::now() < deadline, "the applier never caught up");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            store.inner.trees[t::ORG_FLAGS].len(),
            100,
            "sled holds them all"
        );
        assert_eq!(store.tree(t::ORG_FLAGS).len(), 100);
    }

    #[test]
    fn a_store_closed_cleanly_leaves_every_committed_write_in_sled() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            write_flags(&store, 50);
            // No one waited for durability: closing still syncs and applies them.
        }
        let (_db, flags, meta) = sled_only(dir.path());
        assert_eq!(flags.len(), 50);
        assert_eq!(applied_lsn(&meta).unwrap(), 50);
    }
}
