//! `/runbooks`: the org's runbooks with metadata, commit and load errors, and manual runs
//! (`POST /runbooks/exec`, hoop's ExecResponse shape).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use runbox_host_api::{ComponentKind, ParamSpec, RunOutcome};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{ApiResult, ErrorBody, Json, Query};
use super::{Admin, ApiState, Reader};
use crate::manual_run::ManualRun;
use crate::repo::{FileListing, FileRole, RepoStatus};

/// `GET /runbooks` query.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only runbooks that can run against this connection: the connection must exist (400
    /// otherwise); one that does not allow runbooks gets no items. Session hooks are left
    /// out (they run on session events, never against a chosen connection).
    pub connection_name: Option<String>,
}

/// The answer of `GET /runbooks`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunbookList {
    pub repositories: Vec<RepositoryRunbooks>,
}

/// One repository's runbooks.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RepositoryRunbooks {
    /// The key runs and subscriptions use (`host/owner/repo`).
    pub repository: String,
    pub branch: Option<String>,
    /// The commit served (`None` before the first successful load).
    pub commit: Option<String>,
    pub commit_author: Option<String>,
    pub commit_message: Option<String>,
    pub items: Vec<RunbookItem>,
    /// Why nothing can be served yet (never loaded), or why the newest commit was refused.
    pub error: Option<String>,
    /// The repository's fetch status (last fetch, last error, refreshing).
    #[schema(value_type = super::runbook_configs::RepoStatusSchema)]
    pub status: RepoStatus,
}

/// One runbook file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunbookItem {
    /// Path in the repository (hoop's `name`).
    pub name: String,
    pub description: Option<String>,
    /// Params by name: kind, required, description, default, options, order.
    #[schema(value_type = BTreeMap<String, ParamSpecSchema>)]
    pub metadata: BTreeMap<String, ParamSpec>,
    /// Why the file does not load (it is listed anyway).
    pub error: Option<String>,
    /// `runbook`, `session_open_hook` or `session_close_hook`.
    #[schema(value_type = String, example = "runbook")]
    pub role: FileRole,
    /// `runbook` (the runbook world) or `command` (a plain wasi:cli program).
    #[schema(value_type = Option<String>, example = "runbook")]
    pub kind: Option<ComponentKind>,
    pub size: usize,
    pub sha256: Option<String>,
}

#[utoipa::path(
    get,
    path = "/runbooks",
    operation_id = "list_runbooks",
    tag = "runbooks",
    params(ListQuery),
    responses(
        (status = 200, description = "The org's repositories with their runbooks, commit and load errors", body = RunbookList),
        (status = 400, description = "Unknown connection or query parameter", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn list(
    State(state): State<ApiState>,
    Reader(caller): Reader,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<RunbookList>> {
    let org = caller.org;
    let runtime = &state.runtime;
    let mut runbooks_allowed = true;
    if let Some(name) = &q.connection_name {
        let connection = runtime
            .connection_by_name(&org, name)
            .await
            .map_err(|e| match e {
                crate::RoutingServiceError::Store(
                    crate::StoreError::NotFound { .. }
                    | crate::StoreError::UnknownConnection { .. },
                ) => super::ApiError::bad_request(
                    "unknown_connection",
                    format!("connection \"{name}\" not found"),
                ),
                other => other.into(),
            })?;
        runbooks_allowed = connection.allows_runbooks();
    }
    let repos = runtime.repositories();
    let mut out = Vec::new();
    for key in repos.repositories(&org) {
        let (listing, error) = match repos.list(&org, key.as_str()).await {
            Ok(listing) => {
                let error = listing.rejected.as_ref().map(|r| {
                    format!(
                        "commit {} was refused: no runbook in it loads",
                        r.commit.sha
                    )
                });
                (Some(listing), error)
            }
            Err(e) => (None, Some(e.to_string())),
        };
        let status = match &listing {
            Some(l) => l.status.clone(),
            None => match repos.status_of(&org, key.as_str()) {
                Ok(s) => s,
                // Removed meanwhile.
                Err(_) => continue,
            },
        };
        let snapshot = listing.and_then(|l| l.snapshot);
        let items = match &snapshot {
            Some(s) if runbooks_allowed => s
                .files
                .iter()
                .filter(|f| q.connection_name.is_none() || f.role == FileRole::Runbook)
                .map(item)
                .collect(),
            _ => Vec::new(),
        };
        out.push(RepositoryRunbooks {
            repository: key.to_string(),
            branch: snapshot.as_ref().map(|s| s.branch.clone()),
            commit: snapshot.as_ref().map(|s| s.commit.sha.clone()),
            commit_author: snapshot.as_ref().map(|s| s.commit.author.clone()),
            commit_message: snapshot.as_ref().map(|s| s.commit.message.clone()),
            items,
            error,
            status,
        });
    }
    Ok(Json(RunbookList { repositories: out }))
}

fn item(f: &FileListing) -> RunbookItem {
    let metadata = f
        .info
        .as_ref()
        .map(|i| {
            i.params
                .iter()
                .map(|p| (p.name.clone(), p.clone()))
                .collect()
        })
        .unwrap_or_default();
    RunbookItem {
        name: f.path.clone(),
        description: f
            .info
            .as_ref()
            .map(|i| i.description.clone())
            .filter(|d| !d.is_empty()),
        metadata,
        error: f.error.clone(),
        role: f.role,
        kind: f.kind,
        size: f.size,
        sha256: f.sha256.clone(),
    }
}

// Schema only (`/openapi.json`): the shape of [`ParamSpec`] (the WIT record, bound by
// host-api); a test in `api::openapi` checks it against the real type.
/// One parameter a runbook declares.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ParamSpec)]
pub struct ParamSpecSchema {
    pub name: String,
    pub kind: ParamKindSchema,
    /// A required param with no default must be given.
    pub required: bool,
    pub description: Option<String>,
    /// Default value, as JSON text (`"10"`, `"\"eu-west-1\""`, `"[]"`).
    pub default: Option<String>,
    pub placeholder: Option<String>,
    /// Allowed values for `select`.
    pub options: Vec<String>,
    /// Position in forms; lower comes first.
    pub order: u32,
}

/// The kind of a runbook parameter (how forms show it).
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[schema(as = ParamKind)]
pub enum ParamKindSchema {
    Text,
    Number,
    Boolean,
    Json,
    Tel,
    Time,
    Date,
    Url,
    Email,
    Select,
    Textarea,
    Password,
    File,
}

/// `POST /runbooks/exec` body (hoop's).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    pub connection_name: String,
    /// Repository key or URL as configured for the org.
    pub repository: String,
    /// Path of the runbook in the repository.
    pub file_name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub parameters: Map<String, Value>,
}

/// hoop's ExecResponse, plus `error_code` and `commit`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExecResponse {
    pub session_id: String,
    /// The output on success; on failure the console followed by the failure message.
    pub output: String,
    /// `success` or `failed` (runs are synchronous: never `running`).
    pub output_status: &'static str,
    /// Whether output was cut at the output limit.
    pub truncated: bool,
    /// Milliseconds.
    pub execution_time: u64,
    /// 0 on success; a plain command's own code; 1 for any other failure.
    pub exit_code: i32,
    /// The stable failure code (`fuel_exhausted`, `guest_error`, ...), on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    /// The commit the runbook came from.
    pub commit: String,
}

/// 200 with the result of the run, whatever it was; 4xx when it could not start. Admin
/// only: a manual run acts on a connection.
#[utoipa::path(
    post,
    path = "/runbooks/exec",
    operation_id = "exec_runbook",
    tag = "runbooks",
    request_body = ExecRequest,
    responses(
        (status = 200, description = "The result of the run, whatever it was", body = ExecResponse),
        (status = 400, description = "Bad body, unknown connection, repository or runbook, bad parameters", body = ErrorBody),
        (status = 401, description = "No bearer token, or one that does not authenticate", body = ErrorBody),
        (status = 403, description = "The token's role is `read-only`; this request needs `admin`", body = ErrorBody),
        (status = 404, description = "No such repository or runbook file", body = ErrorBody),
        (status = 413, description = "The body is larger than the configured limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
    ),
    security(("bearer_token" = []))
)]
pub async fn exec(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<ExecRequest>,
) -> ApiResult<Json<ExecResponse>> {
    let org = &caller.org;
    tracing::info!(org, actor = %caller.actor(), file = %body.file_name, connection = %body.connection_name, "manual run requested");
    let result = state
        .runtime
        .run_manual(
            org,
            ManualRun {
                connection_name: body.connection_name,
                repository: body.repository,
                file_name: body.file_name,
                parameters: body.parameters,
            },
        )
        .await?;
    Ok(Json(exec_response(
        result.session_id,
        result.commit,
        result.outcome,
    )))
}

fn exec_response(session_id: String, commit: String, o: RunOutcome) -> ExecResponse {
    let execution_time = o.usage.duration.as_millis() as u64;
    let truncated = o.truncated_bytes > 0;
    match o.result {
        Ok(output) => ExecResponse {
            session_id,
            output,
            output_status: "success",
            truncated,
            execution_time,
            exit_code: o.exit_code.unwrap_or(0),
            error_code: None,
            commit,
        },
        Err(failure) => {
            let output = if o.console.is_empty() {
                failure.message
            } else {
                format!("{}\n{}", o.console.trim_end(), failure.message)
            };
            ExecResponse {
                session_id,
                output,
                output_status: "failed",
                truncated,
                execution_time,
                exit_code: o.exit_code.filter(|c| *c != 0).unwrap_or(1),
                error_code: Some(failure.code.as_str()),
                commit,
            }
        }
    }
}

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/runbooks", get(list))
        .route("/runbooks/exec", post(exec))
}
