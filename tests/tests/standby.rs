//! Standby instances with real hook components: a run on a standby sees its own payload
//! and reports what a fresh run does, the aftercare makes the next standby, and the
//! engine's standby slots bound how many exist.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{engine, load};
use runbox::host::{
    Capabilities, HookKind, Invocation, Limits, PAYLOAD_ENV, RunOutcome, RunRequest, Trigger,
};
use runbox::{ArtifactCache, Engine, EngineSettings, LoadedComponent};
use runbox_fixtures::fixtures;

fn hook_request(payload: &str) -> RunRequest {
    RunRequest {
        invocation: Invocation {
            dispatch_id: "session-open/s-1".into(),
            attempt: 1,
            trigger: Trigger::Hook(HookKind::SessionOpen),
            payload: payload.into(),
            params: "{}".into(),
            connection: None,
        },
        limits: Limits::default(),
        capabilities: Capabilities::default(),
    }
}

/// An engine with a small pool and `standby_instances` standby slots.
fn engine_with_standbys(standby_instances: u32) -> Engine {
    let settings = EngineSettings {
        max_instances: 4,
        standby_instances,
        ..EngineSettings::default()
    };
    Engine::new(&settings, ArtifactCache::disabled()).unwrap()
}

/// Runs through the hook path and finishes the aftercare before returning.
async fn run_hook(engine: &Engine, component: &LoadedComponent, payload: &str) -> RunOutcome {
    let (outcome, aftercare) = engine
        .run_with_standby(component, hook_request(payload))
        .await;
    aftercare.finish().await;
    outcome
}

#[tokio::test]
async fn each_standby_run_sees_its_own_payload() {
    let engine = engine();
    let sdk = load(&engine, fixtures::SDK_HOOK_ENV, None).await;
    let plain = load(&engine, fixtures::HOOK_PAYLOAD_LEN, None).await;
    assert!(!sdk.has_standby());

    for (n, payload) in [r#"{"n":1}"#, r#"{"n":22}"#, r#"{"n":333}"#]
        .into_iter()
        .enumerate()
    {
        // The first run has no standby; each later one runs on the one its predecessor's
        // aftercare made (with an empty environment and no payload).
        assert_eq!(sdk.has_standby(), n > 0);
        let outcome = run_hook(&engine, &sdk, payload).await;
        assert_eq!(
            outcome.result.as_deref(),
            Ok(format!("{payload}\n{payload}").as_str()),
            "{PAYLOAD_ENV} and the invocation both carry this run's payload"
        );
        assert!(sdk.has_standby());

        let outcome = run_hook(&engine, &plain, payload).await;
        assert_eq!(
            outcome.console,
            format!("payload_len={}\n", payload.len()),
            "{outcome:?}"
        );
        assert_eq!(outcome.exit_code, Some(0));
    }
}

#[tokio::test]
async fn a_standby_run_reports_what_a_fresh_run_does() {
    let engine = engine();
    let plain = load(&engine, fixtures::HOOK_PAYLOAD_LEN, None).await;
    let payload = r#"{"sid":"s-1"}"#;
    let fresh = engine.run(plain.prepared(), hook_request(payload)).await;
    run_hook(&engine, &plain, payload).await;
    assert!(plain.has_standby());
    let on_standby = run_hook(&engine, &plain, payload).await;
    assert_eq!(on_standby.result, fresh.result);
    assert_eq!(on_standby.console, fresh.console);
    assert_eq!(on_standby.exit_code, fresh.exit_code);
    assert_eq!(on_standby.usage.fuel_used, fresh.usage.fuel_used);
    assert_eq!(
        on_standby.usage.peak_memory_bytes,
        fresh.usage.peak_memory_bytes
    );
    assert!(on_standby.usage.peak_memory_bytes > 0);
}

#[tokio::test]
async fn standby_slots_bound_the_standby_instances() {
    let engine = engine_with_standbys(1);
    let sdk = load(&engine, fixtures::SDK_HOOK_ENV, None).await;
    let plain = load(&engine, fixtures::HOOK_PAYLOAD_LEN, None).await;
    run_hook(&engine, &sdk, "{}").await;
    run_hook(&engine, &plain, "{}").await;
    assert!(sdk.has_standby());
    assert!(
        !plain.has_standby(),
        "the one standby slot is the sdk hook's"
    );
    // Using the standby frees its slot until the aftercare takes it again.
    let (_, aftercare) = engine.run_with_standby(&sdk, hook_request("{}")).await;
    assert!(!sdk.has_standby());
    drop(aftercare);
    run_hook(&engine, &plain, "{}").await;
    assert!(plain.has_standby());
}

#[tokio::test]
async fn no_standby_is_made_when_they_are_off() {
    let engine = engine_with_standbys(0);
    let sdk = load(&engine, fixtures::SDK_HOOK_ENV, None).await;
    for _ in 0..2 {
        let outcome = run_hook(&engine, &sdk, "{}").await;
        assert_eq!(outcome.result.as_deref(), Ok("{}\n{}"));
        assert!(!sdk.has_standby());
    }
}
