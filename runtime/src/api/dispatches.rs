//! `GET /event-routing/dispatches/{id}` and `POST /event-routing/dispatches/{id}/replay`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::error::{ApiResult, ErrorBody, Json, Path};
use super::{Admin, ApiState, Reader};
use crate::model::Dispatch;
use crate::store::DispatchDetail;

// Schema only (`/openapi.json`): the shape of [`DispatchDetail`], a store type.
/// A dispatch with its event's payload and its subscription's name.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DispatchWithEvent {
    #[serde(flatten)]
    pub dispatch: Dispatch,
    /// The payload of the event that made the dispatch.
    pub event_payload: serde_json::Value,
    pub subscription_name: String,
}

/// The dispatch with `event_payload` and `subscription_name`.
#[utoipa::path(
    get,
    path = "/event-routing/dispatches/{id}",
    operation_id = "get_dispatch",
    tag = "dispatches",
    params(("id" = String, Path, description = "Dispatch id")),
    responses(
        (status = 200, description = "The dispatch with `event_payload` and `subscription_name`", body = DispatchWithEvent),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "Event routing is off for the org (`feature_disabled`)", body = ErrorBody),
        (status = 404, description = "No such dispatch in the org", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn get_one(
    State(state): State<ApiState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> ApiResult<Json<DispatchDetail>> {
    Ok(Json(state.runtime.get_dispatch(&caller.org, &id).await?))
}

/// 201 with the new dispatch (`id`, `status: "pending"`, `replayed_from`, and the other
/// dispatch fields); 409 for a pending or processing one.
#[utoipa::path(
    post,
    path = "/event-routing/dispatches/{id}/replay",
    operation_id = "replay_dispatch",
    tag = "dispatches",
    params(("id" = String, Path, description = "Dispatch id")),
    responses(
        (status = 201, description = "The new pending dispatch (`replayed_from` names the original)", body = Dispatch),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only` (this request needs `admin`), or event routing is off for the org (`feature_disabled`)", body = ErrorBody),
        (status = 404, description = "No such dispatch in the org", body = ErrorBody),
        (status = 409, description = "The dispatch is still pending or processing", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn replay(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Dispatch>)> {
    let d = state
        .runtime
        .replay(&caller.org, &id, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/event-routing/dispatches/{id}", get(get_one))
        .route("/event-routing/dispatches/{id}/replay", post(replay))
}
