use runbox_host_api::{ParamKind, ParamSpec};
use serde_json::{Value, json};

use super::*;
use crate::catalog::Catalog;

fn spec(name: &str, required: bool, default: Option<&str>) -> ParamSpec {
    ParamSpec {
        name: name.to_owned(),
        kind: ParamKind::Text,
        required,
        description: None,
        default: default.map(str::to_owned),
        placeholder: None,
        options: Vec::new(),
        order: 0,
    }
}

fn mapping(pairs: &[(&str, &str)]) -> ParameterMapping {
    pairs.iter().copied().collect()
}

fn compiled(pairs: &[(&str, &str)]) -> CompiledMapping {
    match CompiledMapping::compile(&mapping(pairs)) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

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
fn values_are_typed() {
    let c = compiled(&[
        ("user", "$.user"),
        ("count", "$.total_detections"),
        ("types", "$.types_detected"),
        ("first", "$.types_detected[0]"),
    ]);
    let out = render(&c, &sample("alert.sensitive_data_detected"), &[]);
    assert_eq!(
        out.ok().map(Value::Object),
        Some(json!({
            "user": "alex.morgan@acme.com",
            "count": 12,
            "types": ["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"],
            "first": "EMAIL_ADDRESS",
        }))
    );
}

#[test]
fn several_nodes_become_an_array() {
    let c = compiled(&[
        ("who", "$['user','connection']"),
        ("t", "$.types_detected[1:]"),
    ]);
    let out = render(&c, &sample("alert.sensitive_data_detected"), &[]);
    assert_eq!(
        out.ok().map(Value::Object),
        Some(json!({
            "who": ["alex.morgan@acme.com", "conn-prod-pg"],
            "t": ["PERSON", "PHONE_NUMBER"],
        }))
    );
}

#[test]
fn missing_node_uses_default_or_fails() {
    let payload = sample("session.guardrail_violation");
    let mut p = payload.clone();
    if let Some(o) = p.as_object_mut() {
        o.remove("query_excerpt");
    }
    let c = compiled(&[
        ("excerpt", "$.query_excerpt"),
        ("limit", "$.nope"),
        ("x", "$.nothing"),
    ]);
    let params = [
        spec("excerpt", false, None),
        spec("limit", true, Some("10")),
        spec("x", true, None),
    ];
    let err = render(&c, &p, &params).err();
    let Some(err) = err else { panic!("rendered") };
    assert_eq!(err.code(), "param_missing");
    assert_eq!(err.errors.len(), 1);
    assert_eq!(err.errors[0].param, "x");
    assert_eq!(err.to_string(), "the following inputs are missing [x]");
    assert!(err.errors[0].message.contains("$.nothing selected nothing"));

    // Without the failing one: the default is typed JSON, the optional one is left out.
    let c = compiled(&[("excerpt", "$.query_excerpt"), ("limit", "$.nope")]);
    let out = render(&c, &p, &params[..2]);
    assert_eq!(out.ok().map(Value::Object), Some(json!({"limit": 10})));
    // And present, the optional one is rendered.
    let out = render(&c, &payload, &params[..2]);
    assert_eq!(
        out.ok().map(Value::Object),
        Some(json!({"limit": 10, "excerpt": "TRUNCATE TABLE customers"}))
    );
}

#[test]
fn undeclared_param_with_no_node_is_missing() {
    let c = compiled(&[("a", "$.nope")]);
    let err = render(&c, &sample("session.started"), &[]).err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("the following inputs are missing [a]")
    );
}

#[test]
fn all_errors_are_collected() {
    let c = compiled(&[("a", "$.nope"), ("b", "$.nada"), ("c", "$.none")]);
    let params = [
        spec("a", true, None),
        spec("b", true, None),
        spec("c", true, Some("not json")),
        spec("d", true, None),
        spec("e", false, Some("\"eu\"")),
        spec("f", false, None),
    ];
    let err = render(&c, &sample("session.started"), &params).err();
    let Some(err) = err else { panic!("rendered") };
    let got: Vec<_> = err
        .errors
        .iter()
        .map(|e| (e.param.as_str(), e.code.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("a", "param_missing"),
            ("b", "param_missing"),
            ("c", "param_render"),
            ("d", "param_missing")
        ]
    );
    let text = err.to_string();
    assert!(
        text.starts_with("the following inputs are missing [a, b, d]; parameter `c`: "),
        "{text}"
    );
    let only_render = RenderErrors {
        errors: vec![err.errors[2].clone()],
    };
    assert_eq!(only_render.code(), "param_render");
}

#[test]
fn unmapped_params_get_defaults() {
    let c = compiled(&[("user", "$.user")]);
    let params = [
        spec("user", true, None),
        spec("region", false, Some("\"eu-west-1\"")),
        spec("n", false, Some("[1,2]")),
    ];
    let out = render(&c, &sample("session.started"), &params);
    assert_eq!(
        out.ok().map(Value::Object),
        Some(json!({"user": "alex.morgan@acme.com", "region": "eu-west-1", "n": [1, 2]}))
    );
}

#[test]
fn payload_is_never_a_template() {
    let c = compiled(&[("a", "$.verb"), ("b", "$.x")]);
    let payload = json!({"verb": "{{ .user }}", "x": "$.user", "user": "u@a.io"});
    let out = render(&c, &payload, &[]);
    assert_eq!(
        out.ok().map(Value::Object),
        Some(json!({"a": "{{ .user }}", "b": "$.user"}))
    );
}

#[test]
fn validate_mapping_checks_paths_and_roots() {
    let ok = validate_mapping(
        "alert.sensitive_data_detected",
        &mapping(&[
            ("agent_user", "$.user"),
            ("c", "$['connection']"),
            ("t", "$.types_detected[0]"),
            ("all", "$"),
        ]),
        catalog(),
    );
    let Ok(ok) = ok else { panic!("{ok:?}") };
    assert_eq!(ok.len(), 4);
    assert_eq!(ok.unchecked(), ["all"]);

    let bad = validate_mapping(
        "session.started",
        &mapping(&[("a", "$.user"), ("b", "$.[")]),
        catalog(),
    )
    .err();
    let Some(bad) = bad else { panic!("accepted") };
    assert_eq!(bad.code(), "invalid_mapping");
    assert_eq!(bad.param(), Some("b"));
    let msg = bad.to_string();
    assert!(
        msg.starts_with("parameter `b`: invalid JSONPath \"$.[\": "),
        "{msg}"
    );

    let bad = validate_mapping("session.started", &mapping(&[("a", "$.usr")]), catalog()).err();
    let msg = bad.as_ref().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        msg,
        "parameter `a`: field `usr` (from \"$.usr\") is not in the schema of session.started \
         (fields: session_id, user, connection, occurred_at, verb)"
    );
    assert_eq!(bad.map(|e| e.code()), Some("invalid_mapping"));

    let bad = validate_mapping(
        "session.started",
        &mapping(&[("a", "$['user','nope']")]),
        catalog(),
    )
    .err();
    assert!(matches!(bad, Some(RoutingError::UnknownField { field, .. }) if field == "nope"));

    let bad = validate_mapping("x.y", &mapping(&[]), catalog()).err();
    assert_eq!(bad.map(|e| e.code()), Some("unknown_event_type"));

    // No name-selector root: accepted unchecked.
    for path in ["$..x", "$[*]", "$.*", "$[?@ == 'exec']"] {
        let r = validate_mapping("session.started", &mapping(&[("a", path)]), catalog());
        assert_eq!(r.map(|c| c.unchecked() == ["a"]).ok(), Some(true), "{path}");
    }
}

#[test]
fn compiled_mapping_round_trips_as_source_text() {
    let c = compiled(&[("b", "$[\"user\"]"), ("a", "$.tags[0]")]);
    let text = serde_json::to_string(&c).unwrap_or_default();
    assert_eq!(text, r#"{"a":"$.tags[0]","b":"$[\"user\"]"}"#);
    let back: Result<CompiledMapping, _> = serde_json::from_str(&text);
    assert_eq!(back.ok(), Some(c));
    let bad: Result<CompiledMapping, _> = serde_json::from_str(r#"{"a":"nope"}"#);
    assert!(bad.is_err_and(|e| e.to_string().contains("parameter `a`")));
}

#[test]
fn prematch_same_names() {
    let entry = catalog().get("alert.sensitive_data_detected");
    let Some(entry) = entry else { panic!("entry") };
    let params = [
        spec("user", true, None),
        spec("agent_user", true, None),
        spec("types_detected", false, None),
    ];
    let m = prematch(&params, &entry.schema);
    assert_eq!(
        m,
        mapping(&[("user", "$.user"), ("types_detected", "$.types_detected")])
    );

    let explicit = mapping(&[("user", "$.connection"), ("agent_user", "$.user")]);
    let merged = explicit.with_prematched(&params, &entry.schema);
    assert_eq!(
        merged,
        mapping(&[
            ("user", "$.connection"),
            ("agent_user", "$.user"),
            ("types_detected", "$.types_detected")
        ])
    );
    assert!(validate_mapping(&entry.name, &merged, catalog()).is_ok());
}

#[test]
fn check_required_uses_hoops_text() {
    let mut b = spec("b", true, None);
    b.order = 2;
    let mut a = spec("a", true, None);
    a.order = 1;
    let params = [
        b,
        a,
        spec("c", true, Some("1")),
        spec("d", false, None),
        spec("e", true, None),
    ];
    let err = check_required(&mapping(&[("e", "$.user")]), &params).err();
    assert_eq!(err.as_ref().map(|e| e.code()), Some("param_missing"));
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("the following inputs are missing [a, b]")
    );
    assert!(
        check_required(
            &mapping(&[("a", "$.x"), ("b", "$.y"), ("e", "$.z")]),
            &params
        )
        .is_ok()
    );
}

#[test]
fn preview_with_the_sample() {
    let m = mapping(&[
        ("agent_user", "$.user"),
        ("connection_name", "$.connection"),
        ("bad", "$.["),
        ("typo", "$.usr"),
    ]);
    let r = preview("alert.sensitive_data_detected", &m, None, catalog(), None);
    let Ok(r) = r else { panic!("{r:?}") };
    assert_eq!(
        Value::Object(r.params.clone()),
        json!({"agent_user": "alex.morgan@acme.com", "connection_name": "conn-prod-pg"})
    );
    let got: Vec<_> = r
        .errors
        .iter()
        .map(|e| (e.param.as_str(), e.code.as_str()))
        .collect();
    assert_eq!(
        got,
        [("bad", "invalid_mapping"), ("typo", "invalid_mapping")]
    );
    let wire = serde_json::to_value(&r).unwrap_or_default();
    assert_eq!(wire["errors"][1]["code"], "invalid_mapping");
    assert_eq!(wire["params"]["agent_user"], "alex.morgan@acme.com");
}

#[test]
fn preview_with_payload_and_params() {
    let m = mapping(&[("user", "$.user")]);
    let payload = json!({"session_id": "s", "user": "z@z.io", "connection": "c", "verb": "connect", "occurred_at": "2026-01-01T00:00:00Z"});
    let params = [
        spec("user", true, None),
        spec("reason", true, None),
        spec("region", false, Some("\"eu\"")),
    ];
    let r = preview(
        "session.started",
        &m,
        Some(payload),
        catalog(),
        Some(&params),
    );
    let Ok(r) = r else { panic!("{r:?}") };
    assert_eq!(
        Value::Object(r.params),
        json!({"user": "z@z.io", "region": "eu"})
    );
    assert_eq!(r.errors.len(), 1);
    assert_eq!(
        (r.errors[0].param.as_str(), r.errors[0].code),
        ("reason", ParamErrorCode::Missing)
    );

    // A given payload that breaks the schema is refused, naming the field.
    let r = preview(
        "session.started",
        &m,
        Some(json!({"user": "z@z.io"})),
        catalog(),
        None,
    );
    assert_eq!(
        r.err().map(|e| e.to_string()).as_deref(),
        Some("missing required field `session_id`")
    );
    let r = preview("nope", &m, None, catalog(), None);
    assert_eq!(r.err().map(|e| e.code()), Some("unknown_event_type"));
}
