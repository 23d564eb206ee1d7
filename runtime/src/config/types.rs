//! The configuration structs of `runbox serve` and their defaults.
//!
//! Field order matters for [`super::print`]: TOML needs plain values before tables, so
//! scalars come first, then `[limits]`, `[repos]`, `[orgs.*]`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use runbox_host_api::Limits;
use serde::{Deserialize, Serialize};

use super::error::ConfigError;
use crate::engine::EngineSettings;
use crate::repo::{RepoConfig, RepoSettings};

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("{other:?} is not a log format (text or json)")),
        }
    }
}

/// The whole server configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the admin API listens on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The sled store (`store/`), git mirrors (`repos/`), compiled components
    /// (`compiled/`) and API-managed repository configurations live here.
    pub data_dir: PathBuf,
    /// Compiled components elsewhere than `<data_dir>/compiled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
    /// Dispatch workers (concurrent runs).
    pub workers: usize,
    /// Largest request body, in bytes (`"1MiB"` in a file); larger ones get 413.
    #[serde(with = "super::units::size")]
    pub body_limit: u64,
    pub log_format: LogFormat,
    /// How long a shutdown waits for in-flight requests and runs before interrupting them.
    #[serde(with = "crate::serde_duration")]
    pub shutdown_deadline: Duration,
    /// Status of agents the gateway never reported (true: dispatches run at once).
    pub agents_online_default: bool,
    /// Start the ready-to-try demo instance (org `demo`).
    pub demo: bool,
    /// Where the demo takes its runbooks from (see `server::demo`). Default: the guest
    /// build output beside the binary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo_runbooks: Option<PathBuf>,
    /// Per-run sandbox limits of every dispatch and manual run.
    pub limits: LimitsConfig,
    /// Repository registry settings.
    pub repos: ReposConfig,
    /// The wasm engine's instance pool.
    pub engine: EngineConfig,
    /// Orgs by name.
    pub orgs: BTreeMap<String, OrgConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: default_data_dir(),
            cache_dir: None,
            workers: 2,
            body_limit: crate::api::DEFAULT_BODY_LIMIT as u64,
            log_format: LogFormat::Text,
            shutdown_deadline: Duration::from_secs(30),
            agents_online_default: true,
            demo: false,
            demo_runbooks: None,
            limits: LimitsConfig::default(),
            repos: ReposConfig::default(),
            engine: EngineConfig::default(),
            orgs: BTreeMap::new(),
        }
    }
}

/// `$XDG_DATA_HOME/runbox`, else `~/.local/share/runbox`, else `./runbox-data`: durable
/// state does not belong in a cache directory.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|d| d.join("runbox"))
        .unwrap_or_else(|| PathBuf::from("runbox-data"))
}

/// One org.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrgConfig {
    /// `experimental.event_routing` is switched on at start (never switched off: an admin
    /// may have turned it on through the API).
    pub event_routing: bool,
    /// The org's runbook repositories (hoop's settings: `git_url`, `branch`, `git_user`,
    /// `git_password`, `git_ssh_key`, ..., `hook_config_ttl`).
    pub repositories: Vec<RepoConfig>,
}

/// Sandbox limits; sizes accept `"64MiB"` or a byte count, durations `"10s"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    pub fuel: u64,
    #[serde(with = "super::units::size")]
    pub memory: u64,
    #[serde(with = "crate::serde_duration")]
    pub timeout: Duration,
    #[serde(with = "super::units::size")]
    pub output: u64,
    #[serde(with = "super::units::size")]
    pub payload: u64,
    #[serde(with = "super::units::size")]
    pub hostcall: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = Limits::default();
        LimitsConfig {
            fuel: l.fuel,
            memory: l.memory_bytes,
            timeout: l.timeout,
            output: l.output_bytes as u64,
            payload: l.payload_bytes as u64,
            hostcall: l.hostcall_bytes,
        }
    }
}

impl LimitsConfig {
    /// The sandbox's limits.
    pub fn to_limits(&self) -> Limits {
        Limits {
            fuel: self.fuel,
            memory_bytes: self.memory,
            timeout: self.timeout,
            output_bytes: usize::try_from(self.output).unwrap_or(usize::MAX),
            payload_bytes: usize::try_from(self.payload).unwrap_or(usize::MAX),
            hostcall_bytes: self.hostcall,
        }
    }
}

/// Repository registry settings (mirrors live under `<data_dir>/repos`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReposConfig {
    /// Refetch interval of repositories without `hook_config_ttl`.
    #[serde(with = "crate::serde_duration")]
    pub default_ttl: Duration,
    /// Outer bound on one fetch.
    #[serde(with = "crate::serde_duration")]
    pub fetch_timeout: Duration,
}

impl Default for ReposConfig {
    fn default() -> Self {
        let s = RepoSettings::default();
        ReposConfig {
            default_ttl: s.default_ttl,
            fetch_timeout: s.fetch_timeout,
        }
    }
}

/// The engine's instance pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Runs that may hold an instance at once (pool slots reserved up front); at least
    /// `workers` plus room for manual runs.
    pub max_instances: u32,
    /// Pooling allocator (recommended; falls back to on-demand when the pool cannot be
    /// reserved).
    pub pooling: bool,
    /// Instances kept made ahead for session hooks, with pool slots of their own beyond
    /// `max_instances` (0: off).
    pub standby_instances: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        let e = EngineSettings::default();
        EngineConfig {
            max_instances: e.max_instances,
            pooling: e.pooling,
            standby_instances: e.standby_instances,
        }
    }
}

impl EngineConfig {
    /// The engine's settings.
    pub fn to_settings(&self) -> EngineSettings {
        EngineSettings {
            max_instances: self.max_instances,
            pooling: self.pooling,
            standby_instances: self.standby_instances,
            ..EngineSettings::default()
        }
    }
}

impl ServerConfig {
    /// Checks ranges and cross-field rules; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.workers == 0 {
            return Err(ConfigError::invalid(
                "workers",
                "must be at least 1 (dispatches would never run)",
            ));
        }
        if self.workers > 256 {
            return Err(ConfigError::invalid("workers", "must be at most 256"));
        }
        if self.workers > self.engine.max_instances as usize {
            return Err(ConfigError::invalid(
                "workers",
                format!(
                    "must not exceed engine.max_instances ({})",
                    self.engine.max_instances
                ),
            ));
        }
        self.engine
            .to_settings()
            .validate()
            .map_err(|e| ConfigError::invalid("engine", e.to_string()))?;
        if self.body_limit == 0 {
            return Err(ConfigError::invalid("body_limit", "must be positive"));
        }
        if self.shutdown_deadline.is_zero() {
            return Err(ConfigError::invalid(
                "shutdown_deadline",
                "must be positive",
            ));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }
        self.limits
            .to_limits()
            .validate()
            .map_err(|e| ConfigError::invalid("limits", e.to_string()))?;
        let mut settings = RepoSettings::new(&self.data_dir);
        settings.default_ttl = self.repos.default_ttl;
        settings.fetch_timeout = self.repos.fetch_timeout;
        settings
            .validate()
            .map_err(|reason| ConfigError::invalid("repos", reason))?;
        for (org, o) in &self.orgs {
            if org.trim().is_empty() || org.trim() != org {
                return Err(ConfigError::invalid(
                    format!("orgs.{org:?}"),
                    "an org name must be non-empty without surrounding spaces",
                ));
            }
            for (i, repo) in o.repositories.iter().enumerate() {
                repo.resolve(self.repos.default_ttl).map_err(|reason| {
                    ConfigError::invalid(format!("orgs.{org}.repositories[{i}]"), reason)
                })?;
            }
        }
        Ok(())
    }

    /// The repository registry's settings.
    pub fn repo_settings(&self) -> RepoSettings {
        let mut s = RepoSettings::new(&self.data_dir);
        s.default_ttl = self.repos.default_ttl;
        s.fetch_timeout = self.repos.fetch_timeout;
        s
    }
}
