//! One log line per request (method, path, status, duration; `debug` for successes, `info`
//! for 4xx, `warn` for 5xx) in a `request` span, so
//! handler logs carry the request they belong to. Headers and bodies are never logged:
//! they hold bearer tokens and secrets.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The middleware (`axum::middleware::from_fn(access_log)`).
pub async fn access_log(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("request", %method, path = %path);
    let started = Instant::now();
    let response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if response.status().is_server_error() {
            tracing::warn!(status, duration_ms, "request answered");
        } else if response.status().is_client_error() {
            tracing::info!(status, duration_ms, "request answered");
        } else {
            tracing::debug!(status, duration_ms, "request answered");
        }
    });
    response
}
