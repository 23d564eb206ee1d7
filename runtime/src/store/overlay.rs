//! The write overlay: committed writes that sled does not hold yet.
//!
//! Why: applying each transaction to sled as it commits made sled write about 6 KB per
//! dispatch (its in-flight copy of the journal record, then the rows, index entries and
//! node rewrites of a dispatch that lives a few milliseconds: due entry inserted then
//! removed, row written pending then delivered). Those writes reach the disk with
//! `sync_file_range` while publishes wait for the journal's `fdatasync` on the same device,
//! which is what set the publish acknowledgement's p99. Here a transaction only updates
//! this in-memory map under the commit lock (its durability is the journal's record, as
//! before); the applier (`applier.rs`) moves the map to sled every few tens of
//! milliseconds, once its records are synced, so a key written several times in that
//! window reaches sled once, and an entry inserted and removed in it never does.
//!
//! Two generations: `active` takes new writes; `frozen` is the generation the applier is
//! writing to sled. A read looks in `active`, then `frozen`, then sled, so it always sees
//! the latest committed value wherever it is.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use sled::IVec;

/// A tree's pending writes: the latest value per key, `None` for a removal.
pub(crate) type TreeWrites = BTreeMap<Vec<u8>, Option<IVec>>;

/// Writes `active` may hold while `frozen` is still being applied before a committing
/// transaction waits for the applier (bounds memory if sled falls behind).
const MAX_ACTIVE_WRITES: usize = 1_000_000;

/// One generation of writes, per tree.
#[derive(Debug)]
pub(crate) struct Generation {
    pub(crate) trees: Vec<TreeWrites>,
    /// The LSN of the last transaction in it.
    pub(crate) last_lsn: u64,
    writes: usize,
}

impl Generation {
    fn new(trees: usize) -> Self {
        Generation {
            trees: vec![TreeWrites::new(); trees],
            last_lsn: 0,
            writes: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.writes == 0
    }
}

#[derive(Debug)]
struct Maps {
    active: Generation,
    frozen: Option<Arc<Generation>>,
}

/// Committed writes not yet in sled (see the module docs).
#[derive(Debug)]
pub(crate) struct Overlay {
    maps: RwLock<Maps>,
}

/// What the overlay says about a key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The key's latest committed value (`None`: removed).
    Written(Option<IVec>),
    /// No pending write: sled has the latest value.
    Absent,
}

impl Overlay {
    pub(crate) fn new(trees: usize) -> Self {
        Overlay {
            maps: RwLock::new(Maps {
                active: Generation::new(trees),
                frozen: None,
            }),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Maps> {
        // The maps are only ever replaced whole; a panic elsewhere cannot tear them.
        self.maps.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Maps> {
        self.maps.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, tree: usize, key: &[u8]) -> Lookup {
        let maps = self.read();
        let generations = std::iter::once(&maps.active).chain(maps.frozen.as_deref());
        for generation in generations {
            if let Some(value) = generation.trees.get(tree).and_then(|t| t.get(key)) {
                return Lookup::Written(value.clone());
            }
        }
        Lookup::Absent
    }

    /// The pending writes of `tree` within the bounds, in key order, `active` winning over
    /// `frozen`. A copy, so a scan does not hold the lock while it walks sled.
    pub(crate) fn range(
        &self,
        tree: usize,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> Vec<(IVec, Option<IVec>)> {
        let maps = self.read();
        let collect = |generation: &Generation| -> Vec<(IVec, Option<IVec>)> {
            generation
                .trees
                .get(tree)
                .map(|t| {
                    t.range::<[u8], _>((lower, upper))
                        .map(|(k, v)| (IVec::from(k.as_slice()), v.clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let newer = collect(&maps.active);
        let Some(frozen) = maps.frozen.as_deref() else {
            return newer;
        };
        let older = collect(frozen);
        drop(maps);
        merge_sorted(newer, older)
    }

    /// Adds a committed transaction's writes (in the order it made them). Called under
    /// the commit lock, so generations hold transactions in LSN order. Waits while the
    /// overlay is full (sled far behind), which holds back every writer: the bound on
    /// memory.
    pub(crate) fn commit(
        &self,
        lsn: u64,
        writes: impl IntoIterator<Item = (usize, Vec<u8>, Option<IVec>)>,
    ) {
        self.wait_for_room();
        let mut maps = self.write();
        let active = &mut maps.active;
        for (tree, key, value) in writes {
            if let Some(t) = active.trees.get_mut(tree) {
                t.insert(key, value);
                active.writes += 1;
            }
        }
        active.last_lsn = lsn;
    }

    fn wait_for_room(&self) {
        let full = |maps: &Maps| maps.active.writes >= MAX_ACTIVE_WRITES && maps.frozen.is_some();
        if !full(&self.read()) {
            return;
        }
        tracing::warn!("store overlay full: writes wait for sled to catch up");
        // Rare (sled far behind), so a poll: a release then costs nothing when no one waits.
        while full(&self.read()) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Makes the active generation the frozen one and returns it, unless there is nothing
    /// to freeze or the previous frozen generation was not released (its apply failed).
    pub(crate) fn freeze(&self) -> Option<Arc<Generation>> {
        let mut maps = self.write();
        if maps.frozen.is_some() || maps.active.is_empty() {
            return None;
        }
        let trees = maps.active.trees.len();
        let frozen = Arc::new(std::mem::replace(&mut maps.active, Generation::new(trees)));
        maps.frozen = Some(Arc::clone(&frozen));
        Some(frozen)
    }

    /// Drops the frozen generation: sled holds all of it now.
    pub(crate) fn release(&self) {
        self.write().frozen = None;
    }
}

/// Merges two key-sorted lists; on equal keys the entry of `newer` is kept.
fn merge_sorted(
    newer: Vec<(IVec, Option<IVec>)>,
    older: Vec<(IVec, Option<IVec>)>,
) -> Vec<(IVec, Option<IVec>)> {
    let mut out = Vec::with_capacity(newer.len() + older.len());
    let mut older = older.into_iter().peekable();
    for entry in newer {
        while let Some(o) = older.next_if(|o| o.0 < entry.0) {
            out.push(o);
        }
        older.next_if(|o| o.0 == entry.0);
        out.push(entry);
    }
    out.extend(older);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(s: &str) -> IVec {
        IVec::from(s.as_bytes())
    }

    fn put(key: &str, value: &str) -> (usize, Vec<u8>, Option<IVec>) {
        (0, key.as_bytes().to_vec(), Some(iv(value)))
    }

    fn del(key: &str) -> (usize, Vec<u8>, Option<IVec>) {
        (0, key.as_bytes().to_vec(), None)
    }

    #[test]
    fn the_latest_write_wins_across_generations() {
        let o = Overlay::new(1);
        o.commit(1, [put("a", "1"), put("b", "1")]);
        let frozen = o.freeze().expect("something to freeze");
        assert_eq!(frozen.last_lsn, 1);
        o.commit(2, [put("a", "2"), del("b")]);
        assert_eq!(o.get(0, b"a"), Lookup::Written(Some(iv("2"))));
        assert_eq!(o.get(0, b"b"), Lookup::Written(None));
        assert_eq!(o.get(0, b"c"), Lookup::Absent);
        o.release();
        assert_eq!(o.get(0, b"a"), Lookup::Written(Some(iv("2"))));
    }

    #[test]
    fn a_frozen_generation_stays_readable_until_released() {
        let o = Overlay::new(1);
        o.commit(7, [put("k", "v")]);
        assert!(o.freeze().is_some());
        assert_eq!(o.get(0, b"k"), Lookup::Written(Some(iv("v"))));
        // Nothing new to freeze, and the frozen one is not released yet.
        assert!(o.freeze().is_none());
        o.release();
        assert_eq!(o.get(0, b"k"), Lookup::Absent);
    }

    #[test]
    fn a_range_merges_generations_in_key_order_with_the_newer_value() {
        let o = Overlay::new(1);
        o.commit(1, [put("a", "old"), put("c", "old"), put("e", "old")]);
        o.freeze();
        o.commit(
            2,
            [put("b", "new"), put("c", "new"), del("e"), put("f", "new")],
        );
        let all = o.range(0, Bound::Unbounded, Bound::Unbounded);
        let keys: Vec<&[u8]> = all.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, [&b"a"[..], b"b", b"c", b"e", b"f"]);
        assert_eq!(all[2].1, Some(iv("new")));
        assert_eq!(all[3].1, None);
        let some = o.range(0, Bound::Included(b"b"), Bound::Excluded(b"e"));
        assert_eq!(some.len(), 2);
    }
}
