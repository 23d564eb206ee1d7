//! Shared helpers of the end-to-end tests: an engine, fixture loading, invocations, a
//! scriptable test agent.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runbox::host::{
    Agent, AgentError, Capabilities, ConnectionInfo, ExecOutput, Invocation, Limits, RunOutcome,
    RunRequest, Trigger,
};
use runbox::{ArtifactCache, Engine, EngineSettings, LoadedComponent};
use serde_json::Value;

/// An engine with a small pool and no persistent cache.
pub fn engine() -> Engine {
    let settings = EngineSettings {
        max_instances: 32,
        ..EngineSettings::default()
    };
    Engine::new(&settings, ArtifactCache::disabled()).unwrap()
}

/// Loads a built fixture by its wasm path (and sidecar, if any).
pub async fn load(engine: &Engine, wasm_path: &str, sidecar: Option<&str>) -> LoadedComponent {
    let wasm = std::fs::read(wasm_path).unwrap();
    let sidecar = sidecar.map(|p| std::fs::read_to_string(p).unwrap());
    engine
        .load(
            wasm_path,
            Arc::from(wasm),
            sidecar.as_deref(),
            runbox::component::DEFAULT_MAX_COMPONENT_BYTES,
        )
        .await
        .unwrap()
}

/// An invocation with the given params and payload.
pub fn invocation(params: Value, payload: Value) -> Invocation {
    Invocation {
        dispatch_id: "dsp_test_1".into(),
        attempt: 1,
        trigger: Trigger::Event("session.closed".into()),
        payload: payload.to_string(),
        params: params.to_string(),
        connection: Some(ConnectionInfo {
            name: "pg-prod".into(),
            type_: "database".into(),
            subtype: "postgres".into(),
            tags: vec!["prod".into()],
        }),
    }
}

/// Runs a component with `limits` and default (deny-all) capabilities.
pub async fn run(
    engine: &Engine,
    component: &LoadedComponent,
    invocation: Invocation,
    limits: Limits,
) -> RunOutcome {
    run_with(
        engine,
        component,
        invocation,
        limits,
        Capabilities::default(),
    )
    .await
}

/// Runs a component with explicit capabilities.
pub async fn run_with(
    engine: &Engine,
    component: &LoadedComponent,
    invocation: Invocation,
    limits: Limits,
    capabilities: Capabilities,
) -> RunOutcome {
    engine
        .run(
            component.prepared(),
            RunRequest {
                invocation,
                limits,
                capabilities,
            },
        )
        .await
}

/// Limits small enough that limit tests finish fast.
pub fn tight_limits() -> Limits {
    Limits {
        fuel: 200_000_000,
        memory_bytes: 32 << 20,
        timeout: Duration::from_secs(2),
        output_bytes: 16 << 10,
        ..Limits::default()
    }
}

/// A test agent: `sleep` blocks for an hour, `offline` reports the agent offline, anything
/// else is echoed back with exit code 0.
#[derive(Debug, Default)]
pub struct ScriptedAgent;

#[async_trait]
impl Agent for ScriptedAgent {
    async fn exec(
        &self,
        connection: &ConnectionInfo,
        input: &str,
        _dispatch_id: &str,
    ) -> Result<ExecOutput, AgentError> {
        match input {
            "sleep" => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(ExecOutput {
                    exit_code: 0,
                    output: "woke".into(),
                    truncated: false,
                })
            }
            "offline" => Err(AgentError::Offline(format!(
                "agent of {} is offline",
                connection.name
            ))),
            other => Ok(ExecOutput {
                exit_code: 0,
                output: format!("{}: {other}", connection.name),
                truncated: false,
            }),
        }
    }
}

/// Capabilities with the scripted agent.
pub fn with_agent() -> Capabilities {
    Capabilities {
        agent: Arc::new(ScriptedAgent),
        ..Capabilities::default()
    }
}
