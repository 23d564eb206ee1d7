//! Shared helpers of the `store_*` tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use runbox::model::{
    AccessMode, ConnectionSpec, ConnectionType, NewEvent, Secrets, SubscriptionSpec,
    SubscriptionStatus,
};
use runbox::store::SledStore;

pub const ORG: &str = "acme";
pub const EVENT: &str = "alert.sensitive_data_detected";

pub fn open(dir: &tempfile::TempDir) -> SledStore {
    SledStore::open(dir.path().join("db")).expect("open store")
}

pub fn connection(name: &str, agent: &str) -> ConnectionSpec {
    let mut secrets = BTreeMap::new();
    secrets.insert("TOKEN".to_string(), "s3cret".to_string());
    ConnectionSpec {
        name: name.to_string(),
        kind: ConnectionType::Custom,
        subtype: String::new(),
        tags: vec!["prod".into()],
        agent_id: Some(agent.to_string()),
        access_mode_exec: AccessMode::Enabled,
        access_mode_connect: AccessMode::Disabled,
        access_mode_runbooks: AccessMode::Enabled,
        plugins: vec!["runbooks".into()],
        secrets: Secrets(secrets),
        command: vec!["bash".into()],
    }
}

pub fn subscription(name: &str, connection: &str) -> SubscriptionSpec {
    let mut mapping = BTreeMap::new();
    mapping.insert("agent_user".to_string(), "$.user".to_string());
    SubscriptionSpec {
        name: name.to_string(),
        description: "test".into(),
        event_types: vec![EVENT.to_string()],
        runbook_repository: "github.com/acme/runbooks".into(),
        runbook_file: "ops/revoke.runbook.wasm".into(),
        connection_name: connection.to_string(),
        parameter_mapping: mapping,
        status: SubscriptionStatus::Active,
        retry_policy: None,
    }
}

pub fn event(producer: Option<&str>) -> NewEvent {
    NewEvent {
        event_type: EVENT.to_string(),
        payload: serde_json::json!({"session_id": "ses_1", "user": "alex@acme.com", "connection": "pg", "occurred_at": "2026-05-04T14:30:00Z"}),
        producer_event_id: producer.map(str::to_string),
        actor: None,
    }
}
