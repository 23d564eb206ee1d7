//! Declared params: their specs (for `describe`) and their parsing (for `run`).
//!
//! `#[derive(Params)]` implements [`Params`] for a struct with named fields; every field
//! type implements [`ParamValue`], which says which [`ParamKind`] the type has and how a
//! JSON value becomes the type.
//!
//! # Conversion rules
//! The host renders params from the event payload, and payload fields often carry
//! numbers and flags as strings. The rules are lenient where nothing is lost and strict
//! everywhere else:
//!
//! | param type | accepts |
//! |---|---|
//! | `String` | a string; a number or boolean is **stringified** (`15` → `"15"`); arrays and objects are rejected |
//! | integers | a JSON integer, an integral float (`15.0`), or a string holding one (`"15"`, `" 15 "`), range-checked for the type |
//! | `f32`/`f64` | a JSON number or a string holding a finite number |
//! | `bool` | `true`/`false`, or the strings `"true"`/`"false"` (any case) |
//! | `Vec<T>`, maps | a JSON array / object, or a string holding JSON text of one |
//! | `serde_json::Value` | anything, as is |
//! | [`Json<T>`] / `#[param(json)]` | whatever `T: Deserialize` accepts, or a string holding JSON text of it |
//!
//! A param that is absent **or JSON `null`** is treated as absent: its default applies,
//! an `Option` becomes `None`, and otherwise it is reported as missing. Params the
//! runbook does not declare are ignored. Every problem is collected before the run is
//! refused, so the message names all missing and all badly typed params at once.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::bindings::runbox::runbook::types as wit;

/// The kind of a declared param, as forms and the catalog show it (the WIT `param-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// Free text.
    Text,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// Any JSON value (arrays and objects).
    Json,
    /// A phone number.
    Tel,
    /// A time of day.
    Time,
    /// A date.
    Date,
    /// A URL.
    Url,
    /// An e-mail address.
    Email,
    /// One of the declared `options`.
    Select,
    /// Multi-line text.
    Textarea,
    /// A secret; forms hide it.
    Password,
    /// File contents.
    File,
}

impl ParamKind {
    /// Every kind, in WIT order.
    pub const ALL: [ParamKind; 13] = [
        Self::Text,
        Self::Number,
        Self::Boolean,
        Self::Json,
        Self::Tel,
        Self::Time,
        Self::Date,
        Self::Url,
        Self::Email,
        Self::Select,
        Self::Textarea,
        Self::Password,
        Self::File,
    ];

    /// The WIT name (`text`, `number`, ...), also accepted by `#[param(kind = "...")]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Json => "json",
            Self::Tel => "tel",
            Self::Time => "time",
            Self::Date => "date",
            Self::Url => "url",
            Self::Email => "email",
            Self::Select => "select",
            Self::Textarea => "textarea",
            Self::Password => "password",
            Self::File => "file",
        }
    }

    /// The kind with this WIT name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    pub(crate) fn into_wit(self) -> wit::ParamKind {
        match self {
            Self::Text => wit::ParamKind::Text,
            Self::Number => wit::ParamKind::Number,
            Self::Boolean => wit::ParamKind::Boolean,
            Self::Json => wit::ParamKind::Json,
            Self::Tel => wit::ParamKind::Tel,
            Self::Time => wit::ParamKind::Time,
            Self::Date => wit::ParamKind::Date,
            Self::Url => wit::ParamKind::Url,
            Self::Email => wit::ParamKind::Email,
            Self::Select => wit::ParamKind::Select,
            Self::Textarea => wit::ParamKind::Textarea,
            Self::Password => wit::ParamKind::Password,
            Self::File => wit::ParamKind::File,
        }
    }
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One declared param, as `describe` reports it (the WIT `param-spec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// Name as used in a subscription's `parameter_mapping`.
    pub name: String,
    /// How forms show it.
    pub kind: ParamKind,
    /// Whether the run is refused without it (not an `Option` and no default).
    pub required: bool,
    /// From the field's doc comment or `description = "..."`.
    pub description: Option<String>,
    /// The default as JSON text (`"15"`, `"\"eu-west-1\""`).
    pub default: Option<String>,
    /// Hint text for forms.
    pub placeholder: Option<String>,
    /// Allowed values (for `select`).
    pub options: Vec<String>,
    /// Position in forms; lower comes first. Defaults to the field position.
    pub order: u32,
}

impl ParamSpec {
    pub(crate) fn into_wit(self) -> wit::ParamSpec {
        wit::ParamSpec {
            name: self.name,
            kind: self.kind.into_wit(),
            required: self.required,
            description: self.description,
            default: self.default,
            placeholder: self.placeholder,
            options: self.options,
            order: self.order,
        }
    }
}

/// A set of declared params: implemented by `#[derive(Params)]`.
///
/// `()` implements it for runbooks without params.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a runbook params type",
    label = "not a params type",
    note = "derive it on a struct with named fields: #[derive(Params)]"
)]
pub trait Params: Sized {
    /// The declaration, in field order.
    fn specs() -> Vec<ParamSpec>;

    /// Builds the value from the invocation's params object, collecting every problem.
    fn from_params(params: &Map<String, Value>) -> Result<Self, ParamsError>;
}

impl Params for () {
    fn specs() -> Vec<ParamSpec> {
        Vec::new()
    }

    fn from_params(_params: &Map<String, Value>) -> Result<Self, ParamsError> {
        Ok(())
    }
}

/// Every problem with an invocation's params: missing required ones and badly typed ones.
///
/// It converts into [`RunbookError::InvalidParams`](crate::RunbookError::InvalidParams)
/// (so `?` keeps the meaning). It does not implement `std::error::Error`, so that the
/// blanket `From<std::error::Error>` of `RunbookError` does not turn it into a plain
/// failure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamsError {
    missing: Vec<String>,
    invalid: Vec<(String, String)>,
}

impl ParamsError {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an absent required param.
    pub fn push_missing(&mut self, name: impl Into<String>) {
        self.missing.push(name.into());
    }

    /// Records a param whose value is unusable, with the reason.
    pub fn push_invalid(&mut self, name: impl Into<String>, reason: impl fmt::Display) {
        self.invalid.push((name.into(), reason.to_string()));
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.invalid.is_empty()
    }

    /// The absent required params, in declaration order.
    pub fn missing(&self) -> &[String] {
        &self.missing
    }

    /// The badly typed params with the reason, in declaration order.
    pub fn invalid(&self) -> &[(String, String)] {
        &self.invalid
    }

    /// `the following inputs are missing [a, b]; ttl_minutes: expected a number, got "abc"`.
    pub fn message(&self) -> String {
        let mut parts = Vec::with_capacity(self.invalid.len() + 1);
        if !self.missing.is_empty() {
            parts.push(format!(
                "the following inputs are missing [{}]",
                self.missing.join(", ")
            ));
        }
        for (name, reason) in &self.invalid {
            parts.push(format!("{name}: {reason}"));
        }
        parts.join("; ")
    }
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Why one value does not fit its param type: `expected a number, got "abc"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(String);

impl ValueError {
    /// `expected {what}, got {value}` (strings quoted and shortened, arrays and objects
    /// named rather than shown).
    pub fn expected(what: &str, got: &Value) -> Self {
        Self(format!("expected {what}, got {}", describe_value(got)))
    }

    /// Any other reason.
    pub fn custom(reason: impl fmt::Display) -> Self {
        Self(reason.to_string())
    }

    /// Prefixes the position inside a container: `[2]: expected ...`.
    fn at(self, position: impl fmt::Display) -> Self {
        Self(format!("{position}: {}", self.0))
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const SHOWN_STRING_CHARS: usize = 60;

fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() > SHOWN_STRING_CHARS => {
            let shown: String = s.chars().take(SHOWN_STRING_CHARS).collect();
            format!("{}...", Value::String(shown))
        }
        Value::String(_) => value.to_string(),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// A type a declared param can have. See the [module docs](self) for the conversion
/// rules of the provided implementations.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the type of a runbook param",
    label = "not a param type",
    note = "param types: String, integers, f32/f64, bool, Option<T>, Vec<T>, maps with String keys, serde_json::Value, Json<T>",
    note = "for any serde type, mark the field #[param(json)]"
)]
pub trait ParamValue: Sized {
    /// The kind `describe` reports unless the field overrides it.
    const KIND: ParamKind;

    /// Whether the param may be absent without a default (true for `Option<T>`).
    const OPTIONAL: bool = false;

    /// Converts a present, non-null value.
    fn from_param(value: &Value) -> Result<Self, ValueError>;

    /// The value of an absent param without a default; `None` means "missing".
    fn absent() -> Option<Self> {
        None
    }
}

impl ParamValue for String {
    const KIND: ParamKind = ParamKind::Text;

    fn from_param(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(ValueError::expected("a string", value)),
        }
    }
}

/// An integer from a JSON number or a string holding one (integral floats accepted).
fn integer(value: &Value) -> Result<i128, ValueError> {
    fn from_float(f: f64) -> Option<i128> {
        // Beyond 2^63 a float is no longer an exact integer of any of our types' width
        // that matters; the range check below rejects it anyway.
        (f.is_finite() && f.fract() == 0.0 && f.abs() < 1.8e19).then_some(f as i128)
    }
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| n.as_f64().and_then(from_float))
            .ok_or_else(|| ValueError::expected("an integer", value)),
        Value::String(s) => {
            let trimmed = s.trim();
            trimmed
                .parse::<i128>()
                .ok()
                .or_else(|| trimmed.parse::<f64>().ok().and_then(from_float))
                .ok_or_else(|| ValueError::expected("a number", value))
        }
        _ => Err(ValueError::expected("a number", value)),
    }
}

macro_rules! integer_param {
    ($($ty:ty),*) => {$(
        impl ParamValue for $ty {
            const KIND: ParamKind = ParamKind::Number;

            fn from_param(value: &Value) -> Result<Self, ValueError> {
                let n = integer(value)?;
                <$ty>::try_from(n).map_err(|_| {
                    ValueError::expected(
                        &format!("an integer between {} and {}", <$ty>::MIN, <$ty>::MAX),
                        value,
                    )
                })
            }
        }
    )*};
}

integer_param!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

fn float(value: &Value) -> Result<f64, ValueError> {
    let parsed = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    parsed
        .filter(|f| f.is_finite())
        .ok_or_else(|| ValueError::expected("a number", value))
}

impl ParamValue for f64 {
    const KIND: ParamKind = ParamKind::Number;

    fn from_param(value: &Value) -> Result<Self, ValueError> {
        float(value)
    }
}

impl ParamValue for f32 {
    const KIND: ParamKind = ParamKind::Number;

    fn from_param(value: &Value) -> Result<Self, ValueError> {
        let f = float(value)?;
        // `as` saturates to infinity outside f32's range; refuse rather than saturate.
        let narrowed = f as f32;
        if narrowed.is_finite() {
            Ok(narrowed)
        } else {
            Err(ValueError::expected("a number within f32 range", value))
        }
    }
}

impl ParamValue for bool {
    const KIND: ParamKind = ParamKind::Boolean;

    fn from_param(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(ValueError::expected("a boolean", value)),
        }
    }
}

impl<T: ParamValue> ParamValue for Option<T> {
    const KIND: ParamKind = T::KIND;
    const OPTIONAL: bool = true;

    fn from_param(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Null => Ok(None),
            _ => T::from_param(value).map(Some),
        }
    }

    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl ParamValue for Value {
    const KIND: ParamKind = ParamKind::Json;

    fn from_param(value: &Value) -> Result<Self, ValueError> {
        Ok(value.clone())
    }
}

/// For container types: the value itself, or the JSON it holds as text.
fn json_text(value: &Value, what: &str) -> Result<Value, ValueError> {
    match value {
        Value::String(text) => serde_json::from_str(text).map_err(|_| {
            ValueError::expected(&format!("{what} (or a string of JSON text)"), value)
        }),
        _ => Ok(value.clone()),
    }
}

impl<T: ParamValue> ParamValue for Vec<T> {
    const KIND: ParamKind = ParamKind::Json;

    fn from_param(value: &Value) -> Result<Self, ValueError> {
        let parsed;
        let value = if value.is_string() {
            parsed = json_text(value, "an array")?;
            &parsed
        } else {
            value
        };
        let Value::Array(items) = value else {
            return Err(ValueError::expected("an array", value));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| T::from_param(item).map_err(|e| e.at(format_args!("[{i}]"))))
            .collect()
    }
}

fn object<T: ParamValue>(value: &Value) -> Result<Vec<(String, T)>, ValueError> {
    let parsed;
    let value = if value.is_string() {
        parsed = json_text(value, "an object")?;
        &parsed
    } else {
        value
    };
    let Value::Object(entries) = value else {
        return Err(ValueError::expected("an object", value));
    };
    entries
        .iter()
        .map(|(key, item)| {
            T::from_param(item)
                .map(|v| (key.clone(), v))
                .map_err(|e| e.at(format_args!("{key:?}")))
        })
        .collect()
}

impl<T: ParamValue> ParamValue for BTreeMap<String, T> {
    const KIND: ParamKind = ParamKind::Json;

    fn from_param(value: &Value) -> Result<Self, ValueError> {
        object(value).map(|entries| entries.into_iter().collect())
    }
}

impl<T: ParamValue, S: std::hash::BuildHasher + Default> ParamValue for HashMap<String, T, S> {
    const KIND: ParamKind = ParamKind::Json;

    fn from_param(value: &Value) -> Result<Self, ValueError> {
        object(value).map(|entries| entries.into_iter().collect())
    }
}

impl ParamValue for Map<String, Value> {
    const KIND: ParamKind = ParamKind::Json;

    fn from_param(value: &Value) -> Result<Self, ValueError> {
        object::<Value>(value).map(|entries| entries.into_iter().collect())
    }
}

/// Any `serde` type as a param of kind `json`: the value (or a string holding JSON
/// text of it) is deserialised with `serde_json`.
///
/// `#[param(json)]` on a field does the same without the wrapper in the field type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The inner value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> ParamValue for Json<T> {
    const KIND: ParamKind = ParamKind::Json;

    fn from_param(value: &Value) -> Result<Self, ValueError> {
        match serde_json::from_value::<T>(value.clone()) {
            Ok(parsed) => Ok(Self(parsed)),
            Err(error) => {
                // A string may hold the JSON text of the value.
                if let Value::String(text) = value
                    && let Ok(parsed) = serde_json::from_str::<T>(text)
                {
                    return Ok(Self(parsed));
                }
                Err(ValueError::custom(format_args!("invalid value: {error}")))
            }
        }
    }
}

/// Reads one declared param; used by the code `#[derive(Params)]` generates.
///
/// Absent and `null` mean absent: the default (JSON text) applies, then
/// [`ParamValue::absent`], else the param is recorded as missing. `options` restricts
/// the accepted values (compared as strings; numbers and booleans by their JSON text).
#[doc(hidden)]
pub fn read_field<T: ParamValue>(
    params: &Map<String, Value>,
    name: &str,
    default: Option<&str>,
    options: &[&str],
    errors: &mut ParamsError,
) -> Option<T> {
    match params.get(name).filter(|value| !value.is_null()) {
        Some(value) => {
            if !options.is_empty() {
                let as_text = match value {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
                    _ => None,
                };
                if !as_text.is_some_and(|text| options.contains(&text.as_str())) {
                    errors.push_invalid(
                        name,
                        ValueError::expected(&format!("one of [{}]", options.join(", ")), value),
                    );
                    return None;
                }
            }
            match T::from_param(value) {
                Ok(parsed) => Some(parsed),
                Err(error) => {
                    errors.push_invalid(name, error);
                    None
                }
            }
        }
        None => match default {
            Some(text) => {
                let parsed = serde_json::from_str::<Value>(text)
                    .map_err(|e| ValueError::custom(format_args!("not JSON: {e}")))
                    .and_then(|value| T::from_param(&value));
                match parsed {
                    Ok(parsed) => Some(parsed),
                    Err(error) => {
                        errors.push_invalid(
                            name,
                            format_args!("the declared default {text} does not fit: {error}"),
                        );
                        None
                    }
                }
            }
            None => {
                let absent = T::absent();
                if absent.is_none() {
                    errors.push_missing(name);
                }
                absent
            }
        },
    }
}

/// Parses the invocation's params text (a JSON object; empty text counts as `{}`).
pub(crate) fn parse_object(text: &str) -> Result<Map<String, Value>, ParamsError> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let mut error = ParamsError::new();
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => return Ok(map),
        Ok(other) => error.push_invalid("params", ValueError::expected("a JSON object", &other)),
        Err(e) => error.push_invalid("params", format_args!("not valid JSON: {e}")),
    }
    Err(error)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse<T: ParamValue>(value: Value) -> Result<T, String> {
        T::from_param(&value).map_err(|e| e.to_string())
    }

    #[test]
    fn strings_stringify_scalars_and_reject_containers() {
        assert_eq!(parse::<String>(json!("a")).unwrap(), "a");
        assert_eq!(parse::<String>(json!(15)).unwrap(), "15");
        assert_eq!(parse::<String>(json!(1.5)).unwrap(), "1.5");
        assert_eq!(parse::<String>(json!(true)).unwrap(), "true");
        assert_eq!(
            parse::<String>(json!([1])).unwrap_err(),
            "expected a string, got an array"
        );
        assert_eq!(
            parse::<String>(json!({"a": 1})).unwrap_err(),
            "expected a string, got an object"
        );
    }

    #[test]
    fn integers_accept_numeric_strings_and_check_ranges() {
        assert_eq!(parse::<u32>(json!(15)).unwrap(), 15);
        assert_eq!(parse::<u32>(json!("15")).unwrap(), 15);
        assert_eq!(parse::<u32>(json!(" 15 ")).unwrap(), 15);
        assert_eq!(parse::<u32>(json!(15.0)).unwrap(), 15);
        assert_eq!(parse::<i64>(json!("-7")).unwrap(), -7);
        assert_eq!(parse::<u64>(json!(u64::MAX)).unwrap(), u64::MAX);
        assert_eq!(
            parse::<u32>(json!("abc")).unwrap_err(),
            r#"expected a number, got "abc""#
        );
        assert_eq!(
            parse::<u32>(json!(1.5)).unwrap_err(),
            "expected an integer, got 1.5"
        );
        assert_eq!(
            parse::<u8>(json!(300)).unwrap_err(),
            "expected an integer between 0 and 255, got 300"
        );
        assert_eq!(
            parse::<u32>(json!(-1)).unwrap_err(),
            "expected an integer between 0 and 4294967295, got -1"
        );
        assert_eq!(
            parse::<i32>(json!(true)).unwrap_err(),
            "expected a number, got true"
        );
    }

    #[test]
    fn floats_and_bools() {
        assert_eq!(parse::<f64>(json!(1.5)).unwrap(), 1.5);
        assert_eq!(parse::<f64>(json!("2.25")).unwrap(), 2.25);
        assert_eq!(parse::<f32>(json!(3)).unwrap(), 3.0);
        assert!(parse::<f64>(json!("NaN")).is_err());
        assert!(parse::<f32>(json!(1e300)).is_err());
        assert!(parse::<bool>(json!(true)).unwrap());
        assert!(!parse::<bool>(json!("False")).unwrap());
        assert_eq!(
            parse::<bool>(json!("yes")).unwrap_err(),
            r#"expected a boolean, got "yes""#
        );
    }

    #[test]
    fn containers_and_json_text() {
        assert_eq!(parse::<Vec<u32>>(json!([1, "2"])).unwrap(), vec![1, 2]);
        assert_eq!(parse::<Vec<u32>>(json!("[1, 2]")).unwrap(), vec![1, 2]);
        assert_eq!(
            parse::<Vec<u32>>(json!([1, "x"])).unwrap_err(),
            r#"[1]: expected a number, got "x""#
        );
        assert_eq!(
            parse::<Vec<u32>>(json!("nope")).unwrap_err(),
            r#"expected an array (or a string of JSON text), got "nope""#
        );
        let map = parse::<BTreeMap<String, bool>>(json!({"a": true, "b": "false"})).unwrap();
        assert_eq!(
            map,
            BTreeMap::from([("a".into(), true), ("b".into(), false)])
        );
        assert_eq!(
            parse::<HashMap<String, u8>>(json!({"a": 256})).unwrap_err(),
            r#""a": expected an integer between 0 and 255, got 256"#
        );
        assert_eq!(
            parse::<Value>(json!({"x": [1]})).unwrap(),
            json!({"x": [1]})
        );

        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Filter {
            field: String,
        }
        assert_eq!(
            parse::<Json<Filter>>(json!({"field": "email"})).unwrap().0,
            Filter {
                field: "email".into()
            }
        );
        assert_eq!(
            parse::<Json<Filter>>(json!(r#"{"field": "ssn"}"#))
                .unwrap()
                .0
                .field,
            "ssn"
        );
        assert!(
            parse::<Json<Filter>>(json!({"other": 1}))
                .unwrap_err()
                .contains("missing field `field`")
        );
    }

    #[test]
    fn long_strings_are_shortened_in_messages() {
        let long = "x".repeat(500);
        let message = parse::<u32>(json!(long)).unwrap_err();
        assert!(message.len() < 100, "{message}");
        assert!(
            message.ends_with("...\"...") || message.ends_with("\"..."),
            "{message}"
        );
    }

    #[test]
    fn read_field_rules() {
        let params = json!({"a": "x", "n": null, "s": "b", "num": 2})
            .as_object()
            .unwrap()
            .clone();
        let mut errors = ParamsError::new();
        assert_eq!(
            read_field::<String>(&params, "a", None, &[], &mut errors).as_deref(),
            Some("x")
        );
        // null is absent
        assert_eq!(
            read_field::<u32>(&params, "n", Some("7"), &[], &mut errors),
            Some(7)
        );
        assert_eq!(
            read_field::<Option<u32>>(&params, "n", None, &[], &mut errors),
            Some(None)
        );
        assert_eq!(
            read_field::<Option<String>>(&params, "zz", Some("\"d\""), &[], &mut errors),
            Some(Some("d".into()))
        );
        // options
        assert_eq!(
            read_field::<String>(&params, "s", None, &["a", "b"], &mut errors).as_deref(),
            Some("b")
        );
        assert_eq!(
            read_field::<u32>(&params, "num", None, &["1", "2"], &mut errors),
            Some(2)
        );
        assert!(errors.is_empty(), "{errors}");

        assert_eq!(
            read_field::<String>(&params, "n", None, &[], &mut errors),
            None
        );
        assert_eq!(
            read_field::<String>(&params, "a", None, &["y", "z"], &mut errors),
            None
        );
        assert_eq!(
            read_field::<u32>(&params, "gone", Some("\"x\""), &[], &mut errors),
            None
        );
        assert_eq!(errors.missing(), ["n"]);
        assert_eq!(
            errors.message(),
            r#"the following inputs are missing [n]; a: expected one of [y, z], got "x"; gone: the declared default "x" does not fit: expected a number, got "x""#
        );
    }

    #[test]
    fn params_object() {
        assert!(parse_object("").unwrap().is_empty());
        assert_eq!(parse_object(r#"{"a":1}"#).unwrap()["a"], json!(1));
        assert_eq!(
            parse_object("[1]").unwrap_err().message(),
            "params: expected a JSON object, got an array"
        );
        assert!(
            parse_object("{")
                .unwrap_err()
                .message()
                .starts_with("params: not valid JSON")
        );
    }

    #[test]
    fn kinds_round_trip_names() {
        for kind in ParamKind::ALL {
            assert_eq!(ParamKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(ParamKind::from_name("nope"), None);
        assert_eq!(<Option<Vec<u8>> as ParamValue>::KIND, ParamKind::Json);
        const { assert!(<Option<u8> as ParamValue>::OPTIONAL) };
        const { assert!(!<u8 as ParamValue>::OPTIONAL) };
    }
}
