//! What the gateway tells runbox about a session when it opens.
//!
//! The fields are hoop's `event_session_open` facts plus the session's `command` and
//! `input_file`, which hoop puts at the top level of the hook payload.

use serde::{Deserialize, Serialize};

/// The verb of a session that never runs hooks: hoop skips hooks for `plain-exec`.
pub const PLAIN_EXEC: &str = "plain-exec";

/// The session verbs hoop knows.
pub const VERBS: &[&str] = &["connect", "exec", PLAIN_EXEC];

/// Longest session id accepted (hoop's are UUIDs; gateways may use longer prefixed ids).
pub const MAX_SID_LEN: usize = 128;

/// A session that opened (or re-opened after a review).
///
/// `connection_type` / `connection_subtype` are taken from the gateway when given, else
/// from the connection registered in runbox under `connection_name`. The connection's
/// secrets always come from that registration, never from the gateway: session calls
/// then never carry secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session id (`sid` in the payload).
    pub sid: String,
    /// `connect`, `exec` or `plain-exec` (hooks are skipped for `plain-exec`).
    pub verb: String,
    /// The user who opened the session.
    #[serde(default)]
    pub user_email: String,
    /// The connection's name.
    pub connection_name: String,
    /// `database`, `application` or `custom`.
    #[serde(default)]
    pub connection_type: Option<String>,
    /// e.g. `postgres`.
    #[serde(default)]
    pub connection_subtype: Option<String>,
    /// Reviewer groups of the connection.
    #[serde(default)]
    pub connection_reviewers: Vec<String>,
    /// The session's input (the query of an `exec`), may be empty.
    #[serde(default)]
    pub input: String,
    /// The command the session runs (`["psql"]`, `["python3"]`).
    #[serde(default)]
    pub command: Vec<String>,
    /// hoop's `input_file` (usually empty).
    #[serde(default)]
    pub input_file: String,
}

impl SessionInfo {
    /// Whether hoop's rule skips hooks for this session.
    pub fn skips_hooks(&self) -> bool {
        self.verb == PLAIN_EXEC
    }
}

/// Checks a session id: not empty, at most [`MAX_SID_LEN`] bytes, no control characters
/// or `/` (the id is part of hoop's hook-id name and of storage keys). The error names
/// what is wrong.
pub fn validate_sid(sid: &str) -> Result<(), String> {
    if sid.trim().is_empty() {
        return Err("the session id must not be empty".into());
    }
    if sid.len() > MAX_SID_LEN {
        return Err(format!(
            "the session id is {} bytes; at most {MAX_SID_LEN} are allowed",
            sid.len()
        ));
    }
    if sid.chars().any(|c| c.is_control() || c == '/') {
        return Err("the session id must not contain control characters or '/'".into());
    }
    Ok(())
}

/// Checks the verb is one of hoop's ([`VERBS`]).
pub fn validate_verb(verb: &str) -> Result<(), String> {
    if VERBS.contains(&verb) {
        Ok(())
    } else {
        Err(format!(
            "unknown session verb {verb:?}; expected one of {}",
            VERBS.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_rules() {
        assert!(validate_sid("8c59a347-62bd-4db2-a456-2b25963dfebf").is_ok());
        assert!(validate_sid("ses_01HX9G6RST").is_ok());
        assert!(validate_sid("").is_err());
        assert!(validate_sid("  ").is_err());
        assert!(validate_sid("a/b").is_err());
        assert!(validate_sid("a\nb").is_err());
        assert!(validate_sid(&"x".repeat(129)).is_err());
    }

    #[test]
    fn verbs() {
        for v in VERBS {
            assert!(validate_verb(v).is_ok());
        }
        let err = validate_verb("shell").unwrap_err();
        assert!(
            err.contains("\"shell\"") && err.contains("plain-exec"),
            "{err}"
        );
        let s = SessionInfo {
            verb: PLAIN_EXEC.into(),
            ..SessionInfo::default()
        };
        assert!(s.skips_hooks());
    }
}
