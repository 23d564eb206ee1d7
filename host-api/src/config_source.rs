//! The seam to admin-set configuration: `config.get` goes through a [`ConfigSource`].
//!
//! Values may be secrets: nothing here logs or prints a value, and [`StaticConfig`]'s
//! `Debug` lists keys only.

use std::collections::BTreeMap;
use std::fmt;

/// Why a key could not be read. Each variant reaches the guest as the matching
/// `config-error` case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigSourceError {
    /// The key is not granted to this runbook.
    #[error("config key {0:?} is not granted to this runbook")]
    Denied(String),
    /// The provider could not answer.
    #[error("config provider unavailable: {0}")]
    Unavailable(String),
}

/// Answers `config.get` for one run.
pub trait ConfigSource: Send + Sync + 'static {
    /// The value of a granted key (`None`: granted but unset); `Denied` for any key not
    /// granted.
    fn get(&self, key: &str) -> Result<Option<String>, ConfigSourceError>;
}

/// A fixed map of granted keys. A key absent from the map is denied; a key mapped to
/// `None` is granted but has no value.
#[derive(Clone, Default)]
pub struct StaticConfig {
    values: BTreeMap<String, Option<String>>,
}

impl StaticConfig {
    /// Grants nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Grants `key` with `value`.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.insert(key.into(), Some(value.into()));
        self
    }

    /// Grants `key` without a value (`config.get` answers `none`).
    pub fn with_unset(mut self, key: impl Into<String>) -> Self {
        self.values.insert(key.into(), None);
        self
    }

    /// Grants `key` with `value` in place.
    pub fn insert(&mut self, key: impl Into<String>, value: Option<String>) {
        self.values.insert(key.into(), value);
    }

    /// The granted keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for StaticConfig {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        StaticConfig {
            values: iter
                .into_iter()
                .map(|(k, v)| (k.into(), Some(v.into())))
                .collect(),
        }
    }
}

impl fmt::Debug for StaticConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys only: values are secrets.
        f.debug_struct("StaticConfig")
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ConfigSource for StaticConfig {
    fn get(&self, key: &str) -> Result<Option<String>, ConfigSourceError> {
        match self.values.get(key) {
            Some(value) => Ok(value.clone()),
            None => Err(ConfigSourceError::Denied(key.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ungranted_keys_are_denied() {
        let c = StaticConfig::new()
            .with("PD_TOKEN", "s3cr3t")
            .with_unset("OPTIONAL");
        assert_eq!(c.get("PD_TOKEN").unwrap().as_deref(), Some("s3cr3t"));
        assert_eq!(c.get("OPTIONAL").unwrap(), None);
        assert_eq!(
            c.get("OTHER").unwrap_err(),
            ConfigSourceError::Denied("OTHER".into())
        );
        assert!(StaticConfig::default().get("PD_TOKEN").is_err());
    }

    #[test]
    fn debug_never_shows_values() {
        let c: StaticConfig = [("PD_TOKEN", "s3cr3t")].into_iter().collect();
        let shown = format!("{c:?} {c:#?}");
        assert!(shown.contains("PD_TOKEN"));
        assert!(!shown.contains("s3cr3t"));
        assert_eq!(c.keys().collect::<Vec<_>>(), vec!["PD_TOKEN"]);
    }
}
