//! `GET /metrics`: Prometheus text (events published, dispatch transitions, failures and
//! limit hits by code, run durations, fuel, manual runs, repository fetches and errors).
//! Unauthenticated like the probes; labels carry org names and repository keys, never
//! secrets.

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

use super::ApiState;

/// The Prometheus text exposition content type.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    responses(
        (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8"),
    ),
)]
pub async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    let repos = state.runtime.repositories().all_status();
    let body = crate::metrics::render(state.runtime.metrics(), &repos);
    ([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], body)
}

pub fn router() -> Router<ApiState> {
    Router::new().route("/metrics", get(metrics))
}
