//! The event catalog: the nine event types a gateway publishes (hoop's names, categories,
//! schemas and sample payloads, from HOOP-COMPAT.md) and the payload check applied at
//! publish time.
//!
//! The catalog is fixed data, so [`Catalog::builtin`] hands out one shared instance. Serde
//! shapes match hoop's catalog entry JSON
//! (`{"name","category","description","schema":[{"name","type","required"}],"sample_payload":{}}`)
//! so the admin API can return entries as they are. Schema types are spelled `string`,
//! `int` and `string[]`, as in hoop's table.
//!
//! Layout: [`types`] (entry shapes), `events` (the data), `validate` (payload rules),
//! [`error`] ([`PayloadError`]).

pub mod error;
mod events;
pub mod types;
mod validate;

use std::sync::OnceLock;

use serde_json::Value;

pub use error::PayloadError;
pub use types::{CatalogEntry, Category, Constraint, FieldSpec, FieldType};

/// The set of event types, sorted by name.
#[derive(Debug, Clone)]
pub struct Catalog {
    entries: Vec<CatalogEntry>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::builtin().clone()
    }
}

impl Catalog {
    /// hoop's nine event types, built once per process.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            let mut entries = events::entries();
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            Catalog { entries }
        })
    }

    /// The entry of an event type (exact, case-sensitive name).
    pub fn get(&self, name: &str) -> Option<&CatalogEntry> {
        self.entries
            .binary_search_by(|e| e.name.as_str().cmp(name))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// The entries of one category, or all of them, sorted by name.
    pub fn list(&self, category: Option<Category>) -> Vec<&CatalogEntry> {
        self.entries
            .iter()
            .filter(|e| category.is_none_or(|c| e.category == c))
            .collect()
    }

    /// Every event type name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name.clone()).collect()
    }

    /// The entry of an event type, or the `unknown_event_type` error listing the known ones.
    pub fn entry(&self, event_type: &str) -> Result<&CatalogEntry, PayloadError> {
        self.get(event_type)
            .ok_or_else(|| PayloadError::UnknownEventType {
                name: event_type.to_owned(),
                known: self.names(),
            })
    }

    /// Checks a payload for an event type: the type exists, the payload is an object, every
    /// required field is present with its type and rules (email, timestamp, size, order).
    /// Fields the schema does not list are accepted (forward compatibility). The first
    /// problem found is returned, naming the field.
    pub fn validate(&self, event_type: &str, payload: &Value) -> Result<(), PayloadError> {
        self.entry(event_type)?.validate(payload)
    }
}

#[cfg(test)]
mod tests;
