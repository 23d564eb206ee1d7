//! Shared helpers of the `routing_*` tests: an org repository (a real git repository over
//! `file://`) holding real runbook components, a recording agent, and a runtime on a temp
//! data directory.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

#[path = "../repo_common/mod.rs"]
mod repo_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use runbox::dispatch::WorkerSettings;
use runbox::host::{Agent, AgentError, ConnectionInfo, ExecOutput, Limits};
use runbox::model::{
    AccessMode, ConnectionSpec, ConnectionType, DispatchStatus, RetryPolicy, Secrets,
    SubscriptionSpec, SubscriptionStatus,
};
use runbox::store::DispatchDetail;
use runbox::{EngineSettings, RepoConfig, Runtime};

pub use repo_common::{ORG, SourceRepo, fixture};

pub const EVENT: &str = "alert.sensitive_data_detected";
pub const REVOKE: &str = "ops/revoke-agent.runbook.wasm";
pub const GUEST_ERROR: &str = "ops/guest-error.runbook.wasm";
pub const RETRYABLE: &str = "ops/retryable.runbook.wasm";
pub const INFINITE: &str = "ops/infinite.runbook.wasm";
pub const CONNECTION: &str = "bash-ops";
pub const AGENT_ID: &str = "agent-1";

/// hoop's sample payload of `alert.sensitive_data_detected`.
pub fn sample_payload() -> serde_json::Value {
    serde_json::json!({"session_id":"ses_01HX9A2BCD","user":"alex.morgan@acme.com",
        "connection":"conn-prod-pg","types_detected":["EMAIL_ADDRESS","PERSON","PHONE_NUMBER"],
        "total_detections":12,"occurred_at":"2026-05-04T14:30:00Z"})
}

/// One `connection.exec` the agent saw.
#[derive(Debug, Clone)]
pub struct Exec {
    pub connection: String,
    pub input: String,
    pub dispatch_id: String,
}

/// A gateway agent that records every exec and answers exit 0 (or panics, while
/// `panics` is set: a gateway's agent with a bug).
#[derive(Debug, Default)]
pub struct RecordingAgent {
    pub calls: Mutex<Vec<Exec>>,
    pub panics: std::sync::atomic::AtomicBool,
}

impl RecordingAgent {
    pub fn calls(&self) -> Vec<Exec> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl Agent for RecordingAgent {
    async fn exec(
        &self,
        connection: &ConnectionInfo,
        input: &str,
        dispatch_id: &str,
    ) -> Result<ExecOutput, AgentError> {
        self.calls.lock().unwrap().push(Exec {
            connection: connection.name.clone(),
            input: input.to_string(),
            dispatch_id: dispatch_id.to_string(),
        });
        if self.panics.load(std::sync::atomic::Ordering::SeqCst) {
            panic!("agent bug: index out of range");
        }
        Ok(ExecOutput {
            exit_code: 0,
            output: "ok from agent\n".into(),
            truncated: false,
        })
    }
}

/// A temp dir with the org's source repository committed.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub source: SourceRepo,
    pub commit: String,
    pub agent: Arc<RecordingAgent>,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let source = SourceRepo::init(&tmp.path().join("source.git"));
        let revoke = fixture(runbox_fixtures::examples::REVOKE_AI_AGENT_ACCESS);
        let guest_error = fixture(runbox_fixtures::fixtures::GUEST_ERROR);
        let retryable = fixture(runbox_fixtures::fixtures::RETRYABLE_ERROR);
        let infinite = fixture(runbox_fixtures::fixtures::INFINITE_LOOP);
        let commit = source.commit(
            "main",
            &[
                (REVOKE, &revoke),
                (GUEST_ERROR, &guest_error),
                (RETRYABLE, &retryable),
                (INFINITE, &infinite),
            ],
            "runbooks",
        );
        World {
            tmp,
            source,
            commit,
            agent: Arc::new(RecordingAgent::default()),
        }
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.tmp.path().join("data")
    }

    pub fn repo_url(&self) -> String {
        self.source.file_url()
    }

    /// A runtime on this world's data dir with `workers` workers and the recording agent.
    pub async fn runtime(&self, workers: usize) -> Runtime {
        self.runtime_with(workers, Limits::default()).await
    }

    pub async fn runtime_with(&self, workers: usize, limits: Limits) -> Runtime {
        start(
            &self.data_dir(),
            &self.repo_url(),
            workers,
            limits,
            self.agent.clone(),
        )
        .await
    }

    /// A runtime with routing on, the `bash-ops` connection and nothing else.
    pub async fn ready(&self, workers: usize) -> Runtime {
        let rt = self.runtime(workers).await;
        enable(&rt).await;
        rt
    }

    /// A subscription spec for `file` with the revoke mapping.
    pub fn subscription(&self, name: &str, file: &str) -> SubscriptionSpec {
        let mut mapping = BTreeMap::new();
        if file == REVOKE {
            mapping.insert("agent_user".to_string(), "$.user".to_string());
            mapping.insert("connection_name".to_string(), "$.connection".to_string());
        }
        SubscriptionSpec {
            name: name.to_string(),
            description: "test".into(),
            event_types: vec![EVENT.to_string()],
            runbook_repository: self.repo_url(),
            runbook_file: file.to_string(),
            connection_name: CONNECTION.to_string(),
            parameter_mapping: mapping,
            status: SubscriptionStatus::Active,
            retry_policy: None,
        }
    }
}

pub async fn start(
    data_dir: &Path,
    url: &str,
    workers: usize,
    limits: Limits,
    agent: Arc<RecordingAgent>,
) -> Runtime {
    Runtime::builder()
        .data_dir(data_dir)
        .repository(ORG, RepoConfig::new(url))
        .engine_settings(EngineSettings {
            max_instances: 8,
            ..EngineSettings::default()
        })
        .limits(limits)
        .worker_settings(WorkerSettings {
            workers,
            claim_batch: 4,
            lease: Duration::from_secs(60),
            idle_poll: Duration::from_millis(100),
            ..WorkerSettings::default()
        })
        .agent(agent)
        .build()
        .await
        .expect("runtime builds")
}

/// Turns routing on for the org and registers `bash-ops`.
pub async fn enable(rt: &Runtime) {
    rt.set_event_routing(ORG, true, "admin").await.unwrap();
    if rt.connection_by_name(ORG, CONNECTION).await.is_err() {
        rt.create_connection(ORG, connection_spec(CONNECTION), "admin")
            .await
            .unwrap();
    }
}

pub fn connection_spec(name: &str) -> ConnectionSpec {
    ConnectionSpec {
        name: name.to_string(),
        kind: ConnectionType::Custom,
        subtype: String::new(),
        tags: vec!["ops".into()],
        agent_id: Some(AGENT_ID.to_string()),
        access_mode_exec: AccessMode::Enabled,
        access_mode_connect: AccessMode::Disabled,
        access_mode_runbooks: AccessMode::Enabled,
        plugins: vec!["runbooks".into(), "audit".into()],
        secrets: Secrets::default(),
        command: vec!["bash".into()],
    }
}

pub fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        max_age: Duration::from_secs(600),
    }
}

/// Waits until the dispatch is in `status` (panics after 60 s with its last state).
pub async fn wait_for(rt: &Runtime, id: &str, status: DispatchStatus) -> DispatchDetail {
    let start = Instant::now();
    loop {
        let d = rt.get_dispatch(ORG, id).await.unwrap();
        if d.dispatch.status == status {
            return d;
        }
        if start.elapsed() > Duration::from_secs(60) {
            panic!("dispatch {id} never became {status}: {d:#?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
