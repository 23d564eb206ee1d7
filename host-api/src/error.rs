//! The crate's error enum and the stable failure codes shown to admins and authors.
//!
//! Two kinds of error live here and are kept apart on purpose:
//! - [`HostError`]: something the embedder got wrong or a typed trap payload raised by a
//!   host-side limit (memory, host-call bytes). It is a Rust error.
//! - [`Failure`]: the classified outcome of a run that did not succeed, with a stable
//!   [`ErrorCode`]. It is data: stored with a dispatch, rendered in the admin API.
//!
//! Classification of a wasmtime error into a [`Failure`] lives in [`crate::classify`].

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The one error type of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// A [`crate::Limits`] field is out of range.
    #[error("invalid limit `{field}`: {reason}")]
    InvalidLimit {
        /// The field's name, as in the config file.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A human size (`64MiB`) could not be parsed.
    #[error("invalid size {input:?}: {reason}")]
    InvalidSize {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A human duration (`500ms`) could not be parsed.
    #[error("invalid duration {input:?}: {reason}")]
    InvalidDuration {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An egress allow-list rule could not be parsed.
    #[error("invalid egress rule {rule:?}: {reason}")]
    InvalidEgressRule {
        /// The rule as given.
        rule: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A CIDR network could not be parsed.
    #[error("invalid network {input:?}: {reason}")]
    InvalidNetwork {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `.toml` sidecar could not be parsed or is inconsistent.
    #[error("invalid runbook sidecar: {0}")]
    Sidecar(String),
    /// Trap payload: the guest asked for more linear memory than the cap allows.
    ///
    /// Raised by [`crate::MemoryLimiter`] so that the trap is classifiable as
    /// `memory_limit` with both figures.
    #[error("memory cap {cap} bytes, requested {requested} bytes")]
    MemoryLimit {
        /// The cap, in bytes (all linear memories of the instance together).
        cap: u64,
        /// The total size that was requested, in bytes.
        requested: u64,
    },
    /// Trap payload: data passed across host calls exceeded the per-run byte budget.
    #[error("host-call byte budget of {cap} bytes exceeded ({requested} bytes requested)")]
    HostcallLimit {
        /// The budget, in bytes.
        cap: u64,
        /// The total bytes the run would have used with this call.
        requested: u64,
    },
    /// The linker could not be built (a bug or a wasmtime/WIT mismatch).
    #[error("failed to set up the linker: {0}")]
    Linker(String),
    /// The engine lacks a setting the sandbox relies on (see [`crate::configure_engine`]).
    #[error("engine is not configured for the sandbox: {0}")]
    EngineConfig(String),
}

/// Stable failure codes. Serialized in `snake_case`; [`ErrorCode::as_str`] gives the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The fuel budget ran out (CPU limit).
    FuelExhausted,
    /// The wall-clock deadline passed.
    DeadlineExceeded,
    /// The guest asked for more linear memory than the cap.
    MemoryLimit,
    /// The wasm call stack was exhausted.
    StackOverflow,
    /// The guest panicked (a Rust panic, or an `unreachable` that looks like one).
    GuestPanic,
    /// Any other wasm trap (out-of-bounds access, division by zero, ...).
    GuestTrap,
    /// The guest returned `run-error.failed` / `retryable`.
    GuestError,
    /// A plain command exited with a non-zero code.
    ExitNonzero,
    /// The run failed after the egress policy denied one of its requests.
    PolicyDenied,
    /// Required params are absent.
    ParamMissing,
    /// Params are present but invalid.
    ParamInvalid,
    /// A param could not be rendered from the event payload (runtime side).
    ParamRender,
    /// The runbook named by a subscription or request does not exist (runtime side).
    RunbookNotFound,
    /// The component is not a runbook, not a command, or imports what runbox does not provide.
    InvalidComponent,
    /// The connection's agent is offline.
    AgentOffline,
    /// The run was stopped from outside (shutdown, cancellation).
    Interrupted,
    /// The invocation payload is larger than the payload cap.
    PayloadTooLarge,
    /// Data passed across host calls exceeded the per-run byte budget.
    HostcallLimit,
    /// A fault of the host itself.
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::FuelExhausted,
        ErrorCode::DeadlineExceeded,
        ErrorCode::MemoryLimit,
        ErrorCode::StackOverflow,
        ErrorCode::GuestPanic,
        ErrorCode::GuestTrap,
        ErrorCode::GuestError,
        ErrorCode::ExitNonzero,
        ErrorCode::PolicyDenied,
        ErrorCode::ParamMissing,
        ErrorCode::ParamInvalid,
        ErrorCode::ParamRender,
        ErrorCode::RunbookNotFound,
        ErrorCode::InvalidComponent,
        ErrorCode::AgentOffline,
        ErrorCode::Interrupted,
        ErrorCode::PayloadTooLarge,
        ErrorCode::HostcallLimit,
        ErrorCode::Internal,
    ];

    /// The stable `snake_case` name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::FuelExhausted => "fuel_exhausted",
            ErrorCode::DeadlineExceeded => "deadline_exceeded",
            ErrorCode::MemoryLimit => "memory_limit",
            ErrorCode::StackOverflow => "stack_overflow",
            ErrorCode::GuestPanic => "guest_panic",
            ErrorCode::GuestTrap => "guest_trap",
            ErrorCode::GuestError => "guest_error",
            ErrorCode::ExitNonzero => "exit_nonzero",
            ErrorCode::PolicyDenied => "policy_denied",
            ErrorCode::ParamMissing => "param_missing",
            ErrorCode::ParamInvalid => "param_invalid",
            ErrorCode::ParamRender => "param_render",
            ErrorCode::RunbookNotFound => "runbook_not_found",
            ErrorCode::InvalidComponent => "invalid_component",
            ErrorCode::AgentOffline => "agent_offline",
            ErrorCode::Interrupted => "interrupted",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::HostcallLimit => "hostcall_limit",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown error code {s:?}"))
    }
}

/// A run that did not succeed, classified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Failure {
    /// The stable code.
    pub code: ErrorCode,
    /// A readable account naming the cause (never a bare wasm backtrace header).
    pub message: String,
    /// Whether a retry policy may run the same dispatch again.
    pub retryable: bool,
}

impl Failure {
    /// A non-retryable failure.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            retryable: false,
        }
    }

    /// A retryable failure.
    pub fn retryable(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            retryable: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_serde_and_from_str() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(code.as_str().parse::<ErrorCode>().unwrap(), code);
        }
        assert!("nope".parse::<ErrorCode>().is_err());
    }

    #[test]
    fn failure_display_names_code_and_message() {
        let f = Failure::new(ErrorCode::GuestError, "boom");
        assert_eq!(f.to_string(), "guest_error: boom");
        assert!(!f.retryable);
        assert!(Failure::retryable(ErrorCode::AgentOffline, "x").retryable);
    }
}
