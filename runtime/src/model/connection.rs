//! Connections: what a runbook runs against, bound to an agent.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Timestamp;

/// hoop's three connection families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionType {
    Database,
    Application,
    Custom,
}

/// One access mode's switch; hoop spells these `"enabled"` / `"disabled"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessMode {
    Enabled,
    #[default]
    Disabled,
}

impl AccessMode {
    pub fn is_enabled(self) -> bool {
        self == AccessMode::Enabled
    }
}

/// Secret environment variables, `KEY -> value`.
///
/// Why a newtype: its `Debug` prints keys only, so a `tracing` field or a panic message
/// can never carry a secret value.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secrets(pub BTreeMap<String, String>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

impl Secrets {
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// A registered connection.
///
/// Serializing a `Connection` never includes the secret values (the field is skipped), so
/// the serde form *is* the API's redacted view; it lists the secret keys under
/// `secret_keys` instead. The store keeps the values through its own record type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Connection {
    pub id: String,
    pub org: String,
    /// Unique per org; subscriptions refer to the connection by this name.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ConnectionType,
    #[serde(default)]
    pub subtype: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub access_mode_exec: AccessMode,
    #[serde(default)]
    pub access_mode_connect: AccessMode,
    #[serde(default)]
    pub access_mode_runbooks: AccessMode,
    /// Attached plugins by name; `runbooks` must be here for runbooks to run.
    #[serde(default)]
    pub plugins: Vec<String>,
    #[serde(skip_serializing, default)]
    #[schema(ignore)]
    pub secrets: Secrets,
    /// For `custom` connections: the command run with the input on stdin.
    #[serde(default)]
    pub command: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Connection {
    /// True when runbooks may run here: the `runbooks` mode on and the plugin attached.
    pub fn allows_runbooks(&self) -> bool {
        self.access_mode_runbooks.is_enabled() && self.plugins.iter().any(|p| p == "runbooks")
    }

    /// The names of the secret variables, for views that must not show values.
    pub fn secret_keys(&self) -> Vec<String> {
        self.secrets.0.keys().cloned().collect()
    }

    /// What a guest's invocation tells it of the connection it runs against (no secrets).
    pub fn guest_info(&self) -> runbox_host_api::ConnectionInfo {
        let kind = match self.kind {
            ConnectionType::Database => "database",
            ConnectionType::Application => "application",
            ConnectionType::Custom => "custom",
        };
        runbox_host_api::ConnectionInfo {
            name: self.name.clone(),
            type_: kind.to_owned(),
            subtype: self.subtype.clone(),
            tags: self.tags.clone(),
        }
    }
}

/// What a caller supplies to create or update a connection; the store assigns id and times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ConnectionType,
    #[serde(default)]
    pub subtype: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub access_mode_exec: AccessMode,
    #[serde(default)]
    pub access_mode_connect: AccessMode,
    #[serde(default)]
    pub access_mode_runbooks: AccessMode,
    #[serde(default)]
    pub plugins: Vec<String>,
    #[serde(skip_serializing, default)]
    pub secrets: Secrets,
    #[serde(default)]
    pub command: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Connection {
        let mut secrets = BTreeMap::new();
        secrets.insert("PGPASSWORD".to_string(), "hunter2".to_string());
        Connection {
            id: "con_1".into(),
            org: "acme".into(),
            name: "pg-prod".into(),
            kind: ConnectionType::Database,
            subtype: "postgres".into(),
            tags: vec!["prod".into()],
            agent_id: Some("agent-1".into()),
            access_mode_exec: AccessMode::Enabled,
            access_mode_connect: AccessMode::Disabled,
            access_mode_runbooks: AccessMode::Enabled,
            plugins: vec!["runbooks".into(), "audit".into()],
            secrets: Secrets(secrets),
            command: vec![],
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn secret_values_never_serialized_nor_debug_printed() {
        let c = sample();
        let json = serde_json::to_string(&c).unwrap_or_default();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains("\"type\":\"database\""), "{json}");
        assert!(
            json.contains("\"access_mode_runbooks\":\"enabled\""),
            "{json}"
        );
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("PGPASSWORD"), "{debug}");
        assert!(c.allows_runbooks());
    }
}
