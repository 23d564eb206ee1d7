//! End-to-end event routing throughput: publish -> durable dispatches -> workers -> noop
//! runbook -> `delivered`, with the real `Runtime` on a sled store in a temp data dir.
//!
//! `cargo bench -p runbox --bench routing_throughput` (release). Prints figures; asserts
//! nothing about speed. Every event fans out to 10 active subscriptions of the noop runbook
//! (a real git repository over `file://`) on a connection whose agent is online.
//! - throughput: N events from a few concurrent publishers with W workers running (W = 2
//!   and 4); time until every dispatch is `delivered` (dispatches/s delivered) and until
//!   every publish was acknowledged (events/s acknowledged);
//! - paced: 5,000 events arriving at 1,000 events/s, workers delivering meanwhile: publish
//!   ack p50/p99 (the target is p99 < 5 ms). Arrivals are a Poisson process (independent
//!   events, exponential gaps from a fixed seed) and the load is open: each event is
//!   published by its own task when it arrives, whether or not earlier ones were
//!   acknowledged, so a slow acknowledgement cannot hold back the events after it;
//! - bursts: the same rate as 16 events at once every 16 ms (16 publishers in lock step),
//!   a harsher shape than independent events, reported beside it.
//!
//! Before and after each paced or bursts phase, the disk alone is measured at the phase's
//! rate (`World::disk_sync_floor`): the floor under its acknowledgements, since each waits
//! for at least one such sync.
//!
//! `RUNBOX_BENCH_PHASES=paced,bursts` (or `throughput`) runs only those phases, for
//! repeated comparisons of one figure.
//!
//! Delivery is counted through the per-subscription stats (hourly counters), so polling
//! does not scan dispatches. Every wait is bounded; a bound that is hit is reported.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

mod routing_world;

use std::sync::Arc;
use std::time::{Duration, Instant};

use routing_world::*;
use runbox::Runtime;
use runbox::dispatch::WorkerSettings;

/// See the `mimalloc` feature in `runtime/Cargo.toml` for why.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
const SUBSCRIPTIONS: usize = 10;
const THROUGHPUT_EVENTS: usize = 2_000;
const THROUGHPUT_PUBLISHERS: usize = 8;
const PACED_EVENTS: usize = 5_000;
const PACED_RATE: u64 = 1_000;
const BURST_PUBLISHERS: usize = 16;
/// Syncs of the disk probe run before and after each paced phase, at the phase's rate
/// (2.5 s each, so together as long as the phase: see `World::disk_sync_floor`).
const DISK_PROBES: usize = 2_500;
/// Seed of the paced phase's arrival times, so every run offers the same schedule.
const ARRIVALS_SEED: u64 = 0x5eed_1000;
/// Longest wait for a throughput batch to be delivered.
const DELIVERY_BOUND: Duration = Duration::from_secs(30);
/// Longest wait for the paced run's backlog to drain (reported, not required).
const DRAIN_BOUND: Duration = Duration::from_secs(20);
/// Pause after syncing between phases (see [`settle`]).
const SETTLE: Duration = Duration::from_secs(3);

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "routing_throughput: {cores} cores ({cores} tokio worker threads), {SUBSCRIPTIONS} active subscriptions per event, noop runbook, sled store (durable acks), claim batch {}",
        claim_batch()
    );
    runtime.block_on(bench());
}

/// Dispatches a worker claims at once: the runtime's default, or `RUNBOX_BENCH_CLAIM_BATCH`.
fn claim_batch() -> usize {
    std::env::var("RUNBOX_BENCH_CLAIM_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(WorkerSettings::default().claim_batch)
}

/// Publishes one event numbered `n` and returns its ack latency.
async fn publish_one(rt: &Runtime, n: usize) -> Duration {
    let producer_id = format!("ses_{n:08}:{EVENT}");
    let sent = Instant::now();
    let receipt = rt
        .publish(ORG, EVENT, payload(n), Some(&producer_id))
        .await
        .unwrap();
    let latency = sent.elapsed();
    assert_eq!(receipt.dispatch_ids.len(), SUBSCRIPTIONS);
    latency
}

/// `events` publishes arriving as a Poisson process at `rate` per second, each from its own
/// task (open load); returns every ack latency and the wall time.
async fn publish_poisson(rt: &Arc<Runtime>, events: usize, rate: u64) -> (Vec<Duration>, Duration) {
    let mut gaps = ExponentialGaps::new(ARRIVALS_SEED, rate as f64);
    let started = Instant::now();
    let mut arrival = started;
    let mut handles = Vec::with_capacity(events);
    for n in 0..events {
        arrival += gaps.next();
        tokio::time::sleep_until(arrival.into()).await;
        let rt = Arc::clone(rt);
        handles.push(tokio::spawn(async move { publish_one(&rt, n).await }));
    }
    let mut all = Vec::with_capacity(events);
    for h in handles {
        all.push(h.await.unwrap());
    }
    (all, started.elapsed())
}

/// Exponentially distributed gaps (the arrival times of a Poisson process) from splitmix64,
/// so a run needs no RNG crate and every run offers the same schedule.
struct ExponentialGaps {
    state: u64,
    rate: f64,
}

impl ExponentialGaps {
    fn new(seed: u64, rate: f64) -> Self {
        ExponentialGaps { state: seed, rate }
    }

    fn next(&mut self) -> Duration {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // Uniform in (0, 1]: the top 53 bits, shifted off zero.
        let uniform = ((z >> 11) + 1) as f64 / (1u64 << 53) as f64;
        Duration::from_secs_f64(-uniform.ln() / self.rate)
    }
}

/// `events` publishes from `publishers` tasks (each paced to `rate / publishers` per second
/// when `rate` is set, all in lock step: `publishers` events at once), numbered from
/// `first`; returns every ack latency and the wall time.
async fn publish_all(
    rt: &Arc<Runtime>,
    first: usize,
    publishers: usize,
    events: usize,
    rate: Option<u64>,
) -> (Vec<Duration>, Duration) {
    let per_task = events / publishers;
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..publishers {
        let rt = Arc::clone(rt);
        handles.push(tokio::spawn(async move {
            let interval = rate.map(|r| Duration::from_secs_f64(publishers as f64 / r as f64));
            let mut latencies = Vec::with_capacity(per_task);
            let t0 = Instant::now();
            for i in 0..per_task {
                if let Some(interval) = interval {
                    tokio::time::sleep_until((t0 + interval * i as u32).into()).await;
                }
                latencies.push(publish_one(&rt, first + task * per_task + i).await);
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

/// One warm-up event: fetches the repository, compiles the component, fills the caches.
async fn warm_up(rt: &Arc<Runtime>, subs: &[String]) -> u64 {
    let started = Instant::now();
    publish_all(rt, 1 << 30, 1, 1, None).await;
    let (d, f) = wait_finished(rt, subs, SUBSCRIPTIONS as u64, DELIVERY_BOUND).await;
    assert_eq!(
        (d, f),
        (SUBSCRIPTIONS as u64, 0),
        "warm-up dispatches must be delivered"
    );
    println!(
        "  warm-up: {SUBSCRIPTIONS} dispatches delivered in {:.1} ms",
        ms(started.elapsed())
    );
    d
}

async fn throughput(workers: usize) {
    let world = World::new();
    let settings = WorkerSettings {
        workers,
        claim_batch: claim_batch(),
        ..WorkerSettings::default()
    };
    let (rt, subs) = world.runtime(settings, SUBSCRIPTIONS).await;
    let rt = Arc::new(rt);
    println!("throughput, {workers} workers, {THROUGHPUT_PUBLISHERS} publishers:");
    let base = warm_up(&rt, &subs).await;
    let target = base + (THROUGHPUT_EVENTS * SUBSCRIPTIONS) as u64;
    let started = Instant::now();
    let (lat, acked) = publish_all(&rt, 0, THROUGHPUT_PUBLISHERS, THROUGHPUT_EVENTS, None).await;
    let (at_ack, _) = finished(&rt, &subs).await;
    let (d, f) = wait_finished(&rt, &subs, target, DELIVERY_BOUND).await;
    let wall = started.elapsed();
    let (d, at_ack) = (d - base, at_ack - base);
    let (p50, p99, max) = percentiles(lat);
    println!(
        "  {THROUGHPUT_EVENTS} events acknowledged in {:.2} s: {:.0} events/s ({:.0} dispatches/s created); ack p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms; {at_ack} delivered by then",
        acked.as_secs_f64(),
        THROUGHPUT_EVENTS as f64 / acked.as_secs_f64(),
        (THROUGHPUT_EVENTS * SUBSCRIPTIONS) as f64 / acked.as_secs_f64(),
    );
    let complete = if d + f >= (THROUGHPUT_EVENTS * SUBSCRIPTIONS) as u64 {
        "all"
    } else {
        "BOUND HIT, only"
    };
    println!(
        "  {complete} {d} delivered ({f} failed) {:.2} s after the first publish: {:.0} dispatches/s delivered",
        wall.as_secs_f64(),
        d as f64 / wall.as_secs_f64(),
    );
    rt.shutdown(Duration::from_secs(5)).await;
}

/// How a paced phase offers its events.
#[derive(Clone, Copy)]
enum Arrivals {
    Poisson,
    Bursts,
}

async fn paced(workers: usize, arrivals: Arrivals) {
    let world = World::new();
    let settings = WorkerSettings {
        workers,
        claim_batch: claim_batch(),
        ..WorkerSettings::default()
    };
    let (rt, subs) = world.runtime(settings, SUBSCRIPTIONS).await;
    let rt = Arc::new(rt);
    let shape = match arrivals {
        Arrivals::Poisson => "Poisson arrivals, one task per event".to_string(),
        Arrivals::Bursts => format!("bursts of {BURST_PUBLISHERS} at once"),
    };
    println!(
        "paced {PACED_RATE} events/s ({} dispatches/s), {PACED_EVENTS} events, {shape}, {workers} workers:",
        PACED_RATE as usize * SUBSCRIPTIONS
    );
    let base = warm_up(&rt, &subs).await;
    disk_floor(&world, "before");
    let (lat, wall) = match arrivals {
        Arrivals::Poisson => publish_poisson(&rt, PACED_EVENTS, PACED_RATE).await,
        Arrivals::Bursts => {
            publish_all(&rt, 0, BURST_PUBLISHERS, PACED_EVENTS, Some(PACED_RATE)).await
        }
    };
    let (at_end, _) = finished(&rt, &subs).await;
    let n = lat.len();
    let (p50, p99, max) = percentiles(lat);
    println!(
        "  {n} events in {:.2} s ({:.0} events/s offered): ack p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
    );
    let started = Instant::now();
    let target = base + (n * SUBSCRIPTIONS) as u64;
    let (d, f) = wait_finished(&rt, &subs, target, DRAIN_BOUND).await;
    println!(
        "  {} of {} dispatches delivered when publishing ended; finished {:.2} s later ({} delivered, {f} failed{})",
        at_end - base,
        n * SUBSCRIPTIONS,
        started.elapsed().as_secs_f64(),
        d - base,
        if d + f >= target { "" } else { ", BOUND HIT" },
    );
    rt.shutdown(Duration::from_secs(5)).await;
    disk_floor(&world, "after");
}

/// Prints the disk's own sync latency at the paced rate (`World::disk_sync_floor`): the
/// floor under the phase's acknowledgements, measured alone just before or after it.
fn disk_floor(world: &World, when: &str) {
    let (p50, p99, max) = world.disk_sync_floor(DISK_PROBES, PACED_RATE);
    println!(
        "  disk alone {when} the phase, {DISK_PROBES} syncs at {PACED_RATE}/s one at a time (2 KiB overwrite + fdatasync): p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.1} ms"
    );
}

async fn bench() {
    let phases = std::env::var("RUNBOX_BENCH_PHASES").unwrap_or_default();
    let runs = |phase: &str| phases.is_empty() || phases.split(',').any(|p| p.trim() == phase);
    if runs("throughput") {
        for workers in [2, 4] {
            settle().await;
            throughput(workers).await;
        }
    }
    for (phase, arrivals) in [("paced", Arrivals::Poisson), ("bursts", Arrivals::Bursts)] {
        if runs(phase) {
            for workers in [2, 4] {
                settle().await;
                paced(workers, arrivals).await;
            }
        }
    }
}

/// Lets the disk finish the previous phase's writes (and the discards of its deleted
/// store) before the next phase starts, so a phase measures its own IO, not the last one's.
async fn settle() {
    rustix::fs::sync();
    tokio::time::sleep(SETTLE).await;
}
