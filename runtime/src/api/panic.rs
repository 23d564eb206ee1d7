//! A handler that panics answers 500 `internal` instead of dropping the connection.
//!
//! Why: without this, a panic in a handler (a runbox bug, or the embedding gateway's
//! `Agent`) unwinds the connection's task and the client gets a reset connection with no
//! answer, which it cannot tell from a network fault and may retry blindly. The panic's
//! message goes to the log only: it is whatever the panicking code wrote, and may quote
//! request data.

use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt as _;

use super::error::ApiError;
use crate::error::panic_message;

/// The middleware (`axum::middleware::from_fn(catch_panic)`).
pub async fn catch_panic(req: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            tracing::error!(
                panic = panic_message(panic.as_ref()),
                "an admin API handler panicked"
            );
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the server stopped on a fault of its own while handling this request (logged); \
                 it may or may not have been carried out",
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::Router;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// One keep-alive connection to a real server on loopback: a panicking route answers
    /// 500 `internal`, and the same connection then serves the next request.
    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_connection_goes_on() {
        let app = Router::new()
            .route(
                "/boom",
                get(|| async {
                    if std::hint::black_box(true) {
                        panic!("handler bug with secret-ish detail");
                    }
                    "unreachable"
                }),
            )
            .route("/ok", get(|| async { "fine" }))
            .layer(axum::middleware::from_fn(catch_panic));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        let boom = exchange(&mut conn, "/boom").await;
        assert!(boom.starts_with("HTTP/1.1 500"), "{boom}");
        assert!(boom.contains(r#""code":"internal""#), "{boom}");
        assert!(
            !boom.contains("secret-ish"),
            "the panic message is not answered: {boom}"
        );
        let ok = exchange(&mut conn, "/ok").await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.ends_with("fine"), "{ok}");
        server.abort();
    }

    /// Sends a GET for `path` and reads one answer (its body is sized by content-length).
    async fn exchange(conn: &mut tokio::net::TcpStream, path: &str) -> String {
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        conn.write_all(request.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        let deadline = std::time::Duration::from_secs(10);
        loop {
            let n = tokio::time::timeout(deadline, conn.read(&mut buf))
                .await
                .expect("an answer within the deadline")
                .unwrap();
            assert!(
                n > 0,
                "connection closed: {}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    return text;
                }
            }
        }
    }
}
