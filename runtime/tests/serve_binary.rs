//! `runbox serve` and `runbox config print` as an operator runs them: the real binary on
//! `127.0.0.1:0` (the bound address read from its stdout), the demo instance, SIGTERM and
//! SIGINT with clean exits, JSON logs, and the config layers seen from outside.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "serve_common/mod.rs"]
mod serve_common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use serve_common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// The binary with a clean environment: no inherited `RUNBOX_*` or `RUST_LOG`.
fn runbox() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runbox"));
    for (name, _) in std::env::vars() {
        if name.starts_with("RUNBOX_") || name == "RUST_LOG" {
            cmd.env_remove(name);
        }
    }
    cmd.kill_on_drop(true);
    cmd
}

/// Starts `runbox serve ARGS` and reads the banner up to the `demo admin` line (or only
/// the first line without the demo). Returns the child, the address and the banner.
async fn start(
    args: &[&str],
    env: &[(&str, &str)],
    demo: bool,
) -> (Child, SocketAddr, Vec<String>) {
    let mut cmd = runbox();
    cmd.arg("serve")
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stdout: ChildStdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let last = !demo || line.starts_with("demo admin");
            banner.push(line);
            if last {
                break;
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(120), read)
        .await
        .is_err()
        || banner.is_empty()
    {
        let _ = child.start_kill();
        let out = child.wait_with_output().await.unwrap();
        panic!(
            "no banner: {banner:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let addr = banner[0]
        .strip_prefix("runbox listening on http://")
        .unwrap_or_else(|| panic!("{banner:?}"))
        .parse()
        .unwrap();
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr, banner)
}

/// The admin token the demo printed.
fn demo_token(banner: &[String]) -> String {
    let line = banner
        .iter()
        .find(|l| l.starts_with("demo admin token"))
        .unwrap_or_else(|| panic!("{banner:?}"));
    let token = line.rsplit(' ').next().unwrap().to_owned();
    assert!(token.starts_with("rbx_"), "{line}");
    token
}

fn signal(child: &Child, name: &str) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args([name, &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the exit and returns (exit code, stderr).
async fn wait(mut child: Child) -> (Option<i32>, String) {
    let mut stderr = child.stderr.take().unwrap();
    let mut text = String::new();
    let status = tokio::time::timeout(Duration::from_secs(60), async {
        let (status, _) = tokio::join!(child.wait(), stderr.read_to_string(&mut text));
        status.unwrap()
    })
    .await
    .expect("exits within 60 s");
    (status.code(), text)
}

fn link_runbooks(dir: &Path) {
    for (path, bytes) in runbook_files() {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_run_in_flight_finish_and_exits_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let runbooks = tmp.path().join("runbooks");
    link_runbooks(&runbooks);
    let data = tmp.path().join("data");
    let (child, addr, banner) = start(
        &[
            "--demo",
            "--demo-runbooks",
            runbooks.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ],
        &[
            ("RUNBOX_WORKERS", "1"),
            ("RUNBOX_ENGINE_MAX_INSTANCES", "8"),
            // The loop runs into the 3 s wall clock, not the fuel budget.
            ("RUNBOX_LIMITS_FUEL", "1000000000000000"),
            ("RUNBOX_LIMITS_TIMEOUT", "3s"),
            ("RUST_LOG", "info"),
        ],
        true,
    )
    .await;
    let repository = banner
        .iter()
        .find_map(|l| l.strip_prefix("demo repository: "))
        .unwrap()
        .to_owned();
    let token = demo_token(&banner);
    let printed = token.clone();
    assert!(
        banner
            .iter()
            .any(|l| l == &format!("demo runbook: {INFINITE}")),
        "{banner:?}"
    );

    let ready = async {
        loop {
            let a = http(addr, "GET", "/readyz", None, None).await;
            if a.status == 200 {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), ready)
        .await
        .expect("ready");

    let body =
        json!({"connection_name": "demo-ops", "repository": repository, "file_name": INFINITE});
    let run = tokio::spawn(async move {
        http(addr, "POST", "/runbooks/exec", Some(&token), Some(&body)).await
    });
    let in_flight = async {
        loop {
            let m = http(addr, "GET", "/metrics", None, None).await;
            if sample(&m.raw, "runbox_runs_in_flight") == Some(1.0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), in_flight)
        .await
        .expect("the run starts");
    let bad = http(addr, "GET", "/runbooks", Some("rbx_fake_s3cret"), None).await;
    assert_eq!(bad.status, 401);
    signal(&child, "-TERM");

    let answer = run.await.unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["output_status"], "failed");
    assert_eq!(
        answer.body["error_code"], "deadline_exceeded",
        "the run ended on its own limit, not cut by the shutdown: {answer:?}"
    );
    let (code, stderr) = wait(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    // Structured logs: every line is a JSON object; start, signal and stop are there.
    let events: Vec<Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    for wanted in [
        "runbox serve listening",
        "SIGTERM received",
        "runbox serve stopped",
    ] {
        assert!(messages.contains(&wanted), "{wanted} not in {messages:?}");
    }
    // 4xx answers are in the access log, tokens never.
    assert!(
        events.iter().any(|e| e["message"] == "request answered"
            && e["status"] == 401
            && e["span"]["path"] == "/runbooks"),
        "{stderr}"
    );
    assert!(!stderr.contains("rbx_fake_s3cret"), "{stderr}");
    assert!(
        !stderr.contains(&printed),
        "the demo token is on stdout only"
    );
    let listening = events
        .iter()
        .find(|e| e["message"] == "runbox serve listening")
        .unwrap();
    assert_eq!(listening["addr"], addr.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_with_the_built_examples_survives_a_restart_and_sigint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let examples = Path::new(runbox_fixtures::examples::REVOKE_AI_AGENT_ACCESS)
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let args = [
        "--demo",
        "--demo-runbooks",
        &examples,
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    let env = [("RUNBOX_ENGINE_MAX_INSTANCES", "8")];
    let mut commits = Vec::new();
    let mut previous_token: Option<String> = None;
    for round in 0..2 {
        let (child, addr, banner) = start(&args, &env, true).await;
        assert!(banner.contains(&"demo org: demo".to_owned()), "{banner:?}");
        let repository = banner
            .iter()
            .find_map(|l| l.strip_prefix("demo repository: "))
            .unwrap()
            .to_owned();
        let token = demo_token(&banner);
        if let Some(old) = previous_token.replace(token.clone()) {
            let a = http(addr, "GET", "/runbooks", Some(&old), None).await;
            assert_eq!(
                a.status, 401,
                "the previous start's token is revoked: {a:?}"
            );
        }
        let list = async {
            loop {
                let a = http(addr, "GET", "/runbooks", Some(token.as_str()), None).await;
                if a.body["repositories"][0]["commit"].is_string() {
                    return a;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let list = tokio::time::timeout(Duration::from_secs(60), list)
            .await
            .expect("loaded");
        let repo = &list.body["repositories"][0];
        commits.push(repo["commit"].as_str().unwrap().to_owned());
        let names: Vec<&str> = repo["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        for example in [
            "runbooks/revoke-ai-agent-access.runbook.wasm",
            "runbooks/quarantine-connection.runbook.wasm",
            "runbooks/page-oncall.runbook.wasm",
            "runbooks/notify-plain.runbook.wasm",
        ] {
            assert!(names.contains(&example), "{example} not in {names:?}");
        }
        // The SIEM forwarder runs as the demo's session-close hook; with no `siem_url`
        // configured its run is recorded with the hook's own error saying so.
        let sid = format!("demo-session-{round}");
        let closed = http(
            addr,
            "POST",
            &format!("/sessions/{sid}/close"),
            Some(token.as_str()),
            Some(&json!({"exit_code": 0})),
        )
        .await;
        assert_eq!(closed.status, 202, "{closed:?}");
        assert_eq!(closed.body["skipped"], false, "{closed:?}");
        let runs = async {
            loop {
                let runs = http(
                    addr,
                    "GET",
                    &format!("/hooks/runs?sid={sid}"),
                    Some(token.as_str()),
                    None,
                )
                .await;
                if runs.body.as_array().is_some_and(|a| !a.is_empty()) {
                    return runs.body[0].clone();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        let run = tokio::time::timeout(Duration::from_secs(60), runs)
            .await
            .expect("the close hook is recorded");
        assert_eq!(run["id"], closed.body["id"], "{run}");
        assert_ne!(run["exit_code"], 0, "{run}");
        assert!(
            run["output"].as_str().unwrap().contains("siem_url"),
            "{run}"
        );
        // The demo connection runs the revoke example through the local agent (`cat`
        // echoes the command it was asked to run).
        let run = http(
            addr,
            "POST",
            "/runbooks/exec",
            Some(token.as_str()),
            Some(&json!({
                "connection_name": "demo-ops",
                "repository": repository,
                "file_name": "runbooks/revoke-ai-agent-access.runbook.wasm",
                "parameters": {"agent_user": "bot@acme.com", "connection_name": "pg-prod"}
            })),
        )
        .await;
        assert_eq!(
            run.body["output_status"], "success",
            "round {round}: {run:?}"
        );
        assert!(
            run.body["output"]
                .as_str()
                .unwrap()
                .contains("revoke-agent-access --user 'bot@acme.com'"),
            "{run:?}"
        );
        // Event routing is on for the demo org.
        let subs = http(
            addr,
            "GET",
            "/event-routing/subscriptions",
            Some(token.as_str()),
            None,
        )
        .await;
        assert_eq!(subs.status, 200, "{subs:?}");
        signal(&child, "-INT");
        let (code, stderr) = wait(child).await;
        assert_eq!(code, Some(0), "{stderr}");
    }
    assert_eq!(
        commits[0], commits[1],
        "an unchanged demo commits nothing new"
    );
}

/// `runbox config print` with a file, env and flags; (exit code, stdout, stderr).
async fn config_print(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = runbox()
        .args(["config", "print"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn config_print_layers_hides_secrets_and_refuses_unknown_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("runbox.toml");
    std::fs::write(
        &file,
        r#"
workers = 3
log_format = "json"

[orgs.acme]
event_routing = true

[[orgs.acme.repositories]]
git_url = "https://bot:url-t0ken-1@github.com/acme/runbooks"
git_password = "pa55-w0rd-2"
git_ssh_keypass = "k3ypass-3"
"#,
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let (code, out, err) = config_print(
        &["--config", f, "--workers", "7"],
        &[("RUNBOX_WORKERS", "5"), ("RUNBOX_LIMITS_TIMEOUT", "4s")],
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    for secret in ["url-t0ken-1", "pa55-w0rd-2", "k3ypass-3"] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{secret} shown: {out}"
        );
    }
    let printed: toml::Table = out.parse().unwrap();
    assert_eq!(
        printed["workers"].as_integer(),
        Some(7),
        "flag > env > file"
    );
    assert_eq!(
        printed["log_format"].as_str(),
        Some("json"),
        "file > default"
    );
    assert_eq!(
        printed["limits"]["timeout"].as_str(),
        Some("4s"),
        "env > default"
    );
    assert_eq!(
        printed["demo"].as_bool(),
        Some(false),
        "a config file means no implicit demo"
    );
    let repo = &printed["orgs"]["acme"]["repositories"][0];
    assert_eq!(repo["git_password"].as_str(), Some("***"));
    assert!(
        repo["git_url"]
            .as_str()
            .unwrap()
            .contains("github.com/acme/runbooks")
    );

    // RUNBOX_CONFIG names the file too.
    let (code, out, _) = config_print(&[], &[("RUNBOX_CONFIG", f)]).await;
    assert_eq!(code, Some(0));
    assert!(out.contains("workers = 3"), "{out}");

    // Unknown keys and variables: exit 2, named, nothing started.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "workers = 2\n[limits]\nfuell = 3\n").unwrap();
    let (code, _, err) = config_print(&["--config", bad.to_str().unwrap()], &[]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("fuell"), "{err}");
    let (code, _, err) = config_print(&[], &[("RUNBOX_WORKES", "3")]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("RUNBOX_WORKES"), "{err}");
    let out = runbox()
        .args([
            "serve",
            "--config",
            bad.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fuell"));
    assert!(out.stdout.is_empty(), "nothing listened");
}

/// The README's demo tour, run as written against the real binary: only the two values a
/// reader fills in (the printed token, the address) are substituted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_demo_tour_runs_as_written() {
    let readme = include_str!("../../README.md");
    let intro = readme
        .find("A short tour of the demo")
        .expect("the tour is in the README");
    let start_block = readme[intro..].find("```sh\n").unwrap() + intro + "```sh\n".len();
    let end_block = readme[start_block..].find("```\n").unwrap() + start_block;
    let tour = &readme[start_block..end_block];
    assert!(
        tour.contains("TOKEN=rbx_...") && tour.contains("localhost:8080"),
        "{tour}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let examples = Path::new(runbox_fixtures::examples::REVOKE_AI_AGENT_ACCESS)
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let data = tmp.path().join("data");
    let (child, addr, banner) = start(
        &[
            "--demo",
            "--demo-runbooks",
            &examples,
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[("RUNBOX_ENGINE_MAX_INSTANCES", "8")],
        true,
    )
    .await;
    let token = demo_token(&banner);
    let script = format!(
        "set -euo pipefail\n{}",
        tour.replace("rbx_...", &token)
            .replace("localhost:8080", &addr.to_string())
    );
    let run = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the tour ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for wanted in [
        r#"{"status":"ready"}"#,
        r#""output_status":"success""#,
        r#""status":"delivered""#,
        r#""status":"failed""#,
        r#""replayed_from""#,
        r#"runbox_dispatches_total{status="delivered"} 1"#,
        r#"runbox_manual_runs_total{outcome="success"} 1"#,
    ] {
        assert!(stdout.contains(wanted), "{wanted} not in {stdout}");
    }
    assert!(!stdout.contains(&token), "the token is never echoed");
    signal(&child, "-TERM");
    let (code, stderr) = wait(child).await;
    assert_eq!(code, Some(0), "{stderr}");
}

/// `runbox token create` and `runbox serve` without `--data-dir` agree on the store: a
/// token made before the start works against the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_and_serve_share_the_default_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg-data");
    let config = tmp.path().join("runbox.toml");
    std::fs::write(&config, "[orgs.acme]\nevent_routing = true\n").unwrap();
    let out = runbox()
        .args(["token", "create", "--org", "acme", "--role", "read-only"])
        .env("XDG_DATA_HOME", &xdg)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (child, addr, _) = start(
        &[
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[
            ("XDG_DATA_HOME", xdg.to_str().unwrap()),
            ("RUNBOX_ENGINE_MAX_INSTANCES", "8"),
        ],
        false,
    )
    .await;
    assert!(xdg.join("runbox/store").is_dir());
    let subs = http(
        addr,
        "GET",
        "/event-routing/subscriptions",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(subs.status, 200, "{subs:?}");
    let denied = http(
        addr,
        "GET",
        "/event-routing/subscriptions",
        Some("rbx_x_y"),
        None,
    )
    .await;
    assert_eq!(denied.status, 401);
    signal(&child, "-TERM");
    let (code, stderr) = wait(child).await;
    assert_eq!(code, Some(0), "{stderr}");
}
