//! `/healthz` (the process is up and answering) and `/readyz` (it can do its job: the store
//! answers, every configured repository has a loaded snapshot, no shutdown under way).
//!
//! Both are unauthenticated, as probes are; neither shows a secret (repository URLs are
//! redacted in every status).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Serialize;

use super::ApiState;
use super::error::Json;

/// The answer of both probes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Probe {
    /// `ok`, `ready` or `not_ready`.
    pub status: &'static str,
    /// Why not ready (empty when ready).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// 200 while the process serves requests.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "health",
    responses(
        (status = 200, description = "The process serves requests", body = Probe),
    ),
)]
pub async fn healthz() -> Json<Probe> {
    Json(Probe {
        status: "ok",
        reasons: Vec::new(),
    })
}

/// 200 when ready, else 503 with the reasons.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "health",
    responses(
        (status = 200, description = "Ready", body = Probe),
        (status = 503, description = "Not ready; `reasons` says why", body = Probe),
    ),
)]
pub async fn readyz(State(state): State<ApiState>) -> (StatusCode, Json<Probe>) {
    let reasons = not_ready_reasons(&state).await;
    if reasons.is_empty() {
        (
            StatusCode::OK,
            Json(Probe {
                status: "ready",
                reasons,
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Probe {
                status: "not_ready",
                reasons,
            }),
        )
    }
}

/// Every reason the server is not ready; empty when it is.
pub async fn not_ready_reasons(state: &ApiState) -> Vec<String> {
    let mut reasons = Vec::new();
    if state.serve.shutting_down() {
        reasons.push("shutting down".to_owned());
    }
    // A read through the same path every request takes: fails if the store is closed or
    // broken.
    if let Err(e) = state
        .runtime
        .store()
        .feature_flag("runbox-readyz", "readyz")
        .await
    {
        reasons.push(format!("store: {e}"));
    }
    for r in state.runtime.repositories().all_status() {
        if r.commit.is_none() {
            let why = match &r.last_error {
                Some(e) => format!(": {}", e.message),
                None if r.refreshing => ": first fetch in progress".to_owned(),
                None => ": not fetched yet".to_owned(),
            };
            reasons.push(format!(
                "repository {} of org {} not loaded{why}",
                r.repository, r.org
            ));
        }
    }
    reasons
}

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}
