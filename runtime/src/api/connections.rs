//! `/connections`: create (201), list, get, update (a rename carries over to the
//! subscriptions naming the connection), delete (204; 409 while a subscription uses it).
//!
//! `{id_or_name}` is a connection id (`con_...`) or a name, as in hoop. Secrets are
//! write-only: requests carry `secret: {"envvar:KEY": "<base64>"}`, answers list only
//! `secret_keys`. On update, a body without `secret` keeps the stored secrets (a client
//! cannot send back values it was never shown) and one without `plugins` keeps the
//! plugins; every other field is replaced.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use super::secret_input::{decode_secrets, secret_keys};
use super::{Admin, ApiState, Reader};
use crate::dispatch::RoutingServiceError;
use crate::error::StoreError;
use crate::model::{AccessMode, Connection, ConnectionSpec, ConnectionType, Secrets};

/// Plugins attached when a create names none (hoop's defaults). `runbooks` is not among
/// them: runbooks run only where an admin attached it.
pub const DEFAULT_PLUGINS: [&str; 4] = ["audit", "dlp", "review", "slack"];

/// The body of create and update.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionRequest {
    pub name: String,
    /// `database`, `application` or `custom`.
    #[serde(rename = "type")]
    pub kind: ConnectionType,
    #[serde(default)]
    pub subtype: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub access_mode_exec: AccessMode,
    #[serde(default)]
    pub access_mode_connect: AccessMode,
    #[serde(default)]
    pub access_mode_runbooks: AccessMode,
    #[serde(default)]
    pub plugins: Option<Vec<String>>,
    // Decoded by [`decode_secrets`].
    /// `{"envvar:KEY": "<base64 value>"}`, write-only: answers list only `secret_keys`.
    #[serde(default)]
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>, example = json!({"envvar:PGPASSWORD": "aHVudGVyMg=="}))]
    pub secret: Option<Value>,
    /// For `custom` connections: the command run with the input on stdin.
    #[serde(default)]
    pub command: Vec<String>,
}

impl ConnectionRequest {
    /// The spec to store; `plugins` and `secrets` are used where the body has none.
    fn into_spec(self, plugins: Vec<String>, secrets: Secrets) -> ApiResult<ConnectionSpec> {
        let secrets = match &self.secret {
            Some(v) => decode_secrets(v)?,
            None => secrets,
        };
        Ok(ConnectionSpec {
            name: self.name,
            kind: self.kind,
            subtype: self.subtype,
            tags: self.tags,
            // hoop clients send `""` for "no agent".
            agent_id: self.agent_id.filter(|a| !a.is_empty()),
            access_mode_exec: self.access_mode_exec,
            access_mode_connect: self.access_mode_connect,
            access_mode_runbooks: self.access_mode_runbooks,
            plugins: self.plugins.unwrap_or(plugins),
            secrets,
            command: self.command,
        })
    }
}

/// A connection as answered: its fields, and the names of its secrets, never the values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ConnectionView {
    #[serde(flatten)]
    #[schema(inline)]
    pub connection: Connection,
    /// `envvar:KEY` for each stored secret.
    pub secret_keys: Vec<String>,
}

impl From<Connection> for ConnectionView {
    fn from(connection: Connection) -> Self {
        ConnectionView {
            secret_keys: secret_keys(&connection.secrets),
            connection,
        }
    }
}

/// The org's connection with this id, else with this name; 404 when neither.
async fn resolve(state: &ApiState, org: &str, id_or_name: &str) -> ApiResult<Connection> {
    match state.runtime.get_connection(org, id_or_name).await {
        Err(RoutingServiceError::Store(StoreError::NotFound { .. })) => {}
        other => return Ok(other?),
    }
    match state.runtime.connection_by_name(org, id_or_name).await {
        Err(RoutingServiceError::Store(
            StoreError::NotFound { .. } | StoreError::UnknownConnection { .. },
        )) => Err(ApiError::not_found("connection not found")),
        other => Ok(other?),
    }
}

/// All of the org's connections, sorted by name.
#[utoipa::path(
    get,
    path = "/connections",
    operation_id = "list_connections",
    tag = "connections",
    responses(
        (status = 200, description = "The org's connections, sorted by name", body = Vec<ConnectionView>),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn list(
    State(state): State<ApiState>,
    Reader(caller): Reader,
) -> ApiResult<Json<Vec<ConnectionView>>> {
    let all = state.runtime.list_connections(&caller.org).await?;
    Ok(Json(all.into_iter().map(ConnectionView::from).collect()))
}

/// 201 with the stored connection; 409 for a taken name.
#[utoipa::path(
    post,
    path = "/connections",
    operation_id = "create_connection",
    tag = "connections",
    request_body = ConnectionRequest,
    responses(
        (status = 201, description = "Created (secret names only, never values)", body = ConnectionView),
        (status = 400, description = "Bad body or secret", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn create(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<ConnectionRequest>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let plugins = DEFAULT_PLUGINS.iter().map(|p| p.to_string()).collect();
    let spec = body.into_spec(plugins, Secrets::default())?;
    let c = state
        .runtime
        .create_connection(&caller.org, spec, &caller.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

#[utoipa::path(
    get,
    path = "/connections/{id_or_name}",
    operation_id = "get_connection",
    tag = "connections",
    params(("id_or_name" = String, Path, description = "Connection id (`con_...`) or name")),
    responses(
        (status = 200, description = "The connection", body = ConnectionView),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 404, description = "No such connection in the org", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn get_one(
    State(state): State<ApiState>,
    Reader(caller): Reader,
    Path(id_or_name): Path<String>,
) -> ApiResult<Json<ConnectionView>> {
    Ok(Json(
        resolve(&state, &caller.org, &id_or_name).await?.into(),
    ))
}

/// 200 with the updated connection; a new name carries over to its subscriptions.
#[utoipa::path(
    put,
    path = "/connections/{id_or_name}",
    operation_id = "update_connection",
    tag = "connections",
    params(("id_or_name" = String, Path, description = "Connection id (`con_...`) or name")),
    request_body = ConnectionRequest,
    responses(
        (status = 200, description = "Updated; a new name carries over to its subscriptions", body = ConnectionView),
        (status = 400, description = "Bad body or secret", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 404, description = "No such connection in the org", body = ErrorBody),
        (status = 409, description = "The new name is taken", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn update(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id_or_name): Path<String>,
    Json(body): Json<ConnectionRequest>,
) -> ApiResult<Json<ConnectionView>> {
    let old = resolve(&state, &caller.org, &id_or_name).await?;
    let spec = body.into_spec(old.plugins, old.secrets)?;
    let c = state
        .runtime
        .update_connection(&caller.org, &old.id, spec, &caller.actor())
        .await?;
    Ok(Json(c.into()))
}

/// 204; 409 `connection_in_use` while a subscription names it.
#[utoipa::path(
    delete,
    path = "/connections/{id_or_name}",
    operation_id = "delete_connection",
    tag = "connections",
    params(("id_or_name" = String, Path, description = "Connection id (`con_...`) or name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 404, description = "No such connection in the org", body = ErrorBody),
        (status = 409, description = "A subscription uses it (`connection_in_use`)", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn delete(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id_or_name): Path<String>,
) -> ApiResult<StatusCode> {
    let old = resolve(&state, &caller.org, &id_or_name).await?;
    state
        .runtime
        .delete_connection(&caller.org, &old.id, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/connections", get(list).post(create))
        .route(
            "/connections/{id_or_name}",
            get(get_one).put(update).delete(delete),
        )
}
