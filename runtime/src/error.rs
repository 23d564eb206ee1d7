//! The runtime's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the runtime outside a guest run (a guest run's failures
/// are [`runbox_host_api::Failure`] values with a stable code, not errors).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine could not be configured (bad settings, pooling reservation refused).
    #[error("cannot build the wasm engine: {0}")]
    Engine(String),

    /// A configuration value is out of range or malformed; the message names it.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The bytes are not a loadable component (not wasm, a core module, a foreign world,
    /// an import the host does not provide, or too large).
    #[error("invalid component {name}: {reason}")]
    InvalidComponent { name: String, reason: String },

    /// A sidecar `.toml` next to a plain command is malformed.
    #[error("invalid metadata sidecar of {name}: {reason}")]
    InvalidSidecar { name: String, reason: String },
}

impl RuntimeError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        RuntimeError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Shorthand used across the crate.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
