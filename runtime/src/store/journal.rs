//! The store's write-ahead journal: a write is durable once its record is in the journal
//! file and `fdatasync`ed, not once sled has flushed.
//!
//! Why: on the reference VM a sled flush costs about 1 ms (p99 7 ms), because sled writes
//! 4-5x the logical bytes and holds its global lock while it flushes; writing a
//! transaction's puts and removes to a file and syncing it costs about 0.2-0.4 ms.
//! Acknowledged publishes wait for that sync, so it sets their latency and how many a
//! second one flusher can serve. sled is flushed only at checkpoints.
//!
//! Layout: `<store>/journal/<segment number, 20 digits>.log`, each a sequence of records
//! (format in `journal_record.rs`), then zeros when the segment was prepared ahead
//! (`journal_spare.rs`: writes overwrite zero-filled blocks in place, which syncs faster
//! than appending).
//!
//! Ordering: the store appends a transaction's record while it still holds the commit lock,
//! so journal order is commit order (LSN order). Committed writes reach sled later, in
//! batches (`overlay.rs`, `applier.rs`), and only once their records are synced here;
//! after each batch the applier writes the batch's last LSN under [`APPLIED_KEY`] in sled.
//! After a crash, sled (whose recovered state is a prefix of its log) says which records it
//! holds in full, and replay applies the later ones in order. sled may also hold part of
//! the batch that was being applied: every such value comes from a synced record after the
//! applied LSN, so replaying those records in order ends on the same values.
//!
//! Checkpoints: once a segment is large or old enough, a flusher lane syncs it and starts
//! the next one (so no record is written after one of a closed segment is durable); once
//! the applier has put every record of the closed segment into sled, it flushes sled and
//! deletes the segment, or keeps it to be zeroed as a later segment
//! ([`Journal::checkpoint`]).

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::group_commit::JOURNAL_LANES;
#[cfg(test)]
use super::journal_record::Recorder;
use super::journal_record::{Op, Record, corrupt, next_record};
use super::journal_spare::{DEMAND_BYTES, Prepared, SPARE_BYTES, Spares};
use super::tx::INFLIGHT_KEY;
use crate::error::StoreError;

/// Key (in the journal's meta tree) of the LSN of the last journaled transaction sled holds.
pub(crate) const APPLIED_KEY: &[u8] = b"applied_lsn";

/// A segment larger than this is closed and checkpointed: the size spares are prepared to.
const SEGMENT_BYTES: u64 = SPARE_BYTES;
/// A segment older than this (and not empty) is closed and checkpointed, so recovery after
/// a crash replays at most this much of a quiet store's history.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(30);
pub(super) fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("journal: cannot {what} {}: {e}", path.display()))
}

pub(crate) fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:020}.log"))
}

/// The segments in `dir`, oldest first.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| io("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io("list", dir, e))?;
        let path = entry.path();
        let number = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(number) = number {
            found.push((number, path));
        }
    }
    found.sort();
    Ok(found)
}

/// What a segment file holds.
#[derive(Debug)]
pub(crate) struct SegmentRead {
    pub(crate) records: Vec<Record>,
    /// Bytes from the first record that is cut short or fails its checksum to the end of
    /// the file; `None` when the records end the file or only zeros follow them.
    pub(crate) torn_bytes: Option<usize>,
}

impl SegmentRead {
    /// Whether anything was ever written to the segment.
    fn written(&self) -> bool {
        !self.records.is_empty() || self.torn_bytes.is_some()
    }
}

/// Reads a segment's records, up to its end, the zeros it was prepared with, or the first
/// record cut short or failing its checksum.
pub(crate) fn read_segment(path: &Path) -> Result<SegmentRead, StoreError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| io("read", path, e))?;
    let mut records = Vec::new();
    let mut rest = &bytes[..];
    // No record has a zero length (its body holds at least the LSN), so a zero length
    // followed by nothing but zeros is the unwritten part of a prepared segment.
    while !rest.iter().all(|&b| b == 0) {
        match next_record(rest) {
            Some((record, after)) => {
                records.push(record);
                rest = after;
            }
            None => {
                return Ok(SegmentRead {
                    records,
                    torn_bytes: Some(rest.len()),
                });
            }
        }
    }
    Ok(SegmentRead {
        records,
        torn_bytes: None,
    })
}

/// Checks where the segments' torn records are. A torn record in the last segment written
/// to is the write a crash interrupted (never acknowledged, since acknowledgement waits
/// for the sync) and is dropped; anywhere else it is corruption.
fn check_torn(found: &[(u64, PathBuf)], reads: &[SegmentRead]) -> Result<(), StoreError> {
    let last_written = reads.iter().rposition(SegmentRead::written);
    for (i, ((_, path), read)) in found.iter().zip(reads).enumerate() {
        let Some(bytes) = read.torn_bytes else {
            continue;
        };
        if Some(i) != last_written {
            return Err(corrupt(format!(
                "{} has a torn or corrupt record {bytes} bytes before its end, and it is not the last segment",
                path.display(),
            )));
        }
        tracing::warn!(
            segment = %path.display(),
            bytes,
            "journal ends with a record a crash cut short; it was never acknowledged and is dropped"
        );
    }
    Ok(())
}

/// The segment being written to.
#[derive(Debug)]
struct Segment {
    number: u64,
    /// Records are written through this handle, under the journal's `segment` lock.
    file: File,
    /// One handle per flusher lane, each its own open of the file, for `fdatasync`. Why not
    /// the writing handle: Linux reports a failed writeback once per open file, to the
    /// first sync that asks; lanes sharing one handle could have the error reported to one
    /// while another, covering the same lost bytes, returns Ok.
    lanes: Vec<Arc<File>>,
    /// Bytes of records written: where the next one goes.
    len: u64,
    /// Bytes known durable (a sync that began after they were written returned Ok).
    synced: u64,
    opened: Instant,
    /// The LSN of the last record written to it.
    last_lsn: u64,
    /// Zero-filled ahead ([`Spares`]), so writes overwrite in place.
    prepared: bool,
    /// The next segment has been asked for.
    asked_next: bool,
}

impl Segment {
    /// A new empty segment, for when none was prepared: writes extend the file.
    fn create(dir: &Path, number: u64) -> Result<Self, StoreError> {
        let path = segment_path(dir, number);
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)
            .map_err(|e| io("create", &path, e))?;
        // The new name must survive a power loss too, or the records in it would.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("sync", dir, e))?;
        Segment::empty(&path, number, file, false)
    }

    /// A segment the preparer zero-filled and named (its name already durable).
    fn adopt(dir: &Path, prepared: Prepared) -> Result<Self, StoreError> {
        let path = segment_path(dir, prepared.number);
        Segment::empty(&path, prepared.number, prepared.file, true)
    }

    /// Opens the lanes' handles before anything is written, so each sees every error.
    fn empty(path: &Path, number: u64, file: File, prepared: bool) -> Result<Self, StoreError> {
        let lanes = (0..JOURNAL_LANES)
            .map(|_| {
                OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map(Arc::new)
                    .map_err(|e| io("open", path, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Segment {
            number,
            file,
            lanes,
            len: 0,
            synced: 0,
            opened: Instant::now(),
            last_lsn: 0,
            prepared,
            asked_next: false,
        })
    }
}

/// Appends records and makes them durable; checkpoints in the background.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    store_dir: PathBuf,
    db: sled::Db,
    /// Encoded records appended since the last sync, and the LSN of the last of them.
    pending: Mutex<(Vec<u8>, u64)>,
    /// The segment being appended to; held by the flusher for a whole write + sync.
    segment: Mutex<Segment>,
    /// Set by a failed write or sync (the file may end in a torn record, so nothing may be
    /// appended after it: recovery would stop at the tear and miss it) or by
    /// [`Journal::poison`]. Not under `segment`: every transaction checks it, and the flusher
    /// holds `segment` for a whole sync.
    failed: OnceLock<String>,
    /// Closed segments not yet checkpointed: (number, LSN of its last record).
    closed: Mutex<Vec<(u64, u64)>>,
    /// Prepares the next segment ahead.
    spares: Spares,
}

impl Journal {
    /// Recovers `db`, opened on `store_dir`, from the journal in `store_dir/journal`
    /// (replaying what sled lacks), then starts a fresh segment. Returns the journal and
    /// the next LSN to give out.
    pub(crate) fn open(
        store_dir: &Path,
        db: &sled::Db,
        trees: &[sled::Tree],
        meta: usize,
    ) -> Result<(Journal, u64), StoreError> {
        let journal_dir = store_dir.join("journal");
        let dir = journal_dir.as_path();
        std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
        let found = segments(dir)?;
        let applied = complete_inflight(trees, meta)?;
        let reads = found
            .iter()
            .map(|(_, path)| read_segment(path))
            .collect::<Result<Vec<_>, _>>()?;
        check_torn(&found, &reads)?;
        let mut last = applied;
        let mut replayed = 0usize;
        for record in reads.iter().flat_map(|r| &r.records) {
            if record.lsn > applied {
                replay(trees, meta, record)?;
                replayed += 1;
            }
            last = last.max(record.lsn);
        }
        if !found.is_empty() {
            make_sled_durable(db, store_dir)?;
            tracing::info!(
                segments = found.len(),
                replayed,
                applied,
                "store recovered from its journal"
            );
        }
        for (_, path) in &found {
            std::fs::remove_file(path).map_err(|e| io("remove", path, e))?;
        }
        let next_segment = found.last().map_or(1, |(n, _)| n + 1);
        let segment = Segment::create(dir, next_segment)?;
        let spares = Spares::start(dir)?;
        Ok((
            Journal {
                dir: dir.to_path_buf(),
                store_dir: store_dir.to_path_buf(),
                db: db.clone(),
                pending: Mutex::new((Vec::new(), last)),
                segment: Mutex::new(segment),
                failed: OnceLock::new(),
                closed: Mutex::new(Vec::new()),
                spares,
            },
            last + 1,
        ))
    }

    /// Queues a committed transaction's record, encoded (`Recorder::encode_record`);
    /// [`Journal::sync`] makes it durable. Call with the commit lock held, so records queue
    /// in commit order.
    pub(crate) fn append_encoded(&self, lsn: u64, record: &[u8]) {
        let mut pending = lock(&self.pending);
        pending.0.extend_from_slice(record);
        pending.1 = lsn;
    }

    /// Refuses every later sync (and so every acknowledgement) with `reason`, as after a
    /// failed write: used when the applier could not write a batch to sled.
    pub(crate) fn poison(&self, reason: String) {
        tracing::error!(%reason, "store journal poisoned; restart to recover");
        let _ = self.failed.set(reason);
    }

    /// Why the journal refuses writes, if it does.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failed.get().cloned()
    }

    /// Writes every record queued before the call and makes it durable. Called by the
    /// group commit's flusher lanes, several at once: writing is serialized (under
    /// `segment`, in the order the lanes took the records), each lane's `fdatasync` runs
    /// beside the others'. A sync covers the whole file, so whichever lane wrote a record,
    /// the next sync to begin after that write covers it.
    pub(crate) fn sync(&self, lane: usize) -> Result<(), String> {
        let Some((number, upto, handle)) = self.write_queued(lane)? else {
            return Ok(());
        };
        if let Err(e) = handle.sync_data() {
            return Err(self.fail(number, &e));
        }
        let mut segment = lock(&self.segment);
        if segment.number == number {
            segment.synced = segment.synced.max(upto);
        }
        Ok(())
    }

    /// Writes the queued records to the current segment. Returns what is left to sync:
    /// the segment's number, its length after the write and this lane's handle on it; or
    /// nothing when every written byte is already durable (nothing was queued and no other
    /// lane's sync is in flight, or the segment was just closed, which syncs it).
    fn write_queued(&self, lane: usize) -> Result<Option<(u64, u64, Arc<File>)>, String> {
        let mut segment = lock(&self.segment);
        if let Some(reason) = self.failed.get() {
            return Err(format!("the journal failed earlier: {reason}"));
        }
        // Taken under `segment`, so lanes write records in the order they were queued.
        let (bytes, last_lsn) = {
            let mut pending = lock(&self.pending);
            (std::mem::take(&mut pending.0), pending.1)
        };
        if !bytes.is_empty() {
            if let Err(e) = segment.file.write_all_at(&bytes, segment.len) {
                return Err(self.fail(segment.number, &e));
            }
            segment.len += bytes.len() as u64;
            segment.last_lsn = last_lsn;
        }
        if segment.synced >= segment.len {
            return Ok(None);
        }
        let next = segment.number + 1;
        if !segment.asked_next && segment.len >= DEMAND_BYTES {
            self.spares.want(next);
            segment.asked_next = true;
        }
        // A segment the store had to create itself (the first after opening, or when the
        // preparer fell behind) is left as soon as a prepared one is ready.
        let leave_unprepared =
            !segment.prepared && segment.asked_next && self.spares.is_ready(next);
        if segment.len >= SEGMENT_BYTES
            || segment.opened.elapsed() >= CHECKPOINT_EVERY
            || leave_unprepared
        {
            // Every record of a closed segment is durable before any is written to the next
            // (recovery allows a torn record only in the last segment written to).
            if let Err(e) = segment.file.sync_data() {
                return Err(self.fail(segment.number, &e));
            }
            segment.synced = segment.len;
            self.rotate(&mut segment);
            return Ok(None);
        }
        let handle = Arc::clone(&segment.lanes[lane % segment.lanes.len()]);
        Ok(Some((segment.number, segment.len, handle)))
    }

    /// Records a failed write or sync of segment `number`: nothing is acknowledged after it.
    fn fail(&self, number: u64, e: &std::io::Error) -> String {
        let reason = format!(
            "cannot write {}: {e}",
            segment_path(&self.dir, number).display()
        );
        let _ = self.failed.set(reason.clone());
        reason
    }

    /// Starts the next segment and queues the closed one for [`Journal::checkpoint`]. A
    /// failure only postpones the checkpoint: the current segment keeps growing.
    fn rotate(&self, segment: &mut Segment) {
        let closed = (segment.number, segment.last_lsn);
        let next = match self.spares.take(closed.0 + 1) {
            Some(prepared) => Segment::adopt(&self.dir, prepared),
            None => Segment::create(&self.dir, closed.0 + 1),
        };
        match next {
            Ok(next) => *segment = next,
            Err(e) => {
                tracing::warn!(error = %e, "cannot start a new journal segment; checkpoint postponed");
                return;
            }
        }
        lock(&self.closed).push(closed);
    }

    /// Deletes the closed segments whose records sled holds (all LSNs <= `applied`), after
    /// making sled durable, keeping one to be zeroed as a later segment. Called by the
    /// applier after it applied a batch. A failure keeps the segments for the next call
    /// (and for recovery).
    pub(crate) fn checkpoint(&self, applied: u64) {
        let done: Vec<u64> = lock(&self.closed)
            .iter()
            .filter(|(_, last)| *last <= applied)
            .map(|(n, _)| *n)
            .collect();
        let Some(&newest) = done.last() else {
            return;
        };
        let started = Instant::now();
        if let Err(e) = make_sled_durable(&self.db, &self.store_dir) {
            tracing::error!(error = %e, "checkpoint: sled flush failed; the journal keeps its segments");
            return;
        }
        for number in &done {
            let path = segment_path(&self.dir, *number);
            if let Err(e) = self.spares.recycle(&path) {
                tracing::warn!(error = %e, "checkpoint: cannot remove a replayed journal segment");
            }
        }
        lock(&self.closed).retain(|(n, _)| *n > newest);
        tracing::debug!(
            segment = newest,
            elapsed_ms = started.elapsed().as_millis(),
            "journal checkpoint"
        );
    }
}

/// Flushes sled, then fsyncs its file (`<store_dir>/db` in sled 0.34): sled's flush waits
/// for `sync_file_range`, which does not flush the device's cache, and the callers delete
/// journal segments next. A failed fsync is logged: the flush alone still survives a
/// process crash.
fn make_sled_durable(db: &sled::Db, store_dir: &Path) -> Result<(), StoreError> {
    db.flush()?;
    let file = store_dir.join("db");
    if let Err(e) = File::open(&file).and_then(|f| f.sync_all()) {
        tracing::warn!(file = %file.display(), error = %e, "cannot fsync sled's file");
    }
    Ok(())
}

/// The LSN of the last journaled transaction in sled (0: none).
pub(crate) fn applied_lsn(meta: &sled::Tree) -> Result<u64, StoreError> {
    Ok(meta
        .get(APPLIED_KEY)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_le_bytes))
}

/// Completes the transaction sled was applying when the process stopped, if sled kept only
/// part of it, from the in-flight record stores of earlier versions wrote into sled before
/// each transaction's writes (today's stores apply synced records only, see `overlay.rs`,
/// and write none). Returns sled's applied LSN afterwards.
fn complete_inflight(trees: &[sled::Tree], meta: usize) -> Result<u64, StoreError> {
    let applied = applied_lsn(&trees[meta])?;
    let Some(bytes) = trees[meta].get(INFLIGHT_KEY)? else {
        return Ok(applied);
    };
    let Some((record, _)) = next_record(&bytes) else {
        return Err(corrupt(
            "the in-flight record stored in sled fails its checksum".into(),
        ));
    };
    if record.lsn <= applied {
        return Ok(applied);
    }
    tracing::info!(
        lsn = record.lsn,
        applied,
        "sled holds part of a transaction; completing it from its in-flight record"
    );
    replay(trees, meta, &record)?;
    applied_lsn(&trees[meta])
}

/// Applies one record's writes and its LSN as [`APPLIED_KEY`] as one sled transaction (so
/// a crash during recovery leaves sled at a record boundary, and its applied LSN true).
fn replay(trees: &[sled::Tree], meta: usize, record: &Record) -> Result<(), StoreError> {
    use sled::transaction::{ConflictableTransactionError, Transactional};
    let writes = record.writes()?;
    for w in &writes {
        let (Op::Put { tree, .. } | Op::Remove { tree, .. }) = w;
        if *tree >= trees.len() {
            return Err(corrupt(format!(
                "record {} writes to tree {tree}, which does not exist",
                record.lsn
            )));
        }
    }
    let all: Vec<&sled::Tree> = trees.iter().collect();
    <[&sled::Tree] as Transactional<StoreError>>::transaction(&all[..], |views| {
        for w in &writes {
            match *w {
                Op::Put { tree, key, value } => {
                    views[tree].insert(key, value)?;
                }
                Op::Remove { tree, key } => {
                    views[tree].remove(key)?;
                }
            }
        }
        views[meta].insert(APPLIED_KEY, &record.lsn.to_le_bytes())?;
        Ok::<(), ConflictableTransactionError<StoreError>>(())
    })
    .map_err(|e| match e {
        sled::transaction::TransactionError::Abort(e) => e,
        sled::transaction::TransactionError::Storage(e) => StoreError::from(e),
    })
}

/// A poisoned lock only means a thread panicked while holding it; what the journal and
/// its preparer guard (byte buffers, segment handles, plain state) stays usable.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const A: usize = 0;
    const B: usize = 1;
    const META: usize = 2;

    fn db(dir: &Path) -> (sled::Db, Vec<sled::Tree>) {
        let db = sled::Config::new().path(dir.join("sled")).open().unwrap();
        let trees = ["a", "b", "meta"]
            .iter()
            .map(|n| db.open_tree(n).unwrap())
            .collect();
        (db, trees)
    }

    /// (tree, key, Some(value) for a put or None for a remove)
    type TestWrite<'a> = (usize, &'a [u8], Option<&'a [u8]>);

    /// Record `lsn` (its writes, then its LSN as a transaction stores it) encoded as the
    /// journal (and sled's in-flight key) stores it.
    fn encoded(lsn: u64, writes: &[TestWrite<'_>]) -> Vec<u8> {
        let mut r = Recorder::default();
        for (tree, key, value) in writes {
            match value {
                Some(v) => r.put(*tree, key, v),
                None => r.remove(*tree, key),
            }
        }
        r.put(META, APPLIED_KEY, &lsn.to_le_bytes());
        let mut out = Vec::new();
        r.encode_record(lsn, &mut out);
        out
    }

    /// Writes records into `store_dir/journal` as a running journal would, without
    /// touching the store's sled.
    /// Records `lsn` as the last transaction sled holds.
    fn set_applied(trees: &[sled::Tree], lsn: u64) {
        trees[META].insert(APPLIED_KEY, &lsn.to_le_bytes()).unwrap();
    }

    /// The LSN of an encoded record (after its length and checksum).
    fn lsn_of(record: &[u8]) -> u64 {
        u64::from_le_bytes(record[8..16].try_into().unwrap())
    }

    fn write_journal(store_dir: &Path, records: &[Vec<u8>]) {
        let (db, trees) = db(&store_dir.join("scratch"));
        let (journal, _) = Journal::open(store_dir, &db, &trees, META).unwrap();
        for r in records {
            journal.append_encoded(lsn_of(r), r);
        }
        journal.sync(0).unwrap();
    }

    #[test]
    fn a_record_reads_back_as_the_writes_it_was_made_of() {
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("journal");
        write_journal(
            dir.path(),
            &[encoded(7, &[(A, b"k1", Some(b"v1")), (B, b"k2", None)])],
        );
        let (_, path) = segments(&journal_dir).unwrap().pop().unwrap();
        let records = read_segment(&path).unwrap().records;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].lsn, 7);
        let lsn = 7u64.to_le_bytes();
        assert_eq!(
            records[0].writes().unwrap(),
            vec![
                Op::Put {
                    tree: A,
                    key: b"k1",
                    value: b"v1"
                },
                Op::Remove {
                    tree: B,
                    key: b"k2"
                },
                Op::Put {
                    tree: META,
                    key: APPLIED_KEY,
                    value: &lsn
                },
            ]
        );
    }

    #[test]
    fn recovery_replays_what_sled_lacks_in_order_and_removes_the_segments() {
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("journal");
        write_journal(
            dir.path(),
            &[
                encoded(1, &[(A, b"row", Some(b"pending")), (B, b"due", Some(b"x"))]),
                encoded(2, &[(A, b"row", Some(b"delivered")), (B, b"due", None)]),
            ],
        );
        let (db, trees) = db(dir.path());
        let (_journal, next) = Journal::open(dir.path(), &db, &trees, META).unwrap();
        assert_eq!(next, 3);
        assert_eq!(
            trees[A].get(b"row").unwrap().unwrap().as_ref(),
            b"delivered"
        );
        assert!(trees[B].get(b"due").unwrap().is_none());
        assert_eq!(applied_lsn(&trees[META]).unwrap(), 2);
        // The old segment is gone once sled holds its records; only the fresh one is left.
        let left = segments(&journal_dir).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(std::fs::metadata(&left[0].1).unwrap().len(), 0);
    }

    #[test]
    fn a_batch_sled_kept_part_of_is_replayed_to_the_values_it_ended_on() {
        let dir = tempfile::tempdir().unwrap();
        write_journal(
            dir.path(),
            &[
                encoded(1, &[(A, b"row", Some(b"pending")), (B, b"due", Some(b"x"))]),
                encoded(2, &[(A, b"row", Some(b"delivered")), (B, b"due", None)]),
                encoded(3, &[(A, b"other", Some(b"z"))]),
            ],
        );
        let (db, trees) = db(dir.path());
        // The applier wrote part of the batch 1..=3 (the row's final value, in key order)
        // and not its applied LSN when the process died.
        trees[A].insert(b"row", b"delivered".as_slice()).unwrap();
        let (_journal, next) = Journal::open(dir.path(), &db, &trees, META).unwrap();
        assert_eq!(next, 4);
        assert_eq!(
            trees[A].get(b"row").unwrap().unwrap().as_ref(),
            b"delivered"
        );
        assert!(trees[B].get(b"due").unwrap().is_none());
        assert_eq!(trees[A].get(b"other").unwrap().unwrap().as_ref(), b"z");
        assert_eq!(applied_lsn(&trees[META]).unwrap(), 3);
    }

    #[test]
    fn records_sled_already_holds_are_not_replayed_over_newer_state() {
        let dir = tempfile::tempdir().unwrap();
        write_journal(
            dir.path(),
            &[
                encoded(1, &[(A, b"row", Some(b"pending"))]),
                encoded(2, &[(B, b"other", Some(b"y"))]),
            ],
        );
        let (db, trees) = db(dir.path());
        // sled holds transactions up to 3 (its applied LSN), which set the row to
        // delivered: replaying 1 would roll it back to pending.
        trees[A].insert(b"row", b"delivered".as_slice()).unwrap();
        set_applied(&trees, 3);
        let (_journal, next) = Journal::open(dir.path(), &db, &trees, META).unwrap();
        assert_eq!(
            trees[A].get(b"row").unwrap().unwrap().as_ref(),
            b"delivered"
        );
        assert!(
            trees[B].get(b"other").unwrap().is_none(),
            "record 2 is <= 3: skipped"
        );
        assert_eq!(next, 4, "LSNs continue after what sled holds");
    }

    #[test]
    fn a_transaction_sled_kept_half_of_is_completed_from_its_in_flight_record() {
        let dir = tempfile::tempdir().unwrap();
        let (db, trees) = db(dir.path());
        // Transaction 5 (never synced to the journal) stored its record, then its first
        // write; the crash came before its second write and its LSN.
        set_applied(&trees, 4);
        let inflight = encoded(5, &[(A, b"row", Some(b"pending")), (B, b"due", Some(b"x"))]);
        trees[META].insert(INFLIGHT_KEY, inflight).unwrap();
        trees[A].insert(b"row", b"pending".as_slice()).unwrap();
        let (_journal, next) = Journal::open(dir.path(), &db, &trees, META).unwrap();
        assert_eq!(trees[B].get(b"due").unwrap().unwrap().as_ref(), b"x");
        assert_eq!(applied_lsn(&trees[META]).unwrap(), 5);
        assert_eq!(next, 6);
    }

    #[test]
    fn an_in_flight_record_sled_holds_in_full_is_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let (db, trees) = db(dir.path());
        let inflight = encoded(5, &[(A, b"row", Some(b"pending"))]);
        trees[META].insert(INFLIGHT_KEY, inflight).unwrap();
        // A later transaction (6) changed the row without a new in-flight record reaching
        // sled (impossible in practice; it proves the LSN comparison decides).
        trees[A].insert(b"row", b"delivered".as_slice()).unwrap();
        set_applied(&trees, 6);
        let (_journal, next) = Journal::open(dir.path(), &db, &trees, META).unwrap();
        assert_eq!(
            trees[A].get(b"row").unwrap().unwrap().as_ref(),
            b"delivered"
        );
        assert_eq!(next, 7);
    }

    #[test]
    fn a_corrupt_in_flight_record_is_an_error_naming_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let (db, trees) = db(dir.path());
        let mut inflight = encoded(5, &[(A, b"row", Some(b"pending"))]);
        let last = inflight.len() - 1;
        inflight[last] ^= 0xff;
        trees[META].insert(INFLIGHT_KEY, inflight).unwrap();
        let err = Journal::open(dir.path(), &db, &trees, META).unwrap_err();
        assert!(err.to_string().contains("in-flight record"), "{err}");
        assert_eq!(err.code(), "store_corrupt");
    }

    #[test]
    fn a_torn_last_record_is_dropped_and_the_ones_before_it_are_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("journal");
        write_journal(
            dir.path(),
            &[
                encoded(1, &[(A, b"acked", Some(b"1"))]),
                encoded(2, &[(A, b"cut", Some(b"2"))]),
            ],
        );
        let (_, path) = segments(&journal_dir).unwrap().pop().unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        recovers_acked_but_not_cut(dir.path());
    }

    /// Opens the store in `dir`, whose journal holds record 1 (`acked`) and a torn record
    /// 2 (`cut`): 1 is replayed, 2 dropped, and LSNs go on from 2.
    fn recovers_acked_but_not_cut(dir: &Path) {
        let (db, trees) = db(dir);
        let (_journal, next) = Journal::open(dir, &db, &trees, META).unwrap();
        assert!(trees[A].get(b"acked").unwrap().is_some());
        assert!(trees[A].get(b"cut").unwrap().is_none());
        assert_eq!(next, 2);
    }

    #[test]
    fn a_corrupt_record_before_the_last_segment_is_an_error_naming_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("journal");
        write_journal(dir.path(), &[encoded(1, &[(A, b"k", Some(b"v"))])]);
        let (_, first) = segments(&journal_dir).unwrap().pop().unwrap();
        let mut bytes = std::fs::read(&first).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&first, &bytes).unwrap();
        // A later segment with a record: the torn one was not where a crash stopped.
        std::fs::write(
            segment_path(&journal_dir, 99),
            encoded(2, &[(A, b"k", Some(b"w"))]),
        )
        .unwrap();
        let (db, trees) = db(dir.path());
        let err = Journal::open(dir.path(), &db, &trees, META).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Corrupt {
                    what: "journal",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("not the last segment"), "{err}");
    }

    #[test]
    fn after_a_failed_write_nothing_more_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let (db, trees) = db(dir.path());
        let (journal, _) = Journal::open(dir.path(), &db, &trees, META).unwrap();
        let _ = journal.failed.set("disk full".into());
        journal.append_encoded(1, &encoded(1, &[(A, b"k", Some(b"v"))]));
        let err = journal.sync(0).unwrap_err();
        assert!(err.contains("disk full"), "{err}");
    }

    #[test]
    fn a_closed_segment_is_deleted_only_once_sled_holds_its_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let (db, trees) = db(dir.path());
        let (journal, _) = Journal::open(dir.path(), &db, &trees, META).unwrap();
        for lsn in 1..=3 {
            journal.append_encoded(lsn, &encoded(lsn, &[(A, b"k", Some(b"v"))]));
        }
        journal.sync(0).unwrap();
        journal.rotate(&mut lock(&journal.segment));
        let journal_dir = dir.path().join("journal");
        assert_eq!(segments(&journal_dir).unwrap().len(), 2);
        journal.checkpoint(2);
        assert_eq!(
            segments(&journal_dir).unwrap().len(),
            2,
            "record 3 is not in sled yet"
        );
        journal.checkpoint(3);
        let left = segments(&journal_dir).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].0, 2, "the open segment stays");
    }

    use super::super::journal_spare::tests::eventually;

    /// Appends `records` to `file` and then `zeros` zero bytes, as a prepared segment
    /// holding those records looks on disk.
    fn prepared_segment(path: &Path, records: &[Vec<u8>], zeros: usize) {
        let mut bytes = records.concat();
        bytes.resize(bytes.len() + zeros, 0);
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn the_zeros_after_a_prepared_segments_records_are_not_a_torn_record() {
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("journal");
        std::fs::create_dir_all(&journal_dir).unwrap();
        prepared_segment(
            &segment_path(&journal_dir, 1),
            &[encoded(1, &[(A, b"a", Some(b"1"))])],
            4096,
        );
        prepared_segment(
            &segment_path(&journal_dir, 2),
            &[encoded(2, &[(A, b"b", Some(b"2"))])],
            100,
        );
        let (db, trees) = db(dir.path());
        let (_journal, next) = Journal::open(dir.path(), &db, &trees, META).unwrap();
        assert_eq!(trees[A].get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(trees[A].get(b"b").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(next, 3);
    }

    #[test]
    fn a_torn_record_followed_only_by_unwritten_segments_is_where_the_crash_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("journal");
        std::fs::create_dir_all(&journal_dir).unwrap();
        let torn = encoded(2, &[(A, b"cut", Some(b"2"))]);
        let mut first = encoded(1, &[(A, b"acked", Some(b"1"))]);
        // The crash persisted the first half of the record, not the page after it.
        first.extend_from_slice(&torn[..torn.len() / 2]);
        first.resize(first.len() + 4096, 0);
        std::fs::write(segment_path(&journal_dir, 1), first).unwrap();
        // The next segment was prepared but never written to.
        prepared_segment(&segment_path(&journal_dir, 2), &[], 8192);
        recovers_acked_but_not_cut(dir.path());
    }

    #[test]
    fn a_busy_journal_moves_to_a_prepared_segment_and_recovers_from_it() {
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join("journal");
        let value = vec![7u8; 64 << 10];
        let mut lsn = 0;
        {
            let (db, trees) = db(&dir.path().join("first"));
            let (journal, _) = Journal::open(dir.path(), &db, &trees, META).unwrap();
            // More than the demand threshold: the preparer is asked for segment 2.
            while lock(&journal.segment).len < DEMAND_BYTES {
                lsn += 1;
                journal.append_encoded(lsn, &encoded(lsn, &[(A, b"k", Some(&value))]));
                journal.sync(0).unwrap();
            }
            eventually("segment 2 prepared", || journal.spares.is_ready(2));
            // The next sync leaves the unprepared first segment.
            lsn += 1;
            journal.append_encoded(lsn, &encoded(lsn, &[(A, b"k", Some(b"v1"))]));
            journal.sync(0).unwrap();
            assert_eq!(lock(&journal.segment).number, 2);
            assert!(lock(&journal.segment).prepared);
            lsn += 1;
            journal.append_encoded(lsn, &encoded(lsn, &[(A, b"last", Some(b"in 2"))]));
            journal.sync(0).unwrap();
        }
        let found = segments(&journal_dir).unwrap();
        assert_eq!(found.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(std::fs::metadata(&found[1].1).unwrap().len(), SPARE_BYTES);
        let in_two = read_segment(&found[1].1).unwrap();
        assert_eq!(in_two.records.len(), 1);
        assert_eq!(in_two.torn_bytes, None);

        let (db, trees) = db(dir.path());
        let (_journal, next) = Journal::open(dir.path(), &db, &trees, META).unwrap();
        assert_eq!(next, lsn + 1);
        assert_eq!(trees[A].get(b"k").unwrap().as_deref(), Some(&b"v1"[..]));
        assert_eq!(
            trees[A].get(b"last").unwrap().as_deref(),
            Some(&b"in 2"[..])
        );
    }

    /// The flusher lanes sync at once while records keep coming, across a move to a
    /// prepared segment: every record is written once, in LSN order, and replayed.
    #[test]
    fn lanes_syncing_at_once_write_every_record_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let value = vec![9u8; 16 << 10];
        let records = 200u64;
        {
            let (db, trees) = db(&dir.path().join("first"));
            let (journal, _) = Journal::open(dir.path(), &db, &trees, META).unwrap();
            let journal = Arc::new(journal);
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let lanes: Vec<_> = (0..JOURNAL_LANES)
                .map(|lane| {
                    let (journal, done) = (Arc::clone(&journal), Arc::clone(&done));
                    std::thread::spawn(move || {
                        while !done.load(std::sync::atomic::Ordering::Relaxed) {
                            journal.sync(lane).unwrap();
                        }
                    })
                })
                .collect();
            for lsn in 1..=records {
                let key = lsn.to_be_bytes();
                journal.append_encoded(lsn, &encoded(lsn, &[(A, &key, Some(&value))]));
                if lsn == records / 2 {
                    // Past the demand threshold: the rest goes to a prepared segment.
                    eventually("segment 2 prepared", || journal.spares.is_ready(2));
                }
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            for lane in lanes {
                lane.join().unwrap();
            }
            journal.sync(0).unwrap();
            let segment = lock(&journal.segment);
            assert_eq!(segment.number, 2, "moved to the prepared segment");
            assert_eq!(segment.synced, segment.len, "everything written is synced");
        }
        let lsns: Vec<u64> = segments(&dir.path().join("journal"))
            .unwrap()
            .iter()
            .flat_map(|(_, path)| read_segment(path).unwrap().records)
            .map(|r| r.lsn)
            .collect();
        assert_eq!(lsns, (1..=records).collect::<Vec<_>>());
        let (db, trees) = db(dir.path());
        let (_journal, next) = Journal::open(dir.path(), &db, &trees, META).unwrap();
        assert_eq!(next, records + 1);
        assert_eq!(trees[A].len(), records as usize);
    }
}
