//! Session-hook invocation cost: the same hook three ways, in one run.
//!
//! `cargo bench -p runbox --bench hook_invocation` (release). The hook reads hoop's
//! payload and prints `payload_len=<bytes>`:
//! - **runbox**: the hook as a component taken from the repository snapshot; one
//!   invocation = build hoop's payload + run it in the sandbox (new store, instantiate from
//!   the cached `InstancePre`, call, drop). Written two ways: the hoop way, a plain
//!   `wasi:cli/command` reading `HOOP_RUNBOOK_HOOK_PAYLOAD` (fixture `hook-payload-len`, as
//!   `hoop-hooks/session-open`), and with the SDK, reading the same text from its
//!   invocation (fixture `sdk-hook-payload-len`, as `hoop-hooks/session-close`). Also the
//!   whole `Runtime::session_opened` path until the run is recorded durably (journal flush).
//! - **python3**: `python3 -c <script>` spawned per event with the payload in the
//!   environment (what hoop users run today);
//! - **native**: `sh -c 'echo payload_len=${#HOOP_RUNBOOK_HOOK_PAYLOAD}'` spawned per event
//!   (a native process doing the same).
//!
//! Prints p50/p99 and the ratios. Target (issue 6): runbox >= 1000x faster than python3,
//! >= 20x faster than a native spawn, p50 under 50 µs.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/repo_common/mod.rs"]
mod repo_common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use repo_common::{ORG, SourceRepo, fixture};
use runbox::hooks::payload::{ConnectionFacts, HookPayload};
use runbox::host::{Capabilities, HookKind, Invocation, Limits, PAYLOAD_ENV, RunRequest, Trigger};
use runbox::repo::RunbookHandle;
use runbox::{EngineSettings, HookSettings, RepoConfig, Runtime, SessionInfo};

/// See the `mimalloc` feature in `runtime/Cargo.toml` for why: `runbox serve` runs hooks
/// with it, so the hook is measured with it too.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
const RUNBOX_RUNS: usize = 5_000;
const E2E_RUNS: usize = 300;
const NATIVE_RUNS: usize = 300;
const PYTHON_RUNS: usize = 60;

const PYTHON: &str =
    "import os\nprint('payload_len=%d' % len(os.environ['HOOP_RUNBOOK_HOOK_PAYLOAD'].encode()))\n";
const SHELL: &str = "echo payload_len=${#HOOP_RUNBOOK_HOOK_PAYLOAD}";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

fn session(sid: &str) -> SessionInfo {
    SessionInfo {
        sid: sid.into(),
        verb: "exec".into(),
        user_email: "alex.morgan@acme.com".into(),
        connection_name: "pg-prod".into(),
        connection_type: Some("database".into()),
        connection_subtype: Some("postgres".into()),
        connection_reviewers: vec!["dba-team".into()],
        input: "SELECT 1".into(),
        command: vec!["python3".into()],
        input_file: String::new(),
    }
}

struct Stats {
    p50: Duration,
    p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stats {
        p50: at(0.5),
        p99: at(0.99),
    }
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.1} µs")
    }
}

/// One sandboxed hook invocation as the runner does it.
async fn invoke(rt: &Runtime, handle: &RunbookHandle, n: usize) -> Duration {
    let started = Instant::now();
    let payload = HookPayload::open(
        &session(&format!("s{n}")),
        &ConnectionFacts::default(),
        false,
    );
    let request = RunRequest {
        invocation: Invocation {
            dispatch_id: payload.id.clone(),
            attempt: 1,
            trigger: Trigger::Hook(HookKind::SessionOpen),
            payload: payload.to_json(),
            params: "{}".into(),
            connection: None,
        },
        limits: Limits::default(),
        capabilities: Capabilities::default(),
    };
    let outcome = rt.engine().run(handle.prepared(), request).await;
    let elapsed = started.elapsed();
    assert!(outcome.is_ok(), "{outcome:?}");
    elapsed
}

fn spawn(cmd: &mut Command, payload: &str) -> Duration {
    let started = Instant::now();
    let out = cmd
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env(PAYLOAD_ENV, payload)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        out.status.success() && out.stdout.starts_with(b"payload_len="),
        "{out:?}"
    );
    elapsed
}

async fn bench() {
    let tmp = tempfile::tempdir().unwrap();
    let source = SourceRepo::init(&tmp.path().join("runbooks.git"));
    let plain = fixture(runbox_fixtures::fixtures::HOOK_PAYLOAD_LEN);
    let sdk = fixture(runbox_fixtures::fixtures::SDK_HOOK_PAYLOAD_LEN);
    source.commit(
        "main",
        &[
            ("hoop-hooks/session-open.runbook.wasm", &plain),
            ("hoop-hooks/session-close.runbook.wasm", &sdk),
        ],
        "hooks",
    );
    let rt = Arc::new(
        Runtime::builder()
            .data_dir(tmp.path().join("data"))
            .repository(
                ORG,
                RepoConfig::new(source.file_url()).with_hook_config_ttl(300),
            )
            .engine_settings(EngineSettings::default())
            .workers(0)
            .hook_settings(HookSettings::default())
            .build()
            .await
            .unwrap(),
    );
    let hooks = rt.repositories().hooks(ORG).await.unwrap().unwrap();
    let open = hooks.get(HookKind::SessionOpen).unwrap().clone().unwrap();
    let close = hooks.get(HookKind::SessionClose).unwrap().clone().unwrap();
    let sample = HookPayload::open(&session("s0"), &ConnectionFacts::default(), false).to_json();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "machine: {} cores, load average {}; payload {} bytes",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        sample.len()
    );

    for n in 0..200 {
        invoke(&rt, &open, n).await;
        invoke(&rt, &close, n).await;
    }
    let mut plain_samples = Vec::with_capacity(RUNBOX_RUNS);
    let mut sdk_samples = Vec::with_capacity(RUNBOX_RUNS);
    for n in 0..RUNBOX_RUNS {
        plain_samples.push(invoke(&rt, &open, n).await);
        sdk_samples.push(invoke(&rt, &close, n).await);
    }
    let mut e2e = Vec::with_capacity(E2E_RUNS);
    for n in 0..E2E_RUNS {
        let started = Instant::now();
        let run = rt
            .session_opened(ORG, session(&format!("e{n}")))
            .wait()
            .await
            .unwrap();
        e2e.push(started.elapsed());
        assert!(run.is_ok(), "{run:?}");
    }
    let mut native = Vec::with_capacity(NATIVE_RUNS);
    for _ in 0..NATIVE_RUNS {
        native.push(spawn(Command::new("sh").args(["-c", SHELL]), &sample));
    }
    let mut python = Vec::with_capacity(PYTHON_RUNS);
    for _ in 0..PYTHON_RUNS {
        python.push(spawn(Command::new("python3").args(["-c", PYTHON]), &sample));
    }

    let plain = stats(plain_samples);
    let sdk = stats(sdk_samples);
    let rows = [
        (
            "runbox: plain-command hook, hoop style (payload + sandboxed run)",
            plain.p50,
            plain.p99,
            RUNBOX_RUNS,
        ),
        (
            "runbox: SDK hook (same path)",
            sdk.p50,
            sdk.p99,
            RUNBOX_RUNS,
        ),
        (
            "runbox: session_opened -> run recorded (durable)",
            stats(e2e.clone()).p50,
            stats(e2e).p99,
            E2E_RUNS,
        ),
        (
            "native process per event (sh -c)",
            stats(native.clone()).p50,
            stats(native.clone()).p99,
            NATIVE_RUNS,
        ),
        (
            "python3 process per event",
            stats(python.clone()).p50,
            stats(python.clone()).p99,
            PYTHON_RUNS,
        ),
    ];
    println!("| hook | p50 | p99 | runs |");
    println!("|---|---|---|---|");
    for (name, p50, p99, n) in rows {
        let p99 = if p99.is_zero() { "-".into() } else { fmt(p99) };
        println!("| {name} | {} | {p99} | {n} |", fmt(p50));
    }
    let python = stats(python).p50;
    let native = stats(native).p50;
    for (name, runbox) in [("plain-command", &plain), ("SDK", &sdk)] {
        let ratio = |other: Duration| other.as_secs_f64() / runbox.p50.as_secs_f64();
        println!(
            "ratios (p50, vs the runbox {name} hook): python3 {:.0}x, native spawn {:.0}x (targets: >= 1000x, >= 20x); p50 under 50 µs: {}",
            ratio(python),
            ratio(native),
            if runbox.p50 < Duration::from_micros(50) {
                "met"
            } else {
                "not met"
            }
        );
    }
}
