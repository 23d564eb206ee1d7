//! Shared helpers of the `api_*` tests: a real axum server on `127.0.0.1:0` and a small
//! HTTP/1.1 client written on a `TcpStream` (one request per connection, read to EOF).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use runbox::api::{ApiState, router};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running server and how to stop it.
pub struct Server {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

pub async fn serve(state: ApiState) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Server { addr, stop, task }
}

impl Server {
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops")
            .unwrap();
    }

    /// A client of this server presenting `token` (none when `None`).
    pub fn client(&self, token: Option<&str>) -> Client {
        Client {
            addr: self.addr,
            token: token.map(str::to_owned),
        }
    }
}

/// An answer: status, lower-cased head, body (JSON when it parses) and the raw body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Value,
    pub raw: String,
}

/// One HTTP/1.1 request with extra header lines (`name: value`).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[String],
    body: Option<&[u8]>,
) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    let body = body.unwrap_or_default();
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    // The server may answer (413) and close before reading a large body: a failed write
    // then is expected, the answer is what counts.
    let _ = stream.write_all(&bytes).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buf))
        .await
        .expect("answer within 30 s");
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full HTTP answer");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let head = head.to_ascii_lowercase();
    assert!(
        !head.contains("transfer-encoding: chunked"),
        "this client reads only content-length bodies: {head}"
    );
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or(Value::Null)
    };
    Answer {
        status,
        head,
        body: json,
        raw: body.to_string(),
    }
}

/// A caller of the API with (or without) a bearer token.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl Client {
    fn auth(&self) -> Vec<String> {
        self.token
            .iter()
            .map(|t| format!("authorization: Bearer {t}"))
            .collect()
    }

    /// A request with a JSON body (when `Some`).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
        let ct = bytes.as_ref().map(|_| "application/json");
        self.raw(method, path, ct, bytes.as_deref()).await
    }

    /// A request with raw body bytes and an optional content type.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<&[u8]>,
    ) -> Answer {
        let mut headers = self.auth();
        if let Some(ct) = content_type {
            headers.push(format!("content-type: {ct}"));
        }
        request(self.addr, method, path, &headers, body).await
    }
}

/// A 4xx answer with the JSON error shape (`message` says something, `code` is set).
#[track_caller]
pub fn assert_error(a: &Answer, status: u16, message_has: &str) {
    assert_eq!(a.status, status, "{a:?}");
    let message = a.body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{a:?}"));
    assert!(
        message.contains(message_has),
        "message {message:?} lacks {message_has:?}"
    );
    assert!(a.body["code"].is_string(), "{a:?}");
}
