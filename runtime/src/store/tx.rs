//! The store's transactions: a closure reads through its own pending writes, and only if it
//! succeeds are the writes committed: into the overlay (stores with a journal, see
//! `overlay.rs`) or straight into sled, one plain insert or remove at a time.
//!
//! Why not sled's transactions: every sled transaction pins its log, which rolls the IO
//! buffer twice and writes each roll with a synchronous `sync_file_range`, under sled's
//! global write lock. On the reference VM that made a publish wait on two disk writes and
//! made every writer queue behind them, although durability comes from the journal
//! (`journal.rs`), not from sled. Here, writers are serialized by the store's commit lock
//! (held by [`super::sled_store::SledStore::tx_on`] across the closure and the commit), so
//! a closure never conflicts and runs once.
//!
//! Atomicity after a crash (stores with a journal): sled only receives writes whose
//! journal records are synced, and recovery replays those records in order (see
//! `applier.rs`, `Journal::open`).
//!
//! Readers outside a transaction may see a multi-key read interleave with commits; every
//! reader tolerates an index entry without its row (it skips it).

use std::cell::RefCell;
use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::IVec;
use sled::transaction::{ConflictableTransactionError, ConflictableTransactionResult};

use super::journal_record::Recorder;
use super::overlay::Overlay;
use super::sled_store::{decode, encode, t};
use super::view::View;
use crate::error::StoreError;

/// Key (in the journal's meta tree) where stores of earlier versions kept the record of the
/// transaction being applied to sled; recovery still completes one it finds.
pub(crate) const INFLIGHT_KEY: &[u8] = b"inflight_record";

pub(crate) type TxResult<T> = ConflictableTransactionResult<T, StoreError>;

/// Shorthand for aborting a transaction with a store error.
pub(crate) fn abort<T>(e: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

/// A pending value by (tree, key); `None`: removed.
type Pending = HashMap<(usize, Vec<u8>), Option<IVec>>;

/// One write, in the order the transaction made it.
struct Write {
    tree: usize,
    key: Vec<u8>,
    value: Option<IVec>,
}

/// A transaction's view of the store's trees, with typed helpers. Trees are named by their
/// global index (`t::*`); `allowed[i]` says whether the transaction was opened on tree `i`.
pub(crate) struct Tx<'a> {
    trees: &'a [sled::Tree],
    allowed: &'a [bool],
    db: &'a sled::Db,
    /// Committed writes sled does not hold yet (stores with a journal).
    overlay: Option<&'a Overlay>,
    writes: RefCell<Vec<Write>>,
    /// The latest pending value of each written key.
    pending: RefCell<Pending>,
}

impl<'a> Tx<'a> {
    pub(crate) fn new(
        trees: &'a [sled::Tree],
        allowed: &'a [bool],
        db: &'a sled::Db,
        overlay: Option<&'a Overlay>,
    ) -> Self {
        Tx {
            trees,
            allowed,
            db,
            overlay,
            writes: RefCell::new(Vec::new()),
            pending: RefCell::new(HashMap::new()),
        }
    }

    /// Tree `i`, if the transaction was opened on it. Any other tree is a bug in the store;
    /// it aborts the transaction with an error naming the tree, never a panic.
    fn tree(&self, i: usize) -> TxResult<&'a sled::Tree> {
        match (self.allowed.get(i), self.trees.get(i)) {
            (Some(true), Some(tree)) => Ok(tree),
            _ => abort(StoreError::Backend(format!(
                "tree {} is not part of this transaction",
                t::NAMES.get(i).copied().unwrap_or("?")
            ))),
        }
    }

    pub(crate) fn get<T: DeserializeOwned>(
        &self,
        tree: usize,
        key: &[u8],
        what: &'static str,
    ) -> TxResult<Option<T>> {
        match self.get_raw(tree, key)? {
            None => Ok(None),
            Some(bytes) => decode(&bytes, what)
                .map(Some)
                .map_err(ConflictableTransactionError::Abort),
        }
    }

    pub(crate) fn has(&self, tree: usize, key: &[u8]) -> TxResult<bool> {
        Ok(self.get_raw(tree, key)?.is_some())
    }

    /// The value under `key`: this transaction's pending write if it made one, else the
    /// latest committed one (overlay, then sled).
    pub(crate) fn get_raw(&self, tree: usize, key: &[u8]) -> TxResult<Option<IVec>> {
        let sled_tree = self.tree(tree)?;
        let pending = self.pending.borrow();
        // Most reads come before any write: no key to copy for the lookup then.
        if !pending.is_empty()
            && let Some(value) = pending.get(&(tree, key.to_vec()))
        {
            return Ok(value.clone());
        }
        Ok(View::new(sled_tree, tree, self.overlay).get(key)?)
    }

    pub(crate) fn put<T: Serialize>(&self, tree: usize, key: Vec<u8>, value: &T) -> TxResult<()> {
        let bytes = encode(value).map_err(ConflictableTransactionError::Abort)?;
        self.put_raw(tree, key, &bytes)
    }

    pub(crate) fn put_raw(&self, tree: usize, key: Vec<u8>, value: &[u8]) -> TxResult<()> {
        self.write(tree, key, Some(IVec::from(value)))
    }

    pub(crate) fn del(&self, tree: usize, key: &[u8]) -> TxResult<()> {
        self.write(tree, key.to_vec(), None)
    }

    /// A fresh id from sled's monotonic generator (unique across restarts).
    pub(crate) fn generate_id(&self) -> TxResult<u64> {
        self.db
            .generate_id()
            .map_err(ConflictableTransactionError::Storage)
    }

    fn write(&self, tree: usize, key: Vec<u8>, value: Option<IVec>) -> TxResult<()> {
        self.tree(tree)?;
        self.pending
            .borrow_mut()
            .insert((tree, key.clone()), value.clone());
        self.writes.borrow_mut().push(Write { tree, key, value });
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.writes.borrow().is_empty()
    }

    /// The transaction's journal record: its writes in order (see
    /// [`Recorder::encode_record`]).
    pub(crate) fn record(&self, lsn: u64) -> Vec<u8> {
        let mut recorder = Recorder::default();
        for w in self.writes.borrow().iter() {
            match &w.value {
                Some(v) => recorder.put(w.tree, &w.key, v),
                None => recorder.remove(w.tree, &w.key),
            }
        }
        let mut out = Vec::new();
        recorder.encode_record(lsn, &mut out);
        out
    }

    /// The writes, in the order the transaction made them, as (tree, key, value).
    pub(crate) fn into_writes(self) -> impl Iterator<Item = (usize, Vec<u8>, Option<IVec>)> {
        self.writes
            .into_inner()
            .into_iter()
            .map(|w| (w.tree, w.key, w.value))
    }

    /// Applies the writes to sled, in order (stores without a journal). The caller holds
    /// the commit lock.
    pub(crate) fn apply(self) -> Result<(), StoreError> {
        for w in self.writes.into_inner() {
            // `write` checked the index against `allowed`, which is as long as `trees`.
            let Some(tree) = self.trees.get(w.tree) else {
                return Err(StoreError::Backend(format!("no tree {}", w.tree)));
            };
            match w.value {
                Some(value) => tree.insert(w.key, value)?,
                None => tree.remove(w.key)?,
            };
        }
        Ok(())
    }
}
