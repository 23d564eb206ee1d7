//! What a run is granted: the agent for `connection.exec`, the config source for
//! `config.get`, and the egress policy for `wasi:http`. The default grants nothing.

use crate::agent::{Agent, NoAgent};
use crate::config_source::{ConfigSource, StaticConfig};
use crate::egress::EgressPolicy;
use std::fmt;
use std::sync::Arc;

/// The capabilities of one run. Cheap to clone (all `Arc`s), so the runtime can keep one
/// per subscription or connection and hand clones to runs.
#[derive(Clone)]
pub struct Capabilities {
    /// Runs `connection.exec`.
    pub agent: Arc<dyn Agent>,
    /// Answers `config.get`.
    pub config: Arc<dyn ConfigSource>,
    /// Decides outbound HTTP.
    pub egress: Arc<EgressPolicy>,
}

impl Default for Capabilities {
    /// Deny everything: no agent, no config keys, no egress.
    fn default() -> Self {
        Capabilities {
            agent: Arc::new(NoAgent),
            config: Arc::new(StaticConfig::new()),
            egress: Arc::new(EgressPolicy::deny_all()),
        }
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The agent and config source are opaque (and the config may hold secrets).
        f.debug_struct("Capabilities")
            .field("egress", &self.egress)
            .finish_non_exhaustive()
    }
}
