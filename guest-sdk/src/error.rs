//! The error a runbook returns, and what it becomes on the WIT boundary.

use std::fmt;

use crate::bindings::runbox::runbook::types as wit;
use crate::params::ParamsError;

/// Why a run did not succeed, as the runbook reports it.
///
/// The host records it as the run's `guest_error` (or `param_missing` for
/// [`RunbookError::InvalidParams`]) and, for [`RunbookError::Retryable`], lets the
/// subscription's retry policy run the dispatch again with the same dispatch id.
///
/// Any [`std::error::Error`] converts into [`RunbookError::Failed`] with its message
/// (and its `source()` chain), so `?` works on the SDK's own errors
/// ([`ExecError`](crate::ExecError), [`HttpError`](crate::HttpError),
/// [`ConfigError`](crate::ConfigError)) and on `serde_json::Error` and the like. Use
/// [`ResultExt::retryable`] when a failure is worth retrying.
///
/// `RunbookError` deliberately does not implement `std::error::Error` itself: that is
/// what makes the blanket `From` possible (the same trade-off `anyhow::Error` makes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunbookError {
    /// The params do not satisfy the declaration; retrying will not help.
    InvalidParams {
        /// Required params that are absent.
        missing: Vec<String>,
        /// A readable account of every problem.
        message: String,
    },
    /// The runbook failed; retrying will not help.
    Failed(String),
    /// The runbook failed for a passing reason; a retry policy may run it again.
    Retryable(String),
}

impl RunbookError {
    /// A permanent failure with this message.
    pub fn failed(message: impl fmt::Display) -> Self {
        Self::Failed(message.to_string())
    }

    /// A passing failure with this message: the host's retry policy may run the
    /// dispatch again (same dispatch id, next attempt number).
    pub fn retryable(message: impl fmt::Display) -> Self {
        Self::Retryable(message.to_string())
    }

    /// The params do not satisfy the declaration. `missing` names the absent
    /// required params; `message` explains every problem.
    pub fn invalid_params(
        missing: impl IntoIterator<Item = impl Into<String>>,
        message: impl fmt::Display,
    ) -> Self {
        Self::InvalidParams {
            missing: missing.into_iter().map(Into::into).collect(),
            message: message.to_string(),
        }
    }

    /// Whether the host may retry the run.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_))
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidParams { message, .. } => message,
            Self::Failed(message) | Self::Retryable(message) => message,
        }
    }

    pub(crate) fn into_wit(self) -> wit::RunError {
        match self {
            Self::InvalidParams { missing, message } => {
                wit::RunError::InvalidParams(wit::InvalidParams { missing, message })
            }
            Self::Failed(message) => wit::RunError::Failed(message),
            Self::Retryable(message) => wit::RunError::Retryable(message),
        }
    }
}

impl fmt::Display for RunbookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidParams { message, .. } => write!(f, "invalid params: {message}"),
            Self::Failed(message) => f.write_str(message),
            Self::Retryable(message) => write!(f, "{message} (retryable)"),
        }
    }
}

/// Renders an error with its `source()` chain: `outer: inner: innermost`.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        // Many errors repeat their source in their own message; don't say it twice.
        if !text.ends_with(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

impl<E: std::error::Error + 'static> From<E> for RunbookError {
    fn from(error: E) -> Self {
        Self::Failed(error_chain(&error))
    }
}

impl From<ParamsError> for RunbookError {
    fn from(error: ParamsError) -> Self {
        Self::InvalidParams {
            message: error.message(),
            missing: error.missing().to_vec(),
        }
    }
}

/// Small conversions from any `Result` into a `Result<_, RunbookError>`.
///
/// ```
/// use runbox_sdk::{ResultExt, RunbookError};
///
/// fn parse(text: &str) -> Result<u32, RunbookError> {
///     text.parse::<u32>().context("the ticket number")
/// }
/// assert_eq!(
///     parse("x").unwrap_err(),
///     RunbookError::failed("the ticket number: invalid digit found in string"),
/// );
///
/// fn flaky() -> Result<(), RunbookError> {
///     Err(std::io::Error::other("upstream busy")).retryable()
/// }
/// assert!(flaky().unwrap_err().is_retryable());
/// ```
pub trait ResultExt<T> {
    /// Maps the error to [`RunbookError::Retryable`] with its message.
    fn retryable(self) -> Result<T, RunbookError>;

    /// Maps the error to [`RunbookError::Failed`] with `"{context}: {error}"`.
    fn context(self, context: impl fmt::Display) -> Result<T, RunbookError>;
}

impl<T, E: fmt::Display> ResultExt<T> for Result<T, E> {
    fn retryable(self) -> Result<T, RunbookError> {
        self.map_err(RunbookError::retryable)
    }

    fn context(self, context: impl fmt::Display) -> Result<T, RunbookError> {
        self.map_err(|error| RunbookError::Failed(format!("{context}: {error}")))
    }
}

/// What a runbook function may return on success; it becomes the run's output text.
///
/// Implemented for `String`, `&str`, `serde_json::Value` (serialised compactly) and
/// `()` (empty output).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a runbook's output",
    label = "not an output type",
    note = "return Ok with a String, &str, serde_json::Value or ()"
)]
pub trait IntoOutput {
    /// The output text.
    fn into_output(self) -> String;
}

impl IntoOutput for String {
    fn into_output(self) -> String {
        self
    }
}

impl IntoOutput for &str {
    fn into_output(self) -> String {
        self.to_owned()
    }
}

impl IntoOutput for std::borrow::Cow<'_, str> {
    fn into_output(self) -> String {
        self.into_owned()
    }
}

impl IntoOutput for serde_json::Value {
    fn into_output(self) -> String {
        self.to_string()
    }
}

impl IntoOutput for () {
    fn into_output(self) -> String {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("revoking the grant")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn std_errors_become_failed_with_their_chain() {
        let error: RunbookError = Outer(std::io::Error::other("permission denied")).into();
        assert_eq!(
            error,
            RunbookError::failed("revoking the grant: permission denied")
        );
        assert!(!error.is_retryable());
    }

    #[test]
    fn question_mark_converts() {
        fn inner() -> Result<(), RunbookError> {
            let _: serde_json::Value = serde_json::from_str("{")?;
            Ok(())
        }
        let error = inner().unwrap_err();
        assert!(matches!(error, RunbookError::Failed(_)));
        assert!(error.message().contains("EOF"), "{error}");
    }

    #[test]
    fn params_errors_become_invalid_params() {
        let mut params = ParamsError::new();
        params.push_missing("target");
        let error = RunbookError::from(params);
        assert_eq!(
            error,
            RunbookError::invalid_params(["target"], "the following inputs are missing [target]")
        );
    }

    #[test]
    fn wit_mapping() {
        match RunbookError::retryable("busy").into_wit() {
            wit::RunError::Retryable(message) => assert_eq!(message, "busy"),
            other => panic!("{other:?}"),
        }
        match RunbookError::invalid_params(["a"], "m").into_wit() {
            wit::RunError::InvalidParams(invalid) => {
                assert_eq!(invalid.missing, ["a"]);
                assert_eq!(invalid.message, "m");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn outputs() {
        assert_eq!(serde_json::json!({"a": 1}).into_output(), r#"{"a":1}"#);
        assert_eq!(().into_output(), "");
        assert_eq!("ok".into_output(), "ok");
    }
}
