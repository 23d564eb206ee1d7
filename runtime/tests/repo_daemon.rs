//! Over a real network transport: `git daemon` on loopback, started and stopped by the test.
#![allow(clippy::unwrap_used)]

mod repo_common;

use repo_common::*;
use runbox_fixtures::fixtures;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_and_follows_a_repository_served_by_git_daemon_and_survives_its_loss() {
    let world = World::new();
    let base = world.tmp.path().join("served");
    let source = SourceRepo::init(&base.join("acme").join("runbooks.git"));
    let noop = fixture(fixtures::NOOP);
    let typed = fixture(fixtures::TYPED_PARAMS);
    let c1 = source.commit(
        "master",
        &[
            ("ops/noop.runbook.wasm", &noop),
            ("hoop-hooks/session-close.runbook.wasm", &noop),
        ],
        "one",
    );
    let mut daemon = GitDaemon::start(&base);
    let url = daemon.url("acme/runbooks.git");
    let key = world.add(&url);
    assert_eq!(key, "127.0.0.1/acme/runbooks");

    let handle = world
        .repos
        .get(ORG, &key, "ops/noop.runbook.wasm")
        .await
        .unwrap();
    assert_eq!(handle.commit, c1);
    assert_eq!(run(&world.engine, &handle, "{}").await.output(), Some("ok"));
    let hooks = world.repos.hooks(ORG).await.unwrap().unwrap();
    assert!(hooks.session_open.is_none() && hooks.session_close.is_some());

    // A new commit over the network.
    let c2 = source.commit(
        "master",
        &[
            ("ops/noop.runbook.wasm", &noop),
            ("ops/typed.runbook.wasm", &typed),
        ],
        "two",
    );
    assert_eq!(world.repos.refresh(ORG, &key).await.unwrap().commit(), c2);
    let typed_handle = world
        .repos
        .get(ORG, &key, "ops/typed.runbook.wasm")
        .await
        .unwrap();
    assert_eq!(typed_handle.info().unwrap().params.len(), 3);

    // The daemon goes away: the error names the repository and the cause, and the last
    // good snapshot keeps serving.
    daemon.stop();
    source.commit("master", &[("ops/noop.runbook.wasm", &noop)], "three");
    let err = world.repos.refresh(ORG, &key).await.unwrap_err();
    assert_eq!(err.code(), "fetch_failed");
    let text = err.to_string();
    assert!(text.contains(&key), "{text}");
    assert!(text.to_lowercase().contains("connect"), "{text}");
    let still = world
        .repos
        .get(ORG, &key, "ops/typed.runbook.wasm")
        .await
        .unwrap();
    assert_eq!(still.commit, c2);
    let status = world.repos.status_of(ORG, &key).unwrap();
    assert_eq!(status.commit.as_deref(), Some(c2.as_str()));
    assert!(status.last_error.is_some());
}
