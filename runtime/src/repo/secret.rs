//! Secret values of repository configuration (passwords, tokens, ssh keys).
//!
//! A [`Secret`] prints as `***` in `Debug`, `Display` and serde output, so it cannot reach a
//! log line, an error or an API answer by accident; code that needs the value (the git
//! credentials callback) asks for it explicitly with [`Secret::expose`]. [`Redactor`] is
//! the second line of defence: every message that came out of libgit2 is scrubbed of the
//! secret values it could possibly contain before it is stored or shown.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a secret is shown as.
pub const REDACTED: &str = "***";

/// A secret string. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must hand it to git.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty (an unset environment variable, say).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Replaces every known secret value in a text with `***`.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    values: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} values)", self.values.len())
    }
}

impl Redactor {
    /// Adds a value to scrub. Very short values are skipped: replacing every `a` in a
    /// message would make it unreadable and protects nothing.
    pub(crate) fn add(&mut self, value: &str) {
        if value.len() >= 4 && !self.values.iter().any(|v| v == value) {
            self.values.push(value.to_string());
            // Longest first, so a secret containing another is replaced whole.
            self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }

    /// The text with every secret replaced.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter22");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(serde_json::to_string(&s).unwrap_or_default(), "\"***\"");
        let back: Secret = serde_json::from_str("\"tok\"").unwrap_or_else(|_| Secret::new(""));
        assert_eq!(back.expose(), "tok");
    }

    #[test]
    fn redactor_scrubs_longest_first() {
        let mut r = Redactor::default();
        r.add("abcd");
        r.add("abcdefgh");
        r.add("x");
        assert_eq!(r.scrub("a abcdefgh abcd x"), "a *** *** x");
    }
}
