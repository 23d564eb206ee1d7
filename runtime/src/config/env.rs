//! The environment layer: `RUNBOX_*` variables override the file.
//!
//! Only scalar settings have a variable (repositories and orgs are structured and belong in
//! the file). Each variable maps to one key of the file; its value is checked against the
//! key's kind here so the error names the variable. Any other `RUNBOX_*` variable is an
//! error: a misspelt `RUNBOX_WORKES=8` must not be silently ignored.

use super::error::ConfigError;

/// What a variable's value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Bool,
    /// `64MiB` or a byte count.
    Size,
    /// `10s`, `500ms`.
    Duration,
}

/// Every variable the server reads: name, dotted key in the file, kind.
pub const VARIABLES: &[(&str, &str, Kind)] = &[
    ("RUNBOX_LISTEN", "listen", Kind::Text),
    ("RUNBOX_DATA_DIR", "data_dir", Kind::Text),
    ("RUNBOX_CACHE_DIR", "cache_dir", Kind::Text),
    ("RUNBOX_WORKERS", "workers", Kind::Integer),
    ("RUNBOX_BODY_LIMIT", "body_limit", Kind::Size),
    ("RUNBOX_LOG_FORMAT", "log_format", Kind::Text),
    (
        "RUNBOX_SHUTDOWN_DEADLINE",
        "shutdown_deadline",
        Kind::Duration,
    ),
    (
        "RUNBOX_AGENTS_ONLINE_DEFAULT",
        "agents_online_default",
        Kind::Bool,
    ),
    ("RUNBOX_DEMO", "demo", Kind::Bool),
    ("RUNBOX_DEMO_RUNBOOKS", "demo_runbooks", Kind::Text),
    ("RUNBOX_LIMITS_FUEL", "limits.fuel", Kind::Integer),
    ("RUNBOX_LIMITS_MEMORY", "limits.memory", Kind::Size),
    ("RUNBOX_LIMITS_TIMEOUT", "limits.timeout", Kind::Duration),
    ("RUNBOX_LIMITS_OUTPUT", "limits.output", Kind::Size),
    ("RUNBOX_LIMITS_PAYLOAD", "limits.payload", Kind::Size),
    ("RUNBOX_LIMITS_HOSTCALL", "limits.hostcall", Kind::Size),
    (
        "RUNBOX_REPOS_DEFAULT_TTL",
        "repos.default_ttl",
        Kind::Duration,
    ),
    (
        "RUNBOX_REPOS_FETCH_TIMEOUT",
        "repos.fetch_timeout",
        Kind::Duration,
    ),
    (
        "RUNBOX_ENGINE_MAX_INSTANCES",
        "engine.max_instances",
        Kind::Integer,
    ),
    ("RUNBOX_ENGINE_POOLING", "engine.pooling", Kind::Bool),
    (
        "RUNBOX_ENGINE_STANDBY_INSTANCES",
        "engine.standby_instances",
        Kind::Integer,
    ),
];

/// Variables that are not settings but are allowed in the server's environment: the
/// config file's path (read by the CLI).
pub const OTHER_KNOWN: &[&str] = &["RUNBOX_CONFIG"];

/// Merges the `RUNBOX_*` pairs of `env` into `table`.
pub fn apply(table: &mut toml::Table, env: &[(String, String)]) -> Result<(), ConfigError> {
    for (name, value) in env {
        if !name.starts_with("RUNBOX_") || OTHER_KNOWN.contains(&name.as_str()) {
            continue;
        }
        let Some((_, key, kind)) = VARIABLES.iter().find(|(n, _, _)| n == name) else {
            let known: Vec<&str> = VARIABLES.iter().map(|(n, _, _)| *n).collect();
            return Err(ConfigError::UnknownEnv {
                name: name.clone(),
                known: known.join(", "),
            });
        };
        let bad = |reason: String| ConfigError::BadEnv {
            name: name.clone(),
            reason,
        };
        let value = match kind {
            Kind::Text => toml::Value::String(value.clone()),
            Kind::Integer => value
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .map(toml::Value::Integer)
                .ok_or_else(|| bad(format!("{value:?} is not a non-negative integer")))?,
            Kind::Bool => match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => toml::Value::Boolean(true),
                "false" | "0" | "no" | "off" => toml::Value::Boolean(false),
                _ => return Err(bad(format!("{value:?} is not true or false"))),
            },
            Kind::Size => {
                runbox_host_api::parse_size(value).map_err(|e| bad(e.to_string()))?;
                toml::Value::String(value.clone())
            }
            Kind::Duration => {
                runbox_host_api::parse_duration(value).map_err(|e| bad(e.to_string()))?;
                toml::Value::String(value.clone())
            }
        };
        insert(table, key, value);
    }
    Ok(())
}

/// Sets `a.b` in `table`, creating (or replacing a non-table) `a` on the way.
fn insert(table: &mut toml::Table, key: &str, value: toml::Value) {
    match key.split_once('.') {
        None => {
            table.insert(key.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = table
                .entry(head.to_owned())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}
