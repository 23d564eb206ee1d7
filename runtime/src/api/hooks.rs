//! `GET /hooks/runs?sid=`: the recorded session-hook runs of a session, oldest first;
//! `GET`/`PUT /hooks/settings`: the org's hook settings.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, ErrorBody, Json, Query};
use super::{Admin, ApiState, Reader};
use crate::hooks::session::validate_sid;
use crate::hooks::{HookRun, OrgHookSettings};

// Schema only (`/openapi.json`): the shape of [`HookRun`] (hooks module); a test in `api::openapi`
// checks it against the real type.
/// One recorded session-hook run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = HookRun)]
pub struct HookRunSchema {
    /// hoop's hook id (stable per session and event).
    pub id: String,
    /// 0 on success; a plain command's own code; 1 when the hook failed by itself; -1 when
    /// a limit stopped it or it never started.
    pub exit_code: i32,
    /// The output, or the error for a failure (capped).
    pub output: String,
    /// Wall-clock time of the run, in seconds.
    pub execution_time_sec: f64,
    pub sid: String,
    /// `session-open` or `session-close`.
    pub hook: String,
    /// When the hook was fired, RFC 3339 UTC.
    pub started_at: String,
    /// The repository the hook component came from (absent when it did not load).
    pub repository: Option<String>,
    pub commit: Option<String>,
    /// The classified failure; null on success.
    pub error: Option<HookErrorSchema>,
    pub fuel_used: Option<u64>,
    pub peak_memory_bytes: Option<u64>,
}

/// Why a hook run failed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = HookError)]
pub struct HookErrorSchema {
    /// A stable code (`deadline_exceeded`, `policy_denied`, `runbook_unavailable`, ...).
    pub code: String,
    pub message: String,
}

// Schema only: the shape of [`OrgHookSettings`].
/// The org's session-hook settings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = HookSettings)]
#[serde(deny_unknown_fields)]
pub struct HookSettingsSchema {
    /// Hooks see connection secret values (base64) in `connection_envs`; off (the
    /// default): only the keys, each mapped to `""`.
    #[serde(default)]
    pub show_secret_values: bool,
}

/// Query of `GET /hooks/runs`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// The session id (required).
    #[serde(default)]
    pub sid: Option<String>,
}

/// The session's runs (`[]` when none ran).
#[utoipa::path(
    get,
    path = "/hooks/runs",
    operation_id = "list_hook_runs",
    tag = "hooks",
    params(RunsQuery),
    responses(
        (status = 200, description = "The session's recorded hook runs, oldest first (`[]` when none ran)", body = Vec<HookRunSchema>),
        (status = 400, description = "`sid` missing or not a session id", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
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
#[utoipa::path(
    get,
    path = "/hooks/settings",
    operation_id = "get_hook_settings",
    tag = "hooks",
    responses(
        (status = 200, description = "The org's hook settings", body = HookSettingsSchema),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn get_settings(
    State(state): State<ApiState>,
    Reader(caller): Reader,
) -> ApiResult<Json<OrgHookSettings>> {
    Ok(Json(state.runtime.hook_org_settings(&caller.org)?))
}

/// Replaces the org's hook settings; answers with them.
#[utoipa::path(
    put,
    path = "/hooks/settings",
    operation_id = "put_hook_settings",
    tag = "hooks",
    request_body = HookSettingsSchema,
    responses(
        (status = 200, description = "The new settings", body = HookSettingsSchema),
        (status = 400, description = "Bad body or unknown setting", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn put_settings(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<OrgHookSettings>,
) -> ApiResult<Json<OrgHookSettings>> {
    state
        .runtime
        .set_hook_org_settings(&caller.org, body)
        .await?;
    Ok(Json(body))
}

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/hooks/runs", get(runs))
        .route("/hooks/settings", get(get_settings).put(put_settings))
}
