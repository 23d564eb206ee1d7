//! Host side of `runbox:runbook/log`: a tracing event at the guest's level, plus a line in
//! the run's captured logs (bounded by the output cap; bytes counted against the host-call
//! budget).

use crate::bindings::runbox::runbook::log::{Host, Level};
use crate::state::HostState;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

/// A log level, serialized in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal progress.
    Info,
    /// Something unexpected but handled.
    Warn,
    /// A failure.
    Error,
}

impl From<Level> for LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

/// One line the guest logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Its level.
    pub level: LogLevel,
    /// The text (cut with the truncation marker if it did not fit the output cap).
    pub message: String,
}

impl HostState {
    /// Records one guest log line. Traps only when the host-call budget is exhausted.
    pub(crate) fn log_line(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        self.charge(message.len())?;
        let dispatch_id = self.dispatch_id.as_str();
        match level {
            LogLevel::Trace => {
                tracing::trace!(target: "runbox::guest", dispatch_id, "{message}")
            }
            LogLevel::Debug => {
                tracing::debug!(target: "runbox::guest", dispatch_id, "{message}")
            }
            LogLevel::Info => tracing::info!(target: "runbox::guest", dispatch_id, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "runbox::guest", dispatch_id, "{message}"),
            LogLevel::Error => {
                tracing::error!(target: "runbox::guest", dispatch_id, "{message}")
            }
        }
        if let Some(message) = self.output.admit_log(message) {
            self.logs.push(LogLine { level, message });
        }
        Ok(())
    }
}

impl Host for HostState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let span = tracing::debug_span!("hostcall", interface = "runbox:runbook/log");
        async { self.log_line(level.into(), message) }
            .instrument(span)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::Capabilities;
    use crate::error::HostError;
    use crate::limits::Limits;
    use crate::state::test_support::state_with;

    #[tokio::test]
    async fn logs_are_captured_and_capped() {
        let limits = Limits {
            output_bytes: 8,
            ..Limits::default()
        };
        let mut s = state_with(&limits, &Capabilities::default());
        Host::log(&mut s, Level::Info, "hello".into())
            .await
            .unwrap();
        Host::log(&mut s, Level::Warn, "world".into())
            .await
            .unwrap();
        Host::log(&mut s, Level::Error, "gone".into())
            .await
            .unwrap();
        assert_eq!(
            s.logs(),
            &[
                LogLine {
                    level: LogLevel::Info,
                    message: "hello".into()
                },
                LogLine {
                    level: LogLevel::Warn,
                    message: "wor [truncated 2 byte(s)]".into()
                },
            ]
        );
        assert_eq!(s.output.dropped_bytes(), 2 + 4);
    }

    #[tokio::test]
    async fn log_bytes_count_against_the_hostcall_budget() {
        let limits = Limits {
            hostcall_bytes: 10,
            ..Limits::default()
        };
        let mut s = state_with(&limits, &Capabilities::default());
        Host::log(&mut s, Level::Info, "12345".into())
            .await
            .unwrap();
        let err = Host::log(&mut s, Level::Info, "123456".into())
            .await
            .unwrap_err();
        assert!(matches!(
            err.downcast_ref::<HostError>(),
            Some(HostError::HostcallLimit { cap: 10, .. })
        ));
        assert_eq!(s.logs().len(), 1);
    }

    #[test]
    fn levels_serialize_lowercase() {
        let line = LogLine {
            level: LogLevel::Warn,
            message: "x".into(),
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"level":"warn","message":"x"}"#
        );
    }
}
