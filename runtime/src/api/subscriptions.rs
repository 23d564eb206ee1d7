//! `/event-routing/subscriptions`: list, create, get, update, delete, pause, resume, and a
//! subscription's dispatches.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, Json, Path, Query};
use super::{Admin, ApiState, Reader};
use crate::model::{Dispatch, RetryPolicy, Subscription, SubscriptionSpec, SubscriptionStatus};
use crate::runtime::SubscriptionView;
use crate::store::Page;

/// Largest `page_size`; a larger one is capped (as hoop does), not refused.
pub const MAX_PAGE_SIZE: usize = 100;
/// `page_size` when none is given.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// The body of create and update: hoop's shape plus `retry_policy`. Unknown fields are
/// refused so a typo is not silently dropped. On update the event type must not change and
/// `status` is ignored.
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<SubscriptionStatus>,
}

/// The query of the dispatches route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchesQuery {
    /// From 1 (default 1).
    pub page: Option<usize>,
    /// 1 or more (default 50); above 100 it is capped at 100.
    pub page_size: Option<usize>,
}

/// The answer of pause and resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusResponse {
    pub status: SubscriptionStatus,
}

/// Newest first, optionally one status.
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
/// least 1 (400 otherwise); `page_size` above [`MAX_PAGE_SIZE`] is capped and `limit` says
/// the size used.
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
