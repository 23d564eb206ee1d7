//! The seam to the gateway's agents: `connection.exec` goes through an [`Agent`].
//!
//! The runtime implements this against its real agent registry; tests implement it with a
//! closure or a fake. The default, [`NoAgent`], denies everything.

use crate::{ConnectionInfo, ExecOutput};
use async_trait::async_trait;

/// Why an agent could not run the input. Each variant reaches the guest as the matching
/// `exec-error` case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// The connection's agent is not connected (the run may be retried later).
    #[error("agent offline: {0}")]
    Offline(String),
    /// Policy does not allow exec on this connection.
    #[error("exec denied: {0}")]
    Denied(String),
    /// The agent tried and failed.
    #[error("exec failed: {0}")]
    Failed(String),
}

/// Runs input against a connection on behalf of a run.
#[async_trait]
pub trait Agent: Send + Sync + 'static {
    /// Runs `input` against `connection`. `dispatch_id` is stable across attempts, so an
    /// agent can deduplicate side effects.
    async fn exec(
        &self,
        connection: &ConnectionInfo,
        input: &str,
        dispatch_id: &str,
    ) -> Result<ExecOutput, AgentError>;
}

/// The agent used when none is configured: every exec is denied.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAgent;

#[async_trait]
impl Agent for NoAgent {
    async fn exec(
        &self,
        _connection: &ConnectionInfo,
        _input: &str,
        _dispatch_id: &str,
    ) -> Result<ExecOutput, AgentError> {
        Err(AgentError::Denied("no agent configured".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_agent_denies() {
        let conn = ConnectionInfo {
            name: "pg".into(),
            type_: "database".into(),
            subtype: "postgres".into(),
            tags: vec![],
        };
        let err = NoAgent.exec(&conn, "select 1", "d1").await.unwrap_err();
        assert_eq!(err, AgentError::Denied("no agent configured".into()));
    }
}
