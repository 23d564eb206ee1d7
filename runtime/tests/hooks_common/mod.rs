//! Shared helpers of the `hooks_*` tests: an org repository (a real git repository over
//! `file://`) with hook components at `hoop-hooks/`, a runtime with hooks enabled on a
//! manual clock, and a real HTTP receiver on loopback that records what it gets.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

#[path = "../repo_common/mod.rs"]
mod repo_common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use runbox::dispatch::WorkerSettings;
use runbox::host::{EgressPolicy, Limits, StaticConfig};
use runbox::model::{AccessMode, ConnectionSpec, ConnectionType, Secrets};
use runbox::repo::ManualClock;
use runbox::{EngineSettings, HookSettings, RepoConfig, Runtime, SessionInfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub use repo_common::{ORG, SourceRepo, fixture};

pub const OPEN_HOOK: &str = "hoop-hooks/session-open.runbook.wasm";
pub const CLOSE_HOOK: &str = "hoop-hooks/session-close.runbook.wasm";
/// The hook repository's TTL (seconds).
pub const TTL: u64 = 60;
/// The session's connection, registered with one secret.
pub const PG_PROD: &str = "pg-prod";
pub const SID: &str = "8c59a347-62bd-4db2-a456-2b25963dfebf";

/// One request the receiver got: request line, headers (names lower-cased) and body.
#[derive(Debug)]
pub struct Received {
    pub request_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// A minimal HTTP/1.1 receiver on 127.0.0.1: reads the head and a content-length body,
/// answers 202 and closes. Stops with the test's tokio runtime.
pub async fn receiver() -> (u16, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                let (head_end, length) = loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buf[..n]);
                    if let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&data[..pos]).to_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map(|v| v.trim().parse::<usize>().unwrap())
                            .unwrap_or(0);
                        break (pos + 4, length);
                    }
                };
                while data.len() < head_end + length {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    data.extend_from_slice(&buf[..n]);
                }
                let head = String::from_utf8_lossy(&data[..head_end - 4]).to_string();
                let mut lines = head.split("\r\n");
                let request_line = lines.next().unwrap_or_default().to_string();
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
                    .collect();
                let body = data[head_end..].to_vec();
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tx.send(Received {
                    request_line,
                    headers,
                    body,
                });
            });
        }
    });
    (port, rx)
}

/// The next request (panics after 30 s).
pub async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("the receiver got a request")
        .unwrap()
}

/// Only `http://127.0.0.1:<port>`, loopback exempt from the private-address gate.
pub fn loopback_egress(port: u16) -> EgressPolicy {
    EgressPolicy::new([format!("http://127.0.0.1:{port}")])
        .unwrap()
        .with_allowed_networks(["127.0.0.0/8"])
        .unwrap()
}

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

    /// A runtime with hooks enabled (TTL 60 s, manual clock), the `pg-prod` connection
    /// (secret `HOST=db.internal`), `config` and `egress` as the org's.
    pub async fn runtime(
        &self,
        config: StaticConfig,
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
