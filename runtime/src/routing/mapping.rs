//! A subscription's `parameter_mapping` (`{param: "$.path"}`): the text form admins send,
//! the compiled form workers render with, and the checks run when a subscription is saved.
//!
//! Decisions:
//! - Params are kept sorted by name (a `BTreeMap`): rendering, errors and serialisation are
//!   deterministic whatever order the admin wrote them in.
//! - A path's *root field* is the name its first segment selects (`$.user`, `$['user']`,
//!   `$.tags[0]` -> `user`, `user`, `tags`); it must be a field of the event's schema, which
//!   catches typos at save time instead of as `param_missing` at dispatch time.
//! - A path whose first segment selects no name (`$`, `$..x`, `$.*`, `$[*]`, `$[?...]`) is
//!   accepted unchecked: it is deliberate full-JSONPath use (the whole payload for a
//!   forwarder, a descendant search), there is no single field to check, and the schema
//!   allows extra fields anyway. [`CompiledMapping::unchecked`] lists such params so an
//!   API can show a note.

use std::collections::BTreeMap;

use runbox_host_api::ParamSpec;
use serde::{Deserialize, Serialize};

use super::RoutingError;
use super::path::{self, CompiledPath, PathRoot};
use crate::catalog::{Catalog, CatalogEntry, FieldSpec};

/// The mapping as written: param name -> JSONPath text. Serialises as a plain JSON object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParameterMapping(BTreeMap<String, String>);

impl ParameterMapping {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) the path of a param.
    pub fn insert(&mut self, param: impl Into<String>, path: impl Into<String>) {
        self.0.insert(param.into(), path.into());
    }

    pub fn get(&self, param: &str) -> Option<&str> {
        self.0.get(param).map(String::as_str)
    }

    pub fn contains(&self, param: &str) -> bool {
        self.0.contains_key(param)
    }

    /// `(param, path)` pairs, sorted by param.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// This mapping, plus a same-name path for every runbook param it leaves out that has a
    /// same-name field in the schema ([`prematch`]). Explicit entries always win.
    pub fn with_prematched(mut self, params: &[ParamSpec], schema: &[FieldSpec]) -> Self {
        for (param, path) in prematch(params, schema).0 {
            self.0.entry(param).or_insert(path);
        }
        self
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for ParameterMapping {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// A mapping whose paths are parsed, once, when the subscription is saved or loaded.
/// Serialises back to its source text (a [`ParameterMapping`]); deserialising parses again
/// and fails on a bad path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompiledMapping {
    entries: Vec<(String, CompiledPath)>,
}

impl CompiledMapping {
    /// Parses every path (no schema check; see [`validate_mapping`] for the save-time check).
    pub fn compile(mapping: &ParameterMapping) -> Result<Self, RoutingError> {
        let entries = mapping
            .iter()
            .map(|(param, source)| Ok((param.to_owned(), compile_param(param, source)?)))
            .collect::<Result<_, RoutingError>>()?;
        Ok(Self { entries })
    }

    /// `(param, path)` pairs, sorted by param.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CompiledPath)> {
        self.entries.iter().map(|(p, c)| (p.as_str(), c))
    }

    pub fn get(&self, param: &str) -> Option<&CompiledPath> {
        self.entries
            .iter()
            .find(|(p, _)| p == param)
            .map(|(_, c)| c)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The source text of every path.
    pub fn source(&self) -> ParameterMapping {
        self.iter().map(|(p, c)| (p, c.source())).collect()
    }

    /// Params whose path has no name-selector root, so it could not be checked against the
    /// schema (see the module doc).
    pub fn unchecked(&self) -> Vec<&str> {
        self.iter()
            .filter(|(_, c)| *c.root() == PathRoot::Unchecked)
            .map(|(p, _)| p)
            .collect()
    }
}

impl Serialize for CompiledMapping {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.source().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CompiledMapping {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let source = ParameterMapping::deserialize(deserializer)?;
        CompiledMapping::compile(&source).map_err(serde::de::Error::custom)
    }
}

/// The save-time check of a mapping for an event type: the type exists, every path parses,
/// and every path's root field is in the event's schema. Returns the compiled mapping so it
/// is parsed once. The first problem (in param order) is returned.
pub fn validate_mapping(
    event_type: &str,
    mapping: &ParameterMapping,
    catalog: &Catalog,
) -> Result<CompiledMapping, RoutingError> {
    let entry = catalog.entry(event_type)?;
    let compiled = CompiledMapping::compile(mapping)?;
    for (param, path) in compiled.iter() {
        check_root(entry, param, path)?;
    }
    Ok(compiled)
}

/// Parses one param's path, naming the param in the error.
pub(super) fn compile_param(param: &str, source: &str) -> Result<CompiledPath, RoutingError> {
    path::compile(source).map_err(|e| RoutingError::InvalidPath {
        param: param.to_owned(),
        path: source.to_owned(),
        reason: e.to_string(),
    })
}

/// Checks that a path's root field(s) are in the entry's schema.
pub(super) fn check_root(
    entry: &CatalogEntry,
    param: &str,
    path: &CompiledPath,
) -> Result<(), RoutingError> {
    let PathRoot::Fields(fields) = path.root() else {
        return Ok(());
    };
    match fields.iter().find(|f| entry.field(f).is_none()) {
        None => Ok(()),
        Some(field) => Err(RoutingError::UnknownField {
            param: param.to_owned(),
            path: path.source().to_owned(),
            field: field.clone(),
            event_type: entry.name.clone(),
            known: entry.schema.iter().map(|f| f.name.clone()).collect(),
        }),
    }
}

/// hoop's pre-match: every runbook param with the name of a schema field maps to that
/// field (`agent_user` stays unmapped, `user` becomes `$.user`).
pub fn prematch(params: &[ParamSpec], schema: &[FieldSpec]) -> ParameterMapping {
    params
        .iter()
        .filter(|p| schema.iter().any(|f| f.name == p.name))
        .map(|p| (p.name.clone(), field_path(&p.name)))
        .collect()
}

/// `$.name` when the name is a valid RFC 9535 member-name shorthand, else `$['name']` with
/// the quote and backslash escaped.
fn field_path(name: &str) -> String {
    let shorthand = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii());
    if shorthand {
        format!("$.{name}")
    } else {
        let quoted = serde_json::to_string(name).unwrap_or_default();
        format!("$[{quoted}]")
    }
}

/// A runbook param that must get a value: required and without a default.
pub(super) fn needs_value(spec: &ParamSpec) -> bool {
    spec.required && spec.default.is_none()
}

/// Every required runbook param (required and no default) is mapped; otherwise hoop's
/// `the following inputs are missing [a, b]`, in the runbook's form order.
pub fn check_required(
    mapping: &ParameterMapping,
    params: &[ParamSpec],
) -> Result<(), RoutingError> {
    let mut missing: Vec<&ParamSpec> = params
        .iter()
        .filter(|p| needs_value(p) && !mapping.contains(&p.name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    missing.sort_by_key(|p| p.order);
    Err(RoutingError::MissingInputs(
        missing.into_iter().map(|p| p.name.clone()).collect(),
    ))
}
