//! What each org's guests are granted beyond the sandbox defaults: the config source behind
//! `config.get` and the egress policy behind `wasi:http`. Dispatches, manual runs and
//! session hooks all build their [`Capabilities`] here, so an org's grants mean the same
//! thing on every path.

use std::collections::HashMap;
use std::sync::Arc;

use runbox_host_api::{Agent, Capabilities, ConfigSource, EgressPolicy};

/// Per-org config sources and egress policies (an org without one gets the deny default).
#[derive(Clone, Default)]
pub(crate) struct OrgCapabilities {
    config: HashMap<String, Arc<dyn ConfigSource>>,
    egress: HashMap<String, Arc<EgressPolicy>>,
}

impl std::fmt::Debug for OrgCapabilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Config sources hold secrets: list the orgs only.
        f.debug_struct("OrgCapabilities")
            .field("config_orgs", &self.config.keys().collect::<Vec<_>>())
            .field("egress_orgs", &self.egress.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl OrgCapabilities {
    pub(crate) fn new(
        config: HashMap<String, Arc<dyn ConfigSource>>,
        egress: HashMap<String, Arc<EgressPolicy>>,
    ) -> Self {
        OrgCapabilities { config, egress }
    }

    /// The capabilities of a guest of `org`; `agent` serves its `connection.exec` (`None`:
    /// the deny default).
    pub(crate) fn for_org(&self, org: &str, agent: Option<Arc<dyn Agent>>) -> Capabilities {
        let defaults = Capabilities::default();
        Capabilities {
            agent: agent.unwrap_or(defaults.agent),
            config: self.config.get(org).cloned().unwrap_or(defaults.config),
            egress: self.egress.get(org).cloned().unwrap_or(defaults.egress),
        }
    }
}
