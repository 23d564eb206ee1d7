//! Start-up recovery and shutdown: nothing is left `processing`, nothing is re-run
//! silently, and a shutdown deadline interrupts running guests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod routing_common;

use std::time::Duration;

use routing_common::*;
use runbox::host::Limits;
use runbox::model::{DispatchStatus, Timestamp};

/// Publishes one event to a subscription of `file` with workers off, claims its dispatch
/// through the store (as a worker would) and drops the runtime mid-"run".
async fn leave_processing(world: &World, file: &str, retry: bool) -> String {
    let rt = world.ready(0).await;
    let mut spec = world.subscription("sub", file);
    if retry {
        spec.retry_policy = Some(fast_retries(3));
    }
    rt.create_subscription(ORG, spec, "admin").await.unwrap();
    let r = rt
        .publish(ORG, EVENT, sample_payload(), None)
        .await
        .unwrap();
    let all = |_: &runbox::store::ClaimCandidate<'_>| true;
    let claimed = rt
        .store()
        .claim_due(Timestamp::now(), 10, Duration::from_secs(60), &all)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].status, DispatchStatus::Processing);
    rt.shutdown(Duration::from_secs(1)).await;
    drop(rt);
    r.dispatch_ids[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_left_processing_fails_interrupted_on_the_next_start() {
    let world = World::new();
    let id = leave_processing(&world, REVOKE, false).await;
    let rt = world.runtime(1).await;
    assert_eq!(rt.recovered_at_start(), 1);
    let d = rt.get_dispatch(ORG, &id).await.unwrap();
    assert_eq!(d.dispatch.status, DispatchStatus::Failed);
    assert_eq!(d.dispatch.last_error.unwrap().code, "interrupted");
    // Never re-run silently.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(world.agent.calls().is_empty());
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_retry_policy_the_interrupted_dispatch_runs_again_with_the_same_id() {
    let world = World::new();
    let id = leave_processing(&world, REVOKE, true).await;
    let rt = world.runtime(1).await;
    assert_eq!(rt.recovered_at_start(), 1);
    let d = wait_for(&rt, &id, DispatchStatus::Delivered).await;
    assert_eq!(d.dispatch.attempt, 2);
    let calls = world.agent.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].dispatch_id, id,
        "same dispatch id on every attempt"
    );
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_interrupts_runs_past_the_deadline() {
    let world = World::new();
    let limits = Limits {
        fuel: u64::MAX / 4,
        timeout: Duration::from_secs(120),
        ..Limits::default()
    };
    let rt = world.runtime_with(1, limits).await;
    enable(&rt).await;
    rt.create_subscription(ORG, world.subscription("spins", INFINITE), "admin")
        .await
        .unwrap();
    let r = rt
        .publish(ORG, EVENT, sample_payload(), None)
        .await
        .unwrap();
    let id = r.dispatch_ids[0].clone();
    wait_for(&rt, &id, DispatchStatus::Processing).await;
    let t = std::time::Instant::now();
    rt.shutdown(Duration::from_millis(300)).await;
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let d = rt.get_dispatch(ORG, &id).await.unwrap();
    assert_eq!(d.dispatch.status, DispatchStatus::Failed, "{d:?}");
    assert_eq!(d.dispatch.last_error.unwrap().code, "interrupted");
}
