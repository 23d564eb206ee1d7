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
use crate::auth::Caller;
use crate::model::{NewAuditRecord, ObjectKind};
use crate::repo::{RefreshReport, RepoConfig};
use crate::server::repo_configs::{RepoConfigError, RepoConfigView};

// Schema only (`/openapi.json`): the shapes of [`RepoConfig`], [`RepoConfigView`],
// `RepoStatus` and [`RefreshReport`] (repo and server modules); a test in `api::openapi`
// checks them against the real types.

/// A repository's settings (hoop's). Secrets are write-only: leave one out on update to
/// keep it, send `""` to clear it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = RepoConfig)]
#[serde(deny_unknown_fields)]
pub struct RepoConfigSchema {
    /// https, ssh (`ssh://` or `git@host:o/r.git`), `git://`, `file://` or a local path.
    pub git_url: String,
    /// Branch to follow. Default: `master`, else `main`.
    pub branch: Option<String>,
    /// User for https (default `oauth2`).
    pub git_user: Option<String>,
    /// Password or token for https.
    #[schema(write_only)]
    pub git_password: Option<String>,
    /// Private key (PEM/OpenSSH text) for ssh.
    #[schema(write_only)]
    pub git_ssh_key: Option<String>,
    /// User for ssh (default: the one in the URL, else `git`).
    pub git_ssh_user: Option<String>,
    /// Passphrase of `git_ssh_key`.
    #[schema(write_only)]
    pub git_ssh_keypass: Option<String>,
    /// `known_hosts` lines the ssh server's key must match.
    pub git_ssh_known_hosts: Option<String>,
    /// Seconds between refetches; setting it enables session hooks from this repository.
    pub hook_config_ttl: Option<u64>,
}

/// A repository configuration as answered: no secret values.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = RepoConfigView)]
pub struct RepoConfigViewSchema {
    pub id: String,
    pub org: String,
    pub source: RepoConfigSourceSchema,
    /// `host/owner/repo` (the name subscriptions and runs use).
    pub repository: String,
    /// URL with any credentials replaced by `***`.
    pub git_url: String,
    pub branch: Option<String>,
    pub git_user: Option<String>,
    pub git_ssh_user: Option<String>,
    pub hook_config_ttl: Option<u64>,
    pub has_git_ssh_known_hosts: bool,
    /// Names of the secrets that are set (`git_password`, `git_ssh_key`, `git_ssh_keypass`).
    pub secrets_set: Vec<String>,
    pub created_at: crate::model::Timestamp,
    pub updated_at: crate::model::Timestamp,
    pub status: Option<RepoStatusSchema>,
}

/// Where a configuration comes from: `config` (the server's file, read-only here) or `api`.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
#[schema(as = RepoConfigSource)]
#[serde(rename_all = "lowercase")]
pub enum RepoConfigSourceSchema {
    Config,
    Api,
}

/// The fetch state of one repository.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = RepoStatus)]
pub struct RepoStatusSchema {
    pub org: String,
    pub repository: String,
    /// The configured URL, credentials replaced by `***`.
    pub url: String,
    pub branch: Option<String>,
    /// Whether session hooks are served from this repository.
    pub hooks_enabled: bool,
    /// Refetch interval.
    pub ttl_seconds: f64,
    /// Commit of the snapshot being served.
    pub commit: Option<String>,
    /// Runbook files of the served snapshot that loaded / did not.
    pub loaded: usize,
    pub failed: usize,
    /// When a fetch last started (RFC 3339).
    pub last_fetch_at: Option<String>,
    /// When a fetch last succeeded (RFC 3339).
    pub last_success_at: Option<String>,
    /// Time since the last success.
    pub snapshot_age_seconds: Option<f64>,
    /// Whether the TTL has passed since the last fetch.
    pub stale: bool,
    /// Whether a refresh is running now.
    pub refreshing: bool,
    /// The error of the last refresh, if it failed.
    pub last_error: Option<RepoStatusErrorSchema>,
    /// Fetches started since the server started.
    pub fetches: u64,
}

/// The last fetch error of a repository.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = RepoStatusError)]
pub struct RepoStatusErrorSchema {
    pub code: String,
    pub message: String,
    /// RFC 3339.
    pub at: String,
}

/// What one refresh did, by `outcome`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = RefreshReport)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RefreshReportSchema {
    /// The TTL had not passed; nothing was fetched.
    Fresh { commit: String },
    /// Fetched; the branch still points at the served commit.
    Unchanged { commit: String },
    /// Fetched a new commit and swapped the snapshot.
    Updated {
        from: Option<String>,
        to: String,
        loaded: usize,
        failed: usize,
    },
}

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
        (status = 200, description = "The org's repository configurations (no secret values)", body = Vec<RepoConfigViewSchema>),
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
    request_body = RepoConfigSchema,
    responses(
        (status = 201, description = "The configuration (secret names in `secrets_set`, never values)", body = RepoConfigViewSchema),
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
    let detail = settings_detail(&view);
    audit(
        &state,
        &caller,
        &view.id,
        None,
        Some(view.repository.as_str()),
        detail,
    )
    .await;
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
        (status = 200, description = "The configuration (secret names in `secrets_set`, never values)", body = RepoConfigViewSchema),
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
    request_body = RepoConfigSchema,
    responses(
        (status = 200, description = "The configuration (secret names in `secrets_set`, never values)", body = RepoConfigViewSchema),
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
    let before = state.serve.repo_configs.get(org, &id)?;
    let view = state.serve.repo_configs.update(org, &id, body)?;
    tracing::info!(org, actor = %caller.actor(), id = %view.id, repository = %view.repository, "repository configuration updated");
    let detail = settings_detail(&view);
    let (from, to) = (before.repository.as_str(), view.repository.as_str());
    audit(&state, &caller, &view.id, Some(from), Some(to), detail).await;
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
    let before = state.serve.repo_configs.get(org, &id)?;
    state.serve.repo_configs.delete(org, &id)?;
    tracing::info!(org, actor = %caller.actor(), id, "repository configuration deleted");
    audit(
        &state,
        &caller,
        &id,
        Some(before.repository.as_str()),
        None,
        None,
    )
    .await;
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
        (status = 200, description = "What the fetch did (`updated` with the new commit, `unchanged`)", body = RefreshReportSchema),
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

/// What an audit record says about a configuration's settings: the URL (credentials
/// masked), the branch, and the *names* of the secrets set, never their values.
fn settings_detail(view: &RepoConfigView) -> Option<String> {
    let branch = view.branch.as_deref().unwrap_or("default");
    let secrets = if view.secrets_set.is_empty() {
        "none".to_string()
    } else {
        view.secrets_set.join(", ")
    };
    Some(format!(
        "git_url {}, branch {branch}, secrets set: {secrets}",
        view.git_url
    ))
}

/// Appends the audit record of a configuration write (object `repository`). The change is
/// already persisted (`repositories.json`, outside the store), so a failure to audit it is
/// logged, not answered: the caller must not retry a change that happened.
async fn audit(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    from: Option<&str>,
    to: Option<&str>,
    detail: Option<String>,
) {
    let record = NewAuditRecord {
        actor: caller.actor(),
        object_kind: ObjectKind::Repository,
        object_id: id.to_string(),
        from: from.map(str::to_string),
        to: to.map(str::to_string),
        detail,
    };
    if let Err(e) = state
        .runtime
        .store()
        .append_audit(&caller.org, record)
        .await
    {
        tracing::error!(org = %caller.org, id, error = %e, "a repository configuration change was made but could not be audited");
    }
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
