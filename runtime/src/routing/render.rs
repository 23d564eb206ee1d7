//! Rendering a compiled mapping against an event payload into the params object a runbook
//! receives, and the dry-run `preview` an admin uses while writing a mapping.
//!
//! Rules for one mapped param:
//! - one node: that node's JSON value, typed as in the payload (a string stays a string, a
//!   number a number, an array an array);
//! - several nodes: a JSON array of them, in RFC 9535 order;
//! - no node: the runbook's default (JSON text in `ParamSpec::default`) when it declares
//!   one; otherwise `param_missing` for a param the runbook requires or does not declare,
//!   and nothing (the param is left out) for a param it declares optional, which is how an
//!   optional payload field such as `query_excerpt` stays optional.
//!
//! Runbook params that are not mapped get their default when they have one, and a required
//! one without default is `param_missing` (the runbook may have gained it since the
//! subscription was saved). Values are copied, never interpreted: a payload string such as
//! `"{{ .user }}"` or `"$.user"` arrives as written.

use runbox_host_api::ParamSpec;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::mapping::{CompiledMapping, ParameterMapping, check_root, compile_param, needs_value};
use super::path::{CompiledPath, query};
use super::{ParamError, ParamErrorCode, RenderErrors, RoutingError};
use crate::catalog::Catalog;

/// Renders every param, collecting every param's error rather than stopping at the first.
pub fn render(
    compiled: &CompiledMapping,
    payload: &Value,
    params: &[ParamSpec],
) -> Result<Map<String, Value>, RenderErrors> {
    let paths: Vec<(&str, &CompiledPath)> = compiled.iter().collect();
    let (values, errors) = render_paths(&paths, payload, params);
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(RenderErrors { errors })
    }
}

fn render_paths(
    paths: &[(&str, &CompiledPath)],
    payload: &Value,
    params: &[ParamSpec],
) -> (Map<String, Value>, Vec<ParamError>) {
    let mut values = Map::new();
    let mut errors = Vec::new();
    let spec_of = |name: &str| params.iter().find(|p| p.name == name);
    for (param, path) in paths {
        let mut nodes = query(path, payload);
        let spec = spec_of(param);
        let value = match nodes.len() {
            0 => match spec {
                Some(spec) if spec.default.is_some() => default_of(spec),
                Some(spec) if !spec.required => continue,
                _ => Err(ParamError {
                    param: (*param).to_owned(),
                    code: ParamErrorCode::Missing,
                    message: format!(
                        "{} selected nothing in the payload and the runbook declares no default",
                        path.source()
                    ),
                }),
            },
            1 => Ok(nodes.swap_remove(0)),
            _ => Ok(Value::Array(nodes)),
        };
        match value {
            Ok(v) => {
                values.insert((*param).to_owned(), v);
            }
            Err(e) => errors.push(e),
        }
    }
    for spec in params {
        if paths.iter().any(|(p, _)| *p == spec.name) {
            continue;
        }
        if spec.default.is_some() {
            match default_of(spec) {
                Ok(v) => {
                    values.insert(spec.name.clone(), v);
                }
                Err(e) => errors.push(e),
            }
        } else if needs_value(spec) {
            errors.push(ParamError {
                param: spec.name.clone(),
                code: ParamErrorCode::Missing,
                message: "required by the runbook and not mapped".to_owned(),
            });
        }
    }
    (values, errors)
}

/// The runbook's default, parsed from its JSON text.
fn default_of(spec: &ParamSpec) -> Result<Value, ParamError> {
    let text = spec.default.as_deref().unwrap_or("null");
    serde_json::from_str(text).map_err(|e| ParamError {
        param: spec.name.clone(),
        code: ParamErrorCode::Render,
        message: format!("the runbook's default {text:?} is not JSON text: {e}"),
    })
}

/// What a preview shows: the params as a runbook would receive them, and every problem.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreviewResult {
    pub params: Map<String, Value>,
    pub errors: Vec<ParamError>,
}

/// Renders `mapping` for `event_type` against `payload`, or the catalog's sample payload
/// when none is given, without dispatching anything. Unlike a save, a bad path or a root
/// field outside the schema does not stop it: it is reported as that param's
/// `invalid_mapping` error and the other params still render. With `params` (the runbook's
/// declared params) defaults apply and unmapped required params are reported.
///
/// The mapping is used as given; to preview what a save with pre-matching would store,
/// pass `mapping.with_prematched(..)`.
///
/// Fails only for an unknown event type or a given payload that breaks the schema (a real
/// event with that payload would be refused at publish).
pub fn preview(
    event_type: &str,
    mapping: &ParameterMapping,
    payload: Option<Value>,
    catalog: &Catalog,
    params: Option<&[ParamSpec]>,
) -> Result<PreviewResult, RoutingError> {
    let entry = catalog.entry(event_type)?;
    let payload = match payload {
        Some(p) => {
            entry.validate(&p)?;
            p
        }
        None => entry.sample_payload.clone(),
    };
    let mut errors = Vec::new();
    let mut compiled = Vec::new();
    for (param, source) in mapping.iter() {
        match compile_param(param, source).and_then(|p| check_root(entry, param, &p).map(|()| p)) {
            Ok(path) => compiled.push((param, path)),
            Err(e) => errors.push(ParamError {
                param: param.to_owned(),
                code: ParamErrorCode::InvalidMapping,
                message: e.to_string(),
            }),
        }
    }
    let paths: Vec<(&str, &CompiledPath)> = compiled.iter().map(|(p, c)| (*p, c)).collect();
    let (rendered, render_errors) = render_paths(&paths, &payload, params.unwrap_or_default());
    errors.extend(render_errors);
    errors.sort_by(|a, b| a.param.cmp(&b.param));
    Ok(PreviewResult {
        params: rendered,
        errors,
    })
}
