//! Outbound HTTP through the egress policy to a real receiver on loopback: the request
//! arrives whole (body and headers), and the guest sees the answer.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{engine, invocation, load, run_with, tight_limits};
use runbox::host::{Capabilities, EgressPolicy};
use runbox_fixtures::fixtures;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// One received request: head (lower-cased) and body.
struct Received {
    head: String,
    body: Vec<u8>,
}

/// A minimal HTTP/1.1 receiver: reads the head and a content-length body, answers 202.
/// With `early`, it answers as soon as the head is in (as servers that reject or accept
/// without reading do) and closes without reading the body.
async fn receiver(early: bool) -> (u16, mpsc::UnboundedReceiver<Received>) {
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
                    let n = socket.read(&mut buf).await.unwrap();
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
                if early {
                    let head = String::from_utf8_lossy(&data[..head_end]).to_lowercase();
                    let _ = socket
                        .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                        .await;
                    let _ = tx.send(Received {
                        head,
                        body: Vec::new(),
                    });
                    return;
                }
                while data.len() < head_end + length {
                    let n = socket.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    data.extend_from_slice(&buf[..n]);
                }
                let head = String::from_utf8_lossy(&data[..head_end]).to_lowercase();
                let body = data[head_end..].to_vec();
                socket
                    .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                    .await
                    .unwrap();
                let _ = tx.send(Received { head, body });
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn allowed_loopback_post_delivers_body_and_headers_every_time() {
    let engine = engine();
    let component = load(&engine, fixtures::HTTP_POST, None).await;
    let (port, mut received) = receiver(false).await;
    let egress = EgressPolicy::new([format!("http://127.0.0.1:{port}")])
        .unwrap()
        .with_allowed_networks(["127.0.0.0/8"])
        .unwrap();
    let capabilities = Capabilities {
        egress: Arc::new(egress),
        ..Capabilities::default()
    };
    let payload = json!({"session_id": "ses_01HX9G6RST", "blob": "x".repeat(200_000)});
    // Repeated: a body-write race once turned delivered requests into failures.
    for _ in 0..20 {
        let params = json!({"url": format!("http://127.0.0.1:{port}/ingest")});
        let outcome = run_with(
            &engine,
            &component,
            invocation(params, payload.clone()),
            tight_limits(),
            capabilities.clone(),
        )
        .await;
        assert_eq!(
            outcome.result.as_deref(),
            Ok("status 202"),
            "{:?} {:?}",
            outcome.result,
            outcome.logs
        );
        assert!(outcome.denials.is_empty());
        let request = received.recv().await.unwrap();
        assert!(
            request.head.starts_with("post /ingest http/1.1"),
            "{}",
            request.head
        );
        assert!(
            request.head.contains("x-runbox-dispatch: dsp_test_1"),
            "{}",
            request.head
        );
        assert_eq!(
            request.body,
            payload.to_string().into_bytes(),
            "body arrives unchanged"
        );
    }
}

#[tokio::test]
async fn an_answer_before_the_body_is_read_is_still_the_answer() {
    let engine = engine();
    let component = load(&engine, fixtures::HTTP_POST, None).await;
    let (port, mut received) = receiver(true).await;
    let egress = EgressPolicy::new([format!("http://127.0.0.1:{port}")])
        .unwrap()
        .with_allowed_networks(["127.0.0.0/8"])
        .unwrap();
    let capabilities = Capabilities {
        egress: Arc::new(egress),
        ..Capabilities::default()
    };
    // Large enough that the server answers (and closes) long before the body is written.
    let payload = json!({"blob": "y".repeat(4 << 20)});
    let limits = runbox::host::Limits {
        payload_bytes: 8 << 20,
        hostcall_bytes: 64 << 20,
        ..tight_limits()
    };
    for _ in 0..5 {
        let params = json!({"url": format!("http://127.0.0.1:{port}/ingest")});
        let outcome = run_with(
            &engine,
            &component,
            invocation(params, payload.clone()),
            limits.clone(),
            capabilities.clone(),
        )
        .await;
        assert_eq!(
            outcome.result.as_deref(),
            Ok("status 202"),
            "{:?}",
            outcome.result
        );
        assert!(
            received
                .recv()
                .await
                .unwrap()
                .head
                .starts_with("post /ingest")
        );
    }
}
