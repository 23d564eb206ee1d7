//! `/tokens` (admin): list, create and revoke the org's API tokens while the server runs
//! (`runbox token ...` needs the store to itself, so it only works with the server stopped;
//! a leaked token must be revocable at once).
//!
//! The create answer is the one place a token text appears, as `runbox token create` prints
//! it once; lists never show secrets or hashes.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use serde::{Deserialize, Serialize};

use super::error::{ApiResult, ErrorBody, Json, Path};
use super::{Admin, ApiState};
use crate::auth::{Role, TokenInfo};

// Schema only (`/openapi.json`): the shape of [`TokenInfo`], an auth type.
/// A token as listed: never its secret or hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListedToken {
    pub id: String,
    pub org: String,
    /// `admin` or `read-only`.
    pub role: String,
    pub label: String,
    pub created_at: crate::model::Timestamp,
    pub created_by: String,
    pub revoked_at: Option<crate::model::Timestamp>,
}

/// `{role, label?}`; the org is the caller's.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = TokenCreateRequest)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    #[schema(value_type = String, example = "read-only")]
    /// `admin` or `read-only`.
    pub role: Role,
    #[serde(default)]
    pub label: String,
}

/// The new token: `token` is its text, shown this once.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    pub id: String,
    pub org: String,
    /// `admin` or `read-only`.
    #[schema(value_type = String, example = "admin")]
    pub role: Role,
    pub label: String,
    pub token: String,
}

/// `Debug` without the token text.
impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("id", &self.id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The org's tokens, revoked ones included, oldest first.
#[utoipa::path(
    get,
    path = "/tokens",
    operation_id = "list_tokens",
    tag = "tokens",
    responses(
        (status = 200, description = "The org's tokens, revoked ones included, oldest first", body = Vec<ListedToken>),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn list(
    State(state): State<ApiState>,
    Admin(caller): Admin,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    Ok(Json(state.runtime.list_tokens(&caller.org).await?))
}

/// 201 with the token text.
#[utoipa::path(
    post,
    path = "/tokens",
    operation_id = "create_token",
    tag = "tokens",
    request_body = CreateRequest,
    responses(
        (status = 201, description = "The new token; `token` is its text, shown this once", body = CreatedToken),
        (status = 400, description = "Malformed JSON, a wrong type, an unknown or missing field", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn create(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<CreateRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let t = state
        .runtime
        .create_token(&caller.org, body.role, &body.label, &caller.actor())
        .await?;
    let created = CreatedToken {
        id: t.id,
        org: t.org,
        role: t.role,
        label: body.label,
        token: t.secret_text,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// 204; the token stops working at once (revoking the caller's own token is allowed).
#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    operation_id = "revoke_token",
    tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked; it stops working at once"),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 404, description = "No such token in the org", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn revoke(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state
        .runtime
        .revoke_token(&caller.org, &id, &caller.actor())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}", delete(revoke))
}
