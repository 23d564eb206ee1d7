//! Write-only connection secrets as clients send them: hoop's
//! `{"envvar:KEY": "<base64 value>"}`.
//!
//! Parsed from a raw JSON value rather than through serde so that no error message can
//! quote a value: serde's type errors echo what they got (`invalid type: string "..."`).
//! Messages name the key only.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::ApiError;
use crate::model::Secrets;

/// The only key kind runbox stores: an environment variable of the connection.
pub const ENVVAR_PREFIX: &str = "envvar:";

/// Decodes the `secret` object into `KEY -> value` (prefix removed, values decoded).
pub fn decode_secrets(secret: &Value) -> Result<Secrets, ApiError> {
    let Value::Object(entries) = secret else {
        return Err(invalid(
            "secret must be an object of \"envvar:KEY\": \"<base64 value>\"".into(),
        ));
    };
    let mut out = BTreeMap::new();
    for (key, value) in entries {
        let name = key
            .strip_prefix(ENVVAR_PREFIX)
            .ok_or_else(|| invalid(format!("secret key \"{key}\" must start with envvar:")))?;
        if !is_env_name(name) {
            return Err(invalid(format!(
                "secret key \"{key}\": the variable name must be letters, digits and _, not starting with a digit"
            )));
        }
        let Value::String(encoded) = value else {
            return Err(invalid(format!("secret \"{key}\" must be a base64 string")));
        };
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| invalid(format!("secret \"{key}\" is not valid base64")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| invalid(format!("secret \"{key}\" does not decode to UTF-8 text")))?;
        out.insert(name.to_owned(), text);
    }
    Ok(Secrets(out))
}

/// The keys as clients name them (`envvar:KEY`), for answers that must not show values.
pub fn secret_keys(secrets: &Secrets) -> Vec<String> {
    secrets
        .keys()
        .map(|k| format!("{ENVVAR_PREFIX}{k}"))
        .collect()
}

fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 128
}

fn invalid(message: String) -> ApiError {
    ApiError::bad_request("invalid_secret", message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_and_names_keys_without_values() {
        let s = decode_secrets(&json!({"envvar:PGPASSWORD": "aHVudGVyMg=="})).unwrap_or_default();
        assert_eq!(s.0.get("PGPASSWORD").map(String::as_str), Some("hunter2"));
        assert_eq!(secret_keys(&s), vec!["envvar:PGPASSWORD".to_string()]);
        for (bad, names) in [
            (json!({"envvar:K": "not base64!"}), "envvar:K"),
            (json!({"envvar:K": 5}), "envvar:K"),
            (json!({"filesystem:K": "aA=="}), "filesystem:K"),
            (json!({"envvar:1X": "aA=="}), "envvar:1X"),
            (json!({"envvar:K": "/w=="}), "envvar:K"),
            (json!("hunter2"), "secret"),
        ] {
            let e = decode_secrets(&bad)
                .err()
                .map(|e| e.message)
                .unwrap_or_default();
            assert!(e.contains(names), "{e}");
            assert!(!e.contains("hunter2") && !e.contains("base64!"), "{e}");
        }
    }
}
