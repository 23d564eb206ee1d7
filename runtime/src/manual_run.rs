//! Manual runs (`POST /runbooks/exec`): an admin runs a runbook of the org's repository
//! against a connection, with params given directly instead of rendered from an event.
//!
//! The same sandbox, limits, agent and per-org capabilities as a dispatch; nothing is
//! stored (a manual run is not a dispatch), but it is counted in the metrics and logged
//! in a `manual_run` span.

use std::sync::Arc;

use runbox_host_api::{Invocation, RunOutcome, RunRequest, Trigger};
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::agent::LocalAgent;
use crate::dispatch::{AgentChoice, RoutingServiceError};
use crate::error::StoreError;
use crate::model::{IdKind, new_id};
use crate::runtime::{RoutingResult, Runtime};

/// What to run.
#[derive(Debug, Clone)]
pub struct ManualRun {
    pub connection_name: String,
    /// Repository key or URL (as configured for the org).
    pub repository: String,
    /// Path of the runbook in the repository.
    pub file_name: String,
    /// Params as a JSON object (typed values, or hoop's strings).
    pub parameters: Map<String, Value>,
}

/// What a manual run did.
#[derive(Debug)]
pub struct ManualRunResult {
    /// Id of this run (`ses_...`), also the guest's idempotency key.
    pub session_id: String,
    /// The commit the runbook came from.
    pub commit: String,
    pub outcome: RunOutcome,
}

impl Runtime {
    /// Runs a runbook once against a connection. Input problems (unknown connection or
    /// runbook, runbooks not allowed, agent offline) are errors; anything the run itself
    /// does (including a guest failure or a limit hit) is in the outcome.
    pub async fn run_manual(&self, org: &str, run: ManualRun) -> RoutingResult<ManualRunResult> {
        let connection = self
            .store()
            .connection_by_name(org, &run.connection_name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => StoreError::UnknownConnection {
                    name: run.connection_name.clone(),
                },
                other => other,
            })?;
        if !connection.allows_runbooks() {
            return Err(RoutingServiceError::RunbooksNotAllowed {
                name: connection.name,
            });
        }
        if let Some(agent) = &connection.agent_id
            && !self.agent_online(agent)
        {
            return Err(RoutingServiceError::Invalid {
                field: "connection_name",
                reason: format!(
                    "the agent \"{agent}\" of connection \"{}\" is offline",
                    connection.name
                ),
            });
        }
        let d = self.dispatcher();
        let agent = match &d.agent {
            AgentChoice::Gateway(agent) => {
                if connection.agent_id.is_none() {
                    return Err(RoutingServiceError::Invalid {
                        field: "connection_name",
                        reason: format!("connection \"{}\" has no agent assigned", connection.name),
                    });
                }
                Arc::clone(agent)
            }
            AgentChoice::Local(limits) => {
                Arc::new(LocalAgent::for_connection(*limits, &connection))
            }
        };
        let handle = self
            .repositories()
            .get(org, &run.repository, &run.file_name)
            .await?;
        let session_id = session_id();
        let invocation = Invocation {
            dispatch_id: session_id.clone(),
            attempt: 1,
            trigger: Trigger::Manual,
            payload: "{}".to_owned(),
            params: Value::Object(run.parameters).to_string(),
            connection: Some(connection.guest_info()),
        };
        let capabilities = d.capabilities.for_org(org, Some(agent));
        let request = RunRequest {
            invocation,
            limits: d.limits.clone(),
            capabilities,
        };
        let span = tracing::info_span!(
            "manual_run",
            org,
            session_id = %session_id,
            repository = %handle.repository,
            file = %handle.path,
            connection = %connection.name,
        );
        let metrics = self.metrics();
        let outcome = async {
            let _in_flight = metrics.manual_run_started();
            let outcome = self.engine().run(handle.prepared(), request).await;
            match outcome.failure() {
                Some(f) => tracing::info!(code = f.code.as_str(), "manual run failed"),
                None => tracing::info!("manual run succeeded"),
            }
            outcome
        }
        .instrument(span)
        .await;
        metrics.manual_run_finished(
            outcome.failure().map(|f| f.code.as_str()),
            outcome.usage.fuel_used,
        );
        Ok(ManualRunResult {
            session_id,
            commit: handle.commit.clone(),
            outcome,
        })
    }
}

/// `ses_` + a fresh time-ordered id.
fn session_id() -> String {
    let id = new_id(IdKind::Event);
    match id.split_once('_') {
        Some((_, rest)) => format!("ses_{rest}"),
        None => format!("ses_{id}"),
    }
}
