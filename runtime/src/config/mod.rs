//! The configuration of `runbox serve`, layered: built-in defaults, then a TOML file
//! (`--config FILE`), then `RUNBOX_*` environment variables, then command-line flags.
//!
//! Every layer is strict: an unknown key in the file or an unknown `RUNBOX_*` variable is
//! an error naming it, so a typo never silently falls back to a default. The effective
//! configuration prints as TOML with every secret replaced by `***` ([`print`]).
//!
//! Layout: [`types`] (the structs and their defaults), [`units`] (sizes in files),
//! [`file`] (TOML layer), [`env`] (environment layer), [`flags`] (command-line layer),
//! [`print`] (the redacted view), [`error`].

pub mod env;
pub mod error;
pub mod file;
pub mod flags;
pub mod print;
pub mod types;
pub mod units;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use error::ConfigError;
pub use flags::Overrides;
pub use types::{
    EngineConfig, LimitsConfig, LogFormat, OrgConfig, ReposConfig, ServerConfig, default_data_dir,
};

/// Where each layer comes from. The environment is passed in (not read here) so tests and
/// embedders choose it.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The TOML file, if any.
    pub file: Option<PathBuf>,
    /// `(name, value)` pairs; only `RUNBOX_*` names are looked at.
    pub env: Vec<(String, String)>,
    /// Command-line flags (highest precedence).
    pub flags: Overrides,
}

impl Sources {
    /// The process environment as the env layer.
    pub fn with_process_env(mut self) -> Self {
        self.env = std::env::vars().collect();
        self
    }
}

/// Builds the effective configuration from every layer and validates it.
///
/// With no file and no org configured anywhere, the demo instance is switched on: a fresh
/// `runbox serve` is a working server.
pub fn load(sources: &Sources) -> Result<ServerConfig, ConfigError> {
    let mut table = match &sources.file {
        Some(path) => file::read_table(path)?,
        None => toml::Table::new(),
    };
    env::apply(&mut table, &sources.env)?;
    let mut config = file::from_table(table, sources.file.as_deref())?;
    sources.flags.apply(&mut config);
    if sources.file.is_none() && config.orgs.is_empty() {
        config.demo = true;
    }
    config.validate()?;
    Ok(config)
}
