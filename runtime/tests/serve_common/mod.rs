//! Shared helpers of the `serve_*` tests: a server config on a temp data dir, a real git
//! repository of runbooks, and a small HTTP/1.1 client on a `TcpStream` (loopback only).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

#[path = "../repo_common/mod.rs"]
mod repo_common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use runbox::config::{OrgConfig, ServerConfig};
use runbox::model::{AccessMode, ConnectionSpec, ConnectionType, Secrets};
use runbox::repo::RepoConfig;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use repo_common::{ORG, SourceRepo, fixture};

pub const ECHO: &str = "ops/echo.runbook.wasm";
pub const REVOKE: &str = "ops/revoke.runbook.wasm";
pub const INFINITE: &str = "ops/infinite.runbook.wasm";
pub const CONNECTION: &str = "ops-shell";
pub const EVENT: &str = "alert.sensitive_data_detected";

/// The runbooks of the test repository.
pub fn runbook_files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (ECHO, fixture(runbox_fixtures::fixtures::ECHO_PARAMS)),
        (
            REVOKE,
            fixture(runbox_fixtures::examples::REVOKE_AI_AGENT_ACCESS),
        ),
        (INFINITE, fixture(runbox_fixtures::fixtures::INFINITE_LOOP)),
    ]
}

/// Commits `files` on `main` of `repo`.
pub fn commit(repo: &SourceRepo, files: &[(&'static str, Vec<u8>)], message: &str) -> String {
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (*p, b.as_slice())).collect();
    repo.commit("main", &refs, message)
}

/// A server config on `data_dir`: loopback port 0, one worker, a small pool, org `acme`
/// with event routing on and `repo_url` as its repository (when given).
pub fn config(data_dir: &Path, repo_url: Option<&str>) -> ServerConfig {
    let mut c = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        workers: 1,
        shutdown_deadline: Duration::from_secs(20),
        ..ServerConfig::default()
    };
    c.engine.max_instances = 8;
    c.limits.fuel = 200_000_000;
    let mut org = OrgConfig {
        event_routing: true,
        ..OrgConfig::default()
    };
    if let Some(url) = repo_url {
        org.repositories
            .push(RepoConfig::new(url).with_branch("main"));
    }
    c.orgs.insert(ORG.to_owned(), org);
    c
}

/// A `custom` connection running `cat` on the local agent.
pub fn connection(name: &str) -> ConnectionSpec {
    ConnectionSpec {
        name: name.to_owned(),
        kind: ConnectionType::Custom,
        subtype: "shell".into(),
        tags: vec!["ops".into()],
        agent_id: Some("local".into()),
        access_mode_exec: AccessMode::Enabled,
        access_mode_connect: AccessMode::Disabled,
        access_mode_runbooks: AccessMode::Enabled,
        plugins: vec!["runbooks".into()],
        secrets: Secrets::default(),
        command: vec!["cat".into()],
    }
}

/// hoop's sample payload of `alert.sensitive_data_detected`.
pub fn sample_payload() -> Value {
    serde_json::json!({"session_id":"ses_01HX9A2BCD","user":"alex.morgan@acme.com",
        "connection":"conn-prod-pg","types_detected":["EMAIL_ADDRESS","PERSON"],
        "total_detections":12,"occurred_at":"2026-05-04T14:30:00Z"})
}

/// An answer: status, content type, body as JSON (Null when not JSON) and raw.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
    pub raw: String,
}

/// One HTTP/1.1 request (`Connection: close`, read to EOF) with a bearer token.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let bytes = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    if body.is_some() {
        head.push_str("content-type: application/json\r\n");
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", bytes.len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut buf))
        .await
        .expect("answer within 60 s")
        .unwrap();
    parse(&buf)
}

/// Parses a whole HTTP/1.1 answer with a content-length body.
pub fn parse(buf: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full HTTP answer");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
        raw: body.to_owned(),
    }
}

/// GET with `token`.
pub async fn get(addr: SocketAddr, token: &str, path: &str) -> Answer {
    http(addr, "GET", path, Some(token), None).await
}

/// Polls `GET path` until `done` holds (panics after 60 s with the last answer).
pub async fn poll(
    addr: SocketAddr,
    token: &str,
    path: &str,
    done: impl Fn(&Answer) -> bool,
) -> Answer {
    let start = Instant::now();
    loop {
        let a = get(addr, token, path).await;
        if done(&a) {
            return a;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "GET {path} never got there: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A new token of `role` for `org` on the server's runtime.
pub async fn token(server: &runbox::server::Server, org: &str, role: runbox::Role) -> String {
    server
        .runtime()
        .create_token(org, role, "test", "test")
        .await
        .unwrap()
        .secret_text
}

/// The value of an unlabelled or labelled sample in Prometheus text (`None` if absent).
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}
