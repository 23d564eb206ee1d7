//! The command-line layer: flags given to `runbox serve` win over every other layer.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::types::{LogFormat, ServerConfig};

/// Settings given as flags; `None` leaves the lower layers' value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub workers: Option<usize>,
    pub log_format: Option<LogFormat>,
    pub shutdown_deadline: Option<Duration>,
    pub body_limit: Option<u64>,
    /// `--demo` (only ever switches it on).
    pub demo: bool,
    pub demo_runbooks: Option<PathBuf>,
}

impl Overrides {
    /// Writes every given flag into `config`.
    pub fn apply(&self, config: &mut ServerConfig) {
        if let Some(v) = self.listen {
            config.listen = v;
        }
        if let Some(v) = &self.data_dir {
            config.data_dir = v.clone();
        }
        if let Some(v) = &self.cache_dir {
            config.cache_dir = Some(v.clone());
        }
        if let Some(v) = self.workers {
            config.workers = v;
        }
        if let Some(v) = self.log_format {
            config.log_format = v;
        }
        if let Some(v) = self.shutdown_deadline {
            config.shutdown_deadline = v;
        }
        if let Some(v) = self.body_limit {
            config.body_limit = v;
        }
        if self.demo {
            config.demo = true;
        }
        if let Some(v) = &self.demo_runbooks {
            config.demo_runbooks = Some(v.clone());
        }
    }
}
