//! `GET` and `PUT /orgs/{org}/feature-flags` (admin): the org's flags, today only
//! `experimental.event_routing`.
//!
//! `{org}` must be the token's org; any other org is 404, the same answer as for an org
//! that does not exist, so a token cannot probe other orgs.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use super::{Admin, ApiState};
use crate::auth::Caller;

/// The flags as a JSON object, `{"experimental.event_routing": bool}`; a `PUT` body may
/// leave a flag out to keep it as it is. Unknown flag names are refused (400).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureFlags {
    #[serde(
        rename = "experimental.event_routing",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub event_routing: Option<bool>,
}

fn require_own_org(caller: &Caller, org: &str) -> ApiResult<()> {
    if caller.org == org {
        Ok(())
    } else {
        Err(ApiError::not_found("org not found"))
    }
}

async fn current(state: &ApiState, org: &str) -> ApiResult<FeatureFlags> {
    Ok(FeatureFlags {
        event_routing: Some(state.runtime.event_routing_enabled(org).await?),
    })
}

#[utoipa::path(
    get,
    path = "/orgs/{org}/feature-flags",
    operation_id = "get_feature_flags",
    tag = "feature-flags",
    params(("org" = String, Path, description = "The token's org")),
    responses(
        (status = 200, description = "The org's flags", body = FeatureFlags),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 404, description = "Not the token's org", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn get_flags(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(org): Path<String>,
) -> ApiResult<Json<FeatureFlags>> {
    require_own_org(&caller, &org)?;
    Ok(Json(current(&state, &org).await?))
}

/// Sets the given flags (durable, audited with the token) and answers all of them.
#[utoipa::path(
    put,
    path = "/orgs/{org}/feature-flags",
    operation_id = "put_feature_flags",
    tag = "feature-flags",
    params(("org" = String, Path, description = "The token's org")),
    request_body = FeatureFlags,
    responses(
        (status = 200, description = "All the org's flags after the change", body = FeatureFlags),
        (status = 400, description = "Bad body or unknown flag name", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 404, description = "Not the token's org", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn put_flags(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(org): Path<String>,
    Json(body): Json<FeatureFlags>,
) -> ApiResult<Json<FeatureFlags>> {
    require_own_org(&caller, &org)?;
    if let Some(on) = body.event_routing {
        state
            .runtime
            .set_event_routing(&org, on, &caller.actor())
            .await?;
    }
    Ok(Json(current(&state, &org).await?))
}

pub fn router() -> Router<ApiState> {
    Router::new().route("/orgs/{org}/feature-flags", get(get_flags).put(put_flags))
}
