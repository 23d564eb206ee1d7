//! What `runbox repo list` and `runbox run --repo --file` call.
#![allow(clippy::unwrap_used)]

mod repo_common;

use repo_common::*;
use runbox::repo::cli_support::{cli_repo_config, list_for_cli, runbook_for_cli};
use runbox_fixtures::fixtures;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repo_list_and_run_from_a_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let source = SourceRepo::init(&tmp.path().join("r.git"));
    let plain = fixture(fixtures::PLAIN_EXIT);
    let sidecar = fixture(fixtures::PLAIN_EXIT_SIDECAR);
    let c1 = source.commit(
        "prod",
        &[
            ("ops/typed.runbook.wasm", &fixture(fixtures::TYPED_PARAMS)),
            ("ops/plain.runbook.wasm", &plain),
            ("ops/plain.runbook.toml", &sidecar),
            ("bad.runbook.wasm", CORE_MODULE),
        ],
        "runbooks on prod",
    );
    let engine = engine(&tmp.path().join("compiled"));
    let data = tmp.path().join("data");
    let no_env = |_: &str| None;

    let config = cli_repo_config(&source.dir.display().to_string(), Some("prod"), no_env);
    let listing = list_for_cli(engine.clone(), &data, config.clone())
        .await
        .unwrap();
    let human = listing.to_human();
    assert!(human.contains(&c1), "{human}");
    assert!(
        human.contains("ops/typed.runbook.wasm  (runbook, runbook,"),
        "{human}"
    );
    assert!(
        human.contains("param target (text, required) — What to act on."),
        "{human}"
    );
    assert!(human.contains("param TARGET (text, required)"), "{human}");
    assert!(
        human.contains("bad.runbook.wasm") && human.contains("ERROR"),
        "{human}"
    );
    assert!(listing.has_errors());
    let json: serde_json::Value = serde_json::from_str(&listing.to_json()).unwrap();
    assert_eq!(json["snapshot"]["branch"], "prod");
    assert_eq!(json["snapshot"]["files"].as_array().unwrap().len(), 3);

    // `run --repo --file`: the handle runs and carries its commit.
    let handle = runbook_for_cli(
        engine.clone(),
        &data,
        config.clone(),
        "ops/typed.runbook.wasm",
    )
    .await
    .unwrap();
    assert_eq!(handle.commit, c1);
    let out = run(&engine, &handle, r#"{"target":"a","count":1}"#).await;
    assert_eq!(out.output(), Some("target=a count=1 mode=fast"));
    let missing = runbook_for_cli(engine.clone(), &data, config, "nope.runbook.wasm")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("runbook file \"nope.runbook.wasm\" not found"),
        "{missing}"
    );

    // Unknown branch: an error, not an empty listing.
    let wrong = cli_repo_config(&source.file_url(), None, no_env);
    let err = list_for_cli(engine, &data, wrong)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no branch master or main (branches: prod)"),
        "{err}"
    );
}

#[test]
fn credentials_come_from_hoop_variable_names_for_the_matching_transport() {
    let env = |name: &str| match name {
        "GIT_USER" => Some("bot".to_string()),
        "GIT_PASSWORD" => Some("pw".to_string()),
        "GIT_SSH_KEY" => Some("KEY".to_string()),
        "GIT_SSH_KNOWN_HOSTS" => Some("h ssh-ed25519 AAAA".to_string()),
        _ => None,
    };
    let https = cli_repo_config("https://h.example/o/r", None, env);
    assert_eq!(https.git_user.as_deref(), Some("bot"));
    assert!(https.git_password.is_some() && https.git_ssh_key.is_none());
    let ssh = cli_repo_config("git@h.example:o/r.git", Some("main"), env);
    assert!(ssh.git_password.is_none() && ssh.git_ssh_key.is_some());
    assert_eq!(
        ssh.git_ssh_known_hosts.as_deref(),
        Some("h ssh-ed25519 AAAA")
    );
    assert_eq!(ssh.branch.as_deref(), Some("main"));
}
