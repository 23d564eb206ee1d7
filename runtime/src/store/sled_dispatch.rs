//! Events, dispatches and the audit log on sled.

use std::time::Duration;

use super::keys::{Key, KeyReader};
use super::sled_store::{HourCounts, SledStore, Tx, TxResult, abort, decode, t};
use super::types::DEFAULT_PAGE_SIZE;
use super::{
    ClaimCandidate, ClaimFilter, DispatchDetail, FinishOutcome, MAX_PAGE_SIZE, Page,
    PublishOutcome, Recovery, RecoveryPolicy, StoreResult, SubscriptionStats, TerminalStatus,
};
use crate::error::StoreError;
use crate::model::{
    AuditRecord, Connection, Dispatch, DispatchError, DispatchStatus, Event, IdKind, NewEvent,
    ObjectKind, Subscription, SubscriptionStatus, Timestamp, new_id,
};

const DISPATCH: &str = "dispatch";
const EVENT: &str = "event";
const SUBSCRIPTION: &str = "subscription";
const HOUR_MS: u64 = 3_600_000;
/// Dispatch rows removed per transaction when a subscription's history is deleted.
const DELETE_BATCH: usize = 256;

const PUBLISHER: &str = "publisher";
const WORKER: &str = "worker";
const RECOVERY: &str = "recovery";

fn dispatch_key(org: &str, id: &str) -> Vec<u8> {
    Key::org(org).s(id).done()
}

fn due_key(d: &Dispatch) -> Vec<u8> {
    Key::new().n(d.due_at.as_millis()).s(&d.org).s(&d.id).done()
}

fn processing_key(d: &Dispatch) -> Vec<u8> {
    Key::org(&d.org).s(&d.id).done()
}

fn not_found(kind: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

/// Writes a new pending dispatch with its indexes (the caller writes the audit record).
fn insert_pending(tx: &Tx<'_>, d: &Dispatch) -> TxResult<()> {
    tx.put(t::DISPATCHES, dispatch_key(&d.org, &d.id), d)?;
    let by_sub = Key::org(&d.org).s(&d.subscription_id).s(&d.id).done();
    tx.put_raw(t::DISPATCHES_BY_SUB, by_sub, &[])?;
    tx.put_raw(t::DUE, due_key(d), &[])
}

fn load_dispatch(tx: &Tx<'_>, org: &str, id: &str) -> TxResult<Dispatch> {
    match tx.get::<Dispatch>(t::DISPATCHES, &dispatch_key(org, id), DISPATCH)? {
        Some(d) => Ok(d),
        None => abort(not_found(DISPATCH, id)),
    }
}

fn require_status(d: &Dispatch, from: DispatchStatus, to: DispatchStatus) -> TxResult<()> {
    if d.status == from {
        Ok(())
    } else {
        abort(StoreError::InvalidTransition {
            id: d.id.clone(),
            from: d.status.as_str(),
            to: to.as_str(),
        })
    }
}

fn new_pending(org: &str, event_id: &str, subscription_id: &str, now: Timestamp) -> Dispatch {
    Dispatch {
        id: new_id(IdKind::Dispatch),
        org: org.to_string(),
        event_id: event_id.to_string(),
        subscription_id: subscription_id.to_string(),
        status: DispatchStatus::Pending,
        attempt: 0,
        last_error: None,
        replayed_from: None,
        created_at: now,
        dispatched_at: None,
        finished_at: None,
        duration_ms: None,
        due_at: now,
        lease_until: None,
        fuel_used: None,
        peak_memory_bytes: None,
        commit_sha: None,
        output_excerpt: None,
    }
}

impl SledStore {
    pub(crate) fn publish_now(
        &self,
        org: &str,
        event: NewEvent,
        subscription_ids: &[String],
    ) -> StoreResult<PublishOutcome> {
        let now = Timestamp::now();
        let stored = Event {
            id: new_id(IdKind::Event),
            org: org.to_string(),
            event_type: event.event_type,
            payload: event.payload,
            producer_event_id: event.producer_event_id,
            received_at: now,
        };
        // Ids made outside the closure (sled may run it more than once).
        let planned: Vec<Dispatch> = subscription_ids
            .iter()
            .map(|sid| new_pending(org, &stored.id, sid, now))
            .collect();
        self.tx(|tx| {
            let dedup_key = stored
                .producer_event_id
                .as_ref()
                .map(|p| Key::org(org).s(&stored.event_type).s(p).done());
            if let Some(key) = &dedup_key
                && let Some(original) = tx.get_raw(t::EVENT_DEDUP, key)?
            {
                return Ok(PublishOutcome {
                    event_id: String::from_utf8_lossy(&original).into_owned(),
                    dispatch_ids: Vec::new(),
                    duplicate: true,
                });
            }
            tx.put(t::EVENTS, Key::org(org).s(&stored.id).done(), &stored)?;
            if let Some(key) = dedup_key {
                tx.put_raw(t::EVENT_DEDUP, key, stored.id.as_bytes())?;
            }
            let mut dispatch_ids = Vec::with_capacity(planned.len());
            for d in &planned {
                // Re-checked here: a subscription paused or deleted since the caller looked
                // gets nothing (paused subscriptions get no dispatches).
                let sub = tx.get::<Subscription>(
                    t::SUBSCRIPTIONS,
                    &Key::org(org).s(&d.subscription_id).done(),
                    SUBSCRIPTION,
                )?;
                let wanted = |s: &Subscription| {
                    s.status == SubscriptionStatus::Active && s.event_type() == stored.event_type
                };
                if !sub.is_some_and(|s| wanted(&s)) {
                    continue;
                }
                insert_pending(tx, d)?;
                dispatch_ids.push(d.id.clone());
            }
            if !dispatch_ids.is_empty() {
                // One record for the event's fan-out (none -> pending for each listed
                // dispatch) rather than one per dispatch: a publish is the hot path and each
                // record is another tree insert under sled's transaction lock.
                let detail = format!("dispatches {}", dispatch_ids.join(","));
                let pending = Some(DispatchStatus::Pending.as_str());
                tx.audit(
                    org,
                    now,
                    PUBLISHER,
                    ObjectKind::Event,
                    &stored.id,
                    None,
                    pending,
                    Some(detail),
                )?;
            }
            Ok(PublishOutcome {
                event_id: stored.id.clone(),
                dispatch_ids,
                duplicate: false,
            })
        })
    }

    pub(crate) fn claim_due_now(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
        filter: ClaimFilter<'_>,
    ) -> StoreResult<Vec<Dispatch>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Pick outside the transaction (the filter may look at anything), claim inside it.
        let end = Key::new().n(now.as_millis().saturating_add(1)).done();
        let mut chosen: Vec<(String, String)> = Vec::new();
        let mut subs: std::collections::HashMap<(String, String), Option<Subscription>> =
            Default::default();
        let mut conns: std::collections::HashMap<(String, String), Option<Connection>> =
            Default::default();
        for entry in self.tree(t::DUE).range(..end) {
            if chosen.len() >= limit {
                break;
            }
            let (key, _) = entry?;
            let mut r = KeyReader::new(&key);
            let (Some(_), Some(org), Some(id)) = (r.n(), r.s(), r.s()) else {
                continue;
            };
            let Some(dispatch) =
                self.read::<Dispatch>(t::DISPATCHES, &dispatch_key(org, id), DISPATCH)?
            else {
                continue;
            };
            let sub_key = (org.to_string(), dispatch.subscription_id.clone());
            if !subs.contains_key(&sub_key) {
                let sub = match self.subscription_now(org, &dispatch.subscription_id) {
                    Ok(s) => Some(s),
                    Err(StoreError::NotFound { .. }) => None,
                    Err(e) => return Err(e),
                };
                subs.insert(sub_key.clone(), sub);
            }
            let sub = subs.get(&sub_key).and_then(Option::as_ref);
            let conn = match sub {
                None => None,
                Some(s) => {
                    let conn_key = (org.to_string(), s.connection_name.clone());
                    if !conns.contains_key(&conn_key) {
                        let c = match self.connection_by_name_now(org, &s.connection_name) {
                            Ok(c) => Some(c),
                            Err(
                                StoreError::NotFound { .. } | StoreError::UnknownConnection { .. },
                            ) => None,
                            Err(e) => return Err(e),
                        };
                        conns.insert(conn_key.clone(), c);
                    }
                    conns.get(&conn_key).and_then(Option::as_ref)
                }
            };
            let candidate = ClaimCandidate {
                dispatch: &dispatch,
                subscription: sub,
                connection: conn,
            };
            if filter(&candidate) {
                chosen.push((org.to_string(), id.to_string()));
            }
        }
        if chosen.is_empty() {
            return Ok(Vec::new());
        }
        let lease_until = now.saturating_add(lease);
        self.tx(|tx| {
            let mut claimed = Vec::with_capacity(chosen.len());
            for (org, id) in &chosen {
                // Another worker may have claimed it (or it was deleted) since the scan.
                let Some(mut d) =
                    tx.get::<Dispatch>(t::DISPATCHES, &dispatch_key(org, id), DISPATCH)?
                else {
                    continue;
                };
                if d.status != DispatchStatus::Pending {
                    continue;
                }
                tx.del(t::DUE, &due_key(&d))?;
                d.status = DispatchStatus::Processing;
                d.attempt += 1;
                d.dispatched_at = Some(now);
                d.lease_until = Some(lease_until);
                tx.put(t::DISPATCHES, dispatch_key(org, id), &d)?;
                tx.put_raw(t::PROCESSING, processing_key(&d), &[])?;
                tx.audit(
                    org,
                    now,
                    WORKER,
                    ObjectKind::Dispatch,
                    id,
                    Some("pending"),
                    Some("processing"),
                    Some(format!("attempt {}", d.attempt)),
                )?;
                claimed.push(d);
            }
            Ok(claimed)
        })
    }

    pub(crate) fn finish_now(
        &self,
        org: &str,
        id: &str,
        outcome: FinishOutcome,
    ) -> StoreResult<Dispatch> {
        let to = match outcome.status {
            TerminalStatus::Delivered => DispatchStatus::Delivered,
            TerminalStatus::Failed => DispatchStatus::Failed,
        };
        self.tx(|tx| {
            let mut d = load_dispatch(tx, org, id)?;
            require_status(&d, DispatchStatus::Processing, to)?;
            tx.del(t::PROCESSING, &processing_key(&d))?;
            d.status = to;
            d.last_error = outcome.last_error.clone();
            d.finished_at = Some(outcome.finished_at);
            d.duration_ms = Some(outcome.duration_ms);
            d.lease_until = None;
            d.fuel_used = outcome.fuel_used;
            d.peak_memory_bytes = outcome.peak_memory_bytes;
            d.commit_sha = outcome.commit_sha.clone();
            d.output_excerpt = outcome.output_excerpt.clone();
            tx.put(t::DISPATCHES, dispatch_key(org, id), &d)?;
            count_terminal(tx, &d, outcome.finished_at)?;
            let detail = d.last_error.as_ref().map(|e| e.code.clone());
            tx.audit(
                org,
                outcome.finished_at,
                WORKER,
                ObjectKind::Dispatch,
                id,
                Some("processing"),
                Some(to.as_str()),
                detail,
            )?;
            Ok(d)
        })
    }

    pub(crate) fn requeue_now(
        &self,
        org: &str,
        id: &str,
        due_at: Timestamp,
        last_error: DispatchError,
    ) -> StoreResult<Dispatch> {
        let now = Timestamp::now();
        self.tx(|tx| {
            let mut d = load_dispatch(tx, org, id)?;
            require_status(&d, DispatchStatus::Processing, DispatchStatus::Pending)?;
            requeue_in(tx, &mut d, due_at, last_error.clone(), now, WORKER)?;
            Ok(d)
        })
    }

    pub(crate) fn recover_processing_now(
        &self,
        now: Timestamp,
        policy: RecoveryPolicy<'_>,
    ) -> StoreResult<Vec<Dispatch>> {
        let mut found = Vec::new();
        for entry in self.tree(t::PROCESSING).iter() {
            let (key, _) = entry?;
            let mut r = KeyReader::new(&key);
            let (Some(org), Some(id)) = (r.s(), r.s()) else {
                continue;
            };
            let Some(d) = self.read::<Dispatch>(t::DISPATCHES, &dispatch_key(org, id), DISPATCH)?
            else {
                continue;
            };
            let sub = self.subscription_now(org, &d.subscription_id).ok();
            let decision = policy(&d, sub.as_ref());
            found.push((org.to_string(), id.to_string(), decision));
        }
        let mut out = Vec::with_capacity(found.len());
        for (org, id, decision) in found {
            let d = self.tx(|tx| {
                let mut d = load_dispatch(tx, &org, &id)?;
                if d.status != DispatchStatus::Processing {
                    return Ok(None);
                }
                match &decision {
                    Recovery::Fail(error) => {
                        tx.del(t::PROCESSING, &processing_key(&d))?;
                        d.status = DispatchStatus::Failed;
                        d.last_error = Some(error.clone());
                        d.finished_at = Some(now);
                        d.lease_until = None;
                        tx.put(t::DISPATCHES, dispatch_key(&org, &id), &d)?;
                        count_terminal(tx, &d, now)?;
                        tx.audit(
                            &org,
                            now,
                            RECOVERY,
                            ObjectKind::Dispatch,
                            &id,
                            Some("processing"),
                            Some("failed"),
                            Some(error.code.clone()),
                        )?;
                    }
                    Recovery::Retry { due_at, last_error } => {
                        requeue_in(tx, &mut d, *due_at, last_error.clone(), now, RECOVERY)?;
                    }
                }
                Ok(Some(d))
            })?;
            out.extend(d);
        }
        Ok(out)
    }

    pub(crate) fn replay_now(&self, org: &str, id: &str, actor: &str) -> StoreResult<Dispatch> {
        let now = Timestamp::now();
        let new_id_ = new_id(IdKind::Dispatch);
        self.tx(|tx| {
            let original = load_dispatch(tx, org, id)?;
            if !original.status.is_terminal() {
                return abort(StoreError::ReplayRefused {
                    status: original.status.as_str(),
                });
            }
            let sub_key = Key::org(org).s(&original.subscription_id).done();
            if !tx.has(t::SUBSCRIPTIONS, &sub_key)? {
                return abort(not_found(SUBSCRIPTION, &original.subscription_id));
            }
            let mut d = new_pending(org, &original.event_id, &original.subscription_id, now);
            d.id = new_id_.clone();
            d.replayed_from = Some(original.id.clone());
            insert_pending(tx, &d)?;
            let detail = Some(format!("replay of {}", original.id));
            let pending = Some(DispatchStatus::Pending.as_str());
            tx.audit(
                org,
                now,
                actor,
                ObjectKind::Dispatch,
                &d.id,
                None,
                pending,
                detail,
            )?;
            Ok(d)
        })
    }

    pub(crate) fn event_now(&self, org: &str, id: &str) -> StoreResult<Event> {
        self.read(t::EVENTS, &Key::org(org).s(id).done(), EVENT)?
            .ok_or_else(|| not_found(EVENT, id))
    }

    pub(crate) fn dispatch_detail_now(&self, org: &str, id: &str) -> StoreResult<DispatchDetail> {
        let dispatch: Dispatch = self
            .read(t::DISPATCHES, &dispatch_key(org, id), DISPATCH)?
            .ok_or_else(|| not_found(DISPATCH, id))?;
        let event_payload = self.event_now(org, &dispatch.event_id)?.payload;
        let subscription_name = self.subscription_now(org, &dispatch.subscription_id)?.name;
        Ok(DispatchDetail {
            dispatch,
            event_payload,
            subscription_name,
        })
    }

    pub(crate) fn list_dispatches_now(
        &self,
        org: &str,
        sub_id: &str,
        page: usize,
        page_size: usize,
    ) -> StoreResult<Page<Dispatch>> {
        // 404 for an unknown (or another org's) subscription rather than an empty page.
        self.subscription_now(org, sub_id)?;
        let page = page.max(1);
        let limit = if page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            page_size.min(MAX_PAGE_SIZE)
        };
        let prefix = Key::org(org).s(sub_id).done();
        let index = self.tree(t::DISPATCHES_BY_SUB);
        // The count walks keys only (values are empty); a counter key would make it O(1).
        let total = index.scan_prefix(&prefix).keys().count();
        let skip = (page - 1).saturating_mul(limit);
        let mut items = Vec::with_capacity(limit);
        for entry in index
            .scan_prefix(&prefix)
            .keys()
            .rev()
            .skip(skip)
            .take(limit)
        {
            let key = entry?;
            let mut r = KeyReader::new(&key);
            let (Some(_), Some(_), Some(id)) = (r.s(), r.s(), r.s()) else {
                continue;
            };
            if let Some(d) =
                self.read::<Dispatch>(t::DISPATCHES, &dispatch_key(org, id), DISPATCH)?
            {
                items.push(d);
            }
        }
        Ok(Page {
            items,
            total,
            page,
            limit,
        })
    }

    pub(crate) fn subscription_stats_now(
        &self,
        org: &str,
        sub_id: &str,
        now: Timestamp,
    ) -> StoreResult<SubscriptionStats> {
        self.subscription_now(org, sub_id)?;
        let from_hour = now
            .saturating_sub(Duration::from_secs(7 * 24 * 3600))
            .as_millis()
            / HOUR_MS;
        let start = Key::org(org).s(sub_id).n(from_hour).done();
        let prefix = Key::org(org).s(sub_id).done();
        let mut stats = SubscriptionStats::default();
        for entry in self.tree(t::SUB_HOURLY).range(start..) {
            let (key, value) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            let counts: HourCounts = decode(&value, "stats")?;
            stats.delivered_count_7d += counts.delivered;
            stats.failed_count_7d += counts.failed;
        }
        stats.last_error = self.read(t::SUB_LAST_ERROR, &prefix, "last error")?;
        Ok(stats)
    }

    pub(crate) fn audit_log_now(
        &self,
        org: &str,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<AuditRecord>> {
        let start = Key::org(org).n(after.saturating_add(1)).done();
        let prefix = Key::org(org).done();
        let mut out = Vec::new();
        for entry in self.tree(t::AUDIT).range(start..) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            out.push(decode(&value, "audit record")?);
        }
        Ok(out)
    }

    /// Removes every dispatch (and index entries) of a deleted subscription.
    pub(crate) fn delete_history(&self, org: &str, sub_id: &str) -> StoreResult<()> {
        let prefix = Key::org(org).s(sub_id).done();
        loop {
            let batch: Vec<Vec<u8>> = self
                .tree(t::DISPATCHES_BY_SUB)
                .scan_prefix(&prefix)
                .keys()
                .take(DELETE_BATCH)
                .map(|k| k.map(|k| k.to_vec()))
                .collect::<Result<_, _>>()?;
            if batch.is_empty() {
                break;
            }
            self.tx(|tx| {
                for key in &batch {
                    tx.del(t::DISPATCHES_BY_SUB, key)?;
                    let mut r = KeyReader::new(key);
                    let (Some(_), Some(_), Some(id)) = (r.s(), r.s(), r.s()) else {
                        continue;
                    };
                    if let Some(d) =
                        tx.get::<Dispatch>(t::DISPATCHES, &dispatch_key(org, id), DISPATCH)?
                    {
                        tx.del(t::DUE, &due_key(&d))?;
                        tx.del(t::PROCESSING, &processing_key(&d))?;
                        tx.del(t::DISPATCHES, &dispatch_key(org, id))?;
                    }
                }
                Ok(())
            })?;
        }
        let hourly: Vec<sled::IVec> = self
            .tree(t::SUB_HOURLY)
            .scan_prefix(&prefix)
            .keys()
            .collect::<Result<_, _>>()?;
        for key in hourly {
            self.tree(t::SUB_HOURLY).remove(key)?;
        }
        Ok(())
    }
}

/// `processing` -> `pending` inside a transaction.
fn requeue_in(
    tx: &Tx<'_>,
    d: &mut Dispatch,
    due_at: Timestamp,
    error: DispatchError,
    now: Timestamp,
    actor: &str,
) -> TxResult<()> {
    tx.del(t::PROCESSING, &processing_key(d))?;
    d.status = DispatchStatus::Pending;
    d.due_at = due_at;
    d.lease_until = None;
    let detail = format!("{} (retry due {due_at})", error.code);
    d.last_error = Some(error);
    tx.put(t::DISPATCHES, dispatch_key(&d.org, &d.id), &*d)?;
    tx.put_raw(t::DUE, due_key(d), &[])?;
    tx.audit(
        &d.org,
        now,
        actor,
        ObjectKind::Dispatch,
        &d.id,
        Some("processing"),
        Some("pending"),
        Some(detail),
    )
}

/// Hourly delivered/failed counters and the last error, for the 7-day stats.
fn count_terminal(tx: &Tx<'_>, d: &Dispatch, at: Timestamp) -> TxResult<()> {
    let key = Key::org(&d.org)
        .s(&d.subscription_id)
        .n(at.as_millis() / HOUR_MS)
        .done();
    let mut counts = tx
        .get::<HourCounts>(t::SUB_HOURLY, &key, "stats")?
        .unwrap_or_default();
    match d.status {
        DispatchStatus::Delivered => counts.delivered += 1,
        _ => counts.failed += 1,
    }
    tx.put(t::SUB_HOURLY, key, &counts)?;
    if d.status == DispatchStatus::Failed
        && let Some(e) = &d.last_error
    {
        tx.put(
            t::SUB_LAST_ERROR,
            Key::org(&d.org).s(&d.subscription_id).done(),
            e,
        )?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{AccessMode, ConnectionSpec, ConnectionType, SubscriptionSpec};
    use crate::store::Store;

    async fn store_with_subscription() -> (SledStore, String) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let store = SledStore::from_db(db).unwrap();
        let conn = ConnectionSpec {
            name: "c".into(),
            kind: ConnectionType::Custom,
            subtype: String::new(),
            tags: vec![],
            agent_id: None,
            access_mode_exec: AccessMode::Enabled,
            access_mode_connect: AccessMode::Enabled,
            access_mode_runbooks: AccessMode::Enabled,
            plugins: vec!["runbooks".into()],
            secrets: Default::default(),
            command: vec![],
        };
        store.create_connection("o", conn, "t").await.unwrap();
        let spec = SubscriptionSpec {
            name: "s".into(),
            description: String::new(),
            event_types: vec!["session.started".into()],
            runbook_repository: "r".into(),
            runbook_file: "f.runbook.wasm".into(),
            connection_name: "c".into(),
            parameter_mapping: Default::default(),
            status: SubscriptionStatus::Active,
            retry_policy: None,
        };
        let sub = store.create_subscription("o", spec, "t").await.unwrap();
        (store, sub.id)
    }

    fn new_event() -> NewEvent {
        NewEvent {
            event_type: "session.started".into(),
            payload: serde_json::json!({"session_id": "s"}),
            producer_event_id: Some("s:session.started".into()),
        }
    }

    /// A failure part-way (here: an unreadable second subscription) leaves neither the
    /// event, nor its dedup key, nor the first dispatch.
    #[tokio::test]
    async fn publish_is_all_or_nothing() {
        let (store, good) = store_with_subscription().await;
        store
            .tree(t::SUBSCRIPTIONS)
            .insert(Key::org("o").s("sub_bad").done(), b"not json".to_vec())
            .unwrap();
        let audit_before = store.tree(t::AUDIT).len();
        let err = store
            .publish("o", new_event(), &[good.clone(), "sub_bad".into()])
            .await
            .unwrap_err();
        assert_eq!(err.code(), "store_corrupt");
        for tree in [
            t::EVENTS,
            t::EVENT_DEDUP,
            t::DISPATCHES,
            t::DISPATCHES_BY_SUB,
            t::DUE,
        ] {
            assert!(store.tree(tree).is_empty(), "{}", t::NAMES[tree]);
        }
        assert_eq!(store.tree(t::AUDIT).len(), audit_before);

        // Once the bad record is gone the same producer id is accepted (nothing was kept).
        store
            .tree(t::SUBSCRIPTIONS)
            .remove(Key::org("o").s("sub_bad").done())
            .unwrap();
        let out = store
            .publish("o", new_event(), &[good, "sub_bad".into()])
            .await
            .unwrap();
        assert!(!out.duplicate);
        assert_eq!(out.dispatch_ids.len(), 1);
    }

    #[tokio::test]
    async fn flushes_are_counted_and_waiters_released() {
        let (store, _) = store_with_subscription().await;
        let before = store.flush_count();
        store.inner.commit.durable().await.unwrap();
        assert!(store.flush_count() > before);
    }
}
