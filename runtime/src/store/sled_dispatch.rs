//! Events and dispatch rows on sled: publish, replay, reads, pagination, stats, and
//! deleting a subscription's history. Claims are in `sled_queue.rs`, run ends in
//! `sled_end.rs`, the audit log in `sled_audit.rs`.

use std::time::Duration;

use super::keys::{Key, KeyReader};
use super::sled_audit::Transition;
use super::sled_queue::put_due;
use super::sled_store::{HourCounts, SledStore, Tx, TxResult, abort, decode, t};
use super::types::DEFAULT_PAGE_SIZE;
use super::{DispatchDetail, MAX_PAGE_SIZE, Page, PublishOutcome, StoreResult, SubscriptionStats};
use crate::error::StoreError;
use crate::model::{
    Dispatch, DispatchError, DispatchStatus, Event, IdKind, NewEvent, ObjectKind, Timestamp, new_id,
};

pub(crate) const DISPATCH: &str = "dispatch";
const EVENT: &str = "event";
const SUBSCRIPTION: &str = "subscription";
const HOUR_MS: u64 = 3_600_000;
/// Dispatch rows removed per transaction when a subscription's history is deleted.
const DELETE_BATCH: usize = 256;

const PUBLISHER: &str = "publisher";

/// The trees a publish (or a replay) writes or checks.
const PUBLISH_TREES: &[usize] = &[
    t::EVENTS,
    t::EVENT_DEDUP,
    t::SUBSCRIPTIONS,
    t::ACTIVE_BY_EVENT,
    t::DISPATCHES,
    t::DISPATCHES_BY_SUB,
    t::DUE,
    t::AUDIT,
];

pub(crate) fn dispatch_key(org: &str, id: &str) -> Vec<u8> {
    Key::org(org).s(id).done()
}

fn not_found(kind: &'static str, id: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.to_string(),
    }
}

/// Writes a new pending dispatch row and its per-subscription index entry; the caller adds
/// the due entry (one per fan-out) and the audit record.
fn insert_pending(tx: &Tx<'_>, d: &Dispatch) -> TxResult<()> {
    tx.put_dispatch(dispatch_key(&d.org, &d.id), d)?;
    let by_sub = Key::org(&d.org).s(&d.subscription_id).s(&d.id).done();
    tx.put_raw(t::DISPATCHES_BY_SUB, by_sub, &[])
}

fn load_dispatch(tx: &Tx<'_>, org: &str, id: &str) -> TxResult<Dispatch> {
    match tx.get_dispatch(&dispatch_key(org, id))? {
        Some(d) => Ok(d),
        None => abort(not_found(DISPATCH, id)),
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
        let actor = event.actor.as_deref().unwrap_or(PUBLISHER);
        // Ids made outside the closure (sled may run it more than once). One dispatch per
        // subscription, even if the caller listed one twice.
        let mut seen = std::collections::HashSet::with_capacity(subscription_ids.len());
        let planned: Vec<Dispatch> = subscription_ids
            .iter()
            .filter(|sid| seen.insert(sid.as_str()))
            .map(|sid| new_pending(org, &stored.id, sid, now))
            .collect();
        self.tx_on(PUBLISH_TREES, |tx| {
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
                // gets nothing (paused subscriptions get no dispatches). The active-by-event
                // index says it without decoding the subscription.
                let active = Key::org(org)
                    .s(&stored.event_type)
                    .s(&d.subscription_id)
                    .done();
                if !tx.has(t::ACTIVE_BY_EVENT, &active)? {
                    continue;
                }
                insert_pending(tx, d)?;
                dispatch_ids.push(d.id.clone());
                #[cfg(test)]
                if self.fail_publish_mid_way() {
                    return abort(StoreError::Backend("injected failure".into()));
                }
            }
            if !dispatch_ids.is_empty() {
                let ids: Vec<&str> = dispatch_ids.iter().map(String::as_str).collect();
                put_due(tx, now, org, &stored.id, &ids)?;
                // One record for the event's fan-out (none -> pending for each listed
                // dispatch) rather than one per dispatch: a publish is the hot path and each
                // record is another tree insert under the commit lock.
                let detail = format!("dispatches {}", dispatch_ids.join(","));
                let pending = Some(DispatchStatus::Pending.as_str());
                tx.audit(
                    org,
                    now,
                    actor,
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

    pub(crate) fn replay_now(&self, org: &str, id: &str, actor: &str) -> StoreResult<Dispatch> {
        let now = Timestamp::now();
        let new_id_ = new_id(IdKind::Dispatch);
        // Held across the transaction (the order claims and ends use too): a claimed row
        // still says `pending`, the book says it is running.
        let book = self.claim_book();
        self.tx_on(PUBLISH_TREES, |tx| {
            let mut original = load_dispatch(tx, org, id)?;
            book.overlay(&mut original);
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
            put_due(tx, now, org, &d.id, &[d.id.as_str()])?;
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
            .read_dispatch(&dispatch_key(org, id))?
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
            if let Some(d) = self.read_dispatch(&dispatch_key(org, id))? {
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
                    // Its due entry (if pending) and claim entry (if processing) are
                    // left to the claim scan and recovery, which skip rows that are gone.
                    tx.del(t::DISPATCHES, &dispatch_key(org, id))?;
                }
                Ok(())
            })?;
        }
        let hourly: Vec<sled::IVec> = self
            .tree(t::SUB_HOURLY)
            .scan_prefix(&prefix)
            .keys()
            .collect::<Result<_, _>>()?;
        self.tx_on(&[t::SUB_HOURLY], |tx| {
            for key in &hourly {
                tx.del(t::SUB_HOURLY, key)?;
            }
            Ok(())
        })
    }
}

/// `processing` -> `pending` inside a transaction: the row and a due entry of its own;
/// returns the transition for the caller's audit record.
pub(crate) fn requeue_in(
    tx: &Tx<'_>,
    d: &mut Dispatch,
    due_at: Timestamp,
    error: DispatchError,
) -> TxResult<Transition> {
    d.status = DispatchStatus::Pending;
    d.due_at = due_at;
    d.lease_until = None;
    let detail = format!("{} (retry due {due_at})", error.code);
    d.last_error = Some(error);
    tx.put_dispatch(dispatch_key(&d.org, &d.id), d)?;
    put_due(tx, due_at, &d.org, &d.id, &[d.id.as_str()])?;
    Ok(Transition {
        object_id: d.id.clone(),
        from: Some("processing".into()),
        to: Some("pending".into()),
        detail: Some(detail),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::{
        AccessMode, ConnectionSpec, ConnectionType, SubscriptionSpec, SubscriptionStatus,
    };
    use crate::store::Store;

    async fn store_with_subscription() -> (SledStore, String) {
        let (store, mut subs) = store_with_subscriptions(1).await;
        (store, subs.remove(0))
    }

    /// A temporary store with connection `c` and `n` active subscriptions on it.
    async fn store_with_subscriptions(n: usize) -> (SledStore, Vec<String>) {
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
        let spec = |i: usize| SubscriptionSpec {
            name: format!("s{i}"),
            description: String::new(),
            event_types: vec!["session.started".into()],
            runbook_repository: "r".into(),
            runbook_file: "f.runbook.wasm".into(),
            connection_name: "c".into(),
            parameter_mapping: Default::default(),
            status: SubscriptionStatus::Active,
            retry_policy: None,
        };
        let mut subs = Vec::new();
        for i in 0..n {
            subs.push(
                store
                    .create_subscription("o", spec(i), "t")
                    .await
                    .unwrap()
                    .id,
            );
        }
        (store, subs)
    }

    fn all(_: &crate::store::ClaimCandidate<'_>) -> bool {
        true
    }

    fn delivered() -> crate::store::FinishOutcome {
        crate::store::FinishOutcome {
            status: crate::store::TerminalStatus::Delivered,
            last_error: None,
            finished_at: Timestamp::now(),
            duration_ms: 1,
            fuel_used: None,
            peak_memory_bytes: None,
            commit_sha: None,
            output_excerpt: None,
        }
    }

    fn later() -> Timestamp {
        Timestamp::now().saturating_add(Duration::from_secs(1))
    }

    const LEASE: Duration = Duration::from_secs(60);

    /// A panic while recording ends (a runbox bug) fails those ends, and the ends after it
    /// are still recorded: the panicking leader steps down.
    #[tokio::test]
    async fn ends_after_a_panic_while_recording_ends_are_still_recorded() {
        let (store, subs) = store_with_subscriptions(2).await;
        store.publish("o", new_event(), &subs).await.unwrap();
        let claimed = store.claim_due(later(), 10, LEASE, &all).await.unwrap();
        assert_eq!(claimed.len(), 2);
        let store = std::sync::Arc::new(store);

        store
            .inner
            .panic_ends
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let panicking = std::sync::Arc::clone(&store);
        let first = claimed[0].id.clone();
        let ended = tokio::spawn(async move { panicking.finish("o", &first, delivered()).await });
        assert!(ended.await.unwrap_err().is_panic());
        store
            .inner
            .panic_ends
            .store(false, std::sync::atomic::Ordering::SeqCst);

        let second = tokio::time::timeout(
            Duration::from_secs(10),
            store.finish("o", &claimed[1].id, delivered()),
        )
        .await
        .expect("the next end is recorded, not queued behind a dead leader")
        .unwrap();
        assert_eq!(second.status, DispatchStatus::Delivered);
        let first = store.get_dispatch("o", &claimed[0].id).await.unwrap();
        assert_eq!(
            first.dispatch.status,
            DispatchStatus::Processing,
            "the end that panicked was not recorded; recovery takes it at the next start"
        );
    }

    /// A fan-out is one due entry; a claim that takes part of it leaves the rest in it; the
    /// claim entry stays until the last run of the batch ended, then goes.
    #[tokio::test]
    async fn one_due_entry_per_fan_out_and_claim_entries_go_with_their_last_run() {
        let (store, subs) = store_with_subscriptions(3).await;
        let out = store.publish("o", new_event(), &subs).await.unwrap();
        assert_eq!(out.dispatch_ids.len(), 3);
        assert_eq!(store.tree(t::DUE).len(), 1);

        let first = store.claim_due(later(), 2, LEASE, &all).await.unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(
            store.tree(t::DUE).len(),
            1,
            "the third dispatch is still due"
        );
        let second = store.claim_due(later(), 10, LEASE, &all).await.unwrap();
        assert_eq!(second.len(), 1);
        assert!(store.tree(t::DUE).is_empty());
        assert_eq!(store.tree(t::CLAIMS).len(), 2);

        store.finish("o", &first[0].id, delivered()).await.unwrap();
        assert_eq!(
            store.tree(t::CLAIMS).len(),
            2,
            "one run of the first batch is left"
        );
        store.finish("o", &first[1].id, delivered()).await.unwrap();
        assert_eq!(store.tree(t::CLAIMS).len(), 1);
        let err = store
            .finish("o", &first[1].id, delivered())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
        let error = DispatchError::new("agent_offline", "gone", true);
        let back = store
            .requeue("o", &second[0].id, later(), error)
            .await
            .unwrap();
        assert_eq!(back.status, DispatchStatus::Pending);
        assert!(store.tree(t::CLAIMS).is_empty());
        assert_eq!(
            store.tree(t::DUE).len(),
            1,
            "a requeued dispatch has its own entry"
        );
    }

    /// Concurrent ends share transactions, and each caller still gets its own answer and
    /// every transition its own audit record with its own seq.
    #[tokio::test]
    async fn concurrent_ends_each_get_their_answer_and_audit_record() {
        let (store, subs) = store_with_subscriptions(8).await;
        store.publish("o", new_event(), &subs).await.unwrap();
        let claimed = store.claim_due(later(), 100, LEASE, &all).await.unwrap();
        assert_eq!(claimed.len(), 8);
        let ends = claimed
            .iter()
            .map(|d| store.finish("o", &d.id, delivered()));
        let ended = futures::future::join_all(ends).await;
        for (d, end) in claimed.iter().zip(ended) {
            let end = end.unwrap();
            assert_eq!(
                (end.id.as_str(), end.status),
                (d.id.as_str(), DispatchStatus::Delivered)
            );
        }
        assert!(store.tree(t::CLAIMS).is_empty());
        let log = store.audit_log("o", 0, 1000).await.unwrap();
        for d in &claimed {
            let moves: Vec<_> = log
                .iter()
                .filter(|r| r.object_id == d.id)
                .map(|r| (r.from.as_deref(), r.to.as_deref()))
                .collect();
            assert_eq!(
                moves,
                vec![
                    (Some("pending"), Some("processing")),
                    (Some("processing"), Some("delivered"))
                ]
            );
        }
        assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
        // Reading from a seq inside a stored batch starts right after it.
        let mid = log[log.len() - 3].seq;
        let tail = store.audit_log("o", mid, 1000).await.unwrap();
        assert_eq!(tail.len(), 2);
        assert!(tail.iter().all(|r| r.seq > mid));
    }

    fn new_event() -> NewEvent {
        NewEvent {
            event_type: "session.started".into(),
            payload: serde_json::json!({"session_id": "s"}),
            producer_event_id: Some("s:session.started".into()),
            actor: None,
        }
    }

    /// A failure part-way (injected after the first dispatch was written) leaves neither
    /// the event, nor its dedup key, nor that dispatch, nor an audit record.
    #[tokio::test]
    async fn publish_is_all_or_nothing() {
        let (store, subs) = store_with_subscriptions(2).await;
        let audit_before = store.tree(t::AUDIT).len();
        store
            .inner
            .fail_publish
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let err = store.publish("o", new_event(), &subs).await.unwrap_err();
        assert!(err.to_string().contains("injected failure"), "{err}");
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

        // Without the fault the same producer id is accepted (nothing was kept).
        store
            .inner
            .fail_publish
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let out = store.publish("o", new_event(), &subs).await.unwrap();
        assert!(!out.duplicate);
        assert_eq!(out.dispatch_ids.len(), 2);
    }

    /// A subscription paused after the caller listed it gets nothing: the transaction
    /// checks the active index itself.
    #[tokio::test]
    async fn publish_skips_a_subscription_paused_since_it_was_listed() {
        let (store, subs) = store_with_subscriptions(2).await;
        let listed = store
            .active_subscription_ids("o", "session.started")
            .await
            .unwrap();
        assert_eq!(listed.len(), 2);
        store
            .set_subscription_status("o", &subs[0], SubscriptionStatus::Paused, "t")
            .await
            .unwrap();
        let out = store.publish("o", new_event(), &listed).await.unwrap();
        assert_eq!(out.dispatch_ids.len(), 1);
        let d = store.get_dispatch("o", &out.dispatch_ids[0]).await.unwrap();
        assert_eq!(d.dispatch.subscription_id, subs[1]);
    }

    #[tokio::test]
    async fn a_subscription_listed_twice_gets_one_dispatch() {
        let (store, subs) = store_with_subscriptions(2).await;
        let listed = [subs[0].clone(), subs[1].clone(), subs[1].clone()];
        let out = store.publish("o", new_event(), &listed).await.unwrap();
        assert_eq!(out.dispatch_ids.len(), 2);
        let mut got = Vec::new();
        for id in &out.dispatch_ids {
            got.push(
                store
                    .get_dispatch("o", id)
                    .await
                    .unwrap()
                    .dispatch
                    .subscription_id,
            );
        }
        assert_eq!(got, subs);
    }

    #[tokio::test]
    async fn flushes_are_counted_and_waiters_released() {
        let (store, _) = store_with_subscription().await;
        let before = store.flush_count();
        store.inner.commit.durable().await.unwrap();
        assert!(store.flush_count() > before);
    }
}
