//! End-to-end: every sandbox behaviour through a real wasm component, asserting the exact
//! error code and that fuel, peak memory and duration are reported.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{engine, invocation, load, run, run_with, tight_limits, with_agent};
use runbox::host::{
    Capabilities, ComponentKind, EgressPolicy, ErrorCode, Limits, RunOutcome, StaticConfig,
};
use runbox_fixtures::fixtures;
use serde_json::{Value, json};

/// The figures are always there, whatever the outcome.
fn assert_figures(outcome: &RunOutcome) {
    let usage = &outcome.usage;
    assert!(usage.fuel_used > 0, "fuel used reported: {usage:?}");
    assert!(usage.fuel_used <= usage.fuel_budget, "{usage:?}");
    assert!(
        usage.peak_memory_bytes > 0,
        "peak memory reported: {usage:?}"
    );
    assert!(
        usage.duration > Duration::ZERO,
        "duration reported: {usage:?}"
    );
}

fn failed(outcome: &RunOutcome) -> &runbox::host::Failure {
    match &outcome.result {
        Ok(output) => panic!("expected a failure, got output {output:?}"),
        Err(failure) => failure,
    }
}

#[tokio::test]
async fn noop_succeeds_with_figures() {
    let engine = engine();
    let component = load(&engine, fixtures::NOOP, None).await;
    assert_eq!(component.kind(), ComponentKind::Runbook);
    let outcome = run(
        &engine,
        &component,
        invocation(json!({}), json!({})),
        Limits::default(),
    )
    .await;
    assert_eq!(outcome.result.as_deref(), Ok("ok"));
    assert_figures(&outcome);
}

#[tokio::test]
async fn echo_params_round_trips_typed_values_and_invocation() {
    let engine = engine();
    let component = load(&engine, fixtures::ECHO_PARAMS, None).await;
    let info = component.info().unwrap();
    let names: Vec<&str> = info.params.iter().map(|p| p.name.as_str()).collect();
    assert!(
        names.contains(&"text") && names.contains(&"count"),
        "declared params: {names:?}"
    );

    let params = json!({"text": "db-1", "count": 3});
    let outcome = run(
        &engine,
        &component,
        invocation(params, json!({"session_id": "ses_1"})),
        Limits::default(),
    )
    .await;
    let output: Value = serde_json::from_str(outcome.result.as_ref().unwrap()).unwrap();
    assert_eq!(output["params"]["text"], json!("db-1"));
    assert_eq!(
        output["params"]["count"],
        json!(3),
        "a number stays a number: {output}"
    );
    assert_eq!(output["dispatch_id"], json!("dsp_test_1"));
    assert_eq!(output["attempt"], json!(1));
    assert_eq!(output["connection"], json!("pg-prod"));
    assert_figures(&outcome);
}

#[tokio::test]
async fn missing_required_param_is_param_missing_naming_it() {
    let engine = engine();
    let component = load(&engine, fixtures::TYPED_PARAMS, None).await;
    let outcome = run(
        &engine,
        &component,
        invocation(json!({"target": "db-1"}), json!({})),
        Limits::default(),
    )
    .await;
    let failure = failed(&outcome);
    assert_eq!(failure.code, ErrorCode::ParamMissing);
    assert!(
        failure
            .message
            .contains("the following inputs are missing [count]"),
        "{}",
        failure.message
    );
    assert!(!failure.retryable);
    assert_figures(&outcome);
}

#[tokio::test]
async fn infinite_loop_exhausts_fuel() {
    let engine = engine();
    let component = load(&engine, fixtures::INFINITE_LOOP, None).await;
    let limits = Limits {
        fuel: 50_000_000,
        timeout: Duration::from_secs(30),
        ..tight_limits()
    };
    let outcome = run(
        &engine,
        &component,
        invocation(json!({}), json!({})),
        limits,
    )
    .await;
    let failure = failed(&outcome);
    assert_eq!(failure.code, ErrorCode::FuelExhausted);
    assert!(
        failure.message.contains("50000000"),
        "budget named: {}",
        failure.message
    );
    assert_eq!(outcome.usage.fuel_used, 50_000_000);
    assert_figures(&outcome);
}

#[tokio::test]
async fn infinite_loop_hits_the_deadline_when_fuel_is_plenty() {
    let engine = engine();
    let component = load(&engine, fixtures::INFINITE_LOOP, None).await;
    let limits = Limits {
        fuel: u64::MAX / 2,
        timeout: Duration::from_millis(300),
        ..tight_limits()
    };
    let started = Instant::now();
    let outcome = run(
        &engine,
        &component,
        invocation(json!({}), json!({})),
        limits,
    )
    .await;
    let failure = failed(&outcome);
    assert_eq!(failure.code, ErrorCode::DeadlineExceeded);
    assert!(
        failure.message.contains("300 ms"),
        "limit named: {}",
        failure.message
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped promptly: {:?}",
        started.elapsed()
    );
    assert_figures(&outcome);
}

#[tokio::test]
async fn unbounded_allocation_hits_the_memory_cap() {
    let engine = engine();
    let component = load(&engine, fixtures::UNBOUNDED_ALLOC, None).await;
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..tight_limits()
    };
    let outcome = run(
        &engine,
        &component,
        invocation(json!({}), json!({})),
        limits,
    )
    .await;
    let failure = failed(&outcome);
    assert_eq!(failure.code, ErrorCode::MemoryLimit, "{failure:?}");
    assert!(
        failure.message.contains(&(16u64 << 20).to_string()),
        "cap named: {}",
        failure.message
    );
    assert!(outcome.usage.peak_memory_bytes <= 16 << 20);
    assert!(
        outcome.usage.peak_memory_bytes > 8 << 20,
        "peak recorded: {:?}",
        outcome.usage
    );
    assert_figures(&outcome);
}

#[tokio::test]
async fn deep_recursion_is_stack_overflow() {
    let engine = engine();
    let component = load(&engine, fixtures::DEEP_RECURSION, None).await;
    let outcome = run(
        &engine,
        &component,
        invocation(json!({}), json!({})),
        tight_limits(),
    )
    .await;
    assert_eq!(
        failed(&outcome).code,
        ErrorCode::StackOverflow,
        "{:?}",
        outcome.result
    );
    assert_figures(&outcome);
}

#[tokio::test]
async fn panic_is_guest_panic_with_its_message() {
    let engine = engine();
    let component = load(&engine, fixtures::PANICS, None).await;
    let outcome = run(
        &engine,
        &component,
        invocation(json!({}), json!({})),
        tight_limits(),
    )
    .await;
    let failure = failed(&outcome);
    assert_eq!(failure.code, ErrorCode::GuestPanic);
    assert!(
        failure.message.contains("fixture panic: boom"),
        "{}",
        failure.message
    );
    assert_figures(&outcome);
}

#[tokio::test]
async fn guest_error_keeps_the_guests_text() {
    let engine = engine();
    let component = load(&engine, fixtures::GUEST_ERROR, None).await;
    let outcome = run(
        &engine,
        &component,
        invocation(json!({}), json!({})),
        tight_limits(),
    )
    .await;
    let failure = failed(&outcome);
    assert_eq!(failure.code, ErrorCode::GuestError);
    assert!(
        failure
            .message
            .contains("database refused the revoke: permission denied"),
        "{}",
        failure.message
    );
    assert!(!failure.retryable);

    let component = load(&engine, fixtures::RETRYABLE_ERROR, None).await;
    let outcome = run(
        &engine,
        &component,
        invocation(json!({}), json!({})),
        tight_limits(),
    )
    .await;
    let failure = failed(&outcome);
    assert_eq!(failure.code, ErrorCode::GuestError);
    assert!(failure.retryable, "retryable flag carried: {failure:?}");
}

#[tokio::test]
async fn output_flood_is_capped_with_hoops_marker() {
    let engine = engine();
    let component = load(&engine, fixtures::OUTPUT_FLOOD, None).await;
    let limits = Limits {
        output_bytes: 4096,
        fuel: 5_000_000_000,
        ..tight_limits()
    };
    let outcome = run(
        &engine,
        &component,
        invocation(json!({}), json!({})),
        limits,
    )
    .await;
    assert!(
        outcome.truncated_bytes > 1_000_000,
        "dropped bytes counted: {}",
        outcome.truncated_bytes
    );
    assert!(
        outcome.console.len() <= 4096 + 64,
        "console capped: {}",
        outcome.console.len()
    );
    assert!(outcome.console.contains(" [truncated "), "marker present");
    if let Ok(text) = &outcome.result {
        assert!(
            text.len() <= 4096 + 64,
            "returned text capped: {}",
            text.len()
        );
        assert!(text.ends_with(" byte(s)]"), "returned text marked");
    }
    assert_figures(&outcome);
}

#[tokio::test]
async fn guest_blocked_in_a_host_call_is_stopped_at_the_deadline() {
    let engine = engine();
    let component = load(&engine, fixtures::BLOCKED_HOST_CALL, None).await;
    for (mode, capabilities) in [("exec", with_agent()), ("sleep", Capabilities::default())] {
        let limits = Limits {
            timeout: Duration::from_millis(400),
            ..tight_limits()
        };
        let started = Instant::now();
        let outcome = run_with(
            &engine,
            &component,
            invocation(json!({"mode": mode}), json!({})),
            limits,
            capabilities,
        )
        .await;
        let failure = failed(&outcome);
        assert_eq!(
            failure.code,
            ErrorCode::DeadlineExceeded,
            "mode {mode}: {failure:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "mode {mode} stopped promptly: {:?}",
            started.elapsed()
        );
        assert!(
            outcome.usage.duration >= Duration::from_millis(400),
            "mode {mode}: {:?}",
            outcome.usage
        );
    }
}

#[tokio::test]
async fn disallowed_outbound_host_is_policy_denied_naming_the_host() {
    let engine = engine();
    let component = load(&engine, fixtures::HTTP_POST, None).await;
    let egress = EgressPolicy::new(["https://siem.example.com"]).unwrap();
    let capabilities = Capabilities {
        egress: Arc::new(egress),
        ..Capabilities::default()
    };
    let params = json!({"url": "http://evil.example.net/collect"});
    let outcome = run_with(
        &engine,
        &component,
        invocation(params, json!({"a": 1})),
        tight_limits(),
        capabilities,
    )
    .await;
    let failure = failed(&outcome);
    assert_eq!(failure.code, ErrorCode::PolicyDenied, "{failure:?}");
    assert!(
        failure.message.contains("evil.example.net"),
        "{}",
        failure.message
    );
    assert_eq!(outcome.denials.len(), 1, "{:?}", outcome.denials);
}

#[tokio::test]
async fn loopback_is_denied_after_dns_unless_its_network_is_allowed() {
    let engine = engine();
    let component = load(&engine, fixtures::HTTP_POST, None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // `localhost` is on the allow-list, but it resolves to loopback, which is private.
    let rule = format!("http://localhost:{port}");
    let egress = EgressPolicy::new([rule]).unwrap();
    let capabilities = Capabilities {
        egress: Arc::new(egress),
        ..Capabilities::default()
    };
    let params = json!({"url": format!("http://localhost:{port}/hook")});
    let outcome = run_with(
        &engine,
        &component,
        invocation(params, json!({})),
        tight_limits(),
        capabilities,
    )
    .await;
    assert_eq!(
        failed(&outcome).code,
        ErrorCode::PolicyDenied,
        "{:?}",
        outcome.result
    );
}

#[tokio::test]
async fn uses_host_interfaces_end_to_end() {
    let engine = engine();
    let component = load(&engine, fixtures::USES_HOST, None).await;
    let config = StaticConfig::new().with("api_token", "s3cr3t-value");
    let capabilities = Capabilities {
        config: Arc::new(config),
        ..with_agent()
    };
    let params = json!({"input": "SELECT 1"});
    let outcome = run_with(
        &engine,
        &component,
        invocation(params, json!({})),
        tight_limits(),
        capabilities,
    )
    .await;
    let output = outcome.result.as_ref().unwrap();
    assert!(
        output.contains("pg-prod: SELECT 1"),
        "exec went through the agent: {output}"
    );
    assert!(
        !output.contains("s3cr3t-value"),
        "the fixture never echoes the secret"
    );
    assert!(
        outcome.logs.len() >= 5,
        "one log line per level: {:?}",
        outcome.logs
    );
    let rendered = format!("{:?}", outcome.logs);
    assert!(!rendered.contains("s3cr3t-value"));
}

#[tokio::test]
async fn plain_command_nonzero_exit_is_exit_nonzero_with_code_and_output() {
    let engine = engine();
    let component = load(
        &engine,
        fixtures::PLAIN_EXIT,
        fixtures::PLAIN_EXIT_SIDECAR.into(),
    )
    .await;
    assert_eq!(component.kind(), ComponentKind::Command);
    let info = component.info().expect("sidecar metadata");
    assert!(info.params.iter().any(|p| p.name == "TARGET"), "{info:?}");

    let outcome = run(
        &engine,
        &component,
        invocation(json!({"TARGET": "fail"}), json!({"a": 1})),
        tight_limits(),
    )
    .await;
    let failure = failed(&outcome);
    assert_eq!(failure.code, ErrorCode::ExitNonzero);
    // WASI 0.2's stable `exit` carries only success/failure, so std's `exit(3)` arrives as 1.
    assert!(
        failure.message.starts_with("runbook exited with code 1: "),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("target=fail"),
        "output included: {}",
        failure.message
    );
    assert_eq!(outcome.exit_code, Some(1));
    assert_figures(&outcome);

    let outcome = run(
        &engine,
        &component,
        invocation(json!({"TARGET": "db-1"}), json!({"a": 1})),
        tight_limits(),
    )
    .await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert_eq!(outcome.exit_code, Some(0));
    assert!(
        outcome.console.contains("db-1"),
        "param reached the env: {}",
        outcome.console
    );
}

#[tokio::test]
async fn payload_over_the_cap_is_refused_before_running() {
    let engine = engine();
    let component = load(&engine, fixtures::NOOP, None).await;
    let limits = Limits {
        payload_bytes: 1024,
        ..tight_limits()
    };
    let payload = json!({"blob": "x".repeat(2048)});
    let outcome = run(&engine, &component, invocation(json!({}), payload), limits).await;
    let failure = failed(&outcome);
    assert_eq!(failure.code, ErrorCode::PayloadTooLarge);
    assert!(failure.message.contains("1024"), "{}", failure.message);
}

#[tokio::test]
async fn a_component_of_another_world_is_invalid_component() {
    let engine = engine();
    let wasm = std::fs::read(fixtures::NOT_A_RUNBOOK).unwrap();
    let err = engine
        .load("not-a-runbook", Arc::from(wasm), None, usize::MAX)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("invalid component not-a-runbook"), "{text}");
}

#[tokio::test]
async fn a_core_module_or_garbage_is_invalid_component() {
    let engine = engine();
    let core_module: &[u8] = b"\0asm\x01\0\0\0";
    let err = engine
        .load("core.wasm", Arc::from(core_module), None, usize::MAX)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a component"), "{err}");
    let err = engine
        .load("junk.wasm", Arc::from(&b"hello"[..]), None, usize::MAX)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not a WebAssembly binary"),
        "{err}"
    );
}
