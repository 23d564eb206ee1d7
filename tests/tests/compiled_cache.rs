//! The compiled-artifact cache across engine restarts: hits, refused corrupt entries.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use runbox::{ArtifactCache, CacheOutcome, Engine, EngineSettings};
use runbox_fixtures::fixtures;

fn engine_at(dir: &std::path::Path) -> Engine {
    let settings = EngineSettings {
        max_instances: 8,
        ..EngineSettings::default()
    };
    Engine::new(&settings, ArtifactCache::at(dir)).unwrap()
}

#[tokio::test]
async fn restart_hits_the_cache_and_never_recompiles() {
    let dir = tempfile::tempdir().unwrap();
    let wasm: Arc<[u8]> = Arc::from(std::fs::read(fixtures::ECHO_PARAMS).unwrap());

    let first = engine_at(dir.path());
    let loaded = first
        .load("echo", wasm.clone(), None, usize::MAX)
        .await
        .unwrap();
    assert!(matches!(
        loaded.cache_outcome(),
        CacheOutcome::Compiled { .. }
    ));
    assert_eq!(first.cache().stats().compiles, 1);
    drop(first);

    let second = engine_at(dir.path());
    let loaded = second.load("echo", wasm, None, usize::MAX).await.unwrap();
    assert!(matches!(loaded.cache_outcome(), CacheOutcome::Hit { .. }));
    let stats = second.cache().stats();
    assert_eq!((stats.hits, stats.compiles, stats.rejected), (1, 0, 0));
    assert!(
        loaded.info().is_some(),
        "metadata available from a cached artifact"
    );
}

#[tokio::test]
async fn corrupt_or_foreign_entries_are_recompiled_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let wasm: Arc<[u8]> = Arc::from(std::fs::read(fixtures::NOOP).unwrap());
    let engine = engine_at(dir.path());
    engine
        .load("noop", wasm.clone(), None, usize::MAX)
        .await
        .unwrap();
    let entry_dir = engine.cache().dir().unwrap().to_path_buf();
    let entry = std::fs::read_dir(&entry_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();

    // Flip a byte in the middle of the compiled code.
    let mut bytes = std::fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entry, &bytes).unwrap();
    let restarted = engine_at(dir.path());
    let loaded = restarted
        .load("noop", wasm.clone(), None, usize::MAX)
        .await
        .unwrap();
    assert!(matches!(
        loaded.cache_outcome(),
        CacheOutcome::Compiled { .. }
    ));
    assert_eq!(restarted.cache().stats().rejected, 1);

    // The rewritten entry is good again.
    let again = engine_at(dir.path());
    let loaded = again
        .load("noop", wasm.clone(), None, usize::MAX)
        .await
        .unwrap();
    assert!(matches!(loaded.cache_outcome(), CacheOutcome::Hit { .. }));

    // A file that is not ours at all (same name) is refused too.
    std::fs::write(&entry, b"#!/bin/sh\necho not an artifact\n").unwrap();
    let foreign = engine_at(dir.path());
    let loaded = foreign.load("noop", wasm, None, usize::MAX).await.unwrap();
    assert!(matches!(
        loaded.cache_outcome(),
        CacheOutcome::Compiled { .. }
    ));
    assert_eq!(foreign.cache().stats().rejected, 1);
}
