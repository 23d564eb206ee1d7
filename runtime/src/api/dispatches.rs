//! `GET /event-routing/dispatches/{id}` and `POST /event-routing/dispatches/{id}/replay`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::error::{ApiResult, Json, Path};
use super::{Admin, ApiState, Reader};
use crate::model::Dispatch;
use crate::store::DispatchDetail;

/// The dispatch with `event_payload` and `subscription_name`.
pub async fn get_one(
    State(state): State<ApiState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> ApiResult<Json<DispatchDetail>> {
    Ok(Json(state.runtime.get_dispatch(&caller.org, &id).await?))
}

/// 201 with the new dispatch (`id`, `status: "pending"`, `replayed_from`, and the other
/// dispatch fields); 409 for a pending or processing one.
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
