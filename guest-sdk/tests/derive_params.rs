//! `#[derive(Params)]` end to end on the host: specs and parsing.

use std::collections::BTreeMap;

use runbox_sdk::{Json, ParamKind, ParamSpec, Params, RunbookError};
use serde_json::{Map, Value, json};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[derive(Debug, PartialEq, Params)]
struct Revoke {
    /// The AI agent's user.
    #[param(kind = "email")]
    agent_user: String,
    connection_name: String,
    /// Minutes.
    #[param(default = 15)]
    ttl_minutes: u32,
    note: Option<String>,
}

#[test]
fn specs_describe_every_field() {
    let specs = Revoke::specs();
    let expected = vec![
        ParamSpec {
            name: "agent_user".into(),
            kind: ParamKind::Email,
            required: true,
            description: Some("The AI agent's user.".into()),
            default: None,
            placeholder: None,
            options: vec![],
            order: 0,
        },
        ParamSpec {
            name: "connection_name".into(),
            kind: ParamKind::Text,
            required: true,
            description: None,
            default: None,
            placeholder: None,
            options: vec![],
            order: 1,
        },
        ParamSpec {
            name: "ttl_minutes".into(),
            kind: ParamKind::Number,
            required: false,
            description: Some("Minutes.".into()),
            default: Some("15".into()),
            placeholder: None,
            options: vec![],
            order: 2,
        },
        ParamSpec {
            name: "note".into(),
            kind: ParamKind::Text,
            required: false,
            description: None,
            default: None,
            placeholder: None,
            options: vec![],
            order: 3,
        },
    ];
    assert_eq!(specs, expected);
}

#[test]
fn parses_with_defaults_and_options() {
    let parsed = Revoke::from_params(&object(json!({
        "agent_user": "bot@example.com",
        "connection_name": "pg",
        "unknown": "ignored",
    })))
    .unwrap();
    assert_eq!(
        parsed,
        Revoke {
            agent_user: "bot@example.com".into(),
            connection_name: "pg".into(),
            ttl_minutes: 15,
            note: None,
        }
    );
    let parsed = Revoke::from_params(&object(json!({
        "agent_user": "bot@example.com",
        "connection_name": "pg",
        "ttl_minutes": "30",
        "note": "pii",
    })))
    .unwrap();
    assert_eq!(parsed.ttl_minutes, 30);
    assert_eq!(parsed.note.as_deref(), Some("pii"));
}

#[test]
fn null_counts_as_absent() {
    let parsed = Revoke::from_params(&object(json!({
        "agent_user": "a@b",
        "connection_name": "pg",
        "ttl_minutes": null,
        "note": null,
    })))
    .unwrap();
    assert_eq!(parsed.ttl_minutes, 15);
    assert_eq!(parsed.note, None);
    let error = Revoke::from_params(&object(
        json!({"agent_user": null, "connection_name": "pg"}),
    ))
    .unwrap_err();
    assert_eq!(error.missing(), ["agent_user"]);
}

#[test]
fn collects_every_problem() {
    let error = Revoke::from_params(&object(json!({
        "connection_name": ["not", "a", "string"],
        "ttl_minutes": "abc",
    })))
    .unwrap_err();
    assert_eq!(error.missing(), ["agent_user"]);
    assert_eq!(error.invalid().len(), 2);
    assert_eq!(
        error.to_string(),
        r#"the following inputs are missing [agent_user]; connection_name: expected a string, got an array; ttl_minutes: expected a number, got "abc""#
    );
    match RunbookError::from(error) {
        RunbookError::InvalidParams { missing, message } => {
            assert_eq!(missing, ["agent_user"]);
            assert!(message.starts_with("the following inputs are missing [agent_user]"));
        }
        other => panic!("{other:?}"),
    }

    let error = Revoke::from_params(&Map::new()).unwrap_err();
    assert_eq!(error.missing(), ["agent_user", "connection_name"]);
    assert_eq!(
        error.to_string(),
        "the following inputs are missing [agent_user, connection_name]"
    );
}

#[test]
fn strings_accept_scalars() {
    let parsed = Revoke::from_params(&object(json!({
        "agent_user": "a@b",
        "connection_name": 42,
        "note": true,
    })))
    .unwrap();
    assert_eq!(parsed.connection_name, "42");
    assert_eq!(parsed.note.as_deref(), Some("true"));
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Filter {
    field: String,
    #[serde(default)]
    redact: bool,
}

#[derive(Debug, Params)]
#[allow(dead_code)]
struct Everything {
    #[param(
        options = ["eu-west-1", "us-east-1"],
        default = "eu-west-1",
        placeholder = "region",
        description = "Where."
    )]
    region: String,
    #[param(rename = "dry-run", default = false, order = 10)]
    dry_run: bool,
    #[param(default = -1.5)]
    offset: f64,
    #[param(default_json = "[1, 2]")]
    ids: Vec<u64>,
    #[param(json)]
    filter: Filter,
    #[param(json)]
    extra: Option<Filter>,
    wrapped: Option<Json<Filter>>,
    labels: BTreeMap<String, String>,
    raw: Value,
    #[param(kind = "password")]
    r#type: Option<String>,
    small: Option<i8>,
    ratio: Option<f32>,
}

#[test]
fn kinds_defaults_and_order() {
    let specs = Everything::specs();
    let summary: Vec<_> = specs
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.kind,
                s.required,
                s.default.as_deref(),
                s.order,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "region",
                ParamKind::Select,
                false,
                Some(r#""eu-west-1""#),
                0
            ),
            ("dry-run", ParamKind::Boolean, false, Some("false"), 10),
            ("offset", ParamKind::Number, false, Some("-1.5"), 2),
            ("ids", ParamKind::Json, false, Some("[1, 2]"), 3),
            ("filter", ParamKind::Json, true, None, 4),
            ("extra", ParamKind::Json, false, None, 5),
            ("wrapped", ParamKind::Json, false, None, 6),
            ("labels", ParamKind::Json, true, None, 7),
            ("raw", ParamKind::Json, true, None, 8),
            ("type", ParamKind::Password, false, None, 9),
            ("small", ParamKind::Number, false, None, 10),
            ("ratio", ParamKind::Number, false, None, 11),
        ]
    );
    assert_eq!(specs[0].options, ["eu-west-1", "us-east-1"]);
    assert_eq!(specs[0].placeholder.as_deref(), Some("region"));
    assert_eq!(specs[0].description.as_deref(), Some("Where."));
}

#[test]
fn parses_every_type() {
    let parsed = Everything::from_params(&object(json!({
        "region": "us-east-1",
        "dry-run": "TRUE",
        "filter": {"field": "email"},
        "extra": r#"{"field": "ssn", "redact": true}"#,
        "wrapped": {"field": "x"},
        "labels": {"team": "sec"},
        "raw": [1, {"a": null}],
        "type": "secret",
        "small": "-5",
        "ratio": 0.5,
    })))
    .unwrap();
    assert_eq!(parsed.region, "us-east-1");
    assert!(parsed.dry_run);
    assert_eq!(parsed.offset, -1.5);
    assert_eq!(parsed.ids, [1, 2]);
    assert_eq!(
        parsed.filter,
        Filter {
            field: "email".into(),
            redact: false
        }
    );
    assert_eq!(
        parsed.extra,
        Some(Filter {
            field: "ssn".into(),
            redact: true
        })
    );
    assert_eq!(parsed.wrapped.unwrap().0.field, "x");
    assert_eq!(parsed.labels["team"], "sec");
    assert_eq!(parsed.raw, json!([1, {"a": null}]));
    assert_eq!(parsed.r#type.as_deref(), Some("secret"));
    assert_eq!(parsed.small, Some(-5));
    assert_eq!(parsed.ratio, Some(0.5));
}

#[test]
fn reports_every_type_problem() {
    let error = Everything::from_params(&object(json!({
        "region": "mars-1",
        "dry-run": "maybe",
        "ids": [1, -2],
        "filter": {"nope": 1},
        "labels": "not json",
        "small": 1000,
    })))
    .unwrap_err();
    assert_eq!(error.missing(), ["raw"]);
    let names: Vec<_> = error.invalid().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["region", "dry-run", "ids", "filter", "labels", "small"]
    );
    let message = error.to_string();
    assert!(
        message.starts_with("the following inputs are missing [raw]; "),
        "{message}"
    );
    assert!(
        message.contains(r#"region: expected one of [eu-west-1, us-east-1], got "mars-1""#),
        "{message}"
    );
    assert!(
        message.contains(r#"dry-run: expected a boolean, got "maybe""#),
        "{message}"
    );
    assert!(
        message
            .contains("ids: [1]: expected an integer between 0 and 18446744073709551615, got -2"),
        "{message}"
    );
    assert!(
        message.contains("filter: invalid value: missing field `field`"),
        "{message}"
    );
    assert!(
        message.contains("small: expected an integer between -128 and 127, got 1000"),
        "{message}"
    );
}

#[derive(Debug, Params)]
struct NoParams;

#[derive(Debug, Params)]
struct AlsoNoParams {}

#[test]
fn empty_param_sets() {
    assert!(NoParams::specs().is_empty());
    assert!(NoParams::from_params(&object(json!({"x": 1}))).is_ok());
    assert!(AlsoNoParams::specs().is_empty());
    assert!(AlsoNoParams::from_params(&Map::new()).is_ok());
}

#[derive(Debug, Params)]
#[allow(dead_code)]
struct BadDefault {
    #[param(default = "abc")]
    count: u32,
}

#[test]
fn a_default_that_does_not_fit_is_reported() {
    let error = BadDefault::from_params(&Map::new()).unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"count: the declared default "abc" does not fit: expected a number, got "abc""#
    );
}
