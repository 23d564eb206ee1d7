//! Payload checks against a [`CatalogEntry`]'s schema.
//!
//! Rules, in the order they are checked (the first failure is reported):
//! - the payload is a JSON object;
//! - each schema field, in schema order: a required field must be present and not `null`;
//!   an optional field that is absent or `null` is skipped (a producer that serialises
//!   "no value" as `null` is not punished for it); a present value must have the schema type
//!   and pass the field's [`Constraint`]s.
//! - fields the schema does not list are accepted and kept: a newer producer may send more
//!   than this catalog knows, and refusing it would break forward compatibility.

use serde_json::Value;

use super::PayloadError;
use super::types::{CatalogEntry, Constraint, FieldSpec, FieldType};

/// Longest rendering of an offending value in an error message.
const MAX_SHOWN: usize = 80;

pub(super) fn validate_payload(entry: &CatalogEntry, payload: &Value) -> Result<(), PayloadError> {
    let Some(object) = payload.as_object() else {
        return Err(PayloadError::NotAnObject {
            event_type: entry.name.clone(),
            got: json_kind(payload).to_owned(),
        });
    };
    for field in &entry.schema {
        match object.get(&field.name) {
            None | Some(Value::Null) if !field.required => {}
            None => {
                return Err(PayloadError::MissingField {
                    field: field.name.clone(),
                });
            }
            Some(value) => check_field(field, value)?,
        }
    }
    Ok(())
}

fn check_field(field: &FieldSpec, value: &Value) -> Result<(), PayloadError> {
    let wrong = |expected: &'static str| PayloadError::WrongType {
        field: field.name.clone(),
        expected,
        got: shown(value),
    };
    match field.ty {
        FieldType::String if !value.is_string() => return Err(wrong("a string")),
        FieldType::Int if !(value.is_i64() || value.is_u64()) => {
            return Err(wrong("an integer"));
        }
        FieldType::StringArray => {
            let items = value
                .as_array()
                .ok_or_else(|| wrong("an array of strings"))?;
            if let Some((i, item)) = items.iter().enumerate().find(|(_, v)| !v.is_string()) {
                return Err(PayloadError::WrongType {
                    field: format!("{}[{i}]", field.name),
                    expected: "a string",
                    got: shown(item),
                });
            }
        }
        _ => {}
    }
    for constraint in &field.constraints {
        if let Some(reason) = broken(*constraint, value) {
            return Err(PayloadError::InvalidValue {
                field: field.name.clone(),
                reason,
            });
        }
    }
    Ok(())
}

/// Why `value` (already of the right type) breaks `constraint`, or `None` when it holds.
fn broken(constraint: Constraint, value: &Value) -> Option<String> {
    let text = value.as_str().unwrap_or_default();
    match constraint {
        Constraint::Email if !is_email(text) => {
            Some(format!("must be an email address, got {}", shown(value)))
        }
        Constraint::EmailOrEmpty if !text.is_empty() && !is_email(text) => Some(format!(
            "must be an email address or \"\", got {}",
            shown(value)
        )),
        Constraint::Rfc3339UtcSeconds if !is_rfc3339_utc_seconds(text) => Some(format!(
            "must be an RFC 3339 UTC timestamp with second precision \
             (like 2026-05-04T15:30:00Z), got {}",
            shown(value)
        )),
        Constraint::MaxBytes(max) if text.len() > max => Some(format!(
            "must be at most {max} bytes, got {} bytes",
            text.len()
        )),
        Constraint::Sorted => {
            let items = value.as_array()?;
            let at = items.windows(2).position(|w| {
                w[0].as_str().unwrap_or_default() > w[1].as_str().unwrap_or_default()
            })?;
            Some(format!(
                "must be sorted in ascending order: {} comes before {}",
                shown(&items[at]),
                shown(&items[at + 1])
            ))
        }
        _ => None,
    }
}

/// A pragmatic email check, not RFC 5322: one `@`, a non-empty local part, a domain with at
/// least one dot and no empty label, and no whitespace or control characters anywhere.
/// It catches the mistakes that matter here (a user id or a display name where the email
/// belongs) without rejecting unusual but real addresses.
pub(crate) fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `YYYY-MM-DDTHH:MM:SSZ` exactly: upper-case `T` and `Z` (the form hoop emits), no
/// fraction, no offset other than `Z`, a real calendar date, seconds up to 60 (RFC 3339
/// allows a leap second).
pub(crate) fn is_rfc3339_utc_seconds(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 20 {
        return false;
    }
    let shape_ok = b.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        10 => *c == b'T',
        13 | 16 => *c == b':',
        19 => *c == b'Z',
        _ => c.is_ascii_digit(),
    });
    if !shape_ok {
        return false;
    }
    let num = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0u32, |n, c| n * 10 + u32::from(c - b'0'))
    };
    let (year, month, day) = (num(0, 4), num(5, 7), num(8, 10));
    let (hour, minute, second) = (num(11, 13), num(14, 16), num(17, 19));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day) && hour < 24 && minute < 60 && second <= 60
}

/// The value as JSON text, cut to [`MAX_SHOWN`] characters so a huge value cannot bloat an
/// error message that ends up in logs and API answers.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(MAX_SHOWN) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
