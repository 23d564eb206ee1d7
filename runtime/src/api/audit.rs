//! `GET /audit` (admin): the org's append-only audit record, oldest first, read in pages
//! by sequence number: who moved what (subscription, connection, dispatch, event, token,
//! repository configuration, org flag) from which state to which, and when.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, ErrorBody, Json, Query};
use super::{Admin, ApiState};
use crate::dispatch::RoutingServiceError;
use crate::model::AuditRecord;

/// Largest `limit`.
pub const MAX_LIMIT: usize = 1000;
/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 100;

/// The query of the audit route.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Records with a `seq` greater than this (default 0: from the start).
    pub after: Option<u64>,
    /// 1 to 1000 (default 100).
    pub limit: Option<usize>,
}

/// A page of the audit record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    /// Pass as `after` for the next page; absent when this page reached the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}

#[utoipa::path(
    get,
    path = "/audit",
    operation_id = "list_audit_records",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Audit records with `seq > after`, oldest first", body = AuditPage),
        (status = 400, description = "Bad query (`limit` out of 1..=1000, unknown parameter)", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn list(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_LIMIT}, got {limit}"),
        ));
    }
    let items = state
        .runtime
        .store()
        .audit_log(&caller.org, q.after.unwrap_or(0), limit)
        .await
        .map_err(RoutingServiceError::from)?;
    let next_after = items.last().filter(|_| items.len() == limit).map(|r| r.seq);
    Ok(Json(AuditPage { items, next_after }))
}

pub fn router() -> Router<ApiState> {
    Router::new().route("/audit", get(list))
}
