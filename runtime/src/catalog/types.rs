//! The shapes of a catalog entry, as hoop serves them on `GET /event-routing/catalog`:
//! `{"name","category","description","schema":[{"name","type","required"}],"sample_payload":{}}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The group an event type belongs to; the catalog route filters on it (`?category=Session`).
/// Spelled capitalised on the wire, as hoop does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Category {
    Session,
    Access,
    Alert,
}

impl Category {
    /// The wire spelling (`Session`, `Access`, `Alert`).
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Session => "Session",
            Category::Access => "Access",
            Category::Alert => "Alert",
        }
    }

    /// Parses the wire spelling, ignoring ASCII case, so `?category=alert` works from a shell.
    pub fn parse(text: &str) -> Option<Self> {
        [Category::Session, Category::Access, Category::Alert]
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(text))
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON type of a payload field. The wire names are the ones HOOP-COMPAT.md uses in its
/// table (`string`, `int`, `string[]`), so a client reading hoop's catalog reads ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    /// A JSON string.
    #[serde(rename = "string")]
    String,
    /// A JSON number with no fractional part that fits an `i64` or `u64` (`45200`, not
    /// `45200.0` and not `"45200"`).
    #[serde(rename = "int")]
    Int,
    /// A JSON array whose items are all strings.
    #[serde(rename = "string[]")]
    StringArray,
}

impl FieldType {
    /// The wire name (`string`, `int`, `string[]`).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Int => "int",
            FieldType::StringArray => "string[]",
        }
    }
}

impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A check beyond the JSON type that HOOP-COMPAT.md states for a field. Not part of hoop's
/// wire shape, so it is not serialised; it only drives [`super::Catalog::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// An email address (`local@domain.tld`); see `validate::is_email` for how strict.
    Email,
    /// An email address or `""` (a reviewer may be unknown).
    EmailOrEmpty,
    /// RFC 3339 in UTC with second precision: `2026-05-04T15:30:00Z`, nothing else.
    Rfc3339UtcSeconds,
    /// At most this many bytes of UTF-8.
    MaxBytes(usize),
    /// Array items in ascending byte order (duplicates allowed).
    Sorted,
}

/// One field of an event payload's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub required: bool,
    /// Extra checks; empty when the doc states none.
    #[serde(skip)]
    pub constraints: Vec<Constraint>,
}

/// One event type of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// The event type, e.g. `session.closed`.
    pub name: String,
    pub category: Category,
    pub description: String,
    /// The base fields first, then the event's own, in the doc's order.
    pub schema: Vec<FieldSpec>,
    /// A payload that validates against `schema`; previews render against it.
    pub sample_payload: Value,
}

impl CatalogEntry {
    /// The field of this name, if the schema has one.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.schema.iter().find(|f| f.name == name)
    }

    /// Checks a payload against this entry's schema (see [`super::Catalog::validate`]).
    pub fn validate(&self, payload: &Value) -> Result<(), super::PayloadError> {
        super::validate::validate_payload(self, payload)
    }
}
