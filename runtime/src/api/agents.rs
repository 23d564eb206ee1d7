//! `PUT /agents/{id}/status` (admin) and `GET /agents/{id}/status`: the gateway reports an
//! agent online or offline. Dispatches of connections whose agent is offline stay
//! `pending`; when it comes back the workers pick them up.
//!
//! Agent status is kept by the runtime, not per org, so an org may only see or change an
//! agent that one of its own connections is bound to; any other id is 404.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use super::{Admin, ApiState, Reader};

/// An agent's reported state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    Online,
    Offline,
}

/// `{status: "online" | "offline"}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = AgentStatusRequest)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub status: AgentStatus,
}

/// `{id, status}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = AgentStatusResponse)]
pub struct StatusResponse {
    pub id: String,
    pub status: AgentStatus,
}

/// 404 unless a connection of `org` is bound to agent `id`.
async fn require_own_agent(state: &ApiState, org: &str, id: &str) -> ApiResult<()> {
    let connections = state.runtime.list_connections(org).await?;
    if connections
        .iter()
        .any(|c| c.agent_id.as_deref() == Some(id))
    {
        Ok(())
    } else {
        Err(ApiError::not_found("agent not found"))
    }
}

fn view(state: &ApiState, id: String) -> StatusResponse {
    let status = if state.runtime.agent_online(&id) {
        AgentStatus::Online
    } else {
        AgentStatus::Offline
    };
    StatusResponse { id, status }
}

#[utoipa::path(
    get,
    path = "/agents/{id}/status",
    operation_id = "get_agent_status",
    tag = "agents",
    params(("id" = String, Path, description = "Agent id (one of the org's connections is bound to it)")),
    responses(
        (status = 200, description = "`{id, status}`", body = StatusResponse),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 404, description = "No connection of the org is bound to this agent", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn get_status(
    State(state): State<ApiState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> ApiResult<Json<StatusResponse>> {
    require_own_agent(&state, &caller.org, &id).await?;
    Ok(Json(view(&state, id)))
}

/// 200 `{id, status}` with the new status.
#[utoipa::path(
    put,
    path = "/agents/{id}/status",
    operation_id = "put_agent_status",
    tag = "agents",
    params(("id" = String, Path, description = "Agent id (one of the org's connections is bound to it)")),
    request_body = StatusRequest,
    responses(
        (status = 200, description = "`{id, status}` with the new status", body = StatusResponse),
        (status = 400, description = "Malformed JSON, a wrong type, an unknown or missing field", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 404, description = "No connection of the org is bound to this agent", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn put_status(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    Json(body): Json<StatusRequest>,
) -> ApiResult<Json<StatusResponse>> {
    require_own_agent(&state, &caller.org, &id).await?;
    let online = body.status == AgentStatus::Online;
    state.runtime.set_agent_status(&id, online);
    tracing::info!(agent_id = %id, online, actor = %caller.actor(), "agent status reported");
    Ok(Json(view(&state, id)))
}

pub fn router() -> Router<ApiState> {
    Router::new().route("/agents/{id}/status", get(get_status).put(put_status))
}
