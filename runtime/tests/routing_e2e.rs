//! End to end event routing with real runbook components: publish -> durable dispatch ->
//! worker -> sandbox -> agent -> delivered/failed, plus pause, agent offline, replay,
//! dedup, retries, validation at save and the feature flag.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod routing_common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use routing_common::*;
use runbox::model::{DispatchStatus, SubscriptionStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_recipe_is_delivered_with_rendered_params_reaching_the_agent() {
    let world = World::new();
    let rt = world.ready(2).await;
    let sub = rt
        .create_subscription(ORG, world.subscription("revoke-on-pii", REVOKE), "admin")
        .await
        .unwrap();
    let receipt = rt
        .publish(
            ORG,
            EVENT,
            sample_payload(),
            Some("ses_01HX9A2BCD:alert.sensitive_data_detected"),
        )
        .await
        .unwrap();
    assert!(!receipt.duplicate && !receipt.feature_disabled);
    assert_eq!(receipt.dispatch_ids.len(), 1);
    let id = &receipt.dispatch_ids[0];

    let done = wait_for(&rt, id, DispatchStatus::Delivered).await;
    let d = &done.dispatch;
    assert_eq!(d.attempt, 1);
    assert_eq!(d.last_error, None);
    assert_eq!(d.commit_sha.as_deref(), Some(world.commit.as_str()));
    assert!(d.fuel_used.unwrap_or(0) > 0, "{d:?}");
    assert!(d.peak_memory_bytes.unwrap_or(0) > 0, "{d:?}");
    let excerpt = d.output_excerpt.clone().unwrap_or_default();
    assert!(
        excerpt.contains("revoked access of alex.morgan@acme.com on conn-prod-pg"),
        "{excerpt}"
    );
    assert_eq!(done.subscription_name, "revoke-on-pii");
    assert_eq!(done.event_payload, sample_payload());

    let calls = world.agent.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].connection, CONNECTION);
    assert_eq!(&calls[0].dispatch_id, id);
    assert!(
        calls[0]
            .input
            .contains("--user 'alex.morgan@acme.com' --connection 'conn-prod-pg'"),
        "{}",
        calls[0].input
    );

    let view = rt.get_subscription(ORG, &sub.id).await.unwrap();
    assert_eq!(view.stats.delivered_count_7d, 1);
    assert_eq!(view.stats.failed_count_7d, 0);
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_flag_off_stores_nothing_and_refuses_subscription_calls() {
    let world = World::new();
    let rt = world.runtime(1).await;
    let receipt = rt
        .publish(ORG, EVENT, sample_payload(), Some("p1"))
        .await
        .unwrap();
    assert!(receipt.feature_disabled);
    assert_eq!(receipt.event_id, None);
    assert_eq!(rt.events_ignored_while_disabled(ORG), 1);
    let err = rt
        .create_subscription(ORG, world.subscription("s", REVOKE), "admin")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "feature_disabled");
    assert_eq!(err.class().http_status(), 403);
    // Once on, the same producer id is new: nothing was stored while off.
    enable(&rt).await;
    let again = rt
        .publish(ORG, EVENT, sample_payload(), Some("p1"))
        .await
        .unwrap();
    assert!(!again.duplicate && again.event_id.is_some());
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_rejects_bad_events_with_typed_errors() {
    let world = World::new();
    let rt = world.ready(1).await;
    let err = rt
        .publish(ORG, "alert.nope", sample_payload(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unknown_event_type");
    let mut bad = sample_payload();
    bad["total_detections"] = serde_json::json!("twelve");
    let err = rt.publish(ORG, EVENT, bad, None).await.unwrap_err();
    assert_eq!(err.code(), "invalid_payload");
    assert!(err.to_string().contains("total_detections"), "{err}");
    let mut big = sample_payload();
    big["filler"] = serde_json::json!("x".repeat(2 << 20));
    let err = rt.publish(ORG, EVENT, big, None).await.unwrap_err();
    assert_eq!(err.code(), "payload_too_large");
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_validated_at_save() {
    let world = World::new();
    let rt = world.ready(1).await;

    // Required params neither mapped nor same-named in the payload: hoop's text.
    let mut unmapped = world.subscription("unmapped", REVOKE);
    unmapped.parameter_mapping.clear();
    let err = rt
        .create_subscription(ORG, unmapped, "admin")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "param_missing");
    assert_eq!(
        err.to_string(),
        "the following inputs are missing [agent_user, connection_name]"
    );

    let mut bad_path = world.subscription("bad-path", REVOKE);
    bad_path
        .parameter_mapping
        .insert("agent_user".into(), "$.[".into());
    let err = rt
        .create_subscription(ORG, bad_path, "admin")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_mapping");

    let mut not_in_schema = world.subscription("not-in-schema", REVOKE);
    not_in_schema
        .parameter_mapping
        .insert("agent_user".into(), "$.reviewer".into());
    let err = rt
        .create_subscription(ORG, not_in_schema, "admin")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_mapping");
    assert!(err.to_string().contains("reviewer"), "{err}");

    let missing = world.subscription("missing-runbook", "ops/nope.runbook.wasm");
    let err = rt
        .create_subscription(ORG, missing, "admin")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "runbook_not_found");
    assert!(
        err.to_string()
            .starts_with("runbook file \"ops/nope.runbook.wasm\" not found in repository"),
        "{err}"
    );

    let mut no_conn = world.subscription("no-conn", REVOKE);
    no_conn.connection_name = "ghost".into();
    let err = rt
        .create_subscription(ORG, no_conn, "admin")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unknown_connection");

    let mut plain = connection_spec("no-runbooks");
    plain.plugins = vec!["audit".into()];
    rt.create_connection(ORG, plain, "admin").await.unwrap();
    let mut wrong_conn = world.subscription("wrong-conn", REVOKE);
    wrong_conn.connection_name = "no-runbooks".into();
    let err = rt
        .create_subscription(ORG, wrong_conn, "admin")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "runbooks_not_allowed");

    let mut unknown_type = world.subscription("unknown-type", REVOKE);
    unknown_type.event_types = vec!["alert.nope".into()];
    let err = rt
        .create_subscription(ORG, unknown_type, "admin")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unknown_event_type");

    rt.create_subscription(ORG, world.subscription("ok", REVOKE), "admin")
        .await
        .unwrap();
    let err = rt
        .create_subscription(ORG, world.subscription("ok", REVOKE), "admin")
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.class().http_status()), ("conflict", 409));

    // A connection in use cannot be deleted.
    let conn = rt.connection_by_name(ORG, CONNECTION).await.unwrap();
    let err = rt
        .delete_connection(ORG, &conn.id, "admin")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict");
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_subscription_gets_no_dispatch_and_resume_does_not_backfill() {
    let world = World::new();
    let rt = world.ready(1).await;
    let sub = rt
        .create_subscription(ORG, world.subscription("revoke", REVOKE), "admin")
        .await
        .unwrap();
    let paused = rt.pause_subscription(ORG, &sub.id, "admin").await.unwrap();
    assert_eq!(paused.status, SubscriptionStatus::Paused);
    let r = rt
        .publish(ORG, EVENT, sample_payload(), Some("a"))
        .await
        .unwrap();
    assert!(r.event_id.is_some());
    assert!(r.dispatch_ids.is_empty(), "{r:?}");
    rt.resume_subscription(ORG, &sub.id, "admin").await.unwrap();
    let page = rt.list_dispatches(ORG, &sub.id, 1, 50).await.unwrap();
    assert_eq!(page.total, 0, "resume must not backfill");
    let r = rt
        .publish(ORG, EVENT, sample_payload(), Some("b"))
        .await
        .unwrap();
    assert_eq!(r.dispatch_ids.len(), 1);
    wait_for(&rt, &r.dispatch_ids[0], DispatchStatus::Delivered).await;
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_agent_keeps_dispatch_pending_until_it_comes_back() {
    let world = World::new();
    let rt = world.ready(2).await;
    rt.create_subscription(ORG, world.subscription("revoke", REVOKE), "admin")
        .await
        .unwrap();
    rt.set_agent_status(AGENT_ID, false);
    let r = rt
        .publish(ORG, EVENT, sample_payload(), Some("x"))
        .await
        .unwrap();
    let id = &r.dispatch_ids[0];
    tokio::time::sleep(Duration::from_millis(600)).await;
    let d = rt.get_dispatch(ORG, id).await.unwrap();
    assert_eq!(d.dispatch.status, DispatchStatus::Pending);
    assert_eq!(d.dispatch.attempt, 0);
    assert!(world.agent.calls().is_empty());

    // Replaying a pending dispatch is a conflict with hoop's text.
    let err = rt.replay(ORG, id, "admin").await.unwrap_err();
    assert_eq!(err.code(), "conflict");
    assert_eq!(err.to_string(), "cannot replay a dispatch that is pending");

    rt.set_agent_status(AGENT_ID, true);
    let d = wait_for(&rt, id, DispatchStatus::Delivered).await;
    assert_eq!(d.dispatch.attempt, 1);
    assert_eq!(world.agent.calls().len(), 1);
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_creates_a_new_row_that_runs_again() {
    let world = World::new();
    let rt = world.ready(1).await;
    let sub = rt
        .create_subscription(ORG, world.subscription("revoke", REVOKE), "admin")
        .await
        .unwrap();
    let r = rt
        .publish(ORG, EVENT, sample_payload(), Some("r"))
        .await
        .unwrap();
    let first = &r.dispatch_ids[0];
    wait_for(&rt, first, DispatchStatus::Delivered).await;
    let replay = rt.replay(ORG, first, "admin").await.unwrap();
    assert_ne!(&replay.id, first);
    assert_eq!(replay.replayed_from.as_deref(), Some(first.as_str()));
    assert_eq!(replay.status, DispatchStatus::Pending);
    wait_for(&rt, &replay.id, DispatchStatus::Delivered).await;
    let calls = world.agent.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(&calls[1].dispatch_id, &replay.id);
    let page = rt.list_dispatches(ORG, &sub.id, 1, 50).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.items[0].id, replay.id, "newest first");
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_producer_event_id_makes_one_set_of_dispatches() {
    let world = World::new();
    let rt = world.ready(1).await;
    let a = rt
        .create_subscription(ORG, world.subscription("a", REVOKE), "admin")
        .await
        .unwrap();
    rt.create_subscription(ORG, world.subscription("b", REVOKE), "admin")
        .await
        .unwrap();
    let first = rt
        .publish(ORG, EVENT, sample_payload(), Some("dup"))
        .await
        .unwrap();
    let second = rt
        .publish(ORG, EVENT, sample_payload(), Some("dup"))
        .await
        .unwrap();
    assert_eq!(first.dispatch_ids.len(), 2);
    assert!(second.duplicate);
    assert_eq!(second.event_id, first.event_id);
    assert!(second.dispatch_ids.is_empty());
    for id in &first.dispatch_ids {
        wait_for(&rt, id, DispatchStatus::Delivered).await;
    }
    assert_eq!(
        rt.list_dispatches(ORG, &a.id, 1, 50).await.unwrap().total,
        1
    );
    assert_eq!(world.agent.calls().len(), 2);
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_runbook_ends_failed_with_its_code() {
    let world = World::new();
    let rt = world.ready(1).await;
    let sub = rt
        .create_subscription(ORG, world.subscription("fails", GUEST_ERROR), "admin")
        .await
        .unwrap();
    let r = rt
        .publish(ORG, EVENT, sample_payload(), None)
        .await
        .unwrap();
    let d = wait_for(&rt, &r.dispatch_ids[0], DispatchStatus::Failed).await;
    let err = d.dispatch.last_error.clone().unwrap();
    assert_eq!(err.code, "guest_error");
    assert!(err.message.contains("permission denied"), "{err:?}");
    assert!(!err.retryable);
    assert_eq!(
        d.dispatch.commit_sha.as_deref(),
        Some(world.commit.as_str())
    );
    let view = rt.get_subscription(ORG, &sub.id).await.unwrap();
    assert_eq!(view.stats.failed_count_7d, 1);
    assert_eq!(
        view.stats.last_error.map(|e| e.code),
        Some("guest_error".into())
    );
    rt.shutdown(Duration::from_secs(5)).await;
}

/// A panic in the host during a run (here the gateway's agent) fails that dispatch with
/// code `internal`; the other dispatches of its batch end normally and the worker goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_agent_fails_its_dispatch_and_spares_the_rest_of_the_batch() {
    let world = World::new();
    world.agent.panics.store(true, Ordering::SeqCst);
    let rt = world.ready(1).await;
    let revoke = rt
        .create_subscription(ORG, world.subscription("revoke", REVOKE), "admin")
        .await
        .unwrap();
    rt.create_subscription(ORG, world.subscription("fails", GUEST_ERROR), "admin")
        .await
        .unwrap();
    let r = rt
        .publish(ORG, EVENT, sample_payload(), None)
        .await
        .unwrap();
    assert_eq!(r.dispatch_ids.len(), 2);
    let mut codes = Vec::new();
    for id in &r.dispatch_ids {
        let d = wait_for(&rt, id, DispatchStatus::Failed).await;
        let err = d.dispatch.last_error.unwrap();
        if err.code == "internal" {
            assert!(err.message.contains("panic"), "{err:?}");
            assert!(
                !err.message.contains("index out of range"),
                "the panic's own words stay in the log: {err:?}"
            );
        }
        codes.push(err.code);
    }
    codes.sort();
    assert_eq!(codes, ["guest_error", "internal"]);
    assert_eq!(
        world.agent.calls().len(),
        1,
        "the revoke runbook reached the agent"
    );

    // The worker survived: with the agent fixed, the next event is delivered.
    world.agent.panics.store(false, Ordering::SeqCst);
    let r = rt
        .publish(ORG, EVENT, sample_payload(), None)
        .await
        .unwrap();
    // The revoke dispatch is delivered once the agent is fixed; the other fails as before.
    for id in &r.dispatch_ids {
        let d = rt.get_dispatch(ORG, id).await.unwrap();
        let expected = if d.dispatch.subscription_id == revoke.id {
            DispatchStatus::Delivered
        } else {
            DispatchStatus::Failed
        };
        wait_for(&rt, id, expected).await;
    }
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_are_retried_with_the_same_dispatch_id_then_fail() {
    let world = World::new();
    let rt = world.ready(1).await;
    let mut spec = world.subscription("retries", RETRYABLE);
    spec.retry_policy = Some(fast_retries(3));
    rt.create_subscription(ORG, spec, "admin").await.unwrap();
    let r = rt
        .publish(ORG, EVENT, sample_payload(), None)
        .await
        .unwrap();
    let d = wait_for(&rt, &r.dispatch_ids[0], DispatchStatus::Failed).await;
    assert_eq!(d.dispatch.attempt, 3, "{d:?}");
    let err = d.dispatch.last_error.unwrap();
    assert!(err.retryable);
    assert!(err.message.contains("upstream busy"), "{err:?}");

    // Without a policy: one attempt only (hoop's default).
    rt.create_subscription(
        ORG,
        {
            let mut s = world.subscription("no-retries", RETRYABLE);
            s.event_types = vec!["session.started".into()];
            s
        },
        "admin",
    )
    .await
    .unwrap();
    let started = serde_json::json!({"session_id":"ses_1","user":"alex.morgan@acme.com",
        "connection":"conn-prod-pg","verb":"exec","occurred_at":"2026-05-04T15:30:00Z"});
    let r = rt
        .publish(ORG, "session.started", started, None)
        .await
        .unwrap();
    let d = wait_for(&rt, &r.dispatch_ids[0], DispatchStatus::Failed).await;
    assert_eq!(d.dispatch.attempt, 1);
    rt.shutdown(Duration::from_secs(5)).await;
}
