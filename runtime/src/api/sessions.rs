//! `POST /sessions/{sid}/open` and `POST /sessions/{sid}/close`: session hooks for
//! gateways that do not embed the library.
//!
//! Both answer 202 at once with the hook id; the hook runs in the background and its
//! result shows in `GET /hooks/runs?sid=`. Nothing a hook does changes the answer.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use super::{Admin, ApiState};
use crate::hooks::session::{validate_sid, validate_verb};
use crate::hooks::{SessionInfo, hook_id};
use crate::host::HookKind;

/// Body of `POST /sessions/{sid}/open`: hoop's `event_session_open` fields plus the
/// session's `command` and `input_file`. Connection secrets are never sent here: they
/// come from the connection registered under `connection_name`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = SessionOpenRequest)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    pub verb: String,
    #[serde(default)]
    pub user_email: String,
    pub connection_name: String,
    #[serde(default)]
    pub connection_type: Option<String>,
    #[serde(default)]
    pub connection_subtype: Option<String>,
    #[serde(default)]
    pub connection_reviewers: Vec<String>,
    #[serde(default)]
    pub input: String,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub input_file: String,
}

/// Body of `POST /sessions/{sid}/close` (`{}` when nothing is known).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = SessionCloseRequest)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub output: Option<String>,
}

/// 202 answer: which hook was fired, and its id (what `GET /hooks/runs` shows).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = HookFired)]
pub struct Fired {
    pub sid: String,
    pub hook: String,
    pub id: String,
    /// `plain-exec` sessions run no hooks.
    pub skipped: bool,
}

fn check_sid(sid: &str) -> ApiResult<()> {
    validate_sid(sid).map_err(|m| ApiError::bad_request("invalid_session", m))
}

/// Fires the open hook.
#[utoipa::path(
    post,
    path = "/sessions/{sid}/open",
    operation_id = "session_open",
    tag = "sessions",
    params(("sid" = String, Path, description = "Session id")),
    request_body = OpenRequest,
    responses(
        (status = 202, description = "The open hook was fired (it runs in the background)", body = Fired),
        (status = 400, description = "Bad body, session id, verb or connection name", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn open(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(sid): Path<String>,
    Json(body): Json<OpenRequest>,
) -> ApiResult<(StatusCode, Json<Fired>)> {
    check_sid(&sid)?;
    validate_verb(&body.verb).map_err(|m| ApiError::bad_request("invalid_session", m))?;
    if body.connection_name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_session",
            "connection_name must not be empty",
        ));
    }
    let info = SessionInfo {
        sid: sid.clone(),
        verb: body.verb,
        user_email: body.user_email,
        connection_name: body.connection_name,
        connection_type: body.connection_type,
        connection_subtype: body.connection_subtype,
        connection_reviewers: body.connection_reviewers,
        input: body.input,
        command: body.command,
        input_file: body.input_file,
    };
    let skipped = info.skips_hooks();
    // The ticket is dropped: the hook goes on in the background.
    let _ = state.runtime.session_opened(&caller.org, info);
    Ok((
        StatusCode::ACCEPTED,
        Json(Fired {
            id: hook_id(HookKind::SessionOpen, &sid),
            sid,
            hook: HookKind::SessionOpen.as_str().to_owned(),
            skipped,
        }),
    ))
}

/// Fires the close hook.
#[utoipa::path(
    post,
    path = "/sessions/{sid}/close",
    operation_id = "session_close",
    tag = "sessions",
    params(("sid" = String, Path, description = "Session id")),
    request_body = CloseRequest,
    responses(
        (status = 202, description = "The close hook was fired (it runs in the background)", body = Fired),
        (status = 400, description = "Bad body or session id", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn close(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(sid): Path<String>,
    Json(body): Json<CloseRequest>,
) -> ApiResult<(StatusCode, Json<Fired>)> {
    check_sid(&sid)?;
    let _ = state
        .runtime
        .session_closed(&caller.org, &sid, body.exit_code, body.output);
    Ok((
        StatusCode::ACCEPTED,
        Json(Fired {
            id: hook_id(HookKind::SessionClose, &sid),
            sid,
            hook: HookKind::SessionClose.as_str().to_owned(),
            // Whether the session was plain-exec is known to the background task only.
            skipped: false,
        }),
    ))
}

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/sessions/{sid}/open", post(open))
        .route("/sessions/{sid}/close", post(close))
}
