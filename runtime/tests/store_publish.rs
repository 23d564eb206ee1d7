//! Publishing: dedup, paused subscriptions, group-committed durability under concurrency,
//! and everything found again after reopening the directory.
#![allow(clippy::unwrap_used)]

mod store_common;

use std::sync::Arc;

use runbox::model::SubscriptionStatus;
use runbox::store::Store;
use store_common::*;

#[tokio::test]
async fn publish_creates_one_pending_dispatch_per_subscription_and_dedups() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .create_connection(ORG, connection("bash-ops", "a1"), "admin")
        .await
        .unwrap();
    let s1 = store
        .create_subscription(ORG, subscription("one", "bash-ops"), "admin")
        .await
        .unwrap();
    let s2 = store
        .create_subscription(ORG, subscription("two", "bash-ops"), "admin")
        .await
        .unwrap();
    let ids = vec![s1.id.clone(), s2.id.clone()];

    let first = store
        .publish(ORG, event(Some("ses_1:alert")), &ids)
        .await
        .unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.dispatch_ids.len(), 2);

    let again = store
        .publish(ORG, event(Some("ses_1:alert")), &ids)
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.event_id, first.event_id);
    assert!(again.dispatch_ids.is_empty());
    assert_eq!(
        store
            .list_dispatches(ORG, &s1.id, 1, 50)
            .await
            .unwrap()
            .total,
        1
    );

    // No producer id: never deduplicated.
    let a = store.publish(ORG, event(None), &ids).await.unwrap();
    let b = store.publish(ORG, event(None), &ids).await.unwrap();
    assert_ne!(a.event_id, b.event_id);

    let detail = store
        .get_dispatch(ORG, &first.dispatch_ids[0])
        .await
        .unwrap();
    assert_eq!(detail.dispatch.status.as_str(), "pending");
    assert_eq!(detail.dispatch.attempt, 0);
    assert_eq!(detail.event_payload["user"], "alex@acme.com");
    assert!(detail.subscription_name == "one" || detail.subscription_name == "two");
}

#[tokio::test]
async fn paused_subscriptions_get_nothing_and_are_not_active() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .create_connection(ORG, connection("bash-ops", "a1"), "admin")
        .await
        .unwrap();
    let s = store
        .create_subscription(ORG, subscription("one", "bash-ops"), "admin")
        .await
        .unwrap();
    assert_eq!(
        store.active_subscriptions(ORG, EVENT).await.unwrap().len(),
        1
    );

    store
        .set_subscription_status(ORG, &s.id, SubscriptionStatus::Paused, "admin")
        .await
        .unwrap();
    assert!(
        store
            .active_subscriptions(ORG, EVENT)
            .await
            .unwrap()
            .is_empty()
    );
    // Even if the caller still lists it, the transaction re-checks the status.
    let out = store
        .publish(ORG, event(None), std::slice::from_ref(&s.id))
        .await
        .unwrap();
    assert!(out.dispatch_ids.is_empty());

    store
        .set_subscription_status(ORG, &s.id, SubscriptionStatus::Active, "admin")
        .await
        .unwrap();
    assert_eq!(
        store.active_subscriptions(ORG, EVENT).await.unwrap().len(),
        1
    );
    // Resume does not backfill.
    assert_eq!(
        store
            .list_dispatches(ORG, &s.id, 1, 50)
            .await
            .unwrap()
            .total,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishers_share_flushes_and_survive_reopen() {
    const TASKS: usize = 32;
    const PER_TASK: usize = 25;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .create_connection(ORG, connection("bash-ops", "a1"), "admin")
        .await
        .unwrap();
    let mut subs = Vec::new();
    for i in 0..3 {
        subs.push(
            store
                .create_subscription(ORG, subscription(&format!("s{i}"), "bash-ops"), "admin")
                .await
                .unwrap()
                .id,
        );
    }
    let subs = Arc::new(subs);
    let flushes_before = store.flush_count();

    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        let subs = Arc::clone(&subs);
        handles.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..PER_TASK {
                let producer = format!("t{task}-e{i}");
                let out = store
                    .publish(ORG, event(Some(&producer)), &subs)
                    .await
                    .unwrap();
                assert_eq!(out.dispatch_ids.len(), 3);
                acked.push(out);
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for h in handles {
        acked.extend(h.await.unwrap());
    }
    let publishes = (TASKS * PER_TASK) as u64;
    let flushes = store.flush_count() - flushes_before;
    assert!(
        flushes < publishes,
        "{flushes} flushes for {publishes} publishes"
    );

    drop(store);
    let store = open(&dir);
    for out in &acked {
        let event = store.get_event(ORG, &out.event_id).await.unwrap();
        assert_eq!(event.event_type, EVENT);
        for id in &out.dispatch_ids {
            store.get_dispatch(ORG, id).await.unwrap();
        }
    }
    for sub in subs.iter() {
        assert_eq!(
            store.list_dispatches(ORG, sub, 1, 10).await.unwrap().total,
            TASKS * PER_TASK
        );
    }
    // Dedup survives the reopen too.
    let again = store
        .publish(ORG, event(Some("t0-e0")), &subs)
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        again.event_id,
        acked
            .iter()
            .find(|o| !o.duplicate)
            .unwrap()
            .event_id
            .clone()
            .min(again.event_id.clone())
            .max(again.event_id.clone())
    );
}
