//! Parsers for command-line values: params, config entries, limits.

use std::time::Duration;

use serde_json::{Map, Value};

/// `name=value` (a string) or `name:=json` (any JSON value, e.g. `count:=3`,
/// `tags:='["a","b"]'`). Explicit, so `--param id=007` stays the string `"007"`.
pub fn parse_param(text: &str) -> Result<(String, Value), String> {
    let (name, value) = if let Some((name, json)) = text.split_once(":=") {
        let value = serde_json::from_str(json).map_err(|e| {
            format!("param {name:?}: {json:?} is not valid JSON ({e}); use name=value for a string")
        })?;
        (name, value)
    } else if let Some((name, raw)) = text.split_once('=') {
        (name, Value::String(raw.to_string()))
    } else {
        return Err(format!("param {text:?} must be name=value or name:=json"));
    };
    if name.is_empty() {
        return Err(format!("param {text:?} has an empty name"));
    }
    Ok((name.to_string(), value))
}

/// Collects `--param` values into the JSON object handed to the runbook; a repeated name
/// is an error rather than a silent overwrite.
pub fn params_object(params: &[(String, Value)]) -> Result<Map<String, Value>, String> {
    let mut object = Map::new();
    for (name, value) in params {
        if object.insert(name.clone(), value.clone()).is_some() {
            return Err(format!("param {name:?} given more than once"));
        }
    }
    Ok(object)
}

/// `KEY=VALUE` for `--config`.
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("{text:?} must be KEY=VALUE")),
    }
}

/// A size such as `64MiB`, `512KB`, `1048576`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    runbox_host_api::parse_size(text).map_err(|e| e.to_string())
}

/// A duration such as `500ms`, `10s`, `2m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    runbox_host_api::parse_duration(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn param_forms() {
        assert_eq!(parse_param("id=007").unwrap(), ("id".into(), json!("007")));
        assert_eq!(parse_param("count:=3").unwrap(), ("count".into(), json!(3)));
        assert_eq!(
            parse_param("tags:=[\"a\"]").unwrap(),
            ("tags".into(), json!(["a"]))
        );
        assert_eq!(parse_param("empty=").unwrap(), ("empty".into(), json!("")));
        assert_eq!(
            parse_param("url=http://x/?a=b").unwrap(),
            ("url".into(), json!("http://x/?a=b"))
        );
        assert!(parse_param("novalue").unwrap_err().contains("name=value"));
        assert!(parse_param("=x").unwrap_err().contains("empty name"));
        assert!(
            parse_param("n:={bad")
                .unwrap_err()
                .contains("not valid JSON")
        );
    }

    #[test]
    fn repeated_param_is_refused() {
        let params = vec![("a".to_string(), json!(1)), ("a".to_string(), json!(2))];
        assert!(
            params_object(&params)
                .unwrap_err()
                .contains("more than once")
        );
    }

    #[test]
    fn key_value() {
        assert_eq!(
            parse_key_value("k=v=w").unwrap(),
            ("k".into(), "v=w".into())
        );
        assert!(parse_key_value("=v").is_err());
        assert!(parse_key_value("k").is_err());
    }
}
