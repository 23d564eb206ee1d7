//! Connections and subscriptions: names, rename carry-over, delete rules, cascade,
//! org isolation, flags, reopen.
#![allow(clippy::unwrap_used)]

mod store_common;

use runbox::StoreError;
use runbox::model::{EVENT_ROUTING_FLAG, SubscriptionStatus};
use runbox::store::{ClaimCandidate, Store};
use store_common::*;

#[tokio::test]
async fn names_are_unique_per_org_and_connections_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .create_connection(ORG, connection("bash-ops", "a1"), "admin")
        .await
        .unwrap();
    let dup = store
        .create_connection(ORG, connection("bash-ops", "a1"), "admin")
        .await
        .unwrap_err();
    assert_eq!(dup.code(), "duplicate_name");
    // Another org may use the same name.
    store
        .create_connection("other", connection("bash-ops", "a1"), "admin")
        .await
        .unwrap();

    store
        .create_subscription(ORG, subscription("one", "bash-ops"), "admin")
        .await
        .unwrap();
    let dup = store
        .create_subscription(ORG, subscription("one", "bash-ops"), "admin")
        .await
        .unwrap_err();
    assert!(matches!(dup, StoreError::DuplicateName { .. }));
    let unknown = store
        .create_subscription(ORG, subscription("two", "nope"), "admin")
        .await
        .unwrap_err();
    assert_eq!(unknown.to_string(), "connection \"nope\" not found");
    let mut two_types = subscription("three", "bash-ops");
    two_types.event_types.push("session.started".into());
    assert_eq!(
        store
            .create_subscription(ORG, two_types, "admin")
            .await
            .unwrap_err()
            .code(),
        "invalid_request"
    );
}

#[tokio::test]
async fn rename_carries_over_and_delete_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let con = store
        .create_connection(ORG, connection("bash-ops", "a1"), "admin")
        .await
        .unwrap();
    let sub = store
        .create_subscription(ORG, subscription("one", "bash-ops"), "admin")
        .await
        .unwrap();

    let err = store
        .delete_connection(ORG, &con.id, "admin")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "connection_in_use");
    assert!(err.to_string().contains("one"), "{err}");

    let renamed = store
        .update_connection(ORG, &con.id, connection("shell-ops", "a1"), "admin")
        .await
        .unwrap();
    assert_eq!(renamed.name, "shell-ops");
    assert_eq!(
        store
            .get_subscription(ORG, &sub.id)
            .await
            .unwrap()
            .connection_name,
        "shell-ops"
    );
    assert!(store.connection_by_name(ORG, "bash-ops").await.is_err());
    assert_eq!(
        store
            .connection_by_name(ORG, "shell-ops")
            .await
            .unwrap()
            .secrets
            .0["TOKEN"],
        "s3cret"
    );

    store
        .delete_subscription(ORG, &sub.id, "admin")
        .await
        .unwrap();
    store
        .delete_connection(ORG, &con.id, "admin")
        .await
        .unwrap();
    assert!(store.list_connections(ORG).await.unwrap().is_empty());
}

#[tokio::test]
async fn delete_subscription_removes_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .create_connection(ORG, connection("bash-ops", "a1"), "admin")
        .await
        .unwrap();
    let gone = store
        .create_subscription(ORG, subscription("gone", "bash-ops"), "admin")
        .await
        .unwrap();
    let kept = store
        .create_subscription(ORG, subscription("kept", "bash-ops"), "admin")
        .await
        .unwrap();
    let mut gone_ids = Vec::new();
    for _ in 0..300 {
        let out = store
            .publish(ORG, event(None), &[gone.id.clone(), kept.id.clone()])
            .await
            .unwrap();
        gone_ids.push(out.dispatch_ids[0].clone());
    }
    store
        .delete_subscription(ORG, &gone.id, "admin")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_subscription(ORG, &gone.id)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    for id in &gone_ids {
        assert!(store.get_dispatch(ORG, id).await.is_err());
    }
    assert!(
        store
            .active_subscriptions(ORG, EVENT)
            .await
            .unwrap()
            .iter()
            .all(|s| s.id == kept.id)
    );
    // Only the kept subscription's dispatches are still due.
    let all = |_: &ClaimCandidate<'_>| true;
    let now = runbox::model::Timestamp::now().saturating_add(std::time::Duration::from_secs(1));
    let claimed = store
        .claim_due(now, 1000, std::time::Duration::from_secs(60), &all)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 300);
    assert!(claimed.iter().all(|d| d.subscription_id == kept.id));
    // The name is free again.
    store
        .create_subscription(ORG, subscription("gone", "bash-ops"), "admin")
        .await
        .unwrap();
}

#[tokio::test]
async fn orgs_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let con = store
        .create_connection(ORG, connection("bash-ops", "a1"), "admin")
        .await
        .unwrap();
    let sub = store
        .create_subscription(ORG, subscription("one", "bash-ops"), "admin")
        .await
        .unwrap();
    let out = store
        .publish(ORG, event(None), std::slice::from_ref(&sub.id))
        .await
        .unwrap();

    let other = "globex";
    assert!(store.get_connection(other, &con.id).await.is_err());
    assert!(store.get_subscription(other, &sub.id).await.is_err());
    assert!(store.get_event(other, &out.event_id).await.is_err());
    assert!(
        store
            .get_dispatch(other, &out.dispatch_ids[0])
            .await
            .is_err()
    );
    assert!(store.list_dispatches(other, &sub.id, 1, 10).await.is_err());
    assert!(
        store
            .replay(other, &out.dispatch_ids[0], "admin")
            .await
            .is_err()
    );
    assert!(
        store
            .list_subscriptions(other, None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .active_subscriptions(other, EVENT)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.audit_log(other, 0, 100).await.unwrap().is_empty());
    // Publishing in another org with this org's subscription id creates nothing.
    let foreign = store
        .publish(other, event(None), std::slice::from_ref(&sub.id))
        .await
        .unwrap();
    assert!(foreign.dispatch_ids.is_empty());
    // An org whose name is a prefix of another's sees nothing of it either.
    assert!(
        store
            .list_subscriptions("acm", None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn flags_lists_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = {
        let store = open(&dir);
        assert!(!store.feature_flag(ORG, EVENT_ROUTING_FLAG).await.unwrap());
        store
            .set_feature_flag(ORG, EVENT_ROUTING_FLAG, true, "admin")
            .await
            .unwrap();
        store
            .create_connection(ORG, connection("bash-ops", "a1"), "admin")
            .await
            .unwrap();
        let a = store
            .create_subscription(ORG, subscription("a", "bash-ops"), "admin")
            .await
            .unwrap();
        let b = store
            .create_subscription(ORG, subscription("b", "bash-ops"), "admin")
            .await
            .unwrap();
        store
            .set_subscription_status(ORG, &a.id, SubscriptionStatus::Paused, "admin")
            .await
            .unwrap();
        (a.id, b.id)
    };
    let store = open(&dir);
    assert!(store.feature_flag(ORG, EVENT_ROUTING_FLAG).await.unwrap());
    assert!(
        !store
            .feature_flag("other", EVENT_ROUTING_FLAG)
            .await
            .unwrap()
    );
    let all: Vec<_> = store
        .list_subscriptions(ORG, None)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(all, vec![b.clone(), a.clone()], "newest first");
    let paused: Vec<_> = store
        .list_subscriptions(ORG, Some(SubscriptionStatus::Paused))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(paused, vec![a.clone()]);
    let active: Vec<_> = store
        .active_subscriptions(ORG, EVENT)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(active, vec![b]);
    let connection = store.connection_by_name(ORG, "bash-ops").await.unwrap();
    assert_eq!(
        connection.secrets.0["TOKEN"], "s3cret",
        "secret values are stored"
    );
    let audit = store.audit_log(ORG, 0, 100).await.unwrap();
    assert!(audit.iter().any(|r| r.object_id == a
        && r.from.as_deref() == Some("active")
        && r.to.as_deref() == Some("paused")));
}
