//! The two roles of an API token.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a token may do: `admin` reads and writes, `read-only` only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "read-only")]
    ReadOnly,
}

impl Role {
    /// The role's name as written in the CLI, the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::ReadOnly => "read-only",
        }
    }

    /// `admin` or `read-only` (also `readonly` and `read_only`, any ASCII case).
    pub fn parse(text: &str) -> Option<Role> {
        match text.to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "read-only" | "readonly" | "read_only" => Some(Role::ReadOnly),
            _ => None,
        }
    }

    /// True when the role may change state.
    pub fn can_write(self) -> bool {
        self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s).ok_or_else(|| format!("unknown role {s:?} (expected admin or read-only)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in [Role::Admin, Role::ReadOnly] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            let json = serde_json::to_string(&role).unwrap_or_default();
            assert_eq!(json, format!("\"{role}\""));
        }
        assert_eq!(Role::parse("READONLY"), Some(Role::ReadOnly));
        assert_eq!(Role::parse("owner"), None);
        assert!(Role::Admin.can_write() && !Role::ReadOnly.can_write());
    }
}
