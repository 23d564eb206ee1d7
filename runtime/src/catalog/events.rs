//! The nine event types of hoop's catalog, with the fields, rules and sample payloads of
//! HOOP-COMPAT.md copied as they are written there (a test checks the samples verbatim).

use super::types::{CatalogEntry, Category, Constraint, FieldSpec, FieldType};

/// One event type as written in the doc: the base fields are added by [`entries`].
struct Def {
    name: &'static str,
    category: Category,
    description: &'static str,
    fields: &'static [(&'static str, FieldType, bool, &'static [Constraint])],
    sample: &'static str,
}

use Constraint::{Email, EmailOrEmpty, MaxBytes, Rfc3339UtcSeconds, Sorted};
use FieldType::{Int, String as Str, StringArray};

/// `occurred_at` is a base field, but the doc's samples put it last; the schema lists it
/// with the other base fields, first.
const BASE: &[(&str, FieldType, bool, &[Constraint])] = &[
    ("session_id", Str, true, &[]),
    ("user", Str, true, &[Email]),
    ("connection", Str, true, &[]),
    ("occurred_at", Str, true, &[Rfc3339UtcSeconds]),
];

const DEFS: &[Def] = &[
    Def {
        name: "session.started",
        category: Category::Session,
        description: "A session opens, before any I/O. `verb` is connect, exec or plain-exec.",
        fields: &[("verb", Str, true, &[])],
        sample: r#"{"session_id":"ses_01HX9G6RST","user":"alex.morgan@acme.com","connection":"conn-prod-pg","verb":"exec","occurred_at":"2026-05-04T15:30:00Z"}"#,
    },
    Def {
        name: "session.closed",
        category: Category::Session,
        description: "A session is finalized. `exit_code` is \"\" when unknown.",
        fields: &[
            ("exit_code", Str, true, &[]),
            ("duration_ms", Int, true, &[]),
        ],
        sample: r#"{"session_id":"ses_01HX9G6RST","user":"alex.morgan@acme.com","connection":"conn-prod-pg","exit_code":"0","duration_ms":45200,"occurred_at":"2026-05-04T15:30:45Z"}"#,
    },
    Def {
        name: "session.guardrail_violation",
        category: Category::Session,
        description: "At session close, once per tripped guardrail rule.",
        fields: &[
            ("rule", Str, true, &[]),
            ("query_excerpt", Str, false, &[MaxBytes(256)]),
        ],
        sample: r#"{"session_id":"ses_01HX9DJ3KE","user":"drew.k@acme.com","connection":"conn-prod-pg","rule":"block-truncate-prod","query_excerpt":"TRUNCATE TABLE customers","occurred_at":"2026-05-04T14:55:01Z"}"#,
    },
    Def {
        name: "session.pci_scope_entered",
        category: Category::Session,
        description: "At session open, on a connection tagged pci or pci-scope (case-insensitive); \
                      `tags` holds all the connection's tags.",
        fields: &[("tags", StringArray, true, &[])],
        sample: r#"{"session_id":"ses_01HX9E4LMN","user":"alex.morgan@acme.com","connection":"conn-pci-db","tags":["pci","prod"],"occurred_at":"2026-05-04T15:00:00Z"}"#,
    },
    Def {
        name: "session.anomaly_detected",
        category: Category::Session,
        description: "At session close, when the AI risk rating is high.",
        fields: &[("risk_level", Str, true, &[]), ("reason", Str, true, &[])],
        sample: r#"{"session_id":"ses_01HX9F5OPQ","user":"drew.k@acme.com","connection":"conn-prod-pg","risk_level":"high","reason":"query volume 10x above baseline","occurred_at":"2026-05-04T15:10:00Z"}"#,
    },
    Def {
        name: "access.jit_approved",
        category: Category::Access,
        description: "A just-in-time access review moves to APPROVED.",
        fields: &[
            ("reviewer", Str, true, &[EmailOrEmpty]),
            ("review_id", Str, true, &[]),
        ],
        sample: r#"{"session_id":"ses_01HX9C1EFG","user":"drew.k@acme.com","connection":"conn-prod-pg","reviewer":"alex.morgan@acme.com","review_id":"rev_01HX9C1EFH","occurred_at":"2026-05-04T14:45:00Z"}"#,
    },
    Def {
        name: "access.jit_denied",
        category: Category::Access,
        description: "A just-in-time access review moves to REJECTED.",
        fields: &[
            ("reviewer", Str, true, &[EmailOrEmpty]),
            ("review_id", Str, true, &[]),
            ("reason", Str, false, &[]),
        ],
        sample: r#"{"session_id":"ses_01HX9C2IJK","user":"drew.k@acme.com","connection":"conn-prod-pg","reviewer":"alex.morgan@acme.com","review_id":"rev_01HX9C2IJL","reason":"not authorized for production","occurred_at":"2026-05-04T14:50:00Z"}"#,
    },
    Def {
        name: "alert.sensitive_data_detected",
        category: Category::Alert,
        description: "At session close, when DLP flagged entities; `types_detected` is sorted.",
        fields: &[
            ("types_detected", StringArray, true, &[Sorted]),
            ("total_detections", Int, true, &[]),
        ],
        sample: r#"{"session_id":"ses_01HX9A2BCD","user":"alex.morgan@acme.com","connection":"conn-prod-pg","types_detected":["EMAIL_ADDRESS","PERSON","PHONE_NUMBER"],"total_detections":12,"occurred_at":"2026-05-04T14:30:00Z"}"#,
    },
    Def {
        name: "alert.data_masked",
        category: Category::Alert,
        description: "At session close, when values were redacted; `types_masked` is sorted.",
        fields: &[
            ("types_masked", StringArray, true, &[Sorted]),
            ("total_redactions", Int, true, &[]),
        ],
        sample: r#"{"session_id":"ses_01HX9A2BCD","user":"alex.morgan@acme.com","connection":"conn-prod-pg","types_masked":["EMAIL_ADDRESS","US_BANK_NUMBER"],"total_redactions":12,"occurred_at":"2026-05-04T14:30:00Z"}"#,
    },
];

/// The sample texts, in the doc's order (for the verbatim test).
#[cfg(test)]
pub(super) fn sample_texts() -> impl Iterator<Item = &'static str> {
    DEFS.iter().map(|d| d.sample)
}

/// Builds the entries. A sample that failed to parse would become `{}`, which then fails
/// its own schema in the catalog's tests: the texts are constants, not input.
pub(super) fn entries() -> Vec<CatalogEntry> {
    DEFS.iter()
        .map(|d| CatalogEntry {
            name: d.name.to_owned(),
            category: d.category,
            description: d.description.to_owned(),
            schema: BASE
                .iter()
                .chain(d.fields)
                .map(|(name, ty, required, constraints)| FieldSpec {
                    name: (*name).to_owned(),
                    ty: *ty,
                    required: *required,
                    constraints: constraints.to_vec(),
                })
                .collect(),
            sample_payload: serde_json::from_str(d.sample).unwrap_or_default(),
        })
        .collect()
}
