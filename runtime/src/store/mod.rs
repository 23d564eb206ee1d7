//! Durable state of event routing behind a small [`Store`] trait.
//!
//! [`SledStore`] is the one implementation today; the trait is async and object-safe so a
//! PostgreSQL store can come later without touching routing or workers. Every method that
//! changes state returns only once the change is durable (for sled: its record synced to the
//! store's write-ahead journal by a group commit shared with concurrent writers, see
//! `journal.rs`), so an acknowledged publish or transition is never lost when the process is
//! killed.

mod applier;
mod claim_book;
mod dispatch_row;
mod group_commit;
mod journal;
mod journal_record;
mod journal_spare;
mod keys;
mod overlay;
mod sled_admin;
mod sled_audit;
mod sled_dispatch;
mod sled_end;
mod sled_queue;
mod sled_store;
mod sled_tokens;
mod tx;
mod types;
mod view;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{
    AuditRecord, Connection, ConnectionSpec, Dispatch, DispatchError, NewAuditRecord, NewEvent,
    Subscription, SubscriptionSpec, SubscriptionStatus, Timestamp,
};

pub use sled_store::SledStore;
pub use types::{
    ClaimCandidate, DispatchDetail, FinishOutcome, MAX_PAGE_SIZE, Page, PublishOutcome, Recovery,
    SubscriptionStats, TerminalStatus, recover_by_retry_policy,
};

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// Decides whether a due dispatch may be claimed now (typically: its connection's agent is
/// online). Declined dispatches stay `pending`.
pub type ClaimFilter<'a> = &'a (dyn Fn(&ClaimCandidate<'_>) -> bool + Send + Sync);

/// Decides what becomes of a dispatch found `processing` at start-up.
pub type RecoveryPolicy<'a> =
    &'a (dyn Fn(&Dispatch, Option<&Subscription>) -> Recovery + Send + Sync);

/// The storage operations of event routing. All objects live in an org: a call with org A
/// never sees or changes org B's objects (ids of another org are "not found").
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    // ---- org flags ----

    /// The value of a per-org feature flag (false when never set).
    async fn feature_flag(&self, org: &str, flag: &str) -> StoreResult<bool>;
    /// Sets a per-org feature flag (audited).
    async fn set_feature_flag(
        &self,
        org: &str,
        flag: &str,
        on: bool,
        actor: &str,
    ) -> StoreResult<()>;

    // ---- connections ----

    async fn create_connection(
        &self,
        org: &str,
        spec: ConnectionSpec,
        actor: &str,
    ) -> StoreResult<Connection>;
    async fn get_connection(&self, org: &str, id: &str) -> StoreResult<Connection>;
    async fn connection_by_name(&self, org: &str, name: &str) -> StoreResult<Connection>;
    /// All connections of the org, sorted by name.
    async fn list_connections(&self, org: &str) -> StoreResult<Vec<Connection>>;
    /// Replaces the connection's fields; a new name is carried over to its subscriptions in
    /// the same transaction.
    async fn update_connection(
        &self,
        org: &str,
        id: &str,
        spec: ConnectionSpec,
        actor: &str,
    ) -> StoreResult<Connection>;
    /// Refused with [`StoreError::ConnectionInUse`] while a subscription names it.
    async fn delete_connection(&self, org: &str, id: &str, actor: &str) -> StoreResult<()>;

    // ---- subscriptions ----

    /// Creates a subscription; exactly one event type, unique name, existing connection.
    async fn create_subscription(
        &self,
        org: &str,
        spec: SubscriptionSpec,
        actor: &str,
    ) -> StoreResult<Subscription>;
    async fn get_subscription(&self, org: &str, id: &str) -> StoreResult<Subscription>;
    /// Newest first, optionally only one status.
    async fn list_subscriptions(
        &self,
        org: &str,
        status: Option<SubscriptionStatus>,
    ) -> StoreResult<Vec<Subscription>>;
    /// The active subscriptions of one event type (what `publish` should dispatch to).
    async fn active_subscriptions(
        &self,
        org: &str,
        event_type: &str,
    ) -> StoreResult<Vec<Subscription>>;
    /// The ids of [`Store::active_subscriptions`], without reading the subscriptions (the
    /// publish path needs only these; the store re-checks each inside the transaction).
    async fn active_subscription_ids(
        &self,
        org: &str,
        event_type: &str,
    ) -> StoreResult<Vec<String>>;
    /// Replaces the fields of `spec` except the event type (must be unchanged) and status
    /// (ignored, as in hoop).
    async fn update_subscription(
        &self,
        org: &str,
        id: &str,
        spec: SubscriptionSpec,
        actor: &str,
    ) -> StoreResult<Subscription>;
    /// Pause or resume. Resuming does not backfill.
    async fn set_subscription_status(
        &self,
        org: &str,
        id: &str,
        status: SubscriptionStatus,
        actor: &str,
    ) -> StoreResult<Subscription>;
    /// Deletes the subscription and its whole dispatch history.
    async fn delete_subscription(&self, org: &str, id: &str, actor: &str) -> StoreResult<()>;

    // ---- events and dispatches ----

    /// Stores the event and one `pending` dispatch per listed subscription that is still
    /// active, in one transaction, durable before it returns. A repeated
    /// `(event_type, producer_event_id)` returns the original event id and creates nothing.
    async fn publish(
        &self,
        org: &str,
        event: NewEvent,
        subscription_ids: &[String],
    ) -> StoreResult<PublishOutcome>;
    /// Moves up to `limit` due `pending` dispatches (any org) that `filter` accepts to
    /// `processing` (`attempt`+1, `dispatched_at`, `lease_until = now + lease`).
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: usize,
        lease: std::time::Duration,
        filter: ClaimFilter<'_>,
    ) -> StoreResult<Vec<Dispatch>>;
    /// `processing` -> `delivered` | `failed`.
    async fn finish(
        &self,
        org: &str,
        dispatch_id: &str,
        outcome: FinishOutcome,
    ) -> StoreResult<Dispatch>;
    /// `processing` -> `pending` again, due at `due_at` (a retry).
    async fn requeue(
        &self,
        org: &str,
        dispatch_id: &str,
        due_at: Timestamp,
        last_error: DispatchError,
    ) -> StoreResult<Dispatch>;
    /// At start-up: every dispatch left `processing` is moved as `policy` says; returns them
    /// in their new state.
    async fn recover_processing(
        &self,
        now: Timestamp,
        policy: RecoveryPolicy<'_>,
    ) -> StoreResult<Vec<Dispatch>>;
    /// A new `pending` dispatch of the same event and subscription with `replayed_from`.
    async fn replay(&self, org: &str, dispatch_id: &str, actor: &str) -> StoreResult<Dispatch>;
    async fn get_dispatch(&self, org: &str, dispatch_id: &str) -> StoreResult<DispatchDetail>;
    async fn get_event(&self, org: &str, event_id: &str) -> StoreResult<crate::model::Event>;
    /// One subscription's dispatches, newest first; `page` from 1, `page_size` capped at
    /// [`MAX_PAGE_SIZE`].
    async fn list_dispatches(
        &self,
        org: &str,
        subscription_id: &str,
        page: usize,
        page_size: usize,
    ) -> StoreResult<Page<Dispatch>>;
    /// Delivered/failed counts over the 7 days before `now` (hour granularity) and the last error.
    async fn subscription_stats(
        &self,
        org: &str,
        subscription_id: &str,
        now: Timestamp,
    ) -> StoreResult<SubscriptionStats>;

    // ---- audit ----

    /// Audit records of the org with `seq > after`, oldest first.
    async fn audit_log(&self, org: &str, after: u64, limit: usize)
    -> StoreResult<Vec<AuditRecord>>;

    /// Appends a record for a change made outside the store (a repository configuration);
    /// durable when it returns.
    async fn append_audit(&self, org: &str, record: NewAuditRecord) -> StoreResult<()>;
}
