//! Host side of `runbox:runbook/connection`: `exec` goes to the run's [`crate::Agent`].

use crate::agent::AgentError;
use crate::bindings::runbox::runbook::connection::{ExecError, ExecOutput, Host};
use crate::state::HostState;
use tracing::Instrument;

impl HostState {
    /// Runs `input` against the bound connection. Guest-visible errors are values; only
    /// an exhausted host-call budget traps.
    pub(crate) async fn run_exec(
        &mut self,
        input: String,
    ) -> wasmtime::Result<Result<ExecOutput, ExecError>> {
        self.charge(input.len())?;
        let Some(connection) = self.connection.as_ref() else {
            return Ok(Err(ExecError::NoConnection));
        };
        let started = std::time::Instant::now();
        let result = self.agent.exec(connection, &input, &self.dispatch_id).await;
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            ok = result.is_ok(),
            "exec finished"
        );
        match result {
            Ok(output) => {
                self.charge(output.output.len())?;
                Ok(Ok(output))
            }
            Err(AgentError::Offline(why)) => {
                tracing::warn!(connection = %connection.name, "agent offline: {why}");
                self.agent_offline = Some(why.clone());
                Ok(Err(ExecError::AgentOffline(why)))
            }
            Err(AgentError::Denied(why)) => Ok(Err(ExecError::Denied(why))),
            Err(AgentError::Failed(why)) => Ok(Err(ExecError::Failed(why))),
        }
    }
}

impl Host for HostState {
    async fn exec(&mut self, input: String) -> wasmtime::Result<Result<ExecOutput, ExecError>> {
        let span = tracing::info_span!(
            "hostcall",
            interface = "runbox:runbook/connection",
            connection = self.connection.as_ref().map(|c| c.name.as_str()),
            input_bytes = input.len(),
        );
        self.run_exec(input).instrument(span).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Agent;
    use crate::capabilities::Capabilities;
    use crate::limits::Limits;
    use crate::{ConnectionInfo, HostError};
    use async_trait::async_trait;
    use std::sync::Arc;

    struct Echo;

    #[async_trait]
    impl Agent for Echo {
        async fn exec(
            &self,
            connection: &ConnectionInfo,
            input: &str,
            dispatch_id: &str,
        ) -> Result<ExecOutput, AgentError> {
            match input {
                "offline" => Err(AgentError::Offline("agent pg-1 disconnected".into())),
                "fail" => Err(AgentError::Failed("syntax error".into())),
                _ => Ok(ExecOutput {
                    exit_code: 0,
                    output: format!("{}:{dispatch_id}:{input}", connection.name),
                    truncated: false,
                }),
            }
        }
    }

    fn state(limits: &Limits, with_connection: bool) -> HostState {
        let caps = Capabilities {
            agent: Arc::new(Echo),
            ..Capabilities::default()
        };
        let conn = with_connection.then(|| ConnectionInfo {
            name: "pg".into(),
            type_: "database".into(),
            subtype: "postgres".into(),
            tags: vec!["prod".into()],
        });
        HostState::new(limits, &caps, "d-7".into(), conn, &[])
    }

    #[tokio::test]
    async fn exec_goes_to_the_agent() {
        let mut s = state(&Limits::default(), true);
        let out = Host::exec(&mut s, "select 1".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out.output, "pg:d-7:select 1");
        let err = Host::exec(&mut s, "fail".into())
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(err, ExecError::Failed("syntax error".into()));
        assert!(s.agent_offline.is_none());
        let err = Host::exec(&mut s, "offline".into())
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            err,
            ExecError::AgentOffline("agent pg-1 disconnected".into())
        );
        assert!(s.agent_offline.is_some());
    }

    #[tokio::test]
    async fn no_connection_is_an_error_value() {
        let mut s = state(&Limits::default(), false);
        let err = Host::exec(&mut s, "x".into()).await.unwrap().unwrap_err();
        assert_eq!(err, ExecError::NoConnection);
    }

    #[tokio::test]
    async fn default_capabilities_deny() {
        let conn = ConnectionInfo {
            name: "pg".into(),
            type_: "database".into(),
            subtype: "postgres".into(),
            tags: vec![],
        };
        let mut s = HostState::new(
            &Limits::default(),
            &Capabilities::default(),
            "d".into(),
            Some(conn),
            &[],
        );
        let err = Host::exec(&mut s, "x".into()).await.unwrap().unwrap_err();
        assert_eq!(err, ExecError::Denied("no agent configured".into()));
    }

    #[tokio::test]
    async fn exec_output_counts_against_the_budget() {
        let limits = Limits {
            hostcall_bytes: 20,
            ..Limits::default()
        };
        let mut s = state(&limits, true);
        // 10 bytes in, "pg:d-7:0123456789" (17 bytes) out: over 20.
        let err = Host::exec(&mut s, "0123456789".into()).await.unwrap_err();
        assert!(matches!(
            err.downcast_ref::<HostError>(),
            Some(HostError::HostcallLimit { .. })
        ));
    }
}
