//! The run path end to end with tiny hand-written components (no guest toolchain needed):
//! limits, classification and usage reporting through the public API.

#![allow(clippy::unwrap_used, reason = "test helpers")]

use runbox_host_api::{
    ComponentKind, DEFAULT_EPOCH_INTERVAL, EpochTicker, ErrorCode, Invocation, Limits, Prepared,
    RunRequest, Sandbox, Trigger, configure_engine,
};
use std::time::Duration;
use wasmtime::Engine;
use wasmtime::component::Component;

fn engine() -> Engine {
    let mut config = wasmtime::Config::new();
    configure_engine(&mut config);
    Engine::new(&config).unwrap()
}

/// A `wasi:cli/command` whose `run` is the core function body `body` (returning the i32
/// discriminant of `result`: 0 ok, 1 err). The core module has one page of memory.
fn command(engine: &Engine, body: &str) -> Component {
    let wat = format!(
        r#"(component
            (core module $m
                (memory 1)
                (func (export "f") (result i32) {body}))
            (core instance $i (instantiate $m))
            (func $run (result (result)) (canon lift (core func $i "f")))
            (instance $cli (export "run" (func $run)))
            (export "wasi:cli/run@0.2.12" (instance $cli))
        )"#
    );
    Component::new(engine, wat).unwrap()
}

/// A sandbox on a fresh engine, and the [`command`] with `body` prepared in it.
fn prepared_command(body: &str) -> (Sandbox, Prepared) {
    let engine = engine();
    let sandbox = Sandbox::new(&engine).unwrap();
    let prepared = sandbox.prepare(&command(&engine, body)).unwrap();
    (sandbox, prepared)
}

fn invocation() -> Invocation {
    Invocation {
        dispatch_id: "disp-1".into(),
        attempt: 1,
        trigger: Trigger::Manual,
        payload: "{}".into(),
        params: "{}".into(),
        connection: None,
    }
}

fn request(limits: Limits) -> RunRequest {
    RunRequest {
        limits,
        ..RunRequest::new(invocation())
    }
}

#[tokio::test]
async fn successful_command_reports_usage() {
    let (sandbox, prepared) = prepared_command("i32.const 0");
    assert_eq!(prepared.kind(), ComponentKind::Command);
    assert!(
        prepared
            .exports()
            .iter()
            .any(|e| e == "wasi:cli/run@0.2.12")
    );
    assert_eq!(
        sandbox.describe(&prepared, &Limits::describe()).await,
        Ok(None)
    );

    let outcome = sandbox.run(&prepared, request(Limits::default())).await;
    assert_eq!(outcome.result, Ok(String::new()));
    assert_eq!(outcome.exit_code, Some(0));
    assert!(outcome.usage.fuel_used > 0);
    assert_eq!(outcome.usage.peak_memory_bytes, 64 * 1024);
    assert_eq!(outcome.usage.memory_cap, Limits::default().memory_bytes);
}

#[tokio::test]
async fn err_result_is_exit_nonzero() {
    let (sandbox, prepared) = prepared_command("i32.const 1");
    let outcome = sandbox.run(&prepared, request(Limits::default())).await;
    let failure = outcome.failure().unwrap();
    assert_eq!(failure.code, ErrorCode::ExitNonzero);
    assert_eq!(failure.message, "runbook exited with code 1");
    assert_eq!(outcome.exit_code, Some(1));
}

#[tokio::test]
async fn endless_loop_runs_out_of_fuel() {
    let (sandbox, prepared) = prepared_command("(loop $l (br $l)) i32.const 0");
    let limits = Limits {
        fuel: 1_000_000,
        ..Limits::default()
    };
    let outcome = sandbox.run(&prepared, request(limits)).await;
    let failure = outcome.failure().unwrap();
    assert_eq!(failure.code, ErrorCode::FuelExhausted, "{failure:?}");
    assert_eq!(
        failure.message,
        "fuel budget 1000000 exhausted (used 1000000)"
    );
    assert_eq!(outcome.usage.fuel_used, 1_000_000);
}

#[tokio::test]
async fn endless_loop_hits_the_deadline_with_a_ticker() {
    let engine = engine();
    let _ticker = EpochTicker::start(&engine, DEFAULT_EPOCH_INTERVAL);
    let sandbox = Sandbox::new(&engine).unwrap();
    let prepared = sandbox
        .prepare(&command(&engine, "(loop $l (br $l)) i32.const 0"))
        .unwrap();
    let limits = Limits {
        fuel: u64::MAX / 2,
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let outcome = sandbox.run(&prepared, request(limits)).await;
    let failure = outcome.failure().unwrap();
    assert_eq!(failure.code, ErrorCode::DeadlineExceeded, "{failure:?}");
    assert_eq!(failure.message, "deadline of 200 ms exceeded");
    assert!(failure.retryable);
    assert!(outcome.usage.duration >= Duration::from_millis(200));
    assert!(outcome.usage.duration < Duration::from_secs(3));
    // Accurate to one fuel slice even though the deadline check does not save fuel.
    assert!(outcome.usage.fuel_used > 10_000_000, "{:?}", outcome.usage);
}

#[tokio::test]
async fn endless_loop_without_ticker_is_still_stopped() {
    let (sandbox, prepared) = prepared_command("(loop $l (br $l)) i32.const 0");
    let limits = Limits {
        fuel: u64::MAX / 2,
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let outcome = sandbox.run(&prepared, request(limits)).await;
    let failure = outcome.failure().unwrap();
    assert_eq!(failure.code, ErrorCode::DeadlineExceeded, "{failure:?}");
    assert!(outcome.usage.duration < Duration::from_secs(3));
}

#[tokio::test]
async fn growing_past_the_cap_is_memory_limit() {
    let (sandbox, prepared) = prepared_command("(drop (memory.grow (i32.const 100))) i32.const 0");
    let limits = Limits {
        memory_bytes: 2 * 64 * 1024,
        ..Limits::default()
    };
    let outcome = sandbox.run(&prepared, request(limits)).await;
    let failure = outcome.failure().unwrap();
    assert_eq!(failure.code, ErrorCode::MemoryLimit, "{failure:?}");
    assert_eq!(
        failure.message,
        format!(
            "memory cap {} bytes, requested {} bytes",
            2 * 65536,
            101 * 65536
        )
    );
    assert_eq!(outcome.usage.peak_memory_bytes, 65536);
}

#[tokio::test]
async fn growing_within_the_cap_records_the_peak() {
    let (sandbox, prepared) = prepared_command("(drop (memory.grow (i32.const 3))) i32.const 0");
    let outcome = sandbox.run(&prepared, request(Limits::default())).await;
    assert!(outcome.is_ok(), "{:?}", outcome.result);
    assert_eq!(outcome.usage.peak_memory_bytes, 4 * 65536);
}

#[tokio::test]
async fn traps_are_named() {
    let engine = engine();
    let sandbox = Sandbox::new(&engine).unwrap();
    let cases = [
        ("unreachable", ErrorCode::GuestPanic, "no panic message"),
        (
            "(drop (i32.div_u (i32.const 1) (i32.const 0))) i32.const 0",
            ErrorCode::GuestTrap,
            "guest trapped: integer divide by zero",
        ),
        (
            "(drop (i32.load (i32.const 1000000))) i32.const 0",
            ErrorCode::GuestTrap,
            "guest trapped: out of bounds memory access",
        ),
    ];
    for (body, code, needle) in cases {
        let prepared = sandbox.prepare(&command(&engine, body)).unwrap();
        let outcome = sandbox.run(&prepared, request(Limits::default())).await;
        let failure = outcome.failure().unwrap();
        assert_eq!(failure.code, code, "{body}: {failure:?}");
        assert!(
            failure.message.contains(needle),
            "{body}: {}",
            failure.message
        );
        assert!(
            !failure.message.contains("wasm backtrace"),
            "{}",
            failure.message
        );
    }
}

#[tokio::test]
async fn deep_recursion_is_stack_overflow() {
    let engine = engine();
    let wat = r#"(component
        (core module $m
            (func $r (param i32) (result i32)
                (call $r (i32.add (local.get 0) (i32.const 1))))
            (func (export "f") (result i32) (call $r (i32.const 0))))
        (core instance $i (instantiate $m))
        (func $run (result (result)) (canon lift (core func $i "f")))
        (instance $cli (export "run" (func $run)))
        (export "wasi:cli/run@0.2.12" (instance $cli))
    )"#;
    let component = Component::new(&engine, wat).unwrap();
    let sandbox = Sandbox::new(&engine).unwrap();
    let prepared = sandbox.prepare(&component).unwrap();
    let outcome = sandbox.run(&prepared, request(Limits::default())).await;
    assert_eq!(
        outcome.failure().map(|f| f.code),
        Some(ErrorCode::StackOverflow)
    );
}

#[tokio::test]
async fn runs_are_independent() {
    let (sandbox, prepared) = prepared_command("i32.const 0");
    let mut handles = Vec::new();
    for _ in 0..8 {
        let (sandbox, prepared) = (sandbox.clone(), prepared.clone());
        handles.push(tokio::spawn(async move {
            sandbox.run(&prepared, request(Limits::default())).await
        }));
    }
    for h in handles {
        assert!(h.await.unwrap().is_ok());
    }
}

#[tokio::test]
async fn interrupt_stops_the_run_with_usage() {
    let (sandbox, prepared) = prepared_command("(loop $l (br $l)) i32.const 0");
    let limits = Limits {
        fuel: u64::MAX / 2,
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let started = std::time::Instant::now();
    let outcome = sandbox
        .run_until(
            &prepared,
            request(limits),
            tokio::time::sleep(Duration::from_millis(100)),
        )
        .await;
    let failure = outcome.failure().unwrap();
    assert_eq!(failure.code, ErrorCode::Interrupted, "{failure:?}");
    assert!(failure.retryable);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(outcome.usage.fuel_used > 0);
}

/// A command that fails when it finds its own mark in memory (left by an earlier run of
/// the same instance), then leaves the mark.
const MARKS_ITS_MEMORY: &str = "(if (i32.load (i32.const 0)) (then (return (i32.const 1)))) \
     (i32.store (i32.const 0) (i32.const 1)) i32.const 0";

#[tokio::test]
async fn standby_runs_see_a_fresh_instance_each() {
    let (sandbox, prepared) = prepared_command(MARKS_ITS_MEMORY);
    let limits = Limits::default();
    for _ in 0..3 {
        let standby = sandbox.standby(&prepared, &limits).await.unwrap();
        assert_eq!(standby.kind(), ComponentKind::Command);
        let (outcome, spent) = sandbox
            .run_on(&prepared, Some(standby), request(limits.clone()))
            .await;
        assert_eq!(outcome.result, Ok(String::new()), "{outcome:?}");
        drop(spent);
        let cold = sandbox.run(&prepared, request(limits.clone())).await;
        assert_eq!(cold.result, Ok(String::new()), "{cold:?}");
    }
}

#[tokio::test]
async fn a_standby_run_reports_what_a_fresh_run_does() {
    let (sandbox, prepared) = prepared_command("(drop (memory.grow (i32.const 3))) i32.const 0");
    let limits = Limits::default();
    let fresh = sandbox.run(&prepared, request(limits.clone())).await;
    let standby = sandbox.standby(&prepared, &limits).await.unwrap();
    let (on_standby, _spent) = sandbox
        .run_on(&prepared, Some(standby), request(limits.clone()))
        .await;
    assert!(on_standby.is_ok(), "{on_standby:?}");
    assert_eq!(on_standby.result, fresh.result);
    assert_eq!(on_standby.exit_code, fresh.exit_code);
    // The instance's first page was counted when the standby was made; the run's
    // growth adds to it, as in a fresh run.
    assert_eq!(on_standby.usage.peak_memory_bytes, 4 * 65536);
    assert_eq!(
        on_standby.usage.peak_memory_bytes,
        fresh.usage.peak_memory_bytes
    );
    assert_eq!(on_standby.usage.fuel_used, fresh.usage.fuel_used);
    assert!(on_standby.usage.fuel_used > 0);
}

#[tokio::test]
async fn a_standby_made_under_another_memory_cap_is_not_used() {
    let (sandbox, prepared) = prepared_command("(drop (memory.grow (i32.const 5))) i32.const 0");
    let roomy = Limits {
        memory_bytes: 10 * 65536,
        ..Limits::default()
    };
    let tight = Limits {
        memory_bytes: 2 * 65536,
        ..Limits::default()
    };
    let standby = sandbox.standby(&prepared, &roomy).await.unwrap();
    assert!(standby.fits(&roomy));
    assert!(!standby.fits(&tight));
    // Run under the tight cap: the roomy standby would let the growth pass.
    let (outcome, _spent) = sandbox
        .run_on(&prepared, Some(standby), request(tight))
        .await;
    assert_eq!(
        outcome.failure().map(|f| f.code),
        Some(ErrorCode::MemoryLimit),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_standby_of_another_component_is_not_used() {
    let engine = engine();
    let sandbox = Sandbox::new(&engine).unwrap();
    let fails = sandbox.prepare(&command(&engine, "i32.const 1")).unwrap();
    let succeeds = sandbox.prepare(&command(&engine, "i32.const 0")).unwrap();
    let standby = sandbox.standby(&fails, &Limits::default()).await.unwrap();
    let (outcome, _spent) = sandbox
        .run_on(&succeeds, Some(standby), request(Limits::default()))
        .await;
    assert_eq!(outcome.result, Ok(String::new()), "{outcome:?}");
}

#[tokio::test]
async fn a_standby_whose_memory_exceeds_the_cap_is_refused_as_memory_limit() {
    let engine = engine();
    let sandbox = Sandbox::new(&engine).unwrap();
    let two_pages = r#"(component
        (core module $m (memory 2) (func (export "f") (result i32) i32.const 0))
        (core instance $i (instantiate $m))
        (func $run (result (result)) (canon lift (core func $i "f")))
        (instance $cli (export "run" (func $run)))
        (export "wasi:cli/run@0.2.12" (instance $cli))
    )"#;
    let prepared = sandbox
        .prepare(&Component::new(&engine, two_pages).unwrap())
        .unwrap();
    let one_page = Limits {
        memory_bytes: 65536,
        ..Limits::default()
    };
    let failure = sandbox.standby(&prepared, &one_page).await.unwrap_err();
    assert_eq!(failure.code, ErrorCode::MemoryLimit, "{failure:?}");
}

#[tokio::test]
async fn a_run_refused_before_it_starts_leaves_the_standby_unused() {
    let (sandbox, prepared) = prepared_command(MARKS_ITS_MEMORY);
    // The payload and params are `{}` and `{}`.
    let limits = Limits {
        payload_bytes: 3,
        ..Limits::default()
    };
    let standby = sandbox.standby(&prepared, &limits).await.unwrap();
    let (outcome, spent) = sandbox
        .run_on(&prepared, Some(standby), request(limits))
        .await;
    assert_eq!(
        outcome.failure().map(|f| f.code),
        Some(ErrorCode::PayloadTooLarge)
    );
    assert_eq!(outcome.usage.fuel_used, 0);
    assert!(format!("{spent:?}").contains("true"), "{spent:?}");
}
