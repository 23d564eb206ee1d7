//! `/event-routing/subscriptions`: list, create, get, update, delete, pause, resume, and a
//! subscription's dispatches.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, ErrorBody, Json, Path, Query};
use super::{Admin, ApiState, Reader};
use crate::model::{
    Dispatch, DispatchError, RetryPolicy, Subscription, SubscriptionSpec, SubscriptionStatus,
};
use crate::runtime::SubscriptionView;
use crate::store::Page;

/// Largest `page_size`; a larger one is capped (as hoop does), not refused.
pub const MAX_PAGE_SIZE: usize = 100;
/// `page_size` when none is given.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// The body of create and update: hoop's shape plus `retry_policy`. Unknown fields are
/// refused so a typo is not silently dropped. On update the event type must not change and
/// `status` is ignored.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub event_types: Vec<String>,
    pub runbook_repository: String,
    pub runbook_file: String,
    pub connection_name: String,
    #[serde(default)]
    pub parameter_mapping: BTreeMap<String, String>,
    #[serde(default)]
    pub status: SubscriptionStatus,
    #[serde(default)]
    pub retry_policy: Option<RetryPolicy>,
}

impl From<SubscriptionRequest> for SubscriptionSpec {
    fn from(r: SubscriptionRequest) -> Self {
        SubscriptionSpec {
            name: r.name,
            description: r.description,
            event_types: r.event_types,
            runbook_repository: r.runbook_repository,
            runbook_file: r.runbook_file,
            connection_name: r.connection_name,
            parameter_mapping: r.parameter_mapping,
            status: r.status,
            retry_policy: r.retry_policy,
        }
    }
}

/// The query of the list route.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<SubscriptionStatus>,
}

/// The query of the dispatches route.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DispatchesQuery {
    /// From 1 (default 1).
    pub page: Option<usize>,
    /// 1 or more (default 50); above 100 it is capped at 100.
    pub page_size: Option<usize>,
}

/// The answer of pause and resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = SubscriptionStatusResponse)]
pub struct StatusResponse {
    pub status: SubscriptionStatus,
}

// Schema only (`/openapi.json`): the shape of [`SubscriptionView`], whose stats half lives
// in the store; a test in `api::openapi` checks the keys match.
/// A subscription with its dispatch figures of the last 7 days.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionWithStats {
    #[serde(flatten)]
    pub subscription: Subscription,
    pub delivered_count_7d: u64,
    pub failed_count_7d: u64,
    /// The error of the newest failed dispatch.
    pub last_error: Option<DispatchError>,
}

// Schema only (`/openapi.json`): the shape of `store::Page<Dispatch>`.
/// A page of dispatches.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DispatchPage {
    /// Newest first.
    pub items: Vec<Dispatch>,
    /// Dispatches of the subscription in all pages.
    pub total: usize,
    /// The page answered (from 1).
    pub page: usize,
    /// The page size used (after the cap of 100).
    pub limit: usize,
}

/// Newest first, optionally one status.
#[utoipa::path(
    get,
    path = "/event-routing/subscriptions",
    operation_id = "list_subscriptions",
    tag = "subscriptions",
    params(ListQuery),
    responses(
        (status = 200, description = "The org's subscriptions, newest first", body = Vec<Subscription>),
        (status = 400, description = "Unknown status or query parameter", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "Event routing is off for the org (`feature_disabled`)", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn list(
    State(state): State<ApiState>,
    Reader(caller): Reader,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<Subscription>>> {
    Ok(Json(
        state
            .runtime
            .list_subscriptions(&caller.org, q.status)
            .await?,
    ))
}

/// 201 with the stored subscription.
#[utoipa::path(
    post,
    path = "/event-routing/subscriptions",
    operation_id = "create_subscription",
    tag = "subscriptions",
    request_body = SubscriptionRequest,
    responses(
        (status = 201, description = "Created", body = Subscription),
        (status = 400, description = "Bad body, unknown event type or connection, bad mapping", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only` (this request needs `admin`), or event routing is off for the org (`feature_disabled`)", body = ErrorBody),
        (status = 409, description = "The name is taken (`duplicate_name`)", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn create(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<SubscriptionRequest>,
) -> ApiResult<(StatusCode, Json<Subscription>)> {
    let s = state
        .runtime
        .create_subscription(&caller.org, body.into(), &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

/// The subscription with `delivered_count_7d`, `failed_count_7d` and `last_error`.
#[utoipa::path(
    get,
    path = "/event-routing/subscriptions/{id}",
    operation_id = "get_subscription",
    tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "The subscription with its 7-day figures", body = SubscriptionWithStats),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "Event routing is off for the org (`feature_disabled`)", body = ErrorBody),
        (status = 404, description = "No such subscription in the org", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn get_one(
    State(state): State<ApiState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> ApiResult<Json<SubscriptionView>> {
    Ok(Json(
        state.runtime.get_subscription(&caller.org, &id).await?,
    ))
}

/// Same body as create; answers the updated subscription.
#[utoipa::path(
    put,
    path = "/event-routing/subscriptions/{id}",
    operation_id = "update_subscription",
    tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id")),
    request_body = SubscriptionRequest,
    responses(
        (status = 200, description = "Updated", body = Subscription),
        (status = 400, description = "Bad body, or a changed event type", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only` (this request needs `admin`), or event routing is off for the org (`feature_disabled`)", body = ErrorBody),
        (status = 404, description = "No such subscription in the org", body = ErrorBody),
        (status = 409, description = "The new name is taken", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn update(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    Json(body): Json<SubscriptionRequest>,
) -> ApiResult<Json<Subscription>> {
    Ok(Json(
        state
            .runtime
            .update_subscription(&caller.org, &id, body.into(), &caller.actor())
            .await?,
    ))
}

/// 204; the dispatch history goes with it.
#[utoipa::path(
    delete,
    path = "/event-routing/subscriptions/{id}",
    operation_id = "delete_subscription",
    tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id")),
    responses(
        (status = 204, description = "Deleted with its dispatch history"),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only` (this request needs `admin`), or event routing is off for the org (`feature_disabled`)", body = ErrorBody),
        (status = 404, description = "No such subscription in the org", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn delete(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .runtime
        .delete_subscription(&caller.org, &id, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 200 `{"status":"paused"}`.
#[utoipa::path(
    post,
    path = "/event-routing/subscriptions/{id}/pause",
    operation_id = "pause_subscription",
    tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "`{\"status\":\"paused\"}`", body = StatusResponse),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only` (this request needs `admin`), or event routing is off for the org (`feature_disabled`)", body = ErrorBody),
        (status = 404, description = "No such subscription in the org", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn pause(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<StatusResponse>> {
    let s = state
        .runtime
        .pause_subscription(&caller.org, &id, &caller.actor())
        .await?;
    Ok(Json(StatusResponse { status: s.status }))
}

/// 200 `{"status":"active"}` (no backfill).
#[utoipa::path(
    post,
    path = "/event-routing/subscriptions/{id}/resume",
    operation_id = "resume_subscription",
    tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "`{\"status\":\"active\"}`", body = StatusResponse),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only` (this request needs `admin`), or event routing is off for the org (`feature_disabled`)", body = ErrorBody),
        (status = 404, description = "No such subscription in the org", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn resume(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<StatusResponse>> {
    let s = state
        .runtime
        .resume_subscription(&caller.org, &id, &caller.actor())
        .await?;
    Ok(Json(StatusResponse { status: s.status }))
}

/// `{"items","total","page","limit"}`, newest first. `page` and `page_size` must be at
/// least 1 (400 otherwise); `page_size` above 100 ([`MAX_PAGE_SIZE`]) is capped and `limit` says
/// the size used.
#[utoipa::path(
    get,
    path = "/event-routing/subscriptions/{id}/dispatches",
    operation_id = "list_subscription_dispatches",
    tag = "subscriptions",
    params(("id" = String, Path, description = "Subscription id"), DispatchesQuery),
    responses(
        (status = 200, description = "A page of the subscription's dispatches, newest first", body = DispatchPage),
        (status = 400, description = "`page` or `page_size` is 0 or not a number", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "Event routing is off for the org (`feature_disabled`)", body = ErrorBody),
        (status = 404, description = "No such subscription in the org", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn dispatches(
    State(state): State<ApiState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
    Query(q): Query<DispatchesQuery>,
) -> ApiResult<Json<Page<Dispatch>>> {
    let page = q.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "page must be 1 or more",
        ));
    }
    let page_size = q.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if page_size == 0 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "page_size must be 1 or more",
        ));
    }
    let page_size = page_size.min(MAX_PAGE_SIZE);
    Ok(Json(
        state
            .runtime
            .list_dispatches(&caller.org, &id, page, page_size)
            .await?,
    ))
}

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/event-routing/subscriptions", get(list).post(create))
        .route(
            "/event-routing/subscriptions/{id}",
            get(get_one).put(update).delete(delete),
        )
        .route("/event-routing/subscriptions/{id}/pause", post(pause))
        .route("/event-routing/subscriptions/{id}/resume", post(resume))
        .route(
            "/event-routing/subscriptions/{id}/dispatches",
            get(dispatches),
        )
}
