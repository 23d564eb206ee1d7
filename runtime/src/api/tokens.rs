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

use super::error::{ApiResult, Json, Path};
use super::{Admin, ApiState};
use crate::auth::{Role, TokenInfo};

/// `{role, label?}`; the org is the caller's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub role: Role,
    #[serde(default)]
    pub label: String,
}

/// The new token: `token` is its text, shown this once.
#[derive(Clone, Serialize)]
pub struct CreatedToken {
    pub id: String,
    pub org: String,
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
pub async fn list(
    State(state): State<ApiState>,
    Admin(caller): Admin,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    Ok(Json(state.runtime.list_tokens(&caller.org).await?))
}

/// 201 with the token text.
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
