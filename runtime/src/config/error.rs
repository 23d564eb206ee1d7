//! What can be wrong with a configuration. Every message names the key, variable or file
//! at fault and never contains a secret value.

use std::path::PathBuf;

/// A configuration error.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not TOML, has an unknown key or a value of the wrong type.
    #[error("config file {path}: {message}")]
    File { path: String, message: String },
    /// A `RUNBOX_*` variable the server does not know.
    #[error("unknown environment variable {name} (known: {known})")]
    UnknownEnv { name: String, known: String },
    /// A known variable with a value that does not parse.
    #[error("environment variable {name}: {reason}")]
    BadEnv { name: String, reason: String },
    /// A value out of range, or settings that contradict each other.
    #[error("invalid config: {key}: {reason}")]
    Invalid { key: String, reason: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}
