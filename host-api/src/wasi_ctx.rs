//! The guest's WASI context: deny by default.
//!
//! No preopened directories, no inherited environment, arguments or stdio, no sockets and
//! no name lookup, an empty stdin. stdout/stderr go to the run's bounded capture. A plain
//! `wasi:cli/command` gets its inputs as environment variables (hoop's convention); a
//! runbook-world component gets its typed invocation instead and no environment.

use crate::Invocation;
use crate::output::OutputCapture;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

/// The event (or hook) payload, JSON text, as hoop passes it to runbooks.
pub const PAYLOAD_ENV: &str = "HOOP_RUNBOOK_HOOK_PAYLOAD";
/// The dispatch id (stable across attempts).
pub const DISPATCH_ID_ENV: &str = "RUNBOX_DISPATCH_ID";
/// The attempt number, from 1.
pub const ATTEMPT_ENV: &str = "RUNBOX_ATTEMPT";
/// `argv[0]` of a command.
pub const ARGV0: &str = "runbook";

/// Builds the context for one run.
pub(crate) fn build(output: &OutputCapture, env: &[(String, String)]) -> WasiCtx {
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdout(output.stdout())
        .stderr(output.stderr())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .arg(ARGV0)
        .envs(env);
    builder.build()
}

/// Whether `name` can be an environment variable: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The environment of a plain command: the payload, the dispatch id and attempt, then one
/// variable per param (string values raw, other values as JSON text). Params whose names
/// cannot be environment variables, or that would shadow the reserved names, are skipped
/// with a log line.
pub fn command_env(invocation: &Invocation) -> Vec<(String, String)> {
    let mut env = vec![
        (PAYLOAD_ENV.to_string(), invocation.payload.clone()),
        (DISPATCH_ID_ENV.to_string(), invocation.dispatch_id.clone()),
        (ATTEMPT_ENV.to_string(), invocation.attempt.to_string()),
    ];
    let params = match serde_json::from_str::<serde_json::Value>(&invocation.params) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(serde_json::Value::Null) => return env,
        Ok(_) | Err(_) if invocation.params.trim().is_empty() => return env,
        Ok(other) => {
            tracing::warn!(
                kind = json_kind(&other),
                "invocation params are not a JSON object; no param variables set"
            );
            return env;
        }
        Err(e) => {
            tracing::warn!(error = %e, "invocation params are not valid JSON; no param variables set");
            return env;
        }
    };
    for (key, value) in params {
        if !is_env_name(&key) {
            tracing::warn!(param = %key, "param name is not a valid environment variable name; skipped");
            continue;
        }
        if [PAYLOAD_ENV, DISPATCH_ID_ENV, ATTEMPT_ENV].contains(&key.as_str()) {
            tracing::warn!(param = %key, "param name is reserved; skipped");
            continue;
        }
        let value = match value {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        env.push((key, value));
    }
    env
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Trigger;

    fn invocation(params: &str) -> Invocation {
        Invocation {
            dispatch_id: "disp-1".into(),
            attempt: 2,
            trigger: Trigger::Manual,
            payload: r#"{"session_id":"s1"}"#.into(),
            params: params.into(),
            connection: None,
        }
    }

    fn get<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn command_env_has_payload_ids_and_params() {
        let env = command_env(&invocation(
            r#"{"region":"eu-west-1","count":3,"dry_run":true,"tags":["a"],"bad-name":1,"1x":2,"RUNBOX_ATTEMPT":"9","nothing":null}"#,
        ));
        assert_eq!(get(&env, PAYLOAD_ENV), Some(r#"{"session_id":"s1"}"#));
        assert_eq!(get(&env, DISPATCH_ID_ENV), Some("disp-1"));
        assert_eq!(get(&env, ATTEMPT_ENV), Some("2"));
        assert_eq!(get(&env, "region"), Some("eu-west-1"));
        assert_eq!(get(&env, "count"), Some("3"));
        assert_eq!(get(&env, "dry_run"), Some("true"));
        assert_eq!(get(&env, "tags"), Some(r#"["a"]"#));
        assert_eq!(get(&env, "nothing"), Some("null"));
        assert_eq!(get(&env, "bad-name"), None);
        assert_eq!(get(&env, "1x"), None);
        assert_eq!(env.iter().filter(|(k, _)| k == ATTEMPT_ENV).count(), 1);
    }

    #[test]
    fn non_object_params_give_no_param_vars() {
        for params in ["", "null", "[1,2]", "not json"] {
            let env = command_env(&invocation(params));
            assert_eq!(env.len(), 3, "{params:?}");
        }
    }

    #[test]
    fn env_names() {
        for ok in ["A", "_x", "region", "AWS_REGION_2"] {
            assert!(is_env_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a b", "a=b", "é"] {
            assert!(!is_env_name(bad), "{bad}");
        }
    }
}
