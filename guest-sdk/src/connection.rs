//! `connection.exec`: runs input against the bound connection through the host's agent.

use std::fmt;

use crate::bindings::runbox::runbook::connection as wit;

/// The connection the run is bound to. Get one with
/// [`Context::connection`](crate::Context::connection).
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    _private: (),
}

impl Connection {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// Runs `input` (a query, a command: whatever the connection type takes) on the
    /// connection's agent and waits for the answer.
    ///
    /// A non-zero exit code is not an error here: look at [`ExecOutput::exit_code`] or
    /// use [`ExecOutput::success`].
    pub fn exec(&self, input: impl AsRef<str>) -> Result<ExecOutput, ExecError> {
        if !crate::IN_SANDBOX {
            return Err(ExecError::NoConnection);
        }
        match wit::exec(input.as_ref()) {
            Ok(out) => Ok(ExecOutput {
                exit_code: out.exit_code,
                output: out.output,
                truncated: out.truncated,
            }),
            Err(wit::ExecError::NoConnection) => Err(ExecError::NoConnection),
            Err(wit::ExecError::AgentOffline(m)) => Err(ExecError::AgentOffline(m)),
            Err(wit::ExecError::Denied(m)) => Err(ExecError::Denied(m)),
            Err(wit::ExecError::Failed(m)) => Err(ExecError::Failed(m)),
        }
    }
}

/// What the connection answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code of the command on the agent (0 is success).
    pub exit_code: i32,
    /// Combined output, possibly truncated by the agent.
    pub output: String,
    /// Whether the agent cut `output` short.
    pub truncated: bool,
}

impl ExecOutput {
    /// The output if the exit code is 0, else [`ExecError::Failed`] with the exit code
    /// and the output.
    pub fn success(self) -> Result<String, ExecError> {
        if self.exit_code == 0 {
            Ok(self.output)
        } else {
            Err(ExecError::Failed(format!(
                "exit code {}: {}",
                self.exit_code,
                self.output.trim_end()
            )))
        }
    }
}

/// Why `exec` did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecError {
    /// This run has no connection bound.
    NoConnection,
    /// The connection's agent is not online (worth a retry).
    AgentOffline(String),
    /// The policy does not allow exec on this connection.
    Denied(String),
    /// The agent could not run the input.
    Failed(String),
}

impl ExecError {
    /// Whether trying again later may succeed (the agent was offline).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::AgentOffline(_))
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoConnection => f.write_str("exec: this run has no connection bound"),
            Self::AgentOffline(m) => write!(f, "exec: the connection's agent is offline: {m}"),
            Self::Denied(m) => write!(f, "exec denied by policy: {m}"),
            Self::Failed(m) => write!(f, "exec failed: {m}"),
        }
    }
}

impl std::error::Error for ExecError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_outside_the_sandbox() {
        assert_eq!(
            Connection::new().exec("select 1"),
            Err(ExecError::NoConnection)
        );
    }

    #[test]
    fn success_and_messages() {
        let ok = ExecOutput {
            exit_code: 0,
            output: "1 row".into(),
            truncated: false,
        };
        assert_eq!(ok.success().unwrap(), "1 row");
        let failed = ExecOutput {
            exit_code: 2,
            output: "no such table\n".into(),
            truncated: false,
        };
        assert_eq!(
            failed.success().unwrap_err().to_string(),
            "exec failed: exit code 2: no such table"
        );
        assert!(ExecError::AgentOffline("x".into()).is_retryable());
        assert_eq!(
            ExecError::Denied("not granted".into()).to_string(),
            "exec denied by policy: not granted"
        );
    }
}
