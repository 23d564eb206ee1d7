//! Credentials reach the git server and nowhere else: not errors, not Debug output, not
//! status or listings, not logs.
#![allow(clippy::unwrap_used)]

mod repo_common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use repo_common::*;
use runbox::repo::{RepoConfig, Secret};

const URL_TOKEN: &str = "ghp_URLTOKEN0123456789";
const CONFIG_PASSWORD: &str = "cfg-Pa55word-XYZ";
const KEY_PASSPHRASE: &str = "ssh-passphrase-QWE";

/// An HTTP server that answers 401 to everything and records the Authorization headers.
fn refusing_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if line == "\r\n" {
                    break;
                }
                if let Some(value) = line.strip_prefix("Authorization: ") {
                    seen2.lock().unwrap().push(value.trim().to_string());
                }
                line.clear();
            }
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (port, seen)
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                A[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// Captures every log line of the process.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_show_in_errors_debug_status_listings_or_logs() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let (port, seen) = refusing_server();
    let world = World::new();
    // A token in the URL.
    let in_url = world
        .repos
        .add(
            ORG,
            RepoConfig::new(format!(
                "http://bot:{URL_TOKEN}@127.0.0.1:{port}/acme/one.git"
            ))
            .with_hook_config_ttl(30),
        )
        .unwrap();
    // A password in the config (and an ssh passphrase that must never show either).
    let config = RepoConfig::new(format!("http://127.0.0.1:{port}/acme/two.git"))
        .with_password(Some("deploy"), Secret::new(CONFIG_PASSWORD));
    let in_config = world.repos.add(ORG, config.clone()).unwrap();
    assert_eq!(in_url.as_str(), "127.0.0.1/acme/one");

    let mut shown = Vec::new();
    for key in [&in_url, &in_config] {
        let err = world.repos.refresh(ORG, key.as_str()).await.unwrap_err();
        assert_eq!(err.code(), "fetch_failed");
        let text = err.to_string();
        assert!(text.contains(key.as_str()), "{text}");
        assert!(text.contains("authentication failed"), "{text}");
        shown.push(text);
        shown.push(format!("{err:?}"));
        let listing_err = world.repos.list(ORG, key.as_str()).await.unwrap_err();
        shown.push(format!("{listing_err} {listing_err:?}"));
        let err = world
            .repos
            .get(ORG, key.as_str(), "x.runbook.wasm")
            .await
            .unwrap_err();
        shown.push(format!("{err} {err:?}"));
    }
    // The credentials did reach the server, through the credentials callback.
    let headers = seen.lock().unwrap().clone();
    let basic =
        |user: &str, pass: &str| format!("Basic {}", base64(format!("{user}:{pass}").as_bytes()));
    assert!(headers.contains(&basic("bot", URL_TOKEN)), "{headers:?}");
    assert!(
        headers.contains(&basic("deploy", CONFIG_PASSWORD)),
        "{headers:?}"
    );

    // A lookup by a URL with credentials does not echo them back either.
    let by_url = world
        .repos
        .get(
            "other-org",
            &format!("http://bot:{URL_TOKEN}@127.0.0.1:{port}/acme/one.git"),
            "x",
        )
        .await
        .unwrap_err();
    shown.push(format!("{by_url} {by_url:?}"));
    let mut with_pass = config;
    with_pass.git_ssh_keypass = Some(Secret::new(KEY_PASSPHRASE));
    shown.push(format!(
        "{with_pass:?} {}",
        serde_json::to_string(&with_pass).unwrap()
    ));
    shown.push(format!("{:?}", world.repos));
    shown.push(serde_json::to_string(&world.repos.status(ORG)).unwrap());
    shown.push(format!("{:?}", world.repos.status(ORG)));
    shown.push(String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned());
    let all = shown.join("\n");
    assert!(
        all.contains("authentication failed"),
        "the logs and errors were captured"
    );
    for secret in [URL_TOKEN, CONFIG_PASSWORD, KEY_PASSPHRASE] {
        assert!(!all.contains(secret), "{secret} leaked in:\n{all}");
    }
}
