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

use super::error::{ApiResult, Json};
use super::{Admin, ApiState};
use crate::PublishReceipt;

/// `{event_type, payload, producer_event_id?}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    pub event_type: String,
    pub payload: Value,
    #[serde(default)]
    pub producer_event_id: Option<String>,
}

/// 202 `{event_id, dispatch_ids, duplicate, feature_disabled}`; 400 for an unknown event
/// type or a payload that breaks its schema, 413 for a payload above the runtime's limit.
pub async fn publish(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<PublishRequest>,
) -> ApiResult<(StatusCode, Json<PublishReceipt>)> {
    let receipt = state
        .runtime
        .publish(
            &caller.org,
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
