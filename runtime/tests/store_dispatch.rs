//! Dispatch life cycle: claim (skipping offline agents), finish, requeue, recovery,
//! replay rules and hoop's messages, pagination, stats.
#![allow(clippy::unwrap_used)]

mod store_common;

use std::time::Duration;

use runbox::StoreError;
use runbox::model::{DispatchError, DispatchStatus, ObjectKind, RetryPolicy, Timestamp};
use runbox::store::{
    ClaimCandidate, FinishOutcome, Recovery, SledStore, Store, TerminalStatus,
    recover_by_retry_policy,
};
use store_common::*;

const LEASE: Duration = Duration::from_secs(60);

fn later() -> Timestamp {
    Timestamp::now().saturating_add(Duration::from_secs(1))
}

fn all(_: &ClaimCandidate<'_>) -> bool {
    true
}

fn delivered() -> FinishOutcome {
    FinishOutcome {
        status: TerminalStatus::Delivered,
        last_error: None,
        finished_at: Timestamp::now(),
        duration_ms: 12,
        fuel_used: Some(1000),
        peak_memory_bytes: Some(65536),
        commit_sha: Some("abc123".into()),
        output_excerpt: Some("ok".into()),
    }
}

fn failed(code: &str) -> FinishOutcome {
    FinishOutcome {
        status: TerminalStatus::Failed,
        last_error: Some(DispatchError::new(code, "it broke", false)),
        ..delivered()
    }
}

/// Two connections on agents `online` and `offline`, one subscription each; one event.
async fn setup(store: &SledStore) -> (String, String) {
    store
        .create_connection(ORG, connection("on", "online"), "admin")
        .await
        .unwrap();
    store
        .create_connection(ORG, connection("off", "offline"), "admin")
        .await
        .unwrap();
    let a = store
        .create_subscription(ORG, subscription("uses-on", "on"), "admin")
        .await
        .unwrap();
    let b = store
        .create_subscription(ORG, subscription("uses-off", "off"), "admin")
        .await
        .unwrap();
    (a.id, b.id)
}

/// Publishes `n` events to subscription `sub`; returns their dispatch ids, oldest first.
async fn publish_events(store: &SledStore, sub: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.extend(
            store
                .publish(ORG, event(None), &[sub.to_string()])
                .await
                .unwrap()
                .dispatch_ids,
        );
    }
    ids
}

#[tokio::test]
async fn claim_skips_offline_agents_then_finish_records_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (on, off) = setup(&store).await;
    store
        .publish(ORG, event(None), &[on.clone(), off.clone()])
        .await
        .unwrap();

    let online =
        |c: &ClaimCandidate<'_>| c.connection.and_then(|c| c.agent_id.as_deref()) == Some("online");
    let claimed = store.claim_due(later(), 10, LEASE, &online).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let d = &claimed[0];
    assert_eq!(
        (d.subscription_id.as_str(), d.status, d.attempt),
        (on.as_str(), DispatchStatus::Processing, 1)
    );
    assert!(d.lease_until.is_some() && d.dispatched_at.is_some());
    // Nothing else is claimable while the agent stays offline; claimed ones are not re-claimed.
    assert!(
        store
            .claim_due(later(), 10, LEASE, &online)
            .await
            .unwrap()
            .is_empty()
    );
    let off_page = store.list_dispatches(ORG, &off, 1, 10).await.unwrap();
    assert_eq!(off_page.items[0].status, DispatchStatus::Pending);

    let done = store.finish(ORG, &d.id, delivered()).await.unwrap();
    assert_eq!(done.status, DispatchStatus::Delivered);
    assert_eq!(
        (done.fuel_used, done.duration_ms, done.commit_sha.as_deref()),
        (Some(1000), Some(12), Some("abc123"))
    );
    // Finishing twice is a typed error.
    let again = store.finish(ORG, &d.id, delivered()).await.unwrap_err();
    assert_eq!(again.code(), "invalid_transition");

    // The agent comes back: the pending one goes now.
    let claimed = store.claim_due(later(), 10, LEASE, &all).await.unwrap();
    assert_eq!(claimed.len(), 1);
    store
        .finish(ORG, &claimed[0].id, failed("guest_error"))
        .await
        .unwrap();

    let stats = store
        .subscription_stats(ORG, &off, Timestamp::now())
        .await
        .unwrap();
    assert_eq!((stats.delivered_count_7d, stats.failed_count_7d), (0, 1));
    assert_eq!(stats.last_error.unwrap().code, "guest_error");
    let stats = store
        .subscription_stats(ORG, &on, Timestamp::now())
        .await
        .unwrap();
    assert_eq!((stats.delivered_count_7d, stats.failed_count_7d), (1, 0));
    assert!(stats.last_error.is_none());
    // Eight days later the counts are gone.
    let far = Timestamp::now().saturating_add(Duration::from_secs(8 * 24 * 3600));
    assert_eq!(
        store
            .subscription_stats(ORG, &on, far)
            .await
            .unwrap()
            .delivered_count_7d,
        0
    );

    // Every transition is in the audit log, in order: creation in the event's fan-out
    // record, then one record per move.
    let log = store.audit_log(ORG, 0, 1000).await.unwrap();
    let done_id = &d.id;
    let created = log
        .iter()
        .position(|r| {
            r.object_kind == ObjectKind::Event
                && r.to.as_deref() == Some("pending")
                && r.detail
                    .as_deref()
                    .is_some_and(|x| x.contains(done_id.as_str()))
        })
        .unwrap();
    let moves: Vec<_> = log[created..]
        .iter()
        .filter(|r| &r.object_id == done_id)
        .map(|r| (r.from.clone(), r.to.clone(), r.actor.clone()))
        .collect();
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        moves,
        vec![
            (s("pending"), s("processing"), "worker".to_string()),
            (s("processing"), s("delivered"), "worker".to_string())
        ]
    );
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
}

#[tokio::test]
async fn requeue_makes_it_due_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (on, _) = setup(&store).await;
    store
        .publish(ORG, event(None), std::slice::from_ref(&on))
        .await
        .unwrap();
    let d = store
        .claim_due(later(), 10, LEASE, &all)
        .await
        .unwrap()
        .remove(0);
    let due = Timestamp::now().saturating_add(Duration::from_secs(30));
    let back = store
        .requeue(
            ORG,
            &d.id,
            due,
            DispatchError::new("agent_offline", "gone", true),
        )
        .await
        .unwrap();
    assert_eq!((back.status, back.attempt), (DispatchStatus::Pending, 1));
    assert!(
        store
            .claim_due(later(), 10, LEASE, &all)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.claim_due(due, 10, LEASE, &all).await.unwrap();
    assert_eq!(
        (again.len(), again[0].id.as_str(), again[0].attempt),
        (1, d.id.as_str(), 2)
    );
}

#[tokio::test]
async fn recovery_fails_interrupted_or_retries_by_policy_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (plain_id, retry_id) = {
        let store = open(&dir);
        store
            .create_connection(ORG, connection("on", "online"), "admin")
            .await
            .unwrap();
        let plain = store
            .create_subscription(ORG, subscription("plain", "on"), "admin")
            .await
            .unwrap();
        let mut spec = subscription("retrying", "on");
        spec.retry_policy = Some(RetryPolicy {
            max_attempts: 3,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            max_age: Duration::from_secs(3600),
        });
        let retrying = store.create_subscription(ORG, spec, "admin").await.unwrap();
        store
            .publish(ORG, event(None), &[plain.id.clone(), retrying.id.clone()])
            .await
            .unwrap();
        let claimed = store.claim_due(later(), 10, LEASE, &all).await.unwrap();
        assert_eq!(claimed.len(), 2);
        (plain.id, retrying.id)
        // Dropped while "processing": as if the process had died mid-run.
    };
    let store = open(&dir);
    let now = Timestamp::now();
    let policy = recover_by_retry_policy(now);
    let recovered = store.recover_processing(now, &policy).await.unwrap();
    assert_eq!(recovered.len(), 2);
    for d in &recovered {
        assert_eq!(d.last_error.as_ref().unwrap().code, "interrupted");
        if d.subscription_id == plain_id {
            assert_eq!(d.status, DispatchStatus::Failed);
        } else {
            assert_eq!(d.subscription_id, retry_id);
            assert_eq!(d.status, DispatchStatus::Pending);
            assert_eq!(d.due_at, now.saturating_add(Duration::from_secs(2)));
        }
    }
    // Nothing is left processing.
    assert!(
        store
            .recover_processing(now, &|_, _| Recovery::Fail(DispatchError::interrupted()))
            .await
            .unwrap()
            .is_empty()
    );
    // The retried one keeps its id and counts attempts.
    let again = store
        .claim_due(now.saturating_add(Duration::from_secs(3)), 10, LEASE, &all)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 2);
}

/// A claim writes no row: the claimed dispatch reads as `processing` (attempt, start, lease)
/// from the claim, and a run requeued while its batch's claim entry still stands is not
/// taken for an interrupted one after a crash.
#[tokio::test]
async fn claimed_rows_read_as_processing_and_recovery_spares_requeued_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (requeued_id, running_id, due) = {
        let store = open(&dir);
        let (on, _) = setup(&store).await;
        let spec = subscription("second", "on");
        let second = store.create_subscription(ORG, spec, "admin").await.unwrap();
        store
            .publish(ORG, event(None), &[on, second.id])
            .await
            .unwrap();
        let claimed = store.claim_due(later(), 10, LEASE, &all).await.unwrap();
        assert_eq!(claimed.len(), 2, "one claim entry for both");
        for d in &claimed {
            let seen = store.get_dispatch(ORG, &d.id).await.unwrap().dispatch;
            assert_eq!(seen.status, DispatchStatus::Processing);
            assert_eq!(seen.attempt, 1);
            assert!(seen.dispatched_at.is_some() && seen.lease_until.is_some());
        }
        let due = Timestamp::now().saturating_add(Duration::from_secs(30));
        let error = DispatchError::new("agent_offline", "gone", true);
        store
            .requeue(ORG, &claimed[0].id, due, error)
            .await
            .unwrap();
        let back = store
            .get_dispatch(ORG, &claimed[0].id)
            .await
            .unwrap()
            .dispatch;
        assert_eq!((back.status, back.attempt), (DispatchStatus::Pending, 1));
        (claimed[0].id.clone(), claimed[1].id.clone(), due)
        // Dropped with the other run still going: as if the process had died.
    };
    let store = open(&dir);
    let now = Timestamp::now();
    let recovered = store
        .recover_processing(now, &|_, _| Recovery::Fail(DispatchError::interrupted()))
        .await
        .unwrap();
    let ids: Vec<&str> = recovered.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, [running_id.as_str()]);
    assert_eq!(recovered[0].attempt, 1);
    let failed = store.get_dispatch(ORG, &running_id).await.unwrap().dispatch;
    assert_eq!(failed.status, DispatchStatus::Failed);
    assert_eq!(failed.last_error.unwrap().code, "interrupted");
    let requeued = store
        .get_dispatch(ORG, &requeued_id)
        .await
        .unwrap()
        .dispatch;
    assert_eq!(
        (requeued.status, requeued.attempt),
        (DispatchStatus::Pending, 1)
    );
    let again = store.claim_due(due, 10, LEASE, &all).await.unwrap();
    assert_eq!((again.len(), again[0].attempt), (1, 2));
}

#[tokio::test]
async fn replay_only_terminal_dispatches_with_hoops_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (on, _) = setup(&store).await;
    let out = store
        .publish(ORG, event(None), std::slice::from_ref(&on))
        .await
        .unwrap();
    let id = &out.dispatch_ids[0];

    let err = store.replay(ORG, id, "admin").await.unwrap_err();
    assert_eq!(err.to_string(), "cannot replay a dispatch that is pending");
    assert!(matches!(err, StoreError::ReplayRefused { .. }));
    store.claim_due(later(), 10, LEASE, &all).await.unwrap();
    let err = store.replay(ORG, id, "admin").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot replay a dispatch that is processing"
    );

    store.finish(ORG, id, failed("guest_error")).await.unwrap();
    let replay = store.replay(ORG, id, "admin").await.unwrap();
    assert_eq!(replay.status, DispatchStatus::Pending);
    assert_eq!(replay.replayed_from.as_deref(), Some(id.as_str()));
    assert_eq!(replay.event_id, out.event_id);
    assert_ne!(&replay.id, id);
    let page = store.list_dispatches(ORG, &on, 1, 10).await.unwrap();
    assert_eq!(page.items[0].id, replay.id, "newest first");
    assert!(
        store
            .replay(ORG, "dsp_nope", "admin")
            .await
            .unwrap_err()
            .to_string()
            .contains("not found")
    );
}

#[tokio::test]
async fn pagination_is_newest_first_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (on, _) = setup(&store).await;
    let mut ids = publish_events(&store, &on, 120).await;
    ids.reverse(); // newest first
    let p1 = store.list_dispatches(ORG, &on, 1, 50).await.unwrap();
    assert_eq!(
        (p1.total, p1.page, p1.limit, p1.items.len()),
        (120, 1, 50, 50)
    );
    assert_eq!(
        p1.items.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        ids[..50].to_vec()
    );
    let p3 = store.list_dispatches(ORG, &on, 3, 50).await.unwrap();
    assert_eq!(
        p3.items.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        ids[100..].to_vec()
    );
    let capped = store.list_dispatches(ORG, &on, 1, 1000).await.unwrap();
    assert_eq!((capped.limit, capped.items.len()), (100, 100));
    let beyond = store.list_dispatches(ORG, &on, 9, 50).await.unwrap();
    assert!(beyond.items.is_empty());
    let zero = store.list_dispatches(ORG, &on, 0, 0).await.unwrap();
    assert_eq!((zero.page, zero.limit), (1, 50));
}

#[tokio::test]
async fn a_claim_larger_than_one_transaction_takes_every_due_dispatch_once() {
    // The store claims in transactions of a few dispatches each (so a publish never waits
    // for a whole large claim); together they must still take each due dispatch once.
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let (on, _) = setup(&store).await;
    let mut ids = publish_events(&store, &on, 45).await;
    let first = store.claim_due(later(), 40, LEASE, &all).await.unwrap();
    assert_eq!(first.len(), 40, "a claim of 40 takes 40 when 45 are due");
    let rest = store.claim_due(later(), 40, LEASE, &all).await.unwrap();
    assert_eq!(rest.len(), 5, "the next claim takes the other 5");
    let mut claimed: Vec<String> = first.iter().chain(&rest).map(|d| d.id.clone()).collect();
    assert!(
        first
            .iter()
            .chain(&rest)
            .all(|d| d.status == DispatchStatus::Processing && d.attempt == 1)
    );
    claimed.sort();
    ids.sort();
    assert_eq!(claimed, ids, "every dispatch claimed exactly once");
    assert!(
        store
            .claim_due(later(), 40, LEASE, &all)
            .await
            .unwrap()
            .is_empty()
    );
}
