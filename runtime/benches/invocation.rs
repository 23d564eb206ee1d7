//! Per-invocation cost of a trivial runbook, and warm artifact load.
//!
//! `cargo bench -p runbox --bench invocation` (release). Prints figures; asserts nothing.
//! - sequential: new store + instantiate from the cached `InstancePre` + call + drop,
//!   one at a time (p50/p99 over many runs);
//! - parallel: the same from 2 tasks at once (throughput, the machine has 2 cores);
//! - warm load: a compiled artifact loaded from the on-disk cache (deserialize + link +
//!   describe), against a cold compile.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use runbox::host::{Capabilities, Invocation, Limits, RunRequest, Trigger};
use runbox::{ArtifactCache, Engine, EngineSettings};

/// See the `mimalloc` feature in `runtime/Cargo.toml` for why.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
const SEQUENTIAL_RUNS: usize = 20_000;
const PARALLEL_RUNS_PER_TASK: usize = 20_000;
const LOADS: usize = 200;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let wasm: Arc<[u8]> = Arc::from(std::fs::read(runbox_fixtures::fixtures::NOOP).unwrap());
    // The default (pooling, keep-resident, PAGEMAP_SCAN) and, for comparison, on-demand.
    let on_demand = EngineSettings {
        pooling: false,
        ..EngineSettings::default()
    };
    for settings in [EngineSettings::default(), on_demand] {
        let cache_dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(&settings, ArtifactCache::at(cache_dir.path())).unwrap();
        bench_engine(&engine, &wasm).await;
    }
}

async fn bench_engine(engine: &Engine, wasm: &Arc<[u8]>) {
    println!(
        "\n== allocator: {:?}; machine: {} cores; component: {} bytes",
        engine.allocator(),
        cores(),
        wasm.len()
    );

    let cold = Instant::now();
    let component = engine
        .load("noop", wasm.clone(), None, usize::MAX)
        .await
        .unwrap();
    println!(
        "cold load (compile + link + describe): {:.2} ms",
        ms(cold.elapsed())
    );

    let request = || RunRequest {
        invocation: Invocation {
            dispatch_id: "bench".into(),
            attempt: 1,
            trigger: Trigger::Manual,
            payload: "{}".into(),
            params: "{}".into(),
            connection: None,
        },
        limits: Limits::default(),
        capabilities: Capabilities::default(),
    };

    // Warm up, then measure one at a time.
    for _ in 0..1_000 {
        assert!(
            engine
                .run(component.prepared(), request())
                .await
                .result
                .is_ok()
        );
    }
    let mut samples = Vec::with_capacity(SEQUENTIAL_RUNS);
    for _ in 0..SEQUENTIAL_RUNS {
        let started = Instant::now();
        let outcome = engine.run(component.prepared(), request()).await;
        samples.push(started.elapsed());
        assert!(outcome.result.is_ok());
    }
    report("invocation, sequential", &mut samples);

    let started = Instant::now();
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let engine = engine.clone();
            let component = component.clone();
            tokio::spawn(async move {
                for _ in 0..PARALLEL_RUNS_PER_TASK {
                    let outcome = engine.run(component.prepared(), request()).await;
                    assert!(outcome.result.is_ok());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let total = 2 * PARALLEL_RUNS_PER_TASK;
    println!(
        "invocation, 2 tasks: {total} runs in {:.2} s = {:.0} runs/s",
        started.elapsed().as_secs_f64(),
        total as f64 / started.elapsed().as_secs_f64()
    );

    // Warm artifact load: the compiled artifact is on disk now.
    let mut loads = Vec::with_capacity(LOADS);
    for _ in 0..LOADS {
        let started = Instant::now();
        let loaded = engine
            .load("noop", wasm.clone(), None, usize::MAX)
            .await
            .unwrap();
        loads.push(started.elapsed());
        assert!(matches!(
            loaded.cache_outcome(),
            runbox::CacheOutcome::Hit { .. }
        ));
    }
    report(
        "warm load (cache hit: read + verify + deserialize + link + describe)",
        &mut loads,
    );
}

fn report(name: &str, samples: &mut [Duration]) {
    samples.sort_unstable();
    let pick = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "{name}: n={} p50={:.1} µs p99={:.1} µs min={:.1} µs",
        samples.len(),
        us(pick(0.5)),
        us(pick(0.99)),
        us(samples[0])
    );
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
