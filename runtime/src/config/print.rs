//! `runbox config print`: the effective configuration as TOML. Secrets (git passwords,
//! ssh keys and passphrases, credentials inside URLs) serialize as `***` by construction
//! ([`crate::repo::Secret`], [`crate::repo::GitUrl`]), so the output can be pasted into
//! a ticket.

use super::error::ConfigError;
use super::types::ServerConfig;

/// The configuration as TOML text, secrets hidden.
pub fn to_toml(config: &ServerConfig) -> Result<String, ConfigError> {
    toml::to_string_pretty(config).map_err(|e| ConfigError::invalid("(print)", e.to_string()))
}
