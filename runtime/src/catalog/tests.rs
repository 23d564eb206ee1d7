use serde_json::{Value, json};

use super::validate::{is_email, is_rfc3339_utc_seconds};
use super::*;

fn catalog() -> &'static Catalog {
    Catalog::builtin()
}

fn sample(event_type: &str) -> Value {
    catalog()
        .get(event_type)
        .map(|e| e.sample_payload.clone())
        .unwrap_or_default()
}

#[test]
fn has_the_nine_types_sorted() {
    let names = catalog().names();
    assert_eq!(
        names,
        [
            "access.jit_approved",
            "access.jit_denied",
            "alert.data_masked",
            "alert.sensitive_data_detected",
            "session.anomaly_detected",
            "session.closed",
            "session.guardrail_violation",
            "session.pci_scope_entered",
            "session.started",
        ]
    );
}

#[test]
fn every_sample_validates_against_its_own_schema() {
    for entry in catalog().list(None) {
        assert!(entry.sample_payload.is_object(), "{}", entry.name);
        if let Err(e) = catalog().validate(&entry.name, &entry.sample_payload) {
            panic!("sample of {} is invalid: {e}", entry.name);
        }
        // And every schema field that is required appears in the sample.
        for f in entry.schema.iter().filter(|f| f.required) {
            assert!(
                entry.sample_payload.get(&f.name).is_some(),
                "{} {}",
                entry.name,
                f.name
            );
        }
    }
}

#[test]
fn samples_are_verbatim_from_hoop_compat() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/HOOP-COMPAT.md");
    let doc = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {path} (the shared compatibility doc): {e}"));
    for text in events::sample_texts() {
        assert!(
            doc.lines().any(|l| l == text),
            "not verbatim in HOOP-COMPAT.md: {text}"
        );
    }
}

#[test]
fn list_filters_by_category_sorted() {
    let access: Vec<_> = catalog()
        .list(Some(Category::Access))
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(access, ["access.jit_approved", "access.jit_denied"]);
    assert_eq!(catalog().list(Some(Category::Session)).len(), 5);
    assert_eq!(catalog().list(Some(Category::Alert)).len(), 2);
    assert_eq!(catalog().list(None).len(), 9);
    assert_eq!(Category::parse("alert"), Some(Category::Alert));
    assert_eq!(Category::parse("nope"), None);
}

#[test]
fn schema_has_base_fields_first() {
    for entry in catalog().list(None) {
        let first: Vec<_> = entry
            .schema
            .iter()
            .take(4)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(first, ["session_id", "user", "connection", "occurred_at"]);
        assert!(
            entry
                .schema
                .iter()
                .take(4)
                .all(|f| f.required && f.ty == FieldType::String)
        );
    }
    let g = catalog()
        .get("session.guardrail_violation")
        .map(|e| e.field("query_excerpt"));
    assert!(matches!(g, Some(Some(f)) if !f.required));
}

#[test]
fn entry_json_shape_matches_hoop() {
    let entry = catalog().get("session.closed").map(serde_json::to_value);
    let Some(Ok(v)) = entry else {
        panic!("session.closed serialises")
    };
    let keys: Vec<_> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "category",
            "description",
            "name",
            "sample_payload",
            "schema"
        ]
    );
    assert_eq!(v["category"], "Session");
    assert_eq!(
        v["schema"][5],
        json!({"name": "duration_ms", "type": "int", "required": true})
    );
    let tags = serde_json::to_value(
        catalog()
            .get("session.pci_scope_entered")
            .map(|e| &e.schema[4]),
    );
    assert_eq!(
        tags.ok(),
        Some(json!({"name": "tags", "type": "string[]", "required": true}))
    );
    // And it reads back.
    let back: Result<CatalogEntry, _> = serde_json::from_value(v);
    assert!(back.is_ok());
}

#[test]
fn unknown_event_type_lists_known_ones() {
    let err = catalog().validate("x", &json!({})).err();
    let Some(err) = err else { panic!("accepted x") };
    assert_eq!(err.code(), "unknown_event_type");
    let msg = err.to_string();
    assert!(
        msg.starts_with("unknown event type \"x\" (known: access.jit_approved, "),
        "{msg}"
    );
    assert!(msg.contains("session.started"), "{msg}");
}

fn error_of(event_type: &str, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut payload = sample(event_type);
    if let Some(o) = payload.as_object_mut() {
        edit(o);
    }
    match catalog().validate(event_type, &payload) {
        Ok(()) => String::from("ok"),
        Err(e) => {
            assert_eq!(e.code(), "invalid_payload");
            e.to_string()
        }
    }
}

#[test]
fn missing_and_wrong_type_name_the_field() {
    assert_eq!(
        error_of("session.started", |o| {
            o.remove("user");
        }),
        "missing required field `user`"
    );
    assert_eq!(
        error_of("session.closed", |o| {
            o.insert("duration_ms".into(), json!("abc"));
        }),
        "field `duration_ms` must be an integer, got \"abc\""
    );
    assert_eq!(
        error_of("session.closed", |o| {
            o.insert("duration_ms".into(), json!(1.5));
        }),
        "field `duration_ms` must be an integer, got 1.5"
    );
    assert_eq!(
        error_of("session.started", |o| {
            o.insert("verb".into(), Value::Null);
        }),
        "field `verb` must be a string, got null"
    );
    assert_eq!(
        error_of("session.pci_scope_entered", |o| {
            o.insert("tags".into(), json!(["pci", 3]));
        }),
        "field `tags[1]` must be a string, got 3"
    );
    assert_eq!(
        error_of("session.pci_scope_entered", |o| {
            o.insert("tags".into(), json!("pci"));
        }),
        "field `tags` must be an array of strings, got \"pci\""
    );
    let err = catalog()
        .validate("session.started", &json!([1]))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("payload of session.started must be a JSON object, got an array")
    );
}

#[test]
fn rules_email_time_size_sorted() {
    assert!(
        error_of("session.started", |o| {
            o.insert("user".into(), json!("alex"));
        })
        .starts_with("field `user` must be an email address, got \"alex\"")
    );
    // A reviewer may be "" but not a non-email.
    assert_eq!(
        error_of("access.jit_approved", |o| {
            o.insert("reviewer".into(), json!(""));
        }),
        "ok"
    );
    assert!(
        error_of("access.jit_approved", |o| {
            o.insert("reviewer".into(), json!("bob"));
        })
        .starts_with("field `reviewer` must be an email address or \"\"")
    );
    assert!(
        error_of("session.started", |o| {
            o.insert("occurred_at".into(), json!("2026-05-04T15:30:00.123Z"));
        })
        .starts_with("field `occurred_at` must be an RFC 3339 UTC timestamp with second precision")
    );
    assert_eq!(
        error_of("session.guardrail_violation", |o| {
            o.insert("query_excerpt".into(), json!("é".repeat(129)));
        }),
        "field `query_excerpt` must be at most 256 bytes, got 258 bytes"
    );
    assert_eq!(
        error_of("session.guardrail_violation", |o| {
            o.insert("query_excerpt".into(), json!("x".repeat(256)));
        }),
        "ok"
    );
    assert_eq!(
        error_of("alert.sensitive_data_detected", |o| {
            o.insert("types_detected".into(), json!(["PERSON", "EMAIL_ADDRESS"]));
        }),
        "field `types_detected` must be sorted in ascending order: \"PERSON\" comes before \"EMAIL_ADDRESS\""
    );
    assert!(
        error_of("alert.data_masked", |o| {
            o.insert("types_masked".into(), json!(["b", "a"]));
        })
        .starts_with("field `types_masked` must be sorted")
    );
}

#[test]
fn optional_fields_and_extras() {
    // Optional absent or null: fine. Unknown extra fields: accepted.
    assert_eq!(
        error_of("session.guardrail_violation", |o| {
            o.remove("query_excerpt");
        }),
        "ok"
    );
    assert_eq!(
        error_of("access.jit_denied", |o| {
            o.insert("reason".into(), Value::Null);
        }),
        "ok"
    );
    assert_eq!(
        error_of("session.started", |o| {
            o.insert("future_field".into(), json!({"any": 1}));
        }),
        "ok"
    );
    // Optional present with the wrong type: refused.
    assert_eq!(
        error_of("access.jit_denied", |o| {
            o.insert("reason".into(), json!(7));
        }),
        "field `reason` must be a string, got 7"
    );
}

#[test]
fn long_values_are_shortened_in_messages() {
    let msg = error_of("session.closed", |o| {
        o.insert("duration_ms".into(), json!("9".repeat(10_000)));
    });
    assert!(msg.len() < 200, "{msg}");
    assert!(msg.ends_with("..."), "{msg}");
}

#[test]
fn email_check() {
    for ok in ["a@b.co", "alex.morgan@acme.com", "x+tag@sub.example.org"] {
        assert!(is_email(ok), "{ok}");
    }
    for bad in [
        "", "a", "@b.co", "a@", "a@b", "a@@b.co", "a b@c.co", "a@b..co", "a@.b.co", "a@b.co.",
    ] {
        assert!(!is_email(bad), "{bad}");
    }
}

#[test]
fn timestamp_check() {
    for ok in [
        "2026-05-04T15:30:00Z",
        "2024-02-29T23:59:60Z",
        "2000-02-29T00:00:00Z",
    ] {
        assert!(is_rfc3339_utc_seconds(ok), "{ok}");
    }
    for bad in [
        "2026-05-04T15:30:00",
        "2026-05-04t15:30:00z",
        "2026-05-04T15:30:00+00:00",
        "2026-05-04T15:30:00.5Z",
        "2026-05-04 15:30:00Z",
        "2026-13-04T15:30:00Z",
        "2026-02-29T15:30:00Z",
        "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-05-04T24:00:00Z",
        "2026-05-04T15:60:00Z",
        "2026-05-04T15:30:61Z",
        "2026-05-00T15:30:00Z",
        "２026-05-04T15:30:00Z",
    ] {
        assert!(!is_rfc3339_utc_seconds(bad), "{bad}");
    }
}
