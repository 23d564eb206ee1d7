//! The in-memory registry of agent status the embedding gateway reports.
//!
//! Why in memory: status is a live fact of the gateway's agent connections, re-reported
//! after every restart; persisting it would only let a stale "online" outlive the agent.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::store::ClaimCandidate;

/// Which agents are online. An agent never reported takes the registry's default.
#[derive(Debug)]
pub struct AgentRegistry {
    status: RwLock<HashMap<String, bool>>,
    default_online: bool,
}

impl AgentRegistry {
    /// `default_online`: the status of an agent never reported. `true` suits a stand-alone
    /// runtime; a gateway that reports every agent can start from `false`.
    pub fn new(default_online: bool) -> Self {
        AgentRegistry {
            status: RwLock::new(HashMap::new()),
            default_online,
        }
    }

    /// Records a report; returns true when the agent went from offline to online.
    pub fn set(&self, agent_id: &str, online: bool) -> bool {
        let mut map = self.status.write().unwrap_or_else(|p| p.into_inner());
        let before = map
            .insert(agent_id.to_owned(), online)
            .unwrap_or(self.default_online);
        online && !before
    }

    /// Whether the agent is online now.
    pub fn is_online(&self, agent_id: &str) -> bool {
        let map = self.status.read().unwrap_or_else(|p| p.into_inner());
        map.get(agent_id).copied().unwrap_or(self.default_online)
    }

    /// The claim rule: a dispatch whose connection has an agent that is offline stays
    /// `pending`. Everything else is claimed (a missing connection or subscription then
    /// fails the dispatch with its reason instead of leaving it pending for ever).
    pub fn may_claim(&self, candidate: &ClaimCandidate<'_>) -> bool {
        match candidate.connection.and_then(|c| c.agent_id.as_deref()) {
            Some(agent) => self.is_online(agent),
            None => true,
        }
    }

    /// Every reported agent and its status, sorted by id.
    pub fn snapshot(&self) -> Vec<(String, bool)> {
        let map = self.status.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<_> = map.iter().map(|(k, v)| (k.clone(), *v)).collect();
        all.sort();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_override_the_default_and_return_comebacks() {
        let r = AgentRegistry::new(true);
        assert!(r.is_online("a"));
        assert!(!r.set("a", false));
        assert!(!r.is_online("a"));
        assert!(r.set("a", true));
        assert!(!r.set("a", true));
        let strict = AgentRegistry::new(false);
        assert!(!strict.is_online("b"));
        assert!(strict.set("b", true));
    }
}
