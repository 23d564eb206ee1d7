//! Snapshot swaps: a run keeps the component (and commit) it started with; deletions and
//! force-pushes are followed.
#![allow(clippy::unwrap_used)]

mod repo_common;

use repo_common::*;
use runbox::repo::RefreshReport;
use runbox_fixtures::fixtures;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_in_flight_keeps_its_component_and_commit_across_a_refresh() {
    let world = World::new();
    let source = world.source("r.git");
    let echo = fixture(fixtures::ECHO_PARAMS);
    let typed = fixture(fixtures::TYPED_PARAMS);
    let c1 = source.commit("master", &[("ops/x.runbook.wasm", &echo)], "echo");
    let key = world.add(&source.file_url());

    let held = world
        .repos
        .get(ORG, &key, "ops/x.runbook.wasm")
        .await
        .unwrap();
    assert_eq!(held.commit, c1);
    let old_snapshot = world.repos.snapshot(ORG, &key).await.unwrap();

    // Commit 2 replaces the runbook with a different component at the same path.
    let c2 = source.commit("master", &[("ops/x.runbook.wasm", &typed)], "typed");
    let params = r#"{"text":"hi","count":1}"#;
    // The held component runs while the refresh swaps the snapshot.
    let (outcome, report) = tokio::join!(
        run(&world.engine, &held, params),
        world.repos.refresh(ORG, &key)
    );
    assert_eq!(report.unwrap().commit(), c2);
    let output: serde_json::Value = serde_json::from_str(outcome.output().unwrap()).unwrap();
    assert_eq!(
        output["params"]["text"], "hi",
        "the echo component ran: {output}"
    );
    assert_eq!(
        held.commit, c1,
        "the handle still reports the commit it came from"
    );

    // Run it again after the swap: still the old component.
    let again = run(&world.engine, &held, params).await;
    assert!(again.output().unwrap().contains("\"params\""), "{again:?}");
    // The old snapshot is intact for whoever holds it.
    assert_eq!(old_snapshot.commit.sha, c1);
    assert!(
        old_snapshot
            .file("ops/x.runbook.wasm")
            .unwrap()
            .component
            .is_ok()
    );

    // New lookups get commit 2's component.
    let fresh = world
        .repos
        .get(ORG, &key, "ops/x.runbook.wasm")
        .await
        .unwrap();
    assert_eq!(fresh.commit, c2);
    assert_eq!(fresh.info().unwrap().name, "typed-params");
    let out = run(&world.engine, &fresh, r#"{"target":"t","count":1}"#).await;
    assert_eq!(out.output(), Some("target=t count=1 mode=fast"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_file_is_gone_with_a_clear_error_and_the_rest_stays() {
    let world = World::new();
    let source = world.source("r.git");
    let noop = fixture(fixtures::NOOP);
    let c1 = source.commit(
        "master",
        &[
            ("keep.runbook.wasm", &noop),
            ("ops/drop.runbook.wasm", &noop),
        ],
        "two files",
    );
    let key = world.add(&source.file_url());
    world
        .repos
        .get(ORG, &key, "ops/drop.runbook.wasm")
        .await
        .unwrap();

    let c2 = source.commit("master", &[("keep.runbook.wasm", &noop)], "remove drop");
    world.repos.refresh(ORG, &key).await.unwrap();
    let err = world
        .repos
        .get(ORG, &key, "ops/drop.runbook.wasm")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "runbook_not_found");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "runbook file \"ops/drop.runbook.wasm\" not found in repository \"{key}\""
        )),
        "{text}"
    );
    assert!(
        text.contains(&c1[..12]) && text.contains(&c2[..12]),
        "{text}"
    );
    assert_eq!(
        world
            .repos
            .get(ORG, &key, "keep.runbook.wasm")
            .await
            .unwrap()
            .commit,
        c2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_push_is_followed() {
    let world = World::new();
    let source = world.source("r.git");
    let noop = fixture(fixtures::NOOP);
    let echo = fixture(fixtures::ECHO_PARAMS);
    source.commit("master", &[("a.runbook.wasm", &noop)], "one");
    let c2 = source.commit(
        "master",
        &[("a.runbook.wasm", &noop), ("b.runbook.wasm", &noop)],
        "two",
    );
    let key = world.add(&source.file_url());
    assert_eq!(
        world.repos.snapshot(ORG, &key).await.unwrap().commit.sha,
        c2
    );

    // History rewritten: the branch now points at an unrelated commit.
    let rewritten = source.force_push("master", &[("c.runbook.wasm", &echo)], "rewritten");
    let report = world.repos.refresh(ORG, &key).await.unwrap();
    assert_eq!(
        report,
        RefreshReport::Updated {
            from: Some(c2),
            to: rewritten.clone(),
            loaded: 1,
            failed: 0
        }
    );
    let snapshot = world.repos.snapshot(ORG, &key).await.unwrap();
    assert_eq!(snapshot.commit.sha, rewritten);
    assert_eq!(snapshot.commit.message, "rewritten");
    let paths: Vec<_> = snapshot.files.keys().cloned().collect();
    assert_eq!(paths, ["c.runbook.wasm"]);
    assert!(world.repos.get(ORG, &key, "a.runbook.wasm").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_component_is_not_reloaded_by_a_refresh() {
    let world = World::new();
    let source = world.source("r.git");
    let noop = fixture(fixtures::NOOP);
    let echo = fixture(fixtures::ECHO_PARAMS);
    source.commit("master", &[("a.runbook.wasm", &noop)], "one");
    let key = world.add(&source.file_url());
    let first = world.repos.get(ORG, &key, "a.runbook.wasm").await.unwrap();
    let stats = world.engine.cache().stats();

    source.commit(
        "master",
        &[("a.runbook.wasm", &noop), ("b.runbook.wasm", &echo)],
        "two",
    );
    world.repos.refresh(ORG, &key).await.unwrap();
    let second = world.repos.get(ORG, &key, "a.runbook.wasm").await.unwrap();
    let after = world.engine.cache().stats();
    // Only b was loaded; a is the very same loaded component.
    assert_eq!(after.compiles + after.hits, stats.compiles + stats.hits + 1);
    assert!(std::ptr::eq(first.prepared(), second.prepared()));
}
