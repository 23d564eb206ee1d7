//! `runbox run` and `runbox inspect` as a user runs them: the real binary on real fixtures.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use runbox_fixtures::fixtures;
use serde_json::Value;

fn runbox(args: &[&str], cache: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_runbox"))
        .args(args)
        .env("RUNBOX_CACHE_DIR", cache)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn run_json(args: &[&str]) -> (i32, Value) {
    let cache = tempfile::tempdir().unwrap();
    let mut all = vec!["run", "--json"];
    all.extend_from_slice(args);
    let out = runbox(&all, cache.path());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?} stderr {:?}",
            out.stdout,
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), json)
}

#[test]
fn run_success_prints_output_and_figures_and_exits_zero() {
    let (code, out) = run_json(&[
        fixtures::ECHO_PARAMS,
        "--param",
        "text=db-1",
        "--param",
        "count:=3",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["status"], "success");
    let output: Value = serde_json::from_str(out["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["params"]["count"], 3);
    assert!(out["usage"]["fuel_used"].as_u64().unwrap() > 0);
    assert!(out["usage"]["peak_memory_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn run_reports_each_limit_code_and_exits_one() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            fixtures::INFINITE_LOOP,
            &["--fuel", "20000000"],
            "fuel_exhausted",
        ),
        (
            fixtures::INFINITE_LOOP,
            &["--fuel", "100000000000000", "--timeout", "200ms"],
            "deadline_exceeded",
        ),
        (
            fixtures::UNBOUNDED_ALLOC,
            &["--memory", "16MiB"],
            "memory_limit",
        ),
        (fixtures::DEEP_RECURSION, &[], "stack_overflow"),
        (fixtures::PANICS, &[], "guest_panic"),
        (fixtures::GUEST_ERROR, &[], "guest_error"),
        (
            fixtures::TYPED_PARAMS,
            &["--param", "target=x"],
            "param_missing",
        ),
        (
            fixtures::BLOCKED_HOST_CALL,
            &["--param", "mode=sleep", "--timeout", "300ms"],
            "deadline_exceeded",
        ),
        (
            fixtures::HTTP_POST,
            &["--param", "url=http://evil.example.net/"],
            "policy_denied",
        ),
        (
            fixtures::PLAIN_EXIT,
            &[
                "--param",
                "TARGET=fail",
                "--sidecar",
                fixtures::PLAIN_EXIT_SIDECAR,
            ],
            "exit_nonzero",
        ),
    ];
    for (file, extra, expected) in cases {
        let mut args = vec![*file];
        args.extend_from_slice(extra);
        let (code, out) = run_json(&args);
        assert_eq!(code, 1, "{file} {extra:?}: {out}");
        assert_eq!(out["status"], "failed");
        assert_eq!(out["error"]["code"], *expected, "{file} {extra:?}: {out}");
        assert!(!out["error"]["message"].as_str().unwrap().is_empty());
        assert!(out["usage"]["duration_ms"].as_f64().is_some(), "{out}");
    }
}

#[test]
fn run_human_output_names_code_and_figures() {
    let cache = tempfile::tempdir().unwrap();
    let out = runbox(
        &["run", fixtures::INFINITE_LOOP, "--fuel", "10000000"],
        cache.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("code       fuel_exhausted"), "{text}");
    assert!(
        text.contains("fuel       10000000 used of 10000000"),
        "{text}"
    );
    assert!(text.contains("memory "), "{text}");
    assert!(text.contains("duration "), "{text}");
}

#[test]
fn run_repeat_prints_percentiles() {
    let (code, out) = run_json(&[fixtures::NOOP, "--repeat", "50"]);
    assert_eq!(code, 0);
    assert_eq!(out["timings"]["runs"], 50);
    assert!(out["timings"]["p50"].as_f64().unwrap() > 0.0);
    assert!(out["timings"]["p99"].as_f64().unwrap() >= out["timings"]["p50"].as_f64().unwrap());
}

#[test]
fn bad_input_is_a_clear_error_with_exit_two() {
    let cache = tempfile::tempdir().unwrap();
    let out = runbox(&["run", "/nonexistent/x.wasm"], cache.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/x.wasm"));

    let out = runbox(&["run", fixtures::NOOP, "--param", "novalue"], cache.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("name=value"));

    let out = runbox(&["run", fixtures::NOOP, "--memory", "lots"], cache.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lots"));
}

#[test]
fn inspect_shows_kind_imports_and_params() {
    let cache = tempfile::tempdir().unwrap();
    let out = runbox(&["inspect", "--json", fixtures::TYPED_PARAMS], cache.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "runbook");
    let params = json["info"]["params"].as_array().unwrap();
    let count = params.iter().find(|p| p["name"] == "count").unwrap();
    assert_eq!(count["required"], true);
    assert!(
        json["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i.as_str().unwrap().starts_with("runbox:runbook/log"))
    );

    let out = runbox(
        &[
            "inspect",
            fixtures::PLAIN_EXIT,
            "--sidecar",
            fixtures::PLAIN_EXIT_SIDECAR,
        ],
        cache.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Command"), "{text}");
    assert!(text.contains("TARGET"), "{text}");
}

#[test]
fn second_process_loads_from_the_compiled_cache() {
    let cache = tempfile::tempdir().unwrap();
    let first = runbox(&["inspect", "--json", fixtures::NOOP], cache.path());
    let first: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(first["cache"]["source"], "compiled");
    let second = runbox(&["inspect", "--json", fixtures::NOOP], cache.path());
    let second: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(second["cache"]["source"], "hit");
}

/// A git repository (made with the `git` command line, as an author would) holding two
/// runbooks and one broken file.
fn runbook_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("ops")).unwrap();
    std::fs::copy(fixtures::ECHO_PARAMS, root.join("ops/echo.runbook.wasm")).unwrap();
    std::fs::copy(fixtures::TYPED_PARAMS, root.join("typed.runbook.wasm")).unwrap();
    std::fs::write(root.join("broken.runbook.wasm"), b"not wasm").unwrap();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(root)
            .env("GIT_AUTHOR_NAME", "Runbook Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.com")
            .env("GIT_COMMITTER_NAME", "Runbook Author")
            .env("GIT_COMMITTER_EMAIL", "author@example.com")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "runbooks"]);
    dir
}

#[test]
fn repo_list_shows_runbooks_params_and_load_errors() {
    let repo = runbook_repo();
    let data = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_runbox"))
        .args(["repo", "list", path, "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "a file failed to load: {text}");
    assert!(text.contains("ops/echo.runbook.wasm"), "{text}");
    assert!(text.contains("typed.runbook.wasm"), "{text}");
    assert!(text.contains("count"), "params listed: {text}");
    assert!(text.contains("broken.runbook.wasm"), "{text}");
    assert!(
        text.contains("not a WebAssembly binary"),
        "load error named: {text}"
    );
}

#[test]
fn run_takes_a_runbook_from_a_repository() {
    let repo = runbook_repo();
    let data = tempfile::tempdir().unwrap();
    let path = repo.path().to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_runbox"))
        .args([
            "run",
            "--json",
            "--repo",
            path,
            "--file",
            "ops/echo.runbook.wasm",
        ])
        .args([
            "--param",
            "text=from-git",
            "--param",
            "count:=2",
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["commit"].as_str().map(str::len),
        Some(40),
        "commit recorded: {json}"
    );
    let output: Value = serde_json::from_str(json["output"].as_str().unwrap()).unwrap();
    assert_eq!(output["params"]["text"], "from-git");

    let out = Command::new(env!("CARGO_BIN_EXE_runbox"))
        .args([
            "run",
            "--repo",
            path,
            "--file",
            "missing.runbook.wasm",
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("runbook file \"missing.runbook.wasm\" not found in repository"),
        "{err}"
    );
}
