//! hoop's hook payload, byte-compatible: the JSON a hook finds in
//! `HOOP_RUNBOOK_HOOK_PAYLOAD` and in its typed invocation.
//!
//! ```json
//! {"id":"…","sid":"…","command":["python3"],"input_file":"",
//!  "event_session_open":{"verb":"exec","connection_name":"pg-prod","connection_type":"database",
//!    "connection_subtype":"postgres","connection_envs":{"envvar:HOST":"ZGIuaW50ZXJuYWw="},
//!    "connection_reviewers":["dba-team"],"input":"SELECT 1","user_email":"alex.morgan@acme.com"},
//!  "event_session_close":null}
//! ```
//!
//! Exactly one of the two event fields is non-null (the types make any other shape
//! impossible). Field order follows hoop's, so a hook that compares text sees the same.

use std::collections::BTreeMap;

use base64::Engine as _;
use runbox_host_api::HookKind;
use serde::Serialize;
use uuid::Uuid;

use super::session::SessionInfo;

/// The namespace of hook ids: the RFC 9562 URL namespace. The id of a hook run is the
/// name-based (SHA-1, version 5) UUID of `session-open/<sid>` or `session-close/<sid>`,
/// so it is the same every time the same event fires for the same session (the open
/// hook may fire more than once) and receivers can drop duplicates by it.
pub const HOOK_ID_NAMESPACE: Uuid = Uuid::NAMESPACE_URL;

/// Prefix of every key in `connection_envs` (hoop's secret naming).
pub const ENV_KEY_PREFIX: &str = "envvar:";

/// hoop's stable hook id of `kind` for session `sid`.
pub fn hook_id(kind: HookKind, sid: &str) -> String {
    let name = format!("{}/{sid}", kind.as_str());
    Uuid::new_v5(&HOOK_ID_NAMESPACE, name.as_bytes()).to_string()
}

/// The whole payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookPayload {
    pub id: String,
    pub sid: String,
    pub command: Vec<String>,
    pub input_file: String,
    pub event_session_open: Option<SessionOpen>,
    pub event_session_close: Option<SessionClose>,
}

/// `event_session_open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionOpen {
    pub verb: String,
    pub connection_name: String,
    pub connection_type: String,
    pub connection_subtype: String,
    /// `envvar:<KEY>` -> base64 of the value, or `""` when the org shows keys only.
    pub connection_envs: BTreeMap<String, String>,
    pub connection_reviewers: Vec<String>,
    pub input: String,
    pub user_email: String,
}

/// `event_session_close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionClose {
    /// The session's exit code; `null` when unknown.
    pub exit_code: Option<i32>,
    /// The session's output; `null` when the gateway did not pass it.
    pub output: Option<String>,
}

/// What the connection registry knows about the session's connection.
///
/// `Debug` shows the secret keys only.
#[derive(Clone, Default)]
pub struct ConnectionFacts {
    pub connection_type: Option<String>,
    pub connection_subtype: Option<String>,
    /// Secret variables, `KEY -> value` (raw).
    pub secrets: BTreeMap<String, String>,
}

impl std::fmt::Debug for ConnectionFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionFacts")
            .field("connection_type", &self.connection_type)
            .field("connection_subtype", &self.connection_subtype)
            .field("secret_keys", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl HookPayload {
    /// The open payload. `show_values`: the org lets hooks see secret values (base64, as
    /// hoop sends them); otherwise every key maps to `""`.
    pub fn open(info: &SessionInfo, connection: &ConnectionFacts, show_values: bool) -> Self {
        let connection_envs = connection_envs(&connection.secrets, show_values);
        HookPayload {
            id: hook_id(HookKind::SessionOpen, &info.sid),
            sid: info.sid.clone(),
            command: info.command.clone(),
            input_file: info.input_file.clone(),
            event_session_open: Some(SessionOpen {
                verb: info.verb.clone(),
                connection_name: info.connection_name.clone(),
                connection_type: info
                    .connection_type
                    .clone()
                    .or_else(|| connection.connection_type.clone())
                    .unwrap_or_default(),
                connection_subtype: info
                    .connection_subtype
                    .clone()
                    .or_else(|| connection.connection_subtype.clone())
                    .unwrap_or_default(),
                connection_envs,
                connection_reviewers: info.connection_reviewers.clone(),
                input: info.input.clone(),
                user_email: info.user_email.clone(),
            }),
            event_session_close: None,
        }
    }

    /// The close payload; `command` and `input_file` come from the session's open (empty
    /// when runbox never saw it open).
    pub fn close(
        sid: &str,
        command: Vec<String>,
        input_file: String,
        exit_code: Option<i32>,
        output: Option<String>,
    ) -> Self {
        HookPayload {
            id: hook_id(HookKind::SessionClose, sid),
            sid: sid.to_owned(),
            command,
            input_file,
            event_session_open: None,
            event_session_close: Some(SessionClose { exit_code, output }),
        }
    }

    /// Which hook this payload is for.
    pub fn kind(&self) -> HookKind {
        if self.event_session_open.is_some() {
            HookKind::SessionOpen
        } else {
            HookKind::SessionClose
        }
    }

    /// The JSON text handed to the hook.
    pub fn to_json(&self) -> String {
        // Serializing plain strings, vectors and maps cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// hoop's `connection_envs`: `envvar:<KEY>` -> base64(value), or `""` per key.
pub fn connection_envs(
    secrets: &BTreeMap<String, String>,
    show_values: bool,
) -> BTreeMap<String, String> {
    secrets
        .iter()
        .map(|(key, value)| {
            let shown = if show_values {
                base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
            } else {
                String::new()
            };
            (format!("{ENV_KEY_PREFIX}{key}"), shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SID: &str = "8c59a347-62bd-4db2-a456-2b25963dfebf";

    #[test]
    fn hook_ids_are_uuid_v5_of_the_event_name() {
        // Cross-checked with Python: uuid.uuid5(uuid.NAMESPACE_URL, "session-open/" + SID).
        assert_eq!(
            hook_id(HookKind::SessionOpen, SID),
            "56e79379-b323-58a4-8436-f2e967b04c62"
        );
        assert_eq!(
            hook_id(HookKind::SessionOpen, SID),
            hook_id(HookKind::SessionOpen, SID)
        );
        assert_ne!(
            hook_id(HookKind::SessionOpen, SID),
            hook_id(HookKind::SessionClose, SID)
        );
        let id = Uuid::parse_str(&hook_id(HookKind::SessionClose, SID)).unwrap();
        assert_eq!(id.get_version_num(), 5);
    }

    fn info() -> SessionInfo {
        SessionInfo {
            sid: SID.into(),
            verb: "exec".into(),
            user_email: "alex.morgan@acme.com".into(),
            connection_name: "pg-prod".into(),
            connection_type: None,
            connection_subtype: None,
            connection_reviewers: vec!["dba-team".into()],
            input: "SELECT 1".into(),
            command: vec!["python3".into()],
            input_file: String::new(),
        }
    }

    fn facts() -> ConnectionFacts {
        ConnectionFacts {
            connection_type: Some("database".into()),
            connection_subtype: Some("postgres".into()),
            secrets: BTreeMap::from([("HOST".into(), "db.internal".into())]),
        }
    }

    #[test]
    fn open_payload_has_hoops_shape_and_order() {
        let p = HookPayload::open(&info(), &facts(), true);
        let id = hook_id(HookKind::SessionOpen, SID);
        assert_eq!(
            p.to_json(),
            format!(
                r#"{{"id":"{id}","sid":"{SID}","command":["python3"],"input_file":"","event_session_open":{{"verb":"exec","connection_name":"pg-prod","connection_type":"database","connection_subtype":"postgres","connection_envs":{{"envvar:HOST":"ZGIuaW50ZXJuYWw="}},"connection_reviewers":["dba-team"],"input":"SELECT 1","user_email":"alex.morgan@acme.com"}},"event_session_close":null}}"#
            )
        );
        assert_eq!(p.kind(), HookKind::SessionOpen);
    }

    #[test]
    fn secret_values_are_hidden_unless_allowed() {
        let p = HookPayload::open(&info(), &facts(), false);
        let envs = &p.event_session_open.as_ref().unwrap().connection_envs;
        assert_eq!(envs.get("envvar:HOST").map(String::as_str), Some(""));
        assert!(!p.to_json().contains("ZGIuaW50ZXJuYWw="));
    }

    #[test]
    fn the_gateway_wins_over_the_registry_for_type_and_subtype() {
        let mut i = info();
        i.connection_type = Some("custom".into());
        let p = HookPayload::open(&i, &facts(), false);
        let open = p.event_session_open.unwrap();
        assert_eq!(open.connection_type, "custom");
        assert_eq!(open.connection_subtype, "postgres");
    }

    #[test]
    fn close_payload() {
        let p = HookPayload::close(SID, vec!["psql".into()], String::new(), Some(0), None);
        let id = hook_id(HookKind::SessionClose, SID);
        assert_eq!(
            p.to_json(),
            format!(
                r#"{{"id":"{id}","sid":"{SID}","command":["psql"],"input_file":"","event_session_open":null,"event_session_close":{{"exit_code":0,"output":null}}}}"#
            )
        );
        assert_eq!(p.kind(), HookKind::SessionClose);
    }
}
