//! `POST /events`: publish an event over HTTP, for gateways that do not embed the library.
//!
//! Answered 202 only once the event and its dispatches are durable ([`Runtime::publish`]
//! waits for the group commit), with the event id and the dispatch ids. A repeated
//! `producer_event_id` answers the original event id, no dispatches and `duplicate: true`.
//! With event routing off for the org nothing is stored and the answer says
//! `feature_disabled: true` (as the library does, so a gateway can publish blindly).
//!
//! [`Runtime::publish`]: crate::Runtime::publish

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::Deserialize;
use serde_json::Value;

use super::error::{ApiResult, ErrorBody, Json};
use super::{Admin, ApiState};
use crate::PublishReceipt;

// Schema only (`/openapi.json`): the shape of [`PublishReceipt`], a runtime type.
/// What a publish did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PublishAccepted {
    /// The stored event (the original one for a duplicate); null when event routing is off
    /// for the org and nothing was stored.
    pub event_id: Option<String>,
    /// The dispatches created (empty for a duplicate or with no active subscription).
    pub dispatch_ids: Vec<String>,
    /// The producer id was seen before: nothing was created.
    pub duplicate: bool,
    /// Event routing is off for the org: the event was counted, not stored.
    pub feature_disabled: bool,
}

/// `{event_type, payload, producer_event_id?}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    pub event_type: String,
    pub payload: Value,
    #[serde(default)]
    pub producer_event_id: Option<String>,
}

/// 202 `{event_id, dispatch_ids, duplicate, feature_disabled}`; 400 for an unknown event
/// type or a payload that breaks its schema, 413 for a payload above the runtime's limit.
#[utoipa::path(
    post,
    path = "/events",
    operation_id = "publish_event",
    tag = "events",
    request_body = PublishRequest,
    responses(
        (status = 202, description = "Durable: the event id and the dispatch ids", body = PublishAccepted),
        (status = 400, description = "Bad body, unknown event type, or a payload breaking its schema", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 413, description = "The body or the payload is larger than the limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn publish(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<PublishRequest>,
) -> ApiResult<(StatusCode, Json<PublishReceipt>)> {
    let receipt = state
        .runtime
        .publish_as(
            &caller.org,
            Some(&caller.actor()),
            &body.event_type,
            body.payload,
            body.producer_event_id.as_deref(),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(receipt)))
}

pub fn router() -> Router<ApiState> {
    Router::new().route("/events", post(publish))
}
