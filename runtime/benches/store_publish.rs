//! Durable publish throughput and acknowledgement latency of the sled store.
//!
//! `cargo bench -p runbox --bench store_publish` (release). Prints figures; asserts nothing.
//! Every event fans out to 10 active subscriptions (event + 10 dispatches + their index
//! and audit entries in one transaction), and `publish` returns only after the group commit
//! flushed it.
//! - saturated: C concurrent publishers as fast as they can (publishes/s, dispatches/s,
//!   ack p50/p99, flushes per publish);
//! - paced: 1,000 events/s from 16 publishers (the ack p99 target is < 5 ms there);
//! - phases: the store's cost per dispatch of each step of a dispatch's life, one after the
//!   other from one task (publish, claim in batches of 64, ending each batch concurrently).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use runbox::model::Timestamp;
use runbox::model::{
    AccessMode, ConnectionSpec, ConnectionType, NewEvent, SubscriptionSpec, SubscriptionStatus,
};
use runbox::store::{ClaimCandidate, FinishOutcome, SledStore, Store, TerminalStatus};

/// See the `mimalloc` feature in `runtime/Cargo.toml` for why.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
const SUBSCRIPTIONS: usize = 10;
const SATURATED_EVENTS: usize = 20_000;
const PACED_EVENTS: usize = 5_000;
const PACED_RATE: u64 = 1_000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn setup() -> (tempfile::TempDir, SledStore, Arc<Vec<String>>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path().join("db")).unwrap();
    let conn = ConnectionSpec {
        name: "bash-ops".into(),
        kind: ConnectionType::Custom,
        subtype: String::new(),
        tags: vec![],
        agent_id: Some("local".into()),
        access_mode_exec: AccessMode::Enabled,
        access_mode_connect: AccessMode::Disabled,
        access_mode_runbooks: AccessMode::Enabled,
        plugins: vec!["runbooks".into()],
        secrets: Default::default(),
        command: vec![],
    };
    store
        .create_connection("acme", conn, "bench")
        .await
        .unwrap();
    let mut subs = Vec::new();
    for i in 0..SUBSCRIPTIONS {
        let spec = SubscriptionSpec {
            name: format!("sub-{i}"),
            description: String::new(),
            event_types: vec!["alert.sensitive_data_detected".into()],
            runbook_repository: "github.com/acme/runbooks".into(),
            runbook_file: "ops/revoke.runbook.wasm".into(),
            connection_name: "bash-ops".into(),
            parameter_mapping: [("agent_user".to_string(), "$.user".to_string())].into(),
            status: SubscriptionStatus::Active,
            retry_policy: None,
        };
        subs.push(
            store
                .create_subscription("acme", spec, "bench")
                .await
                .unwrap()
                .id,
        );
    }
    (dir, store, Arc::new(subs))
}

fn event(n: usize) -> NewEvent {
    NewEvent {
        event_type: "alert.sensitive_data_detected".into(),
        payload: serde_json::json!({
            "session_id": format!("ses_{n:08}"), "user": "alex.morgan@acme.com",
            "connection": "conn-prod-pg", "types_detected": ["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"],
            "total_detections": 12, "occurred_at": "2026-05-04T14:30:00Z"}),
        producer_event_id: Some(format!("ses_{n:08}:alert.sensitive_data_detected")),
    }
}

/// Runs `events` publishes from `publishers` tasks, each pacing itself to `rate / publishers`
/// events per second when `rate` is set; returns every ack latency and the wall time.
async fn run(
    store: &SledStore,
    subs: &Arc<Vec<String>>,
    publishers: usize,
    events: usize,
    rate: Option<u64>,
) -> (Vec<Duration>, Duration) {
    let per_task = events / publishers;
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..publishers {
        let store = store.clone();
        let subs = Arc::clone(subs);
        handles.push(tokio::spawn(async move {
            let interval = rate.map(|r| Duration::from_secs_f64(publishers as f64 / r as f64));
            let mut latencies = Vec::with_capacity(per_task);
            let t0 = Instant::now();
            for i in 0..per_task {
                if let Some(interval) = interval {
                    let at = t0 + interval * i as u32;
                    tokio::time::sleep_until(at.into()).await;
                }
                let n = task * per_task + i + rate.map_or(0, |_| 1 << 30);
                let sent = Instant::now();
                let out = store.publish("acme", event(n), &subs).await.unwrap();
                latencies.push(sent.elapsed());
                assert_eq!(out.dispatch_ids.len(), SUBSCRIPTIONS);
            }
            latencies
        }));
    }
    let mut all = Vec::with_capacity(events);
    for h in handles {
        all.extend(h.await.unwrap());
    }
    (all, started.elapsed())
}

fn report(
    label: &str,
    mut latencies: Vec<Duration>,
    wall: Duration,
    flushes: u64,
    flush_time: Duration,
) {
    latencies.sort();
    let n = latencies.len();
    let pct = |p: f64| latencies[((n as f64 * p) as usize).min(n - 1)];
    let per_s = n as f64 / wall.as_secs_f64();
    println!(
        "{label:<28} {n:>6} events in {:>6.2} s: {:>7.0} publishes/s, {:>8.0} dispatches/s; ack p50 {:>7.3} ms, p99 {:>7.3} ms, max {:>7.3} ms; {flushes} flushes ({:.1} publishes/flush, mean flush {:.3} ms)",
        wall.as_secs_f64(),
        per_s,
        per_s * SUBSCRIPTIONS as f64,
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies[n - 1].as_secs_f64() * 1e3,
        n as f64 / flushes.max(1) as f64,
        flush_time.as_secs_f64() * 1e3 / flushes.max(1) as f64,
    );
}

/// Publish, claim and finish `events` events' dispatches phase by phase; prints the
/// store's time per dispatch in each phase.
async fn phases(events: usize) {
    let (_dir, store, subs) = setup().await;
    let dispatches = events * SUBSCRIPTIONS;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / dispatches as f64;
    let started = Instant::now();
    for n in 0..events {
        store.publish("acme", event(n), &subs).await.unwrap();
    }
    let publish = started.elapsed();
    let all = |_: &ClaimCandidate<'_>| true;
    let later = Timestamp::now().saturating_add(Duration::from_secs(1));
    let lease = Duration::from_secs(60);
    let (mut claim, mut finish, mut ended) = (Duration::ZERO, Duration::ZERO, 0usize);
    loop {
        let t = Instant::now();
        let batch = store.claim_due(later, 64, lease, &all).await.unwrap();
        claim += t.elapsed();
        if batch.is_empty() {
            break;
        }
        let t = Instant::now();
        let ends = batch.iter().map(|d| {
            let outcome = FinishOutcome {
                status: TerminalStatus::Delivered,
                last_error: None,
                finished_at: Timestamp::now(),
                duration_ms: 1,
                fuel_used: Some(1000),
                peak_memory_bytes: Some(65536),
                commit_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
                output_excerpt: None,
            };
            store.finish("acme", &d.id, outcome)
        });
        for end in futures::future::join_all(ends).await {
            end.unwrap();
            ended += 1;
        }
        finish += t.elapsed();
    }
    assert_eq!(ended, dispatches);
    println!(
        "phases, {events} events x {SUBSCRIPTIONS}: per dispatch publish {:.1} us (1 publisher), claim {:.1} us (batches of 64), finish {:.1} us (batch ends concurrently); {} flushes",
        per(publish),
        per(claim),
        per(finish),
        store.flush_count(),
    );
}

async fn bench() {
    phases(2_000).await;
    println!(
        "store_publish: {SUBSCRIPTIONS} subscriptions per event, durable (group-committed) acks"
    );
    for publishers in [1usize, 8, 32, 128] {
        let (_dir, store, subs) = setup().await;
        let events = if publishers == 1 {
            SATURATED_EVENTS / 4
        } else {
            SATURATED_EVENTS
        };
        let (before, time_before) = (store.flush_count(), store.flush_time());
        let (lat, wall) = run(&store, &subs, publishers, events, None).await;
        report(
            &format!("saturated, {publishers} publishers"),
            lat,
            wall,
            store.flush_count() - before,
            store.flush_time() - time_before,
        );
    }
    let (_dir, store, subs) = setup().await;
    let (before, time_before) = (store.flush_count(), store.flush_time());
    let (lat, wall) = run(&store, &subs, 16, PACED_EVENTS, Some(PACED_RATE)).await;
    report(
        &format!("paced {PACED_RATE}/s, 16 publishers"),
        lat,
        wall,
        store.flush_count() - before,
        store.flush_time() - time_before,
    );
}
