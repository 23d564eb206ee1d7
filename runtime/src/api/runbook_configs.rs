//! `/runbooks/configurations`: an org's runbook repositories (create, list, get, update,
//! delete) and `POST /runbooks/configurations/{id}/refresh` (fetch now).
//!
//! The body is hoop's repository settings (`git_url`, `branch`, `git_user`,
//! `git_password`, `git_ssh_key`, `git_ssh_user`, `git_ssh_keypass`,
//! `git_ssh_known_hosts`, `hook_config_ttl`). Secrets are write-only: answers say which are
//! set (`secrets_set`), never their values; an update that leaves a secret out keeps it,
//! `""` clears it. Repositories from the server's config file are listed with
//! `source: "config"` and cannot be changed here (409).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use super::{Admin, ApiState, Reader};
use crate::repo::{RefreshReport, RepoConfig};
use crate::server::repo_configs::{RepoConfigError, RepoConfigView};

impl From<RepoConfigError> for ApiError {
    fn from(e: RepoConfigError) -> Self {
        let status = match &e {
            RepoConfigError::NotFound => StatusCode::NOT_FOUND,
            RepoConfigError::Duplicate(_) | RepoConfigError::ReadOnly(_) => StatusCode::CONFLICT,
            RepoConfigError::Repo(r) => match r.code() {
                "fetch_failed" | "fetch_timeout" => StatusCode::BAD_GATEWAY,
                _ => StatusCode::BAD_REQUEST,
            },
            RepoConfigError::Persist(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

#[utoipa::path(
    get,
    path = "/runbooks/configurations",
    operation_id = "list_runbook_configurations",
    tag = "runbook-configurations",
    responses(
        (status = 200, description = "The org's repository configurations (no secret values)", body = Vec<serde_json::Value>),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn list(
    State(state): State<ApiState>,
    Reader(caller): Reader,
) -> Json<Vec<RepoConfigView>> {
    Json(state.serve.repo_configs.list(&caller.org))
}

/// 201 with the configuration (no secret values). The first fetch happens in the
/// background; `/refresh` waits for one.
#[utoipa::path(
    post,
    path = "/runbooks/configurations",
    operation_id = "create_runbook_configuration",
    tag = "runbook-configurations",
    request_body = serde_json::Value,
    responses(
        (status = 201, description = "The configuration (secret names in `secrets_set`, never values)", body = serde_json::Value),
        (status = 400, description = "Bad body or git URL", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 409, description = "The repository is configured already", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn create(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<RepoConfig>,
) -> ApiResult<(StatusCode, Json<RepoConfigView>)> {
    let org = caller.org.as_str();
    let view = state.serve.repo_configs.create(org, body)?;
    tracing::info!(org, actor = %caller.actor(), id = %view.id, repository = %view.repository, "repository configuration created");
    warm_up(&state, org, view.repository.as_str());
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(
    get,
    path = "/runbooks/configurations/{id}",
    operation_id = "get_runbook_configuration",
    tag = "runbook-configurations",
    params(("id" = String, Path, description = "Repository configuration id")),
    responses(
        (status = 200, description = "The configuration (secret names in `secrets_set`, never values)", body = serde_json::Value),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 404, description = "No such configuration in the org", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn get_one(
    State(state): State<ApiState>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> ApiResult<Json<RepoConfigView>> {
    Ok(Json(state.serve.repo_configs.get(&caller.org, &id)?))
}

#[utoipa::path(
    put,
    path = "/runbooks/configurations/{id}",
    operation_id = "update_runbook_configuration",
    tag = "runbook-configurations",
    params(("id" = String, Path, description = "Repository configuration id")),
    request_body = serde_json::Value,
    responses(
        (status = 200, description = "The configuration (secret names in `secrets_set`, never values)", body = serde_json::Value),
        (status = 400, description = "Bad body or git URL", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 404, description = "No such configuration in the org", body = ErrorBody),
        (status = 409, description = "From the server's config file (read-only), or a duplicate", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn update(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
    Json(body): Json<RepoConfig>,
) -> ApiResult<Json<RepoConfigView>> {
    let org = caller.org.as_str();
    let view = state.serve.repo_configs.update(org, &id, body)?;
    tracing::info!(org, actor = %caller.actor(), id = %view.id, repository = %view.repository, "repository configuration updated");
    warm_up(&state, org, view.repository.as_str());
    Ok(Json(view))
}

/// 204.
#[utoipa::path(
    delete,
    path = "/runbooks/configurations/{id}",
    operation_id = "delete_runbook_configuration",
    tag = "runbook-configurations",
    params(("id" = String, Path, description = "Repository configuration id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 404, description = "No such configuration in the org", body = ErrorBody),
        (status = 409, description = "From the server's config file (read-only)", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn delete(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let org = caller.org.as_str();
    state.serve.repo_configs.delete(org, &id)?;
    tracing::info!(org, actor = %caller.actor(), id, "repository configuration deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Fetches now and answers what happened (`updated` with the new commit, `unchanged`).
/// A failed fetch is 502 with the reason; the last good snapshot stays served.
#[utoipa::path(
    post,
    path = "/runbooks/configurations/{id}/refresh",
    operation_id = "refresh_runbook_configuration",
    tag = "runbook-configurations",
    params(("id" = String, Path, description = "Repository configuration id")),
    responses(
        (status = 200, description = "What the fetch did (`updated` with the new commit, `unchanged`)", body = serde_json::Value),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 404, description = "No such configuration in the org", body = ErrorBody),
        (status = 502, description = "The fetch failed; the last good snapshot stays served", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn refresh(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<RefreshReport>> {
    let org = caller.org.as_str();
    match state.serve.repo_configs.refresh(org, &id).await {
        Ok(report) => Ok(Json(report)),
        Err(e) => {
            if let Ok(view) = state.serve.repo_configs.get(org, &id) {
                state
                    .runtime
                    .metrics()
                    .repo_fetch_error(org, view.repository.as_str());
            }
            Err(e.into())
        }
    }
}

/// Starts the first fetch in the background so `/readyz` and listings settle without a
/// caller having to wait. The task holds the registry and the metrics, never the runtime,
/// so a shutdown is not kept from closing the store by a fetch in progress.
fn warm_up(state: &ApiState, org: &str, repository: &str) {
    let repos = state.runtime.repositories().clone();
    let metrics = std::sync::Arc::clone(state.runtime.metrics());
    let (org, repository) = (org.to_owned(), repository.to_owned());
    tokio::spawn(async move {
        if let Err(e) = repos.refresh_if_stale(&org, &repository).await {
            metrics.repo_fetch_error(&org, &repository);
            tracing::warn!(org, repository, error = %e, "repository fetch failed");
        }
    });
}

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/runbooks/configurations", get(list).post(create))
        .route(
            "/runbooks/configurations/{id}",
            get(get_one).put(update).delete(delete),
        )
        .route("/runbooks/configurations/{id}/refresh", post(refresh))
}
