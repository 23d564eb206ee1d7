//! The built-in agent for `custom` connections: runs the connection's command on this
//! machine with the runbook's input on stdin and the connection's secrets as environment
//! variables, bounded in time and output.

use std::collections::BTreeMap;
use std::fmt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runbox_host_api::{Agent, AgentError, ConnectionInfo, ExecOutput, cap_text, truncation_marker};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// What to run for one connection.
#[derive(Clone, Default)]
pub struct LocalCommand {
    /// Program and arguments, e.g. `["bash", "-c", "..."]` or `["psql", "-X"]`.
    pub argv: Vec<String>,
    /// The connection's secrets and settings, passed as environment variables.
    pub env: BTreeMap<String, String>,
}

impl fmt::Debug for LocalCommand {
    /// Values of `env` are secrets: only their names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCommand")
            .field("argv", &self.argv)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Bounds of one local exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalAgentLimits {
    /// The command is killed after this long.
    pub timeout: Duration,
    /// Combined stdout+stderr kept; the rest is dropped and marked.
    pub output_bytes: usize,
}

impl Default for LocalAgentLimits {
    fn default() -> Self {
        LocalAgentLimits {
            timeout: Duration::from_secs(30),
            output_bytes: 64 << 10,
        }
    }
}

type Resolver = dyn Fn(&ConnectionInfo) -> Option<LocalCommand> + Send + Sync;

/// Runs connections' commands as local processes. `resolve` maps a connection to its
/// command (from the connection registry); a connection it does not know is `denied`.
#[derive(Clone)]
pub struct LocalAgent {
    resolve: Arc<Resolver>,
    limits: LocalAgentLimits,
}

impl fmt::Debug for LocalAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalAgent")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// `PATH` for the child: the environment is otherwise cleared, so nothing of runbox's own
/// environment (tokens, credentials) leaks into a connection's command.
const CHILD_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

impl LocalAgent {
    /// The agent for one registered connection: a `custom` connection's command with its
    /// secrets as env; any other type (or another connection's name) has nothing to run.
    pub fn for_connection(limits: LocalAgentLimits, connection: &crate::model::Connection) -> Self {
        let name = connection.name.clone();
        let command =
            (connection.kind == crate::model::ConnectionType::Custom).then(|| LocalCommand {
                argv: connection.command.clone(),
                env: connection.secrets.0.clone(),
            });
        LocalAgent::new(limits, move |info| {
            (info.name == name).then(|| command.clone()).flatten()
        })
    }

    /// An agent resolving connections with `resolve`.
    pub fn new(
        limits: LocalAgentLimits,
        resolve: impl Fn(&ConnectionInfo) -> Option<LocalCommand> + Send + Sync + 'static,
    ) -> Self {
        LocalAgent {
            resolve: Arc::new(resolve),
            limits,
        }
    }

    async fn run(
        &self,
        command: LocalCommand,
        input: &str,
        dispatch_id: &str,
    ) -> Result<ExecOutput, AgentError> {
        let Some((program, args)) = command.argv.split_first() else {
            return Err(AgentError::Denied("the connection has no command".into()));
        };
        let mut child = Command::new(program)
            .args(args)
            .env_clear()
            .env("PATH", CHILD_PATH)
            .envs(&command.env)
            .env("RUNBOX_DISPATCH_ID", dispatch_id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| AgentError::Failed(format!("cannot start {program:?}: {e}")))?;

        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let cap = self.limits.output_bytes;
        let input = input.to_string();
        let work = async move {
            let feed = async move {
                if let Some(mut stdin) = stdin {
                    // A command that exits without reading its input is not an error.
                    let _ = stdin.write_all(input.as_bytes()).await;
                    let _ = stdin.shutdown().await;
                }
            };
            let (_, out, err, status) = tokio::join!(
                feed,
                read_capped(stdout, cap),
                read_capped(stderr, cap),
                child.wait()
            );
            (out, err, status)
        };
        let (out, err, status) = match tokio::time::timeout(self.limits.timeout, work).await {
            Ok(done) => done,
            // Dropping `work` drops the child, and `kill_on_drop` kills it.
            Err(_) => {
                return Err(AgentError::Failed(format!(
                    "{program:?} did not finish within {} ms and was killed",
                    self.limits.timeout.as_millis()
                )));
            }
        };
        let status =
            status.map_err(|e| AgentError::Failed(format!("waiting for {program:?}: {e}")))?;
        let (mut combined, dropped_out) = out;
        let (err_text, dropped_err) = err;
        combined.extend_from_slice(&err_text);
        let piped_drops = dropped_out + dropped_err;
        let (mut output, dropped) = cap_text(String::from_utf8_lossy(&combined).into_owned(), cap);
        if dropped == 0 && piped_drops > 0 {
            output.push_str(&truncation_marker(piped_drops));
        } else if piped_drops > 0 {
            // Replace the marker cap_text wrote with one counting every dropped byte.
            output.truncate(output.len() - truncation_marker(dropped).len());
            output.push_str(&truncation_marker(dropped + piped_drops));
        }
        Ok(ExecOutput {
            exit_code: status.code().unwrap_or(-1),
            output,
            truncated: dropped + piped_drops > 0,
        })
    }
}

/// Reads a child stream to its end, keeping at most `cap` bytes (and counting the rest) so
/// a flooding command can neither fill memory nor block on a full pipe.
async fn read_capped(stream: Option<impl AsyncRead + Unpin>, cap: usize) -> (Vec<u8>, u64) {
    let Some(mut stream) = stream else {
        return (Vec::new(), 0);
    };
    let mut kept = Vec::new();
    let mut dropped = 0u64;
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buf[..room]);
                dropped += (n - room) as u64;
            }
        }
    }
    (kept, dropped)
}

#[async_trait]
impl Agent for LocalAgent {
    async fn exec(
        &self,
        connection: &ConnectionInfo,
        input: &str,
        dispatch_id: &str,
    ) -> Result<ExecOutput, AgentError> {
        let span =
            tracing::info_span!("local_agent.exec", connection = %connection.name, %dispatch_id);
        let _enter = span.enter();
        let Some(command) = (self.resolve)(connection) else {
            return Err(AgentError::Denied(format!(
                "connection {:?} has no local command (only `custom` connections run on the local agent)",
                connection.name
            )));
        };
        drop(_enter);
        let result = self.run(command, input, dispatch_id).await;
        match &result {
            Ok(out) => {
                tracing::debug!(connection = %connection.name, exit_code = out.exit_code, "local exec finished")
            }
            Err(err) => {
                tracing::warn!(connection = %connection.name, error = ?err, "local exec failed")
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(name: &str) -> ConnectionInfo {
        ConnectionInfo {
            name: name.into(),
            type_: "custom".into(),
            subtype: String::new(),
            tags: vec![],
        }
    }

    fn agent(limits: LocalAgentLimits) -> LocalAgent {
        LocalAgent::new(limits, |c| match c.name.as_str() {
            "bash-ops" => Some(LocalCommand {
                argv: vec![
                    "sh".into(),
                    "-c".into(),
                    "read line; echo \"got $line with $TOKEN\"; echo oops >&2; exit 3".into(),
                ],
                env: BTreeMap::from([("TOKEN".into(), "t0k3n".into())]),
            }),
            "flood" => Some(LocalCommand {
                argv: vec![
                    "sh".into(),
                    "-c".into(),
                    "yes flood | head -c 1000000".into(),
                ],
                env: BTreeMap::new(),
            }),
            "slow" => Some(LocalCommand {
                argv: vec!["sleep".into(), "30".into()],
                env: BTreeMap::new(),
            }),
            "leak" => Some(LocalCommand {
                argv: vec!["sh".into(), "-c".into(), "env".into()],
                env: BTreeMap::new(),
            }),
            _ => None,
        })
    }

    #[tokio::test]
    async fn runs_the_command_with_stdin_secrets_and_exit_code() {
        let out = agent(LocalAgentLimits::default())
            .exec(&connection("bash-ops"), "revoke bot\n", "dsp_1")
            .await
            .unwrap();
        assert_eq!(out.exit_code, 3);
        assert!(
            out.output.contains("got revoke bot with t0k3n"),
            "{}",
            out.output
        );
        assert!(
            out.output.contains("oops"),
            "stderr included: {}",
            out.output
        );
        assert!(!out.truncated);
    }

    #[tokio::test]
    async fn output_is_capped_and_marked() {
        let limits = LocalAgentLimits {
            output_bytes: 1000,
            ..LocalAgentLimits::default()
        };
        let out = agent(limits)
            .exec(&connection("flood"), "", "dsp_1")
            .await
            .unwrap();
        assert!(out.truncated);
        assert!(out.output.len() < 1100, "{}", out.output.len());
        assert!(
            out.output.ends_with(" byte(s)]"),
            "marker: {}",
            &out.output[out.output.len() - 40..]
        );
    }

    #[tokio::test]
    async fn a_slow_command_is_killed_at_the_timeout() {
        let limits = LocalAgentLimits {
            timeout: Duration::from_millis(200),
            ..LocalAgentLimits::default()
        };
        let started = std::time::Instant::now();
        let err = agent(limits)
            .exec(&connection("slow"), "", "dsp_1")
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            matches!(&err, AgentError::Failed(m) if m.contains("within 200 ms")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn unknown_connections_are_denied_and_the_environment_is_clean() {
        let err = agent(LocalAgentLimits::default())
            .exec(&connection("pg-prod"), "", "d")
            .await
            .unwrap_err();
        assert!(matches!(err, AgentError::Denied(_)));
        // The parent's environment does not reach the child.
        let out = agent(LocalAgentLimits::default())
            .exec(&connection("leak"), "", "dsp_9")
            .await
            .unwrap();
        assert!(
            out.output.contains("RUNBOX_DISPATCH_ID=dsp_9"),
            "{}",
            out.output
        );
        assert!(
            !out.output.contains("CARGO"),
            "parent env leaked: {}",
            out.output
        );
    }

    #[test]
    fn debug_hides_secret_values() {
        let command = LocalCommand {
            argv: vec!["x".into()],
            env: BTreeMap::from([("PASS".into(), "hunter2".into())]),
        };
        let text = format!("{command:?}");
        assert!(text.contains("PASS") && !text.contains("hunter2"), "{text}");
    }
}
