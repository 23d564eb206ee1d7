//! `GET /hooks/runs?sid=`: the recorded session-hook runs of a session, oldest first;
//! `GET`/`PUT /hooks/settings`: the org's hook settings.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;

use super::error::{ApiError, ApiResult, Json, Query};
use super::{Admin, ApiState, Reader};
use crate::hooks::session::validate_sid;
use crate::hooks::{HookRun, OrgHookSettings};

/// Query of `GET /hooks/runs`.
#[derive(Debug, Clone, Deserialize)]
pub struct RunsQuery {
    #[serde(default)]
    pub sid: Option<String>,
}

/// The session's runs (`[]` when none ran).
pub async fn runs(
    State(state): State<ApiState>,
    Reader(caller): Reader,
    Query(q): Query<RunsQuery>,
) -> ApiResult<Json<Vec<HookRun>>> {
    let Some(sid) = q.sid else {
        return Err(ApiError::bad_request(
            "invalid_query",
            "query parameter `sid` (the session id) is required",
        ));
    };
    validate_sid(&sid).map_err(|m| ApiError::bad_request("invalid_query", m))?;
    Ok(Json(state.runtime.hook_runs(&caller.org, &sid)?))
}

/// The org's hook settings.
pub async fn get_settings(
    State(state): State<ApiState>,
    Reader(caller): Reader,
) -> ApiResult<Json<OrgHookSettings>> {
    Ok(Json(state.runtime.hook_org_settings(&caller.org)?))
}

/// Replaces the org's hook settings; answers with them.
pub async fn put_settings(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<OrgHookSettings>,
) -> ApiResult<Json<OrgHookSettings>> {
    state.runtime.set_hook_org_settings(&caller.org, body).await?;
    Ok(Json(body))
}

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/hooks/runs", get(runs))
        .route("/hooks/settings", get(get_settings).put(put_settings))
}
