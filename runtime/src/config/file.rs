//! The TOML file layer: read the file as a table (so the environment layer can be merged
//! into it), then turn the merged table into a [`ServerConfig`] with defaults for whatever
//! is missing. Unknown keys are refused by `deny_unknown_fields`; the error names the key.

use std::path::Path;

use serde::Deserialize;

use super::error::ConfigError;
use super::types::ServerConfig;

/// The file as a TOML table.
pub fn read_table(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_table(&text, &path.display().to_string())
}

/// TOML text as a table; `origin` names it in errors. The text is also checked on its own
/// first, so a wrong key or type is reported with its line.
pub fn parse_table(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    let err = |e: toml::de::Error| ConfigError::File {
        path: origin.to_owned(),
        message: one_line(&e.to_string()),
    };
    toml::from_str::<ServerConfig>(text).map_err(err)?;
    text.parse::<toml::Table>().map_err(err)
}

/// The merged table as a config, defaults filling the gaps.
pub fn from_table(table: toml::Table, path: Option<&Path>) -> Result<ServerConfig, ConfigError> {
    ServerConfig::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::File {
        path: path.map_or_else(|| "(environment)".to_owned(), |p| p.display().to_string()),
        message: one_line(&e.to_string()),
    })
}

/// toml's messages span several lines (a source excerpt); one line reads better in logs.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
