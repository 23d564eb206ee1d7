//! [`MeteredStore`]: the store, counting what passes through it.
//!
//! Every dispatch transition is a store call, so wrapping the store counts them all
//! (publish, claim, finish, requeue, replay) without the workers knowing about metrics.
//! Reads are forwarded untouched.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;

use super::Metrics;
use crate::model::{
    AuditRecord, Connection, ConnectionSpec, Dispatch, DispatchError, Event, NewAuditRecord,
    NewEvent, Subscription, SubscriptionSpec, SubscriptionStatus, Timestamp,
};
use crate::store::{
    ClaimFilter, DispatchDetail, FinishOutcome, Page, PublishOutcome, RecoveryPolicy, Store,
    StoreResult, SubscriptionStats, TerminalStatus,
};

/// A [`Store`] that feeds [`Metrics`].
#[derive(Debug)]
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        MeteredStore { inner, metrics }
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn feature_flag(&self, org: &str, flag: &str) -> StoreResult<bool> {
        self.inner.feature_flag(org, flag).await
    }
    async fn set_feature_flag(
        &self,
        org: &str,
        flag: &str,
        on: bool,
        actor: &str,
    ) -> StoreResult<()> {
        self.inner.set_feature_flag(org, flag, on, actor).await
    }
    async fn create_connection(
        &self,
        org: &str,
        spec: ConnectionSpec,
        actor: &str,
    ) -> StoreResult<Connection> {
        self.inner.create_connection(org, spec, actor).await
    }
    async fn get_connection(&self, org: &str, id: &str) -> StoreResult<Connection> {
        self.inner.get_connection(org, id).await
    }
    async fn connection_by_name(&self, org: &str, name: &str) -> StoreResult<Connection> {
        self.inner.connection_by_name(org, name).await
    }
    async fn list_connections(&self, org: &str) -> StoreResult<Vec<Connection>> {
        self.inner.list_connections(org).await
    }
    async fn update_connection(
        &self,
        org: &str,
        id: &str,
        spec: ConnectionSpec,
        actor: &str,
    ) -> StoreResult<Connection> {
        self.inner.update_connection(org, id, spec, actor).await
    }
    async fn delete_connection(&self, org: &str, id: &str, actor: &str) -> StoreResult<()> {
        self.inner.delete_connection(org, id, actor).await
    }
    async fn create_subscription(
        &self,
        org: &str,
        spec: SubscriptionSpec,
        actor: &str,
    ) -> StoreResult<Subscription> {
        self.inner.create_subscription(org, spec, actor).await
    }
    async fn get_subscription(&self, org: &str, id: &str) -> StoreResult<Subscription> {
        self.inner.get_subscription(org, id).await
    }
    async fn list_subscriptions(
        &self,
        org: &str,
        status: Option<SubscriptionStatus>,
    ) -> StoreResult<Vec<Subscription>> {
        self.inner.list_subscriptions(org, status).await
    }
    async fn active_subscriptions(
        &self,
        org: &str,
        event_type: &str,
    ) -> StoreResult<Vec<Subscription>> {
        self.inner.active_subscriptions(org, event_type).await
    }
    async fn active_subscription_ids(
        &self,
        org: &str,
        event_type: &str,
    ) -> StoreResult<Vec<String>> {
        self.inner.active_subscription_ids(org, event_type).await
    }
    async fn update_subscription(
        &self,
        org: &str,
        id: &str,
        spec: SubscriptionSpec,
        actor: &str,
    ) -> StoreResult<Subscription> {
        self.inner.update_subscription(org, id, spec, actor).await
    }
    async fn set_subscription_status(
        &self,
        org: &str,
        id: &str,
        status: SubscriptionStatus,
        actor: &str,
    ) -> StoreResult<Subscription> {
        self.inner
            .set_subscription_status(org, id, status, actor)
            .await
    }
    async fn delete_subscription(&self, org: &str, id: &str, actor: &str) -> StoreResult<()> {
        self.inner.delete_subscription(org, id, actor).await
    }

    async fn publish(
        &self,
        org: &str,
        event: NewEvent,
        subscription_ids: &[String],
    ) -> StoreResult<PublishOutcome> {
        let event_type = event.event_type.clone();
        let outcome = self.inner.publish(org, event, subscription_ids).await?;
        if outcome.duplicate {
            self.metrics
                .events_duplicate
                .fetch_add(1, Ordering::Relaxed);
        } else {
            self.metrics.events_published.add(&event_type, 1);
            self.metrics
                .dispatches
                .add("pending", outcome.dispatch_ids.len() as u64);
        }
        Ok(outcome)
    }
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: usize,
        lease: std::time::Duration,
        filter: ClaimFilter<'_>,
    ) -> StoreResult<Vec<Dispatch>> {
        let claimed = self.inner.claim_due(now, limit, lease, filter).await?;
        if !claimed.is_empty() {
            self.metrics
                .dispatches
                .add("processing", claimed.len() as u64);
        }
        Ok(claimed)
    }
    async fn finish(
        &self,
        org: &str,
        dispatch_id: &str,
        outcome: FinishOutcome,
    ) -> StoreResult<Dispatch> {
        let status = outcome.status;
        let code = outcome.last_error.as_ref().map(|e| e.code.clone());
        let duration_ms = outcome.duration_ms;
        let fuel = outcome.fuel_used;
        let ran = outcome.commit_sha.is_some();
        let d = self.inner.finish(org, dispatch_id, outcome).await?;
        let m = &self.metrics;
        match status {
            TerminalStatus::Delivered => m.dispatches.add("delivered", 1),
            TerminalStatus::Failed => m.dispatches.add("failed", 1),
        }
        if let Some(code) = code {
            m.record_failure_code(&code);
        }
        if ran {
            // Only runs that reached the sandbox have a meaningful duration and fuel.
            m.run_duration.observe_ms(duration_ms);
        }
        if let Some(fuel) = fuel {
            m.fuel.fetch_add(fuel, Ordering::Relaxed);
        }
        Ok(d)
    }
    async fn requeue(
        &self,
        org: &str,
        dispatch_id: &str,
        due_at: Timestamp,
        last_error: DispatchError,
    ) -> StoreResult<Dispatch> {
        let code = last_error.code.clone();
        let d = self
            .inner
            .requeue(org, dispatch_id, due_at, last_error)
            .await?;
        self.metrics.dispatches.add("retry_scheduled", 1);
        if super::LIMIT_CODES.contains(&code.as_str()) {
            self.metrics.limit_hits.add(&code, 1);
        }
        Ok(d)
    }
    async fn recover_processing(
        &self,
        now: Timestamp,
        policy: RecoveryPolicy<'_>,
    ) -> StoreResult<Vec<Dispatch>> {
        self.inner.recover_processing(now, policy).await
    }
    async fn replay(&self, org: &str, dispatch_id: &str, actor: &str) -> StoreResult<Dispatch> {
        let d = self.inner.replay(org, dispatch_id, actor).await?;
        self.metrics.dispatches.add("pending", 1);
        Ok(d)
    }
    async fn get_dispatch(&self, org: &str, dispatch_id: &str) -> StoreResult<DispatchDetail> {
        self.inner.get_dispatch(org, dispatch_id).await
    }
    async fn get_event(&self, org: &str, event_id: &str) -> StoreResult<Event> {
        self.inner.get_event(org, event_id).await
    }
    async fn list_dispatches(
        &self,
        org: &str,
        subscription_id: &str,
        page: usize,
        page_size: usize,
    ) -> StoreResult<Page<Dispatch>> {
        self.inner
            .list_dispatches(org, subscription_id, page, page_size)
            .await
    }
    async fn subscription_stats(
        &self,
        org: &str,
        subscription_id: &str,
        now: Timestamp,
    ) -> StoreResult<SubscriptionStats> {
        self.inner
            .subscription_stats(org, subscription_id, now)
            .await
    }
    async fn audit_log(
        &self,
        org: &str,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<AuditRecord>> {
        self.inner.audit_log(org, after, limit).await
    }
    async fn append_audit(&self, org: &str, record: NewAuditRecord) -> StoreResult<()> {
        self.inner.append_audit(org, record).await
    }
}
