//! Discovery and metadata: a real repository served over `file://`, every kind of file a
//! runbook repository holds, good and bad.
#![allow(clippy::unwrap_used)]

mod repo_common;

use repo_common::*;
use runbox::host::{ComponentKind, HookKind, ParamKind};
use runbox::repo::{FileRole, RepoConfig, RepoSettings, Repositories};
use runbox_fixtures::fixtures;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_runbooks_hooks_and_metadata_and_lists_bad_files_with_their_error() {
    let world = World::new();
    let source = world.source("runbooks.git");
    let typed = fixture(fixtures::TYPED_PARAMS);
    let plain = fixture(fixtures::PLAIN_EXIT);
    let sidecar = fixture(fixtures::PLAIN_EXIT_SIDECAR);
    let noop = fixture(fixtures::NOOP);
    let echo = fixture(fixtures::ECHO_PARAMS);
    let other_world = fixture(fixtures::NOT_A_RUNBOOK);
    let commit = source.commit(
        "master",
        &[
            ("ops/typed.runbook.wasm", &typed),
            ("ops/plain.runbook.wasm", &plain),
            ("ops/plain.runbook.toml", &sidecar),
            ("deep/er/still/echo.runbook.wasm", &echo),
            ("hoop-hooks/session-open.runbook.wasm", &noop),
            ("hoop-hooks/session-close.runbook.wasm", &plain),
            ("broken/corrupt.runbook.wasm", CORRUPT),
            ("broken/core-module.runbook.wasm", CORE_MODULE),
            ("broken/other-world.runbook.wasm", &other_world),
            (
                "broken/not-wasm-at-all.runbook.wasm",
                b"#!/bin/sh\necho hi\n",
            ),
            // Not runbooks: ignored.
            ("README.md", b"# runbooks"),
            ("lib/helper.wasm", &noop),
            ("ops/typed.runbook.py", b"print(1)"),
        ],
        "add runbooks",
    );
    let key = world.add(&source.file_url());
    assert!(key.starts_with("local/"), "{key}");

    let listing = world.repos.list(ORG, &key).await.unwrap();
    let snapshot = listing.snapshot.as_ref().unwrap();
    assert_eq!(snapshot.commit.sha, commit);
    assert_eq!(snapshot.commit.author, "Alex Morgan <alex.morgan@acme.com>");
    assert_eq!(snapshot.commit.message, "add runbooks");
    assert!(snapshot.commit.time.ends_with('Z'));
    assert_eq!(snapshot.branch, "master");
    let paths: Vec<&str> = snapshot.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "broken/core-module.runbook.wasm",
            "broken/corrupt.runbook.wasm",
            "broken/not-wasm-at-all.runbook.wasm",
            "broken/other-world.runbook.wasm",
            "deep/er/still/echo.runbook.wasm",
            "hoop-hooks/session-close.runbook.wasm",
            "hoop-hooks/session-open.runbook.wasm",
            "ops/plain.runbook.wasm",
            "ops/typed.runbook.wasm",
        ]
    );
    assert_eq!((snapshot.loaded, snapshot.failed), (5, 4));

    let file = |path: &str| snapshot.files.iter().find(|f| f.path == path).unwrap();
    // Params from the component's describe export.
    let typed_file = file("ops/typed.runbook.wasm");
    assert_eq!(typed_file.kind, Some(ComponentKind::Runbook));
    assert_eq!(typed_file.size, typed.len());
    assert_eq!(
        typed_file.sha256.as_deref(),
        Some(runbox::cache::sha256_hex(&typed).as_str())
    );
    let info = typed_file.info.as_ref().unwrap();
    assert_eq!(info.name, "typed-params");
    let names: Vec<_> = info.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["target", "count", "mode"]);
    let mode = info.params.iter().find(|p| p.name == "mode").unwrap();
    assert!(!mode.required);
    assert_eq!(mode.options, ["fast", "slow"]);
    // The plain command's metadata from its sidecar.
    let plain_file = file("ops/plain.runbook.wasm");
    assert_eq!(plain_file.kind, Some(ComponentKind::Command));
    let plain_info = plain_file.info.as_ref().unwrap();
    assert_eq!(plain_info.name, "plain-exit");
    assert_eq!(plain_info.params[0].name, "TARGET");
    assert_eq!(plain_info.params[0].kind, ParamKind::Text);
    // Same command without a sidecar: loads, no metadata.
    let close = file("hoop-hooks/session-close.runbook.wasm");
    assert_eq!(close.role, FileRole::SessionCloseHook);
    assert!(close.info.is_none() && close.error.is_none());
    assert_eq!(
        file("hoop-hooks/session-open.runbook.wasm").role,
        FileRole::SessionOpenHook
    );

    // Each bad file names itself and its cause; the rest loaded regardless.
    let error = |path: &str| file(path).error.clone().unwrap();
    let corrupt = error("broken/corrupt.runbook.wasm");
    assert!(corrupt.contains("broken/corrupt.runbook.wasm"), "{corrupt}");
    let core = error("broken/core-module.runbook.wasm");
    assert!(core.contains("core wasm module, not a component"), "{core}");
    let other = error("broken/other-world.runbook.wasm");
    assert!(other.contains("broken/other-world.runbook.wasm"), "{other}");
    let script = error("broken/not-wasm-at-all.runbook.wasm");
    assert!(script.contains("not a WebAssembly binary"), "{script}");

    // The human rendering shows params and errors.
    let human = listing.to_human();
    assert!(human.contains("param target (text, required)"), "{human}");
    assert!(human.contains("ERROR"), "{human}");
    assert!(listing.has_errors());
    let json: serde_json::Value = serde_json::from_str(&listing.to_json()).unwrap();
    assert_eq!(json["snapshot"]["commit"]["sha"], commit.as_str());
    assert_eq!(json["status"]["repository"], key.as_str());

    // get() for a run: component, metadata, commit; it runs.
    let handle = world
        .repos
        .get(ORG, &key, "ops/typed.runbook.wasm")
        .await
        .unwrap();
    assert_eq!(handle.commit, commit);
    assert_eq!(handle.info().unwrap().name, "typed-params");
    let outcome = run(&world.engine, &handle, r#"{"target":"db-1","count":2}"#).await;
    assert_eq!(
        outcome.result.as_deref(),
        Ok("target=db-1 count=2 mode=fast"),
        "{outcome:?}"
    );

    // Hooks of the org.
    let hooks = world.repos.hooks(ORG).await.unwrap().unwrap();
    assert_eq!(hooks.commit, commit);
    let open = hooks.get(HookKind::SessionOpen).unwrap().as_ref().unwrap();
    assert_eq!(open.path, "hoop-hooks/session-open.runbook.wasm");
    assert!(hooks.get(HookKind::SessionClose).unwrap().is_ok());

    // hoop's wording for a missing file, and a load error for a broken one.
    let missing = world
        .repos
        .get(ORG, &key, "ops/nope.runbook.wasm")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with(&format!(
            "runbook file \"ops/nope.runbook.wasm\" not found in repository \"{key}\""
        )),
        "{missing}"
    );
    let broken = world
        .repos
        .get(ORG, &key, "broken/core-module.runbook.wasm")
        .await
        .unwrap_err();
    assert_eq!(broken.code(), "invalid_component");
    assert!(broken.to_string().contains(&key), "{broken}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_a_repository_finds_it_and_hooks_need_a_ttl() {
    let world = World::new();
    let source = world.source("r.git");
    source.commit(
        "master",
        &[
            ("a.runbook.wasm", &fixture(fixtures::NOOP)),
            (
                "hoop-hooks/session-open.runbook.wasm",
                &fixture(fixtures::NOOP),
            ),
        ],
        "one",
    );
    // Without hook_config_ttl the repository serves runbooks but no hooks.
    let key = world
        .repos
        .add(ORG, RepoConfig::new(source.file_url()))
        .unwrap();
    assert!(world.repos.hooks(ORG).await.unwrap().is_none());
    for spelling in [
        key.to_string(),
        source.file_url(),
        source.dir.display().to_string(),
        format!("{}/", source.dir.display()),
    ] {
        let handle = world
            .repos
            .get(ORG, &spelling, "a.runbook.wasm")
            .await
            .unwrap();
        assert_eq!(handle.repository, key);
    }
    // Configuring it again (another spelling) replaces it rather than adding a second.
    let again = world
        .repos
        .add(ORG, RepoConfig::new(source.dir.display().to_string()))
        .unwrap();
    assert_eq!(again, key);
    assert_eq!(world.repos.repositories(ORG), std::slice::from_ref(&key));
    assert!(
        world
            .repos
            .get(ORG, key.as_str(), "a.runbook.wasm")
            .await
            .is_ok()
    );
    assert!(world.repos.remove(ORG, &source.file_url()));
    assert!(world.repos.repositories(ORG).is_empty());
    let key = world
        .repos
        .add(ORG, RepoConfig::new(source.file_url()))
        .unwrap();
    // Another org does not see it.
    let other = world
        .repos
        .get("other-org", key.as_str(), "a.runbook.wasm")
        .await
        .unwrap_err();
    assert_eq!(other.code(), "repository_not_configured");
    assert!(other.to_string().contains(key.as_str()), "{other}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_size_cap_is_refused_unread_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let source = SourceRepo::init(&tmp.path().join("r.git"));
    let noop = fixture(fixtures::NOOP);
    let big = with_custom_section(&noop, "padding", &vec![7u8; 256 << 10]);
    source.commit(
        "master",
        &[("small.runbook.wasm", &noop), ("huge.runbook.wasm", &big)],
        "big file",
    );
    let settings = RepoSettings {
        max_file_bytes: noop.len() + 1024,
        ..RepoSettings::new(tmp.path().join("data"))
    };
    let repos = Repositories::new(engine(&tmp.path().join("compiled")), settings).unwrap();
    let key = repos.add(ORG, RepoConfig::new(source.file_url())).unwrap();
    let listing = repos.list(ORG, key.as_str()).await.unwrap();
    let snapshot = listing.snapshot.unwrap();
    let huge = snapshot
        .files
        .iter()
        .find(|f| f.path == "huge.runbook.wasm")
        .unwrap();
    let error = huge.error.as_deref().unwrap();
    assert!(error.contains("huge.runbook.wasm"), "{error}");
    assert!(error.contains("over the"), "{error}");
    assert!(huge.sha256.is_none(), "the file must not have been read");
    assert_eq!(huge.size, big.len());
    assert_eq!(snapshot.loaded, 1);
}
