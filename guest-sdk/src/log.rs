//! Structured log lines through the host's `log` import.

use std::io::Write as _;

use crate::bindings::runbox::runbook::log as wit;

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed.
    Trace,
    /// Detailed.
    Debug,
    /// Normal progress.
    Info,
    /// Something unexpected that the run survives.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }

    fn into_wit(self) -> wit::Level {
        match self {
            Self::Trace => wit::Level::Trace,
            Self::Debug => wit::Level::Debug,
            Self::Info => wit::Level::Info,
            Self::Warn => wit::Level::Warn,
            Self::Error => wit::Level::Error,
        }
    }
}

/// Writes log lines that the host captures with the run's result (bounded by the run's
/// output cap: lines past the cap are dropped by the host, the run goes on).
///
/// Get one with [`Context::log`](crate::Context::log).
#[derive(Debug, Clone, Copy)]
pub struct Log {
    _private: (),
}

impl Log {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// Logs `message` at `level`.
    pub fn log(&self, level: Level, message: impl AsRef<str>) {
        emit(level, message.as_ref());
    }

    /// Logs at `trace`.
    pub fn trace(&self, message: impl AsRef<str>) {
        emit(Level::Trace, message.as_ref());
    }

    /// Logs at `debug`.
    pub fn debug(&self, message: impl AsRef<str>) {
        emit(Level::Debug, message.as_ref());
    }

    /// Logs at `info`.
    pub fn info(&self, message: impl AsRef<str>) {
        emit(Level::Info, message.as_ref());
    }

    /// Logs at `warn`.
    pub fn warn(&self, message: impl AsRef<str>) {
        emit(Level::Warn, message.as_ref());
    }

    /// Logs at `error`.
    pub fn error(&self, message: impl AsRef<str>) {
        emit(Level::Error, message.as_ref());
    }
}

/// One log line: the host import inside the sandbox, stderr elsewhere (tests).
pub(crate) fn emit(level: Level, message: &str) {
    if crate::IN_SANDBOX {
        wit::log(level.into_wit(), message);
    } else {
        // Nothing sensible to do if stderr itself fails.
        let _ = writeln!(std::io::stderr(), "[{}] {message}", level.as_str());
    }
}
