//! Session-hook invocation cost: the same hook three ways, in one run.
//!
//! `cargo bench -p runbox --bench hook_invocation` (release). The hook reads hoop's
//! payload and prints `payload_len=<bytes>`:
//! - **runbox**: the hook as a component taken from the repository snapshot; one
//!   invocation = build hoop's payload + run it in the sandbox the way session hooks run
//!   (`Engine::run_with_standby`: on the component's standby instance, made ahead from the
//!   cached `InstancePre`; the spent store is dropped and the next standby made once the
//!   run has answered, which the hook runner does in a task of its own and this benchmark
//!   does inline, untimed, before the next invocation). Also measured cold, as dispatches run
//!   (`Engine::run`: new store, instantiate, call and drop, all inline), which is the CPU
//!   one invocation costs. Written two ways: the hoop way, a plain
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
/// Runs per runbox hook: 5,000, or `RUNBOX_BENCH_HOOK_RUNS` (e.g. more to profile the loop).
fn runbox_runs() -> usize {
    std::env::var("RUNBOX_BENCH_HOOK_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}
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

/// How the runbox hook is run.
#[derive(Clone, Copy)]
enum Path {
    /// As session hooks run: on a standby instance, teardown after answering.
    Standby,
    /// Everything inline on a fresh instance.
    Cold,
}

/// One sandboxed hook invocation.
async fn invoke(rt: &Runtime, handle: &RunbookHandle, n: usize, path: Path) -> Duration {
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
    let (outcome, elapsed) = match path {
        Path::Standby => {
            let (outcome, aftercare) = rt
                .engine()
                .run_with_standby(&handle.component, request)
                .await;
            let elapsed = started.elapsed();
            // As the hook runner does after the result, but on this thread (untimed).
            aftercare.finish().await;
            (outcome, elapsed)
        }
        Path::Cold => {
            let outcome = rt.engine().run(handle.prepared(), request).await;
            (outcome, started.elapsed())
        }
    };
    assert!(outcome.is_ok(), "{outcome:?}");
    elapsed
}

/// p50/p99 of the two hooks run `runs` times each along `path`, open and close
/// alternating as real sessions' do (after 200 unmeasured rounds).
async fn measure(
    rt: &Runtime,
    [open, close]: [&RunbookHandle; 2],
    path: Path,
    runs: usize,
) -> (Stats, Stats) {
    for n in 0..200 {
        invoke(rt, open, n, path).await;
        invoke(rt, close, n, path).await;
    }
    let mut opens = Vec::with_capacity(runs);
    let mut closes = Vec::with_capacity(runs);
    for n in 0..runs {
        opens.push(invoke(rt, open, n, path).await);
        closes.push(invoke(rt, close, n, path).await);
    }
    (stats(opens), stats(closes))
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

    let runbox_runs = runbox_runs();
    let (plain, sdk) = measure(&rt, [&open, &close], Path::Standby, runbox_runs).await;
    let (plain_cold, sdk_cold) = measure(&rt, [&open, &close], Path::Cold, runbox_runs).await;
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

    let rows = [
        (
            "runbox: plain-command hook, hoop style (payload + run on a standby instance)",
            plain.p50,
            plain.p99,
            runbox_runs,
        ),
        (
            "runbox: SDK hook (same path)",
            sdk.p50,
            sdk.p99,
            runbox_runs,
        ),
        (
            "runbox: plain-command hook, cold (instantiate + run + teardown inline)",
            plain_cold.p50,
            plain_cold.p99,
            runbox_runs,
        ),
        (
            "runbox: SDK hook, cold",
            sdk_cold.p50,
            sdk_cold.p99,
            runbox_runs,
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
    for (name, runbox) in [
        ("plain-command", &plain),
        ("SDK", &sdk),
        ("cold plain-command", &plain_cold),
        ("cold SDK", &sdk_cold),
    ] {
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
