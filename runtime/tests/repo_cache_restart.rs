//! Compiled artifacts survive a restart: a new engine and registry over the same data and
//! cache directories load every component without compiling anything.
#![allow(clippy::unwrap_used)]

mod repo_common;

use repo_common::*;
use runbox_fixtures::fixtures;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loads_every_component_from_the_compiled_cache() {
    let first = World::new();
    let source = first.source("r.git");
    let noop = fixture(fixtures::NOOP);
    let files: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| {
            (
                format!("ops/n{i}.runbook.wasm"),
                with_custom_section(&noop, "variant", format!("restart-{i}").as_bytes()),
            )
        })
        .chain([(
            "ops/typed.runbook.wasm".to_string(),
            fixture(fixtures::TYPED_PARAMS),
        )])
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let commit = source.commit("master", &refs, "four components");
    let url = source.file_url();
    let key = first.add(&url);
    assert_eq!(
        first
            .repos
            .snapshot(ORG, &key)
            .await
            .unwrap()
            .loaded_count(),
        4
    );
    let stats = first.engine.cache().stats();
    assert_eq!((stats.compiles, stats.hits), (4, 0));

    // "Restart": drop the registry and the engine, keep the directories.
    let World {
        tmp, repos, engine, ..
    } = first;
    drop(repos);
    drop(engine);
    let second = World::over(tmp);
    let key2 = second.add(&url);
    assert_eq!(key2, key);
    let snapshot = second.repos.snapshot(ORG, &key).await.unwrap();
    assert_eq!(snapshot.commit.sha, commit);
    assert_eq!(snapshot.loaded_count(), 4);
    let stats = second.engine.cache().stats();
    assert_eq!(
        stats.compiles, 0,
        "nothing recompiled after the restart: {stats:?}"
    );
    assert_eq!(stats.hits, 4);
    // And they run.
    let handle = second
        .repos
        .get(ORG, &key, "ops/typed.runbook.wasm")
        .await
        .unwrap();
    let out = run(&second.engine, &handle, r#"{"target":"x","count":3}"#).await;
    assert_eq!(out.output(), Some("target=x count=3 mode=fast"));
}
