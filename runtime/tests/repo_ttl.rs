//! The TTL cache, on a manual clock: no refetch inside the TTL, one after it, readers that
//! never wait on git, and concurrent refreshes that share one fetch.
#![allow(clippy::unwrap_used)]

mod repo_common;

use std::time::Duration;

use repo_common::*;
use runbox::repo::RefreshReport;
use runbox_fixtures::fixtures;

fn fetches(world: &World, key: &str) -> u64 {
    world.repos.status_of(ORG, key).unwrap().fetches
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refetches_at_most_once_per_ttl() {
    let world = World::new();
    let source = world.source("r.git");
    let noop = fixture(fixtures::NOOP);
    let c1 = source.commit("master", &[("a.runbook.wasm", &noop)], "one");
    let key = world.add(&source.file_url()); // TTL 60 s
    assert_eq!(fetches(&world, &key), 0, "adding does not fetch");

    let first = world.repos.snapshot(ORG, &key).await.unwrap();
    assert_eq!(first.commit.sha, c1);
    assert_eq!(fetches(&world, &key), 1);

    // The remote moves on, but inside the TTL nobody fetches.
    let c2 = source.commit(
        "master",
        &[("a.runbook.wasm", &noop), ("b.runbook.wasm", &noop)],
        "two",
    );
    for _ in 0..5 {
        assert_eq!(
            world.repos.snapshot(ORG, &key).await.unwrap().commit.sha,
            c1
        );
        world.repos.get(ORG, &key, "a.runbook.wasm").await.unwrap();
        world.repos.list(ORG, &key).await.unwrap();
        world.repos.hooks(ORG).await.unwrap();
    }
    world.clock.advance(Duration::from_secs(59));
    assert_eq!(
        world.repos.refresh_if_stale(ORG, &key).await.unwrap(),
        RefreshReport::Fresh { commit: c1.clone() }
    );
    assert!(!world.repos.status_of(ORG, &key).unwrap().stale);
    assert_eq!(fetches(&world, &key), 1);

    // At the TTL: one fetch, the new commit.
    world.clock.advance(Duration::from_secs(1));
    assert!(world.repos.status_of(ORG, &key).unwrap().stale);
    let report = world.repos.refresh_if_stale(ORG, &key).await.unwrap();
    assert_eq!(
        report,
        RefreshReport::Updated {
            from: Some(c1.clone()),
            to: c2.clone(),
            loaded: 2,
            failed: 0
        }
    );
    assert_eq!(fetches(&world, &key), 2);
    assert_eq!(
        world
            .repos
            .refresh_if_stale(ORG, &key)
            .await
            .unwrap()
            .commit(),
        c2
    );
    assert_eq!(fetches(&world, &key), 2);

    // Nothing new after another TTL: fetched, unchanged, snapshot kept as is.
    world.clock.advance(Duration::from_secs(60));
    let before = world.repos.snapshot(ORG, &key).await.unwrap();
    // (that read was stale: it returned at once and scheduled a background refresh)
    assert_eq!(before.commit.sha, c2);
    let after = world.repos.refresh_if_stale(ORG, &key).await.unwrap();
    assert!(
        matches!(
            after,
            RefreshReport::Unchanged { .. } | RefreshReport::Fresh { .. }
        ),
        "{after:?}"
    );
    assert_eq!(
        fetches(&world, &key),
        3,
        "the background and explicit refresh coalesced"
    );
    let same = world.repos.snapshot(ORG, &key).await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&before, &same),
        "an unchanged commit keeps its snapshot"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_read_returns_at_once_and_refreshes_in_the_background() {
    let world = World::new();
    let source = world.source("r.git");
    let noop = fixture(fixtures::NOOP);
    let c1 = source.commit("master", &[("a.runbook.wasm", &noop)], "one");
    let key = world.add(&source.file_url());
    world.repos.snapshot(ORG, &key).await.unwrap();

    // Commit 2 brings components that must be compiled: a slow refresh.
    let mut files: Vec<(String, Vec<u8>)> = vec![("a.runbook.wasm".into(), noop.clone())];
    for i in 0..3 {
        files.push((
            format!("n{i}.runbook.wasm"),
            with_custom_section(&noop, "variant", format!("ttl-{i}").as_bytes()),
        ));
    }
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let c2 = source.commit("master", &refs, "two");
    world.clock.advance(Duration::from_secs(60));

    // While a refresh runs, a reader gets the served snapshot without waiting for it.
    let refresh = world.repos.refresh_if_stale(ORG, &key);
    let reader = async {
        while !world.repos.status_of(ORG, &key).unwrap().refreshing {
            tokio::task::yield_now().await;
        }
        let seen = world
            .repos
            .snapshot(ORG, &key)
            .await
            .unwrap()
            .commit
            .sha
            .clone();
        let still_refreshing = world.repos.status_of(ORG, &key).unwrap().refreshing;
        (seen, still_refreshing)
    };
    let (report, (seen, still_refreshing)) = tokio::join!(refresh, reader);
    assert_eq!(seen, c1, "the reader was served the current snapshot");
    assert!(still_refreshing, "and did so while the refresh was running");
    assert_eq!(report.unwrap().commit(), c2);
    assert_eq!(
        world.repos.snapshot(ORG, &key).await.unwrap().commit.sha,
        c2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_share_one_fetch() {
    let world = World::new();
    let source = world.source("r.git");
    let noop = fixture(fixtures::NOOP);
    source.commit("master", &[("a.runbook.wasm", &noop)], "one");
    let key = world.add(&source.file_url());

    // Four first uses at once: one fetch.
    let (a, b, c, d) = tokio::join!(
        world.repos.snapshot(ORG, &key),
        world.repos.snapshot(ORG, &key),
        world.repos.get(ORG, &key, "a.runbook.wasm"),
        world.repos.list(ORG, &key),
    );
    assert!(a.is_ok() && b.is_ok() && c.is_ok() && d.is_ok());
    assert_eq!(fetches(&world, &key), 1);

    // Four forced refreshes at once: one fetch, one result for all.
    let c2 = source.commit(
        "master",
        &[("a.runbook.wasm", &noop), ("b.runbook.wasm", &noop)],
        "two",
    );
    let (a, b, c, d) = tokio::join!(
        world.repos.refresh(ORG, &key),
        world.repos.refresh(ORG, &key),
        world.repos.refresh(ORG, &key),
        world.repos.refresh(ORG, &key),
    );
    assert_eq!(fetches(&world, &key), 2);
    let a = a.unwrap();
    assert_eq!(a.commit(), c2);
    assert_eq!(
        (b.unwrap(), c.unwrap(), d.unwrap()),
        (a.clone(), a.clone(), a)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_remote_is_not_hammered_inside_the_ttl() {
    let world = World::new();
    let source = world.source("r.git");
    source.commit(
        "master",
        &[("a.runbook.wasm", &fixture(fixtures::NOOP))],
        "one",
    );
    let key = world.add(&source.file_url());
    world.repos.snapshot(ORG, &key).await.unwrap();
    std::fs::remove_dir_all(&source.dir).unwrap();

    world.clock.advance(Duration::from_secs(60));
    assert!(world.repos.refresh_if_stale(ORG, &key).await.is_err());
    assert_eq!(fetches(&world, &key), 2);
    for _ in 0..3 {
        world.repos.get(ORG, &key, "a.runbook.wasm").await.unwrap();
        world.repos.refresh_if_stale(ORG, &key).await.unwrap();
    }
    assert_eq!(
        fetches(&world, &key),
        2,
        "no refetch until the TTL passes again"
    );
}
