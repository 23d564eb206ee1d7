//! [`SledStore`]: trees, transactions, codecs, and the [`Store`] impl that adds the group
//! commit to every write. The operations themselves are in `sled_admin.rs` (flags,
//! connections, subscriptions) and `sled_dispatch.rs` (events, dispatches, audit).
//!
//! Transactions (`tx.rs`) are serialized by the commit lock; keep their closures short, as
//! every writer waits for them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sled::transaction::ConflictableTransactionError;

use super::applier::Applier;
use super::claim_book::ClaimBook;
use super::group_commit::{self, GroupCommit};
use super::journal::Journal;
use super::overlay::Overlay;
use super::sled_end::{End, EndQueue};
pub(crate) use super::tx::{Tx, TxResult, abort};
use super::view::View;
use super::{
    ClaimFilter, DispatchDetail, FinishOutcome, Page, PublishOutcome, RecoveryPolicy, Store,
    StoreResult, SubscriptionStats,
};
use crate::error::StoreError;
use crate::model::{
    AuditRecord, Connection, ConnectionSpec, Dispatch, DispatchError, Event, NewAuditRecord,
    NewEvent, Subscription, SubscriptionSpec, SubscriptionStatus, Timestamp,
};

/// Tree indexes into [`Inner::trees`] (and a transaction's view), with their key layout.
pub(crate) mod t {
    /// (org, flag) -> bool
    pub const ORG_FLAGS: usize = 0;
    /// (org, id) -> StoredConnection
    pub const CONNECTIONS: usize = 1;
    /// (org, name) -> id
    pub const CONNECTION_NAMES: usize = 2;
    /// (org, id) -> Subscription
    pub const SUBSCRIPTIONS: usize = 3;
    /// (org, name) -> id
    pub const SUBSCRIPTION_NAMES: usize = 4;
    /// (org, event_type, id) -> () — active subscriptions only
    pub const ACTIVE_BY_EVENT: usize = 5;
    /// (org, id) -> Event
    pub const EVENTS: usize = 6;
    /// (org, event_type, producer_event_id) -> event id
    pub const EVENT_DEDUP: usize = 7;
    /// (org, id) -> Dispatch
    pub const DISPATCHES: usize = 8;
    /// (org, subscription id, dispatch id) -> () — reverse scan = newest first
    pub const DISPATCHES_BY_SUB: usize = 9;
    /// (due_at ms, org, group id) -> [dispatch id] — pending only, one entry per event's
    /// fan-out (group = event id) or per requeued/replayed dispatch (group = its id); spans
    /// orgs because workers do. Ids whose row is no longer pending are dropped lazily.
    pub const DUE: usize = 10;
    /// (claim seq) -> [(org, dispatch id)] — one entry per claimed batch, removed once every
    /// dispatch of the batch ended; recovery reads it to find what was left processing
    pub const CLAIMS: usize = 11;
    /// (org, seq) -> AuditRecord
    pub const AUDIT: usize = 12;
    /// (org, subscription id, hour) -> HourCounts
    pub const SUB_HOURLY: usize = 13;
    /// (org, subscription id) -> DispatchError
    pub const SUB_LAST_ERROR: usize = 14;
    /// `applied_lsn` -> u64 LE: the last journaled transaction sled holds (see `journal.rs`)
    pub const JOURNAL_META: usize = 16;

    pub const NAMES: [&str; 17] = [
        "org_flags",
        "connections",
        "connection_names",
        "subscriptions",
        "subscription_names",
        "active_by_event",
        "events",
        "event_dedup",
        "dispatches",
        "dispatches_by_sub",
        "dispatch_due",
        "dispatch_claims",
        "audit",
        "sub_hourly",
        "sub_last_error",
        // (token id) -> TokenRecord; operations in store/sled_tokens.rs
        "api_tokens",
        "journal_meta",
    ];
}

/// The connection as stored: the API type skips secret values when serialized, so they
/// travel in a field of their own here.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredConnection {
    #[serde(flatten)]
    pub connection: Connection,
    #[serde(default)]
    pub secret_values: BTreeMap<String, String>,
}

impl StoredConnection {
    pub(crate) fn new(connection: Connection) -> Self {
        let secret_values = connection.secrets.0.clone();
        StoredConnection {
            connection,
            secret_values,
        }
    }

    pub(crate) fn into_connection(self) -> Connection {
        let mut c = self.connection;
        c.secrets.0 = self.secret_values;
        c
    }
}

/// Delivered/failed counts of one subscription in one hour.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct HourCounts {
    pub delivered: u64,
    pub failed: u64,
}

/// A sled database with the event-routing trees, shared by clones.
#[derive(Debug, Clone)]
pub struct SledStore {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) trees: Vec<sled::Tree>,
    /// Serializes admin writes whose checks need a scan (a scan cannot run inside a sled
    /// transaction): connection rename/delete and subscription create/update/delete.
    admin: Mutex<()>,
    pub(crate) commit: GroupCommit,
    /// The journal, overlay and applier of a store opened on a directory; without them,
    /// writes go straight to sled and the group commit flushes sled.
    journaled: Option<Journaled>,
    /// Held across a transaction, the append of its journal record and its commit to the
    /// overlay, so journal order is commit order; holds the next LSN to give out.
    commit_order: Mutex<u64>,
    /// Claims whose runs have not all ended (see `sled_queue.rs`).
    pub(crate) claims: Mutex<ClaimBook>,
    /// Run ends waiting for a shared transaction (see `sled_end.rs`).
    pub(crate) ends: EndQueue,
    pub(crate) db: sled::Db,
    /// Test-only fault injection: publish aborts after writing its first dispatch.
    #[cfg(test)]
    pub(crate) fail_publish: std::sync::atomic::AtomicBool,
    /// Test-only fault injection: recording run ends panics.
    #[cfg(test)]
    pub(crate) panic_ends: std::sync::atomic::AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The applier's last round waits for a journal sync: stop it while the flusher
        // (dropped with `commit`) still runs.
        if let Some(j) = &self.journaled {
            j.applier.stop();
        }
    }
}

/// The parts of a store with a journal.
#[derive(Debug)]
struct Journaled {
    /// The write-ahead journal that makes writes durable.
    journal: Arc<Journal>,
    /// Committed writes not yet in sled (see `overlay.rs`).
    overlay: Arc<Overlay>,
    /// The thread that moves them there.
    applier: Applier,
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("cannot encode: {e}")))
}

pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what,
        reason: e.to_string(),
    })
}

fn open_trees(db: &sled::Db) -> StoreResult<Vec<sled::Tree>> {
    Ok(t::NAMES
        .iter()
        .map(|name| db.open_tree(name))
        .collect::<Result<Vec<_>, _>>()?)
}

/// How long [`SledStore::open`] waits for a store dropped in this process to let go of
/// its directory.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens sled, waiting (bounded) while its directory is locked: a store dropped in this
/// process (a runtime restarted by an embedding gateway, or a test) releases the lock only
/// when sled's IO threads have finished writing the buffers it had filled.
fn open_when_unlocked(config: &sled::Config) -> StoreResult<sled::Db> {
    let started = std::time::Instant::now();
    loop {
        match config.open() {
            // sled reports a held lock as an `Other` IO error naming it.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < LOCK_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}

/// A transaction's error as a store error.
fn tx_error(e: ConflictableTransactionError<StoreError>) -> StoreError {
    match e {
        ConflictableTransactionError::Abort(e) => e,
        ConflictableTransactionError::Storage(e) => StoreError::from(e),
        // Only sled's own transactions report conflicts; ours are serialized.
        ConflictableTransactionError::Conflict => {
            StoreError::Backend("unexpected transaction conflict".into())
        }
    }
}

impl SledStore {
    /// Opens (or creates) the store in `dir`. One process at a time: sled locks the directory.
    /// Writes are made durable by the journal in `dir/journal`, replayed here first if the
    /// last process stopped without a checkpoint.
    pub fn open(dir: impl AsRef<Path>) -> StoreResult<Self> {
        let config = sled::Config::new()
            .path(dir.as_ref())
            // The journal makes writes durable and checkpoints flush sled; sled's own timer
            // would only add flushes.
            .flush_every_ms(None)
            .mode(sled::Mode::HighThroughput);
        let db = open_when_unlocked(&config)?;
        let trees = open_trees(&db)?;
        let (journal, next_lsn) = Journal::open(dir.as_ref(), &db, &trees, t::JOURNAL_META)?;
        let journal = Arc::new(journal);
        let syncer = Arc::clone(&journal);
        let commit = GroupCommit::start(
            Arc::new(move |lane| syncer.sync(lane)),
            group_commit::JOURNAL_LANES,
        )?;
        let overlay = Arc::new(Overlay::new(trees.len()));
        let applier = Applier::start(
            Arc::clone(&overlay),
            trees.clone(),
            t::JOURNAL_META,
            Arc::clone(&journal),
            commit.handle(),
        )?;
        let journaled = Journaled {
            journal,
            overlay,
            applier,
        };
        Ok(Self::assemble(db, trees, commit, Some(journaled), next_lsn))
    }

    /// A store on an already opened sled database (e.g. `sled::Config::temporary`), without
    /// a journal: each group commit flushes sled.
    pub fn from_db(db: sled::Db) -> StoreResult<Self> {
        let trees = open_trees(&db)?;
        let flushed = db.clone();
        // sled serializes its flushes: one lane.
        let commit = GroupCommit::start(
            Arc::new(move |_| flushed.flush().map(|_| ()).map_err(|e| e.to_string())),
            1,
        )?;
        Ok(Self::assemble(db, trees, commit, None, 1))
    }

    fn assemble(
        db: sled::Db,
        trees: Vec<sled::Tree>,
        commit: GroupCommit,
        journaled: Option<Journaled>,
        next_lsn: u64,
    ) -> Self {
        SledStore {
            inner: Arc::new(Inner {
                trees,
                admin: Mutex::new(()),
                commit,
                journaled,
                commit_order: Mutex::new(next_lsn),
                claims: Mutex::new(ClaimBook::default()),
                ends: EndQueue::default(),
                db,
                #[cfg(test)]
                fail_publish: std::sync::atomic::AtomicBool::new(false),
                #[cfg(test)]
                panic_ends: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Syncs performed by the group commit since open (journal syncs, or sled flushes for a
    /// store without a journal; fewer than writes under load).
    pub fn flush_count(&self) -> u64 {
        self.inner.commit.flushes()
    }

    /// Total time the group commit spent syncing since open.
    pub fn flush_time(&self) -> Duration {
        self.inner.commit.flush_time()
    }

    /// Tree `i` as readers see it: sled with the overlay's pending writes over it.
    pub(crate) fn tree(&self, i: usize) -> View<'_> {
        View::new(&self.inner.trees[i], i, self.overlay())
    }

    fn overlay(&self) -> Option<&Overlay> {
        self.inner.journaled.as_ref().map(|j| &*j.overlay)
    }

    pub(crate) fn admin_lock(&self) -> MutexGuard<'_, ()> {
        self.inner.admin.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` as one transaction over all trees (admin writes: rare, and they touch many).
    pub(crate) fn tx<A>(&self, f: impl Fn(&Tx<'_>) -> TxResult<A>) -> StoreResult<A> {
        let all: Vec<usize> = (0..self.inner.trees.len()).collect();
        self.tx_on(&all, f)
    }

    /// Runs `f` as one transaction over the listed trees (naming them catches a write to
    /// a tree the operation should not touch). `f` runs once, under the commit lock, which
    /// is held until its journal record is appended and its writes are committed (to the
    /// overlay, or to sled for a store without a journal), so journal order is commit
    /// order (see `tx.rs`).
    pub(crate) fn tx_on<A>(
        &self,
        trees: &[usize],
        f: impl Fn(&Tx<'_>) -> TxResult<A>,
    ) -> StoreResult<A> {
        let mut allowed = vec![false; self.inner.trees.len()];
        for &i in trees {
            if let Some(slot) = allowed.get_mut(i) {
                *slot = true;
            }
        }
        let mut next_lsn = self
            .inner
            .commit_order
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let journaled = self.inner.journaled.as_ref();
        if let Some(reason) = journaled.and_then(|j| j.journal.failure()) {
            // After a failed sync, or a failed apply to sled, nothing could be
            // acknowledged: a restart recovers sled from the journal.
            return Err(StoreError::NotDurable(reason));
        }
        let tx = Tx::new(&self.inner.trees, &allowed, &self.inner.db, self.overlay());
        let out = f(&tx).map_err(tx_error)?;
        if tx.is_empty() {
            return Ok(out);
        }
        let Some(j) = journaled else {
            tx.apply()?;
            return Ok(out);
        };
        let lsn = *next_lsn;
        // Journal first: once the overlay shows the writes, the applier may freeze them,
        // and it waits for a sync that must include their record.
        j.journal.append_encoded(lsn, &tx.record(lsn));
        j.overlay.commit(lsn, tx.into_writes());
        *next_lsn += 1;
        Ok(out)
    }

    /// A value outside a transaction.
    pub(crate) fn read<T: DeserializeOwned>(
        &self,
        tree: usize,
        key: &[u8],
        what: &'static str,
    ) -> StoreResult<Option<T>> {
        match self.tree(tree).get(key)? {
            None => Ok(None),
            Some(bytes) => decode(&bytes, what).map(Some),
        }
    }

    #[cfg(test)]
    pub(crate) fn panic_recording_ends(&self) -> bool {
        self.inner
            .panic_ends
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    #[cfg(test)]
    pub(crate) fn fail_publish_mid_way(&self) -> bool {
        self.inner
            .fail_publish
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) async fn durable(&self) -> StoreResult<()> {
        self.inner.commit.durable().await
    }
}

/// Dispatches claimed per transaction. Why: a transaction holds the commit lock, and a
/// publish waiting for it waits for the whole claim (about 20 µs per dispatch); a larger
/// claim is taken as several transactions that share one durable sync.
const CLAIM_CHUNK: usize = 16;

#[async_trait]
impl Store for SledStore {
    async fn feature_flag(&self, org: &str, flag: &str) -> StoreResult<bool> {
        self.feature_flag_now(org, flag)
    }

    async fn set_feature_flag(
        &self,
        org: &str,
        flag: &str,
        on: bool,
        actor: &str,
    ) -> StoreResult<()> {
        self.set_feature_flag_now(org, flag, on, actor)?;
        self.durable().await
    }

    async fn create_connection(
        &self,
        org: &str,
        spec: ConnectionSpec,
        actor: &str,
    ) -> StoreResult<Connection> {
        let c = self.create_connection_now(org, spec, actor)?;
        self.durable().await?;
        Ok(c)
    }

    async fn get_connection(&self, org: &str, id: &str) -> StoreResult<Connection> {
        self.connection_now(org, id)
    }

    async fn connection_by_name(&self, org: &str, name: &str) -> StoreResult<Connection> {
        self.connection_by_name_now(org, name)
    }

    async fn list_connections(&self, org: &str) -> StoreResult<Vec<Connection>> {
        self.list_connections_now(org)
    }

    async fn update_connection(
        &self,
        org: &str,
        id: &str,
        spec: ConnectionSpec,
        actor: &str,
    ) -> StoreResult<Connection> {
        let c = self.update_connection_now(org, id, spec, actor)?;
        self.durable().await?;
        Ok(c)
    }

    async fn delete_connection(&self, org: &str, id: &str, actor: &str) -> StoreResult<()> {
        self.delete_connection_now(org, id, actor)?;
        self.durable().await
    }

    async fn create_subscription(
        &self,
        org: &str,
        spec: SubscriptionSpec,
        actor: &str,
    ) -> StoreResult<Subscription> {
        let s = self.create_subscription_now(org, spec, actor)?;
        self.durable().await?;
        Ok(s)
    }

    async fn get_subscription(&self, org: &str, id: &str) -> StoreResult<Subscription> {
        self.subscription_now(org, id)
    }

    async fn list_subscriptions(
        &self,
        org: &str,
        status: Option<SubscriptionStatus>,
    ) -> StoreResult<Vec<Subscription>> {
        self.list_subscriptions_now(org, status)
    }

    async fn active_subscriptions(
        &self,
        org: &str,
        event_type: &str,
    ) -> StoreResult<Vec<Subscription>> {
        self.active_subscriptions_now(org, event_type)
    }

    async fn active_subscription_ids(
        &self,
        org: &str,
        event_type: &str,
    ) -> StoreResult<Vec<String>> {
        self.active_subscription_ids_now(org, event_type)
    }

    async fn update_subscription(
        &self,
        org: &str,
        id: &str,
        spec: SubscriptionSpec,
        actor: &str,
    ) -> StoreResult<Subscription> {
        let s = self.update_subscription_now(org, id, spec, actor)?;
        self.durable().await?;
        Ok(s)
    }

    async fn set_subscription_status(
        &self,
        org: &str,
        id: &str,
        status: SubscriptionStatus,
        actor: &str,
    ) -> StoreResult<Subscription> {
        let s = self.set_subscription_status_now(org, id, status, actor)?;
        self.durable().await?;
        Ok(s)
    }

    async fn delete_subscription(&self, org: &str, id: &str, actor: &str) -> StoreResult<()> {
        self.delete_subscription_now(org, id, actor)?;
        self.durable().await
    }

    async fn publish(
        &self,
        org: &str,
        event: NewEvent,
        subscription_ids: &[String],
    ) -> StoreResult<PublishOutcome> {
        let outcome = self.publish_now(org, event, subscription_ids)?;
        // A duplicate created nothing, but the original may still be in an unflushed
        // batch of a concurrent publisher: wait for durability either way.
        self.durable().await?;
        Ok(outcome)
    }

    async fn claim_due(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
        filter: ClaimFilter<'_>,
    ) -> StoreResult<Vec<Dispatch>> {
        let mut claimed: Vec<Dispatch> = Vec::new();
        while claimed.len() < limit {
            let want = (limit - claimed.len()).min(CLAIM_CHUNK);
            let chunk = match self.claim_due_now(now, want, lease, filter) {
                Ok(chunk) => chunk,
                Err(e) if claimed.is_empty() => return Err(e),
                Err(e) => {
                    // What is claimed already must still be run, or it would sit in
                    // `processing` until a restart.
                    tracing::warn!(error = %e, claimed = claimed.len(), "claiming more dispatches failed; running those claimed");
                    break;
                }
            };
            let short = chunk.len() < want;
            claimed.extend(chunk);
            if short {
                break;
            }
        }
        if !claimed.is_empty() {
            // Durable before the run starts: a claim lost in a crash would re-run silently.
            self.durable().await?;
        }
        Ok(claimed)
    }

    async fn finish(
        &self,
        org: &str,
        dispatch_id: &str,
        outcome: FinishOutcome,
    ) -> StoreResult<Dispatch> {
        self.end_run(org, dispatch_id, End::Finish(outcome)).await
    }

    async fn requeue(
        &self,
        org: &str,
        dispatch_id: &str,
        due_at: Timestamp,
        last_error: DispatchError,
    ) -> StoreResult<Dispatch> {
        let end = End::Requeue {
            due_at,
            error: last_error,
        };
        self.end_run(org, dispatch_id, end).await
    }

    async fn recover_processing(
        &self,
        now: Timestamp,
        policy: RecoveryPolicy<'_>,
    ) -> StoreResult<Vec<Dispatch>> {
        let recovered = self.recover_processing_now(now, policy)?;
        self.durable().await?;
        Ok(recovered)
    }

    async fn replay(&self, org: &str, dispatch_id: &str, actor: &str) -> StoreResult<Dispatch> {
        let d = self.replay_now(org, dispatch_id, actor)?;
        self.durable().await?;
        Ok(d)
    }

    async fn get_dispatch(&self, org: &str, dispatch_id: &str) -> StoreResult<DispatchDetail> {
        self.dispatch_detail_now(org, dispatch_id)
    }

    async fn get_event(&self, org: &str, event_id: &str) -> StoreResult<Event> {
        self.event_now(org, event_id)
    }

    async fn list_dispatches(
        &self,
        org: &str,
        subscription_id: &str,
        page: usize,
        page_size: usize,
    ) -> StoreResult<Page<Dispatch>> {
        self.list_dispatches_now(org, subscription_id, page, page_size)
    }

    async fn subscription_stats(
        &self,
        org: &str,
        subscription_id: &str,
        now: Timestamp,
    ) -> StoreResult<SubscriptionStats> {
        self.subscription_stats_now(org, subscription_id, now)
    }

    async fn audit_log(
        &self,
        org: &str,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<AuditRecord>> {
        self.audit_log_now(org, after, limit)
    }

    async fn append_audit(&self, org: &str, record: NewAuditRecord) -> StoreResult<()> {
        let now = Timestamp::now();
        self.tx_on(&[t::AUDIT], |tx| {
            tx.audit(
                org,
                now,
                &record.actor,
                record.object_kind,
                &record.object_id,
                record.from.as_deref(),
                record.to.as_deref(),
                record.detail.clone(),
            )
        })?;
        self.durable().await
    }
}
