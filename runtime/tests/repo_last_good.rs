//! Nothing is lost: a failed fetch or an unusable commit keeps the last good snapshot, and
//! the error (naming the repository and the cause) and the snapshot's age are visible.
#![allow(clippy::unwrap_used)]

mod repo_common;

use std::time::Duration;

use repo_common::*;
use runbox::repo::RepoConfig;
use runbox_fixtures::fixtures;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_remote_keeps_the_last_good_snapshot_with_error_and_age() {
    let world = World::new();
    let source = world.source("r.git");
    let c1 = source.commit(
        "master",
        &[("a.runbook.wasm", &fixture(fixtures::NOOP))],
        "one",
    );
    let key = world.add(&source.file_url());
    world.repos.snapshot(ORG, &key).await.unwrap();
    std::fs::remove_dir_all(&source.dir).unwrap();

    world.clock.advance(Duration::from_secs(90));
    let err = world.repos.refresh(ORG, &key).await.unwrap_err();
    assert_eq!(err.code(), "fetch_failed");
    let text = err.to_string();
    assert!(text.contains(&key), "{text}");
    assert!(text.contains("does not exist"), "{text}");

    // Still served.
    let handle = world.repos.get(ORG, &key, "a.runbook.wasm").await.unwrap();
    assert_eq!(handle.commit, c1);
    assert_eq!(run(&world.engine, &handle, "{}").await.output(), Some("ok"));
    // And visible.
    let status = world.repos.status_of(ORG, &key).unwrap();
    assert_eq!(status.commit.as_deref(), Some(c1.as_str()));
    let last = status.last_error.as_ref().unwrap();
    assert_eq!(last.code, "fetch_failed");
    assert!(last.message.contains("does not exist"));
    assert_eq!(status.snapshot_age, Some(Duration::from_secs(90)));
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["snapshot_age_seconds"], 90.0);
    assert_eq!(json["last_error"]["code"], "fetch_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_commit_is_refused_and_the_fix_is_picked_up() {
    let world = World::new();
    let source = world.source("r.git");
    let noop = fixture(fixtures::NOOP);
    let c1 = source.commit("master", &[("a.runbook.wasm", &noop)], "good");
    let key = world.add(&source.file_url());
    world.repos.snapshot(ORG, &key).await.unwrap();

    // A commit with no runbooks at all.
    let empty = source.commit("master", &[("README.md", b"oops")], "delete everything");
    let err = world.repos.refresh(ORG, &key).await.unwrap_err();
    assert_eq!(err.code(), "unusable_commit");
    let text = err.to_string();
    assert!(text.contains(&key) && text.contains(&empty), "{text}");
    assert!(text.contains("no runbooks"), "{text}");
    assert_eq!(
        world
            .repos
            .get(ORG, &key, "a.runbook.wasm")
            .await
            .unwrap()
            .commit,
        c1
    );

    // A commit where every file fails to load.
    let broken = source.commit(
        "master",
        &[("a.runbook.wasm", CORRUPT), ("b.runbook.wasm", CORE_MODULE)],
        "bad build",
    );
    let err = world.repos.refresh(ORG, &key).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&broken), "{text}");
    assert!(text.contains("none of its 2 runbook files loads"), "{text}");
    assert!(
        text.contains("a.runbook.wasm"),
        "the first error names its file: {text}"
    );
    let served = world.repos.get(ORG, &key, "a.runbook.wasm").await.unwrap();
    assert_eq!(served.commit, c1);
    assert_eq!(run(&world.engine, &served, "{}").await.output(), Some("ok"));

    // The listing shows what is served, the error, and the refused commit's files.
    let listing = world.repos.list(ORG, &key).await.unwrap();
    assert_eq!(listing.snapshot.as_ref().unwrap().commit.sha, c1);
    assert!(listing.status.last_error.is_some());
    let rejected = listing.rejected.as_ref().unwrap();
    assert_eq!(rejected.commit.sha, broken);
    assert!(rejected.files.iter().all(|f| f.error.is_some()));
    assert!(listing.to_human().contains("refused commit"));

    // Refreshing the same broken tip again: same verdict, nothing rebuilt.
    let compiles = world.engine.cache().stats().compiles;
    assert_eq!(world.repos.refresh(ORG, &key).await.unwrap_err(), err);
    assert_eq!(world.engine.cache().stats().compiles, compiles);

    // The fix.
    let fixed = source.commit("master", &[("a.runbook.wasm", &noop)], "fix");
    assert_eq!(
        world.repos.refresh(ORG, &key).await.unwrap().commit(),
        fixed
    );
    let status = world.repos.status_of(ORG, &key).unwrap();
    assert!(status.last_error.is_none());
    assert!(
        world
            .repos
            .list(ORG, &key)
            .await
            .unwrap()
            .rejected
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_gone_after_a_force_push_keeps_the_last_good_snapshot() {
    let world = World::new();
    let source = world.source("r.git");
    let noop = fixture(fixtures::NOOP);
    let c1 = source.commit("master", &[("a.runbook.wasm", &noop)], "one");
    source.commit("release", &[("a.runbook.wasm", &noop)], "other branch");
    let key = world.add(&source.file_url());
    world.repos.snapshot(ORG, &key).await.unwrap();

    source.delete_branch("master");
    let err = world.repos.refresh(ORG, &key).await.unwrap_err();
    assert_eq!(err.code(), "branch_not_found");
    let text = err.to_string();
    assert!(text.contains(&key), "{text}");
    assert!(text.contains("master or main"), "{text}");
    assert!(
        text.contains("release"),
        "lists the branches there are: {text}"
    );
    assert_eq!(
        world
            .repos
            .get(ORG, &key, "a.runbook.wasm")
            .await
            .unwrap()
            .commit,
        c1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_use_errors_name_the_repository_and_cause() {
    let world = World::new();
    let noop = fixture(fixtures::NOOP);

    // Unknown configured branch.
    let source = world.source("a.git");
    source.commit("master", &[("a.runbook.wasm", &noop)], "one");
    let key = world
        .repos
        .add(ORG, RepoConfig::new(source.file_url()).with_branch("prod"))
        .unwrap();
    let err = world
        .repos
        .get(ORG, key.as_str(), "a.runbook.wasm")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(key.as_str()) && text.contains("no branch prod"),
        "{text}"
    );
    assert!(text.contains("master"), "{text}");

    // A repository with no runbooks.
    let bare = world.source("b.git");
    let c = bare.commit("master", &[("docs/readme.md", b"nothing here")], "docs");
    let key = world.add(&bare.file_url());
    let err = world.repos.snapshot(ORG, &key).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&key) && text.contains(&c) && text.contains("no runbooks"),
        "{text}"
    );
    // list still answers, with the error and nothing served.
    let listing = world.repos.list(ORG, &key).await.unwrap();
    assert!(listing.snapshot.is_none());
    assert!(
        listing
            .status
            .last_error
            .unwrap()
            .message
            .contains("no runbooks")
    );

    // An empty repository (no branch at all).
    let empty = world.source("c.git");
    let key = world.add(&empty.file_url());
    let err = world.repos.snapshot(ORG, &key).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&key) && text.contains("branches: none"),
        "{text}"
    );

    // A path that does not exist.
    let missing = world.tmp.path().join("no-such-repo");
    let key = world.add(&missing.display().to_string());
    let err = world.repos.snapshot(ORG, &key).await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    // Readers inside the TTL get the same error without another fetch.
    for _ in 0..3 {
        let again = world
            .repos
            .get(ORG, &key, "a.runbook.wasm")
            .await
            .unwrap_err();
        assert_eq!(again, err);
    }
    assert_eq!(world.repos.status_of(ORG, &key).unwrap().fetches, 1);
    world.clock.advance(Duration::from_secs(60));
    world.repos.snapshot(ORG, &key).await.unwrap_err();
    assert_eq!(world.repos.status_of(ORG, &key).unwrap().fetches, 2);

    // Only `main`: the default falls back to it.
    let main_only = world.source("d.git");
    let on_main = main_only.commit("main", &[("a.runbook.wasm", &noop)], "on main");
    let key = world.add(&main_only.file_url());
    let snapshot = world.repos.snapshot(ORG, &key).await.unwrap();
    assert_eq!(
        (snapshot.branch.as_str(), snapshot.commit.sha.as_str()),
        ("main", on_main.as_str())
    );
}
