//! Cold start of a runbook repository with 50 components.
//!
//! `cargo bench -p runbox --bench repo_cold_start` (release). Prints figures.
//! - first load: fetch into an empty mirror, discover, compile 50 components, link,
//!   describe each (what a brand-new deployment pays once);
//! - restart to ready: a new engine and registry over the same data and cache directories
//!   (a process restart), until the snapshot is served: fetch (nothing new), discover,
//!   load 50 compiled artifacts from the cache, link, describe. Target: under 200 ms.
//! - refresh, unchanged: a TTL refetch that finds the same commit.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use git2::{Oid, Repository, Signature};
use runbox::repo::{RepoConfig, RepoSettings, Repositories};
use runbox::{ArtifactCache, Engine, EngineSettings};

const COMPONENTS: usize = 50;
const RESTARTS: usize = 7;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let tmp = tempfile::tempdir().unwrap();
    let noop = std::fs::read(runbox_fixtures::fixtures::NOOP).unwrap();
    let source = tmp.path().join("remote.git");
    let url = format!("file://{}", source.display());
    let commit = make_repository(&source, &noop);
    let data = tmp.path().join("data");
    let cache = tmp.path().join("compiled");
    println!(
        "machine: {} cores; repository: {COMPONENTS} distinct components of ~{} KiB each (noop + a custom section)",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        noop.len() / 1024
    );

    // First load: empty mirror, empty compiled cache.
    let started = Instant::now();
    let engine = Engine::new(&EngineSettings::default(), ArtifactCache::at(&cache)).unwrap();
    let engine_ms = ms(started.elapsed());
    let repos = Repositories::new(engine.clone(), RepoSettings::new(&data)).unwrap();
    let key = repos.add("bench", RepoConfig::new(&url)).unwrap();
    let snapshot = repos.snapshot("bench", key.as_str()).await.unwrap();
    let first = started.elapsed();
    assert_eq!(snapshot.commit.sha, commit);
    assert_eq!(
        snapshot.loaded_count(),
        COMPONENTS,
        "every variant must load: {:?}",
        snapshot
            .files
            .values()
            .find_map(|f| f.component.as_ref().err())
    );
    let stats = engine.cache().stats();
    assert_eq!(stats.compiles, COMPONENTS as u64);
    println!(
        "first load (engine {engine_ms:.1} ms + fetch + compile {} components): {:.1} ms",
        stats.compiles,
        ms(first)
    );

    // Refresh that finds nothing new.
    let mut unchanged = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        repos.refresh("bench", key.as_str()).await.unwrap();
        unchanged.push(t.elapsed());
    }
    drop(snapshot);
    drop(repos);
    drop(engine);

    // Restarts: a fresh engine and registry each time, same directories.
    let mut ready = Vec::new();
    let mut engines = Vec::new();
    for _ in 0..RESTARTS {
        let started = Instant::now();
        let engine = Engine::new(&EngineSettings::default(), ArtifactCache::at(&cache)).unwrap();
        let engine_done = started.elapsed();
        let repos = Repositories::new(engine.clone(), RepoSettings::new(&data)).unwrap();
        let key = repos.add("bench", RepoConfig::new(&url)).unwrap();
        let snapshot = repos.snapshot("bench", key.as_str()).await.unwrap();
        let total = started.elapsed();
        assert_eq!(snapshot.loaded_count(), COMPONENTS);
        let stats = engine.cache().stats();
        assert_eq!(stats.compiles, 0, "a restart must not compile");
        assert_eq!(stats.hits, COMPONENTS as u64);
        ready.push(total);
        engines.push(engine_done);
    }
    let (p50, min, max) = summary(&mut ready);
    let (e50, _, _) = summary(&mut engines);
    println!(
        "restart to ready ({COMPONENTS} cache hits, {RESTARTS} runs): median {p50:.1} ms, min {min:.1} ms, max {max:.1} ms (of which engine build median {e50:.1} ms) — target < 200 ms: {}",
        if p50 < 200.0 { "met" } else { "NOT met" }
    );
    let (u50, umin, _) = summary(&mut unchanged);
    println!("refresh, nothing new (fetch + compare): median {u50:.2} ms, min {umin:.2} ms");
}

/// A bare repository whose master has `COMPONENTS` distinct runbooks.
fn make_repository(dir: &Path, noop: &[u8]) -> String {
    let repo = Repository::init_bare(dir).unwrap();
    let mut ops = repo.treebuilder(None).unwrap();
    for i in 0..COMPONENTS {
        let wasm = with_custom_section(noop, "runbox-bench", format!("variant {i}").as_bytes());
        let blob = repo.blob(&wasm).unwrap();
        ops.insert(format!("r{i:02}.runbook.wasm"), blob, 0o100644)
            .unwrap();
    }
    let ops: Oid = ops.write().unwrap();
    let mut root = repo.treebuilder(None).unwrap();
    root.insert("ops", ops, 0o040000).unwrap();
    let tree = repo.find_tree(root.write().unwrap()).unwrap();
    let sig = Signature::now("bench", "bench@example.com").unwrap();
    let id = repo
        .commit(
            Some("refs/heads/master"),
            &sig,
            &sig,
            "50 runbooks",
            &tree,
            &[],
        )
        .unwrap();
    id.to_string()
}

/// The component with a custom section appended (same behaviour, different bytes).
fn with_custom_section(wasm: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    fn leb(out: &mut Vec<u8>, mut n: usize) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut body = Vec::new();
    leb(&mut body, name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    let mut out = wasm.to_vec();
    out.push(0);
    leb(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (median, min, max) in ms.
fn summary(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort_unstable();
    let n = samples.len();
    (ms(samples[n / 2]), ms(samples[0]), ms(samples[n - 1]))
}
