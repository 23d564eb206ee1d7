//! Shared helpers of the `hooks_*` tests: an org repository (a real git repository over
//! `file://`) with hook components at `hoop-hooks/`, a runtime with hooks enabled on a
//! manual clock, and a real HTTP receiver on loopback that records what it gets.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

#[path = "../repo_common/mod.rs"]
mod repo_common;

#[path = "../http_receiver/mod.rs"]
mod http_receiver;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use runbox::dispatch::WorkerSettings;
use runbox::host::{ConfigSource, EgressPolicy, Limits, StaticConfig};
use runbox::model::{AccessMode, ConnectionSpec, ConnectionType, Secrets};
use runbox::repo::ManualClock;
use runbox::{EngineSettings, HookSettings, RepoConfig, Runtime, SessionInfo};

pub use http_receiver::{loopback_egress, next, receiver};
pub use repo_common::{ORG, SourceRepo, fixture};

pub const OPEN_HOOK: &str = "hoop-hooks/session-open.runbook.wasm";
pub const CLOSE_HOOK: &str = "hoop-hooks/session-close.runbook.wasm";
/// The hook repository's TTL (seconds).
pub const TTL: u64 = 60;
/// The session's connection, registered with one secret.
pub const PG_PROD: &str = "pg-prod";
pub const SID: &str = "8c59a347-62bd-4db2-a456-2b25963dfebf";

/// A temp dir with the org's hook repository.
pub struct HookWorld {
    pub tmp: tempfile::TempDir,
    pub source: SourceRepo,
    pub clock: Arc<ManualClock>,
}

impl HookWorld {
    /// `files`: `(path, component bytes)` committed on `main`.
    pub fn new(files: &[(&str, &[u8])]) -> (HookWorld, String) {
        let tmp = tempfile::tempdir().unwrap();
        let source = SourceRepo::init(&tmp.path().join("runbooks.git"));
        let commit = source.commit("main", files, "hooks");
        (
            HookWorld {
                tmp,
                source,
                clock: Arc::new(ManualClock::new()),
            },
            commit,
        )
    }

    /// The siem-forward example as both hooks.
    pub fn siem() -> (HookWorld, String) {
        let siem = fixture(runbox_fixtures::examples::SIEM_FORWARD);
        Self::new(&[(OPEN_HOOK, &siem), (CLOSE_HOOK, &siem)])
    }

    /// A runtime with default limits and a 15 s bound whose SIEM endpoint is the
    /// unreachable loopback port 9 (for hooks that do not post).
    pub async fn offline_runtime(&self) -> Runtime {
        self.runtime(
            siem_config("http://127.0.0.1:9/x"),
            loopback_egress(9),
            Limits::default(),
            Duration::from_secs(15),
        )
        .await
    }

    /// A runtime with hooks enabled (TTL 60 s, manual clock), the `pg-prod` connection
    /// (secret `HOST=db.internal`), `config` and `egress` as the org's.
    pub async fn runtime(
        &self,
        config: impl ConfigSource,
        egress: EgressPolicy,
        limits: Limits,
        bound: Duration,
    ) -> Runtime {
        let rt = Runtime::builder()
            .data_dir(self.tmp.path().join("data"))
            .repository(
                ORG,
                RepoConfig::new(self.source.file_url()).with_hook_config_ttl(TTL),
            )
            .engine_settings(EngineSettings {
                max_instances: 4,
                ..EngineSettings::default()
            })
            .limits(limits)
            .worker_settings(WorkerSettings {
                workers: 0,
                ..WorkerSettings::default()
            })
            .config_source(ORG, Arc::new(config))
            .egress_policy(ORG, Arc::new(egress))
            .hook_settings(HookSettings { bound })
            .repo_clock(self.clock.clone())
            .build()
            .await
            .expect("runtime builds");
        if rt.connection_by_name(ORG, PG_PROD).await.is_err() {
            rt.create_connection(ORG, pg_prod(), "admin").await.unwrap();
        }
        rt
    }

    /// [`HookWorld::runtime`] posting to the loopback receiver on `port`.
    pub async fn siem_runtime(&self, port: u16) -> Runtime {
        self.runtime(
            siem_config(&format!("http://127.0.0.1:{port}/ingest")),
            loopback_egress(port),
            Limits::default(),
            Duration::from_secs(15),
        )
        .await
    }
}

pub fn siem_config(url: &str) -> StaticConfig {
    StaticConfig::new().with("siem_url", url.to_string())
}

/// `pg-prod`: database/postgres with one secret.
pub fn pg_prod() -> ConnectionSpec {
    ConnectionSpec {
        name: PG_PROD.into(),
        kind: ConnectionType::Database,
        subtype: "postgres".into(),
        tags: vec!["prod".into()],
        agent_id: Some("agent-1".into()),
        access_mode_exec: AccessMode::Enabled,
        access_mode_connect: AccessMode::Enabled,
        access_mode_runbooks: AccessMode::Enabled,
        plugins: vec!["runbooks".into()],
        secrets: Secrets(BTreeMap::from([("HOST".into(), "db.internal".into())])),
        command: Vec::new(),
    }
}

/// hoop's sample session (verb `exec`, `SELECT 1` on `pg-prod`).
pub fn session(sid: &str) -> SessionInfo {
    SessionInfo {
        sid: sid.into(),
        verb: "exec".into(),
        user_email: "alex.morgan@acme.com".into(),
        connection_name: PG_PROD.into(),
        connection_type: None,
        connection_subtype: None,
        connection_reviewers: vec!["dba-team".into()],
        input: "SELECT 1".into(),
        command: vec!["python3".into()],
        input_file: String::new(),
    }
}
