//! Small conveniences on the WIT types: stable text names matching the WIT spelling.
//!
//! The serde derives on the generated types use the Rust variant names (`"Text"`); these
//! helpers give the WIT names (`"text"`, `"session-open"`) for config files, CLI flags and
//! API fields.

use crate::{HookKind, ParamKind};

impl ParamKind {
    /// Every kind, in WIT order.
    pub const ALL: [ParamKind; 13] = [
        ParamKind::Text,
        ParamKind::Number,
        ParamKind::Boolean,
        ParamKind::Json,
        ParamKind::Tel,
        ParamKind::Time,
        ParamKind::Date,
        ParamKind::Url,
        ParamKind::Email,
        ParamKind::Select,
        ParamKind::Textarea,
        ParamKind::Password,
        ParamKind::File,
    ];

    /// The WIT name (`text`, `number`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ParamKind::Text => "text",
            ParamKind::Number => "number",
            ParamKind::Boolean => "boolean",
            ParamKind::Json => "json",
            ParamKind::Tel => "tel",
            ParamKind::Time => "time",
            ParamKind::Date => "date",
            ParamKind::Url => "url",
            ParamKind::Email => "email",
            ParamKind::Select => "select",
            ParamKind::Textarea => "textarea",
            ParamKind::Password => "password",
            ParamKind::File => "file",
        }
    }

    /// Parses a WIT name, case-insensitively (snake and kebab case are the same for these
    /// one-word names).
    pub fn parse(name: &str) -> Option<ParamKind> {
        ParamKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

impl HookKind {
    /// The WIT name (`session-open`, `session-close`).
    pub fn as_str(self) -> &'static str {
        match self {
            HookKind::SessionOpen => "session-open",
            HookKind::SessionClose => "session-close",
        }
    }

    /// Parses `session-open`/`session_open`/`session-close`/`session_close`.
    pub fn parse(name: &str) -> Option<HookKind> {
        match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "session-open" => Some(HookKind::SessionOpen),
            "session-close" => Some(HookKind::SessionClose),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_kinds_round_trip() {
        for k in ParamKind::ALL {
            assert_eq!(ParamKind::parse(k.as_str()), Some(k));
            assert_eq!(ParamKind::parse(&k.as_str().to_uppercase()), Some(k));
        }
        assert_eq!(ParamKind::parse("string"), None);
    }

    #[test]
    fn hook_kinds() {
        assert_eq!(HookKind::parse("session_open"), Some(HookKind::SessionOpen));
        assert_eq!(
            HookKind::parse("session-close"),
            Some(HookKind::SessionClose)
        );
        assert_eq!(HookKind::SessionOpen.as_str(), "session-open");
        assert_eq!(HookKind::parse("open"), None);
    }
}
