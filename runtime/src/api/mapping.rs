//! `POST /event-routing/mapping/preview`: renders a parameter mapping against a payload (or
//! the event type's sample) without dispatching.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, ApiResult, ErrorBody, Json};
use super::{ApiState, Reader};
use crate::routing::{ParameterMapping, PreviewResult};

// Schema only (`/openapi.json`): the shape of [`PreviewResult`] (routing module); a test in `api::openapi`
// checks it against the real type.
/// The params as a runbook would receive them, and every problem.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PreviewResult)]
pub struct PreviewResultSchema {
    /// Param name -> rendered JSON value.
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, Value>,
    pub errors: Vec<ParamErrorSchema>,
}

/// One parameter's problem.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ParamError)]
pub struct ParamErrorSchema {
    pub param: String,
    pub code: ParamErrorCodeSchema,
    pub message: String,
}

/// The code of one parameter's problem.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[schema(as = ParamErrorCode)]
pub enum ParamErrorCodeSchema {
    #[serde(rename = "param_missing")]
    Missing,
    #[serde(rename = "param_render")]
    Render,
    #[serde(rename = "invalid_mapping")]
    InvalidMapping,
}

/// `{event_type, parameter_mapping, payload?}`, plus optionally the runbook
/// (`runbook_repository` and `runbook_file`, both or neither) whose params give defaults and
/// required-param errors.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub event_type: String,
    #[serde(default)]
    pub parameter_mapping: BTreeMap<String, String>,
    #[serde(default)]
    pub payload: Option<Value>,
    #[serde(default)]
    pub runbook_repository: Option<String>,
    #[serde(default)]
    pub runbook_file: Option<String>,
}

/// 200 `{"params": {...}, "errors": [...]}`: per-param problems are in `errors`; an unknown
/// event type or a payload breaking the schema is 400.
#[utoipa::path(
    post,
    path = "/event-routing/mapping/preview",
    operation_id = "preview_mapping",
    tag = "mapping",
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "`{\"params\": {...}, \"errors\": [{\"param\", \"code\", \"message\"}]}`", body = PreviewResultSchema),
        (status = 400, description = "Bad body, unknown event type, or a payload breaking the event's schema", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn preview(
    State(state): State<ApiState>,
    Reader(caller): Reader,
    Json(body): Json<PreviewRequest>,
) -> ApiResult<Json<PreviewResult>> {
    let runbook = match (&body.runbook_repository, &body.runbook_file) {
        (Some(repo), Some(file)) => Some((repo.as_str(), file.as_str())),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "runbook_repository and runbook_file go together: give both or neither",
            ));
        }
    };
    let mapping: ParameterMapping = body.parameter_mapping.into_iter().collect();
    let result = state
        .runtime
        .preview(
            &caller.org,
            &body.event_type,
            &mapping,
            body.payload,
            runbook,
        )
        .await?;
    Ok(Json(result))
}

pub fn router() -> Router<ApiState> {
    Router::new().route("/event-routing/mapping/preview", post(preview))
}
