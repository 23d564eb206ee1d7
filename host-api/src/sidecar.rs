//! Metadata for plain commands from a `<file>.toml` sidecar.
//!
//! A `wasi:cli/command` has no `describe` export, so its name, description and params come
//! from a TOML file next to it:
//!
//! ```toml
//! name = "rotate-credentials"
//! description = "Rotates a database user's password"
//!
//! [[params]]
//! name = "user"
//! kind = "text"          # a WIT param-kind; default "text"
//! required = true
//! description = "The database user"
//!
//! [[params]]
//! name = "dry_run"
//! kind = "boolean"
//! default = false        # any TOML value; stored as JSON text
//! ```
//!
//! Unknown keys are rejected, and every error names the key and the line.

use crate::error::HostError;
use crate::{ParamKind, ParamSpec, RunbookInfo};
use serde::Deserialize;
use std::collections::HashSet;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SidecarFile {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    params: Vec<SidecarParam>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SidecarParam {
    name: Spanned<String>,
    kind: Option<Spanned<String>>,
    #[serde(default)]
    required: bool,
    description: Option<String>,
    default: Option<toml::Value>,
    placeholder: Option<String>,
    #[serde(default)]
    options: Vec<String>,
    order: Option<u32>,
}

/// Parses a sidecar into the same [`RunbookInfo`] a runbook component's `describe` gives.
pub fn parse_sidecar(text: &str) -> Result<RunbookInfo, HostError> {
    let file: SidecarFile =
        toml::from_str(text).map_err(|e| HostError::Sidecar(e.to_string().trim().to_string()))?;
    let at = |span: std::ops::Range<usize>| line_of(text, span.start);

    let name = file.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(HostError::Sidecar(format!(
            "`name` must not be empty (line {})",
            at(file.name.span())
        )));
    }
    let mut seen = HashSet::new();
    let mut params = Vec::with_capacity(file.params.len());
    for (index, p) in file.params.into_iter().enumerate() {
        let line = at(p.name.span());
        let pname = p.name.get_ref().trim().to_string();
        if pname.is_empty() {
            return Err(HostError::Sidecar(format!(
                "`params[{index}].name` must not be empty (line {line})"
            )));
        }
        if !seen.insert(pname.clone()) {
            return Err(HostError::Sidecar(format!(
                "param `{pname}` is declared twice (line {line})"
            )));
        }
        let kind = match &p.kind {
            None => ParamKind::Text,
            Some(k) => ParamKind::parse(k.get_ref()).ok_or_else(|| {
                HostError::Sidecar(format!(
                    "`params[{index}].kind` {:?} is not a param kind (line {}); use one of: {}",
                    k.get_ref(),
                    at(k.span()),
                    ParamKind::ALL.map(ParamKind::as_str).join(", ")
                ))
            })?,
        };
        if kind == ParamKind::Select && p.options.is_empty() {
            return Err(HostError::Sidecar(format!(
                "param `{pname}` is a select but has no `options` (line {line})"
            )));
        }
        let default = p
            .default
            .map(|v| {
                serde_json::to_string(&toml_to_json(v)).map_err(|e| {
                    HostError::Sidecar(format!(
                        "`params[{index}].default` cannot be stored as JSON: {e} (line {line})"
                    ))
                })
            })
            .transpose()?;
        params.push(ParamSpec {
            name: pname,
            kind,
            required: p.required,
            description: p.description,
            default,
            placeholder: p.placeholder,
            options: p.options,
            order: p.order.unwrap_or(index as u32),
        });
    }
    Ok(RunbookInfo {
        name,
        description: file.description,
        params,
    })
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |t| t.bytes().filter(|b| *b == b'\n').count())
        + 1
}

fn toml_to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            J::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_sidecar() {
        let info = parse_sidecar(
            r#"
name = "rotate-credentials"
description = "Rotates a database user's password"

[[params]]
name = "user"
kind = "text"
required = true
description = "The database user"
placeholder = "app_user"

[[params]]
name = "dry_run"
kind = "Boolean"
default = false

[[params]]
name = "region"
kind = "select"
options = ["eu-west-1", "us-east-1"]
default = "eu-west-1"
order = 10

[[params]]
name = "extra"
kind = "json"
default = { retries = 3, hosts = ["a", "b"], at = 1979-05-27T07:32:00Z }
"#,
        )
        .unwrap();
        assert_eq!(info.name, "rotate-credentials");
        assert_eq!(info.description, "Rotates a database user's password");
        assert_eq!(info.params.len(), 4);
        let user = &info.params[0];
        assert_eq!(user.kind, ParamKind::Text);
        assert!(user.required);
        assert_eq!(user.placeholder.as_deref(), Some("app_user"));
        assert_eq!(user.default, None);
        assert_eq!(user.order, 0);
        let dry = &info.params[1];
        assert_eq!(dry.kind, ParamKind::Boolean);
        assert_eq!(dry.default.as_deref(), Some("false"));
        assert_eq!(dry.order, 1);
        let region = &info.params[2];
        assert_eq!(region.options, vec!["eu-west-1", "us-east-1"]);
        assert_eq!(region.default.as_deref(), Some("\"eu-west-1\""));
        assert_eq!(region.order, 10);
        let extra: serde_json::Value =
            serde_json::from_str(info.params[3].default.as_deref().unwrap()).unwrap();
        assert_eq!(extra["retries"], 3);
        assert_eq!(extra["hosts"][1], "b");
        assert_eq!(extra["at"], "1979-05-27T07:32:00Z");
    }

    #[test]
    fn minimal_sidecar() {
        let info = parse_sidecar("name = \"x\"").unwrap();
        assert_eq!(info.name, "x");
        assert_eq!(info.description, "");
        assert!(info.params.is_empty());
        let info = parse_sidecar("name = \"x\"\n[[params]]\nname = \"p\"").unwrap();
        assert_eq!(info.params[0].kind, ParamKind::Text);
        assert!(!info.params[0].required);
    }

    fn err(text: &str) -> String {
        parse_sidecar(text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_keys_are_rejected_with_key_and_line() {
        let e = err("name = \"x\"\nauthor = \"me\"\n");
        assert!(e.contains("author"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let e = err("name = \"x\"\n[[params]]\nname = \"p\"\ntype = \"text\"\n");
        assert!(e.contains("type"), "{e}");
        assert!(e.contains("line 4"), "{e}");
    }

    #[test]
    fn semantic_errors_name_key_and_line() {
        let e = err("name = \"x\"\n[[params]]\nname = \"p\"\nkind = \"string\"\n");
        assert!(e.contains("params[0].kind"), "{e}");
        assert!(e.contains("line 4"), "{e}");
        assert!(e.contains("textarea"), "{e}");

        let e = err("name = \"x\"\n[[params]]\nname = \"p\"\n[[params]]\nname = \"p\"\n");
        assert!(e.contains("declared twice"), "{e}");
        assert!(e.contains("line 5"), "{e}");

        let e = err("name = \"  \"\n");
        assert!(e.contains("`name` must not be empty (line 1)"), "{e}");

        let e = err("name = \"x\"\n[[params]]\nname = \"r\"\nkind = \"select\"\n");
        assert!(e.contains("no `options`"), "{e}");

        let e = err("description = \"no name\"\n");
        assert!(e.contains("name"), "{e}");

        let e = err("name = \"x\"\n[[params]]\nname = \"p\"\nrequired = \"yes\"\n");
        assert!(e.contains("line 4"), "{e}");
    }
}
