//! `config.get`: admin-set values (secrets included) granted to this runbook.

use std::fmt;

use crate::bindings::runbox::runbook::config as wit;

/// Admin-set configuration. Get one with [`Context::config`](crate::Context::config).
///
/// Values may be secrets: don't log them or put them in the output.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    _private: (),
}

impl Config {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// The value of `key`; `None` when the key is granted but has no value.
    pub fn get(&self, key: &str) -> Result<Option<String>, ConfigError> {
        if !crate::IN_SANDBOX {
            return Err(ConfigError::Unavailable(
                "config needs the runbox host (not available on this target)".to_owned(),
            ));
        }
        wit::get(key).map_err(|error| match error {
            wit::ConfigError::Denied(m) => ConfigError::Denied(m),
            wit::ConfigError::Unavailable(m) => ConfigError::Unavailable(m),
        })
    }

    /// The value of `key`, or [`ConfigError::Missing`] when it has none.
    pub fn require(&self, key: &str) -> Result<String, ConfigError> {
        self.get(key)?
            .ok_or_else(|| ConfigError::Missing(key.to_owned()))
    }
}

/// Why a config value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The key is not granted to this runbook.
    Denied(String),
    /// The provider failed.
    Unavailable(String),
    /// The key is granted but has no value (only from [`Config::require`]; names the key).
    Missing(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Denied(m) => write!(f, "config denied: {m}"),
            Self::Unavailable(m) => write!(f, "config unavailable: {m}"),
            Self::Missing(key) => write!(f, "config value {key:?} is not set"),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_outside_the_sandbox() {
        assert!(matches!(
            Config::new().get("api_token"),
            Err(ConfigError::Unavailable(_))
        ));
        assert_eq!(
            ConfigError::Missing("api_token".into()).to_string(),
            r#"config value "api_token" is not set"#
        );
    }
}
