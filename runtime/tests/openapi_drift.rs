//! The OpenAPI document (`GET /openapi.json`) against the code and the router.
//!
//! - `runtime/openapi.json` is the document the code generates: a change to a handler's
//!   route, parameters, body or status codes fails here until the file is refreshed with
//!   `RUNBOX_UPDATE_OPENAPI=1 cargo test -p runbox --test openapi_drift`.
//! - Every operation of the document is served by the router (a real server on
//!   `127.0.0.1:0`, each documented method and path requested without a token) and the
//!   document lists exactly the routes below and exactly the `.route(..)` calls of
//!   `src/api/`, so a route added without its `#[utoipa::path]` (or a path typo) fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api_common/mod.rs"]
mod api_common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use api_common::{request, serve};
use runbox::Runtime;
use runbox::api::ApiState;
use runbox::api::openapi::{BEARER_SCHEME, document, document_json};
use serde_json::Value;

const REFRESH: &str = "RUNBOX_UPDATE_OPENAPI=1 cargo test -p runbox --test openapi_drift";

/// Every route the router serves: `METHOD path` as the document spells it.
const SERVED: &[&str] = &[
    "GET /event-routing/catalog",
    "GET /event-routing/catalog/{event_type}",
    "GET /event-routing/subscriptions",
    "POST /event-routing/subscriptions",
    "GET /event-routing/subscriptions/{id}",
    "PUT /event-routing/subscriptions/{id}",
    "DELETE /event-routing/subscriptions/{id}",
    "POST /event-routing/subscriptions/{id}/pause",
    "POST /event-routing/subscriptions/{id}/resume",
    "GET /event-routing/subscriptions/{id}/dispatches",
    "GET /event-routing/dispatches/{id}",
    "POST /event-routing/dispatches/{id}/replay",
    "POST /event-routing/mapping/preview",
    "POST /events",
    "GET /connections",
    "POST /connections",
    "GET /connections/{id_or_name}",
    "PUT /connections/{id_or_name}",
    "DELETE /connections/{id_or_name}",
    "GET /agents/{id}/status",
    "PUT /agents/{id}/status",
    "GET /orgs/{org}/feature-flags",
    "PUT /orgs/{org}/feature-flags",
    "GET /tokens",
    "POST /tokens",
    "DELETE /tokens/{id}",
    "GET /audit",
    "POST /sessions/{sid}/open",
    "POST /sessions/{sid}/close",
    "GET /hooks/runs",
    "GET /hooks/settings",
    "PUT /hooks/settings",
    "GET /runbooks",
    "POST /runbooks/exec",
    "GET /runbooks/configurations",
    "POST /runbooks/configurations",
    "GET /runbooks/configurations/{id}",
    "PUT /runbooks/configurations/{id}",
    "DELETE /runbooks/configurations/{id}",
    "POST /runbooks/configurations/{id}/refresh",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /openapi.json",
];

/// Routes answered without a token.
const OPEN: &[&str] = &["/healthz", "/readyz", "/metrics", "/openapi.json"];

/// `METHOD path` of every `.route("path", get(..).post(..)...)` call in `src/api/`: what
/// the router is built from, read from the source because axum cannot list its routes.
/// A file's unit tests (from its `#[cfg(test)]` on) build routers of their own and are
/// not read.
fn routes_in_source() -> BTreeSet<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut files = vec![dir];
    let mut out = BTreeSet::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let whole = std::fs::read_to_string(&path).unwrap();
        let text = whole.split("#[cfg(test)]").next().unwrap_or_default();
        for (start, _) in text.match_indices(".route(") {
            // The call's arguments: up to the parenthesis that closes `.route(`.
            let args = &text[start + ".route(".len()..];
            let mut depth = 1;
            let end = args
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap_or_else(|| panic!("unclosed .route( in {}", path.display()));
            let args = &args[..end];
            let route = args.split('"').nth(1).expect("a path literal");
            let methods = &args[args.rfind('"').unwrap()..];
            let mut found = 0;
            for method in ["get", "post", "put", "delete", "patch"] {
                let calls = methods
                    .match_indices(&format!("{method}("))
                    .filter(|(i, _)| {
                        // A method router call, not the tail of a longer name.
                        *i == 0
                            || !methods.as_bytes()[i - 1].is_ascii_alphanumeric()
                                && methods.as_bytes()[i - 1] != b'_'
                    })
                    .count();
                for _ in 0..calls {
                    assert!(
                        out.insert(format!("{} {route}", method.to_uppercase())),
                        "{method} {route} routed twice"
                    );
                    found += 1;
                }
            }
            assert!(
                found > 0,
                "no method router in .route({args}) of {}",
                path.display()
            );
        }
    }
    out
}

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

/// The document's operations: (`METHOD path`, operation object).
fn operations(doc: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            if matches!(
                method.as_str(),
                "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace"
            ) {
                out.push((format!("{} {path}", method.to_uppercase()), op.clone()));
            }
        }
    }
    out
}

#[test]
fn checked_in_document_matches_the_code() {
    let generated = document_json();
    let path = checked_in_path();
    if std::env::var_os("RUNBOX_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} cannot be read ({e}); generate it with `{REFRESH}`",
            path.display()
        )
    });
    if checked_in != generated {
        let first = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(generated.lines().count()));
        let line = |text: &str| {
            text.lines()
                .nth(first)
                .unwrap_or("<end of file>")
                .to_owned()
        };
        panic!(
            "{} is not the document the code generates (first difference at line {}: \
             checked in {:?}, generated {:?}).\nThe admin API changed: review the change and \
             refresh the file with\n    {REFRESH}\nthen commit it.",
            path.display(),
            first + 1,
            line(&checked_in),
            line(&generated),
        );
    }
}

#[test]
fn document_has_the_bearer_scheme_and_the_error_body() {
    let doc = serde_json::to_value(document()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let scheme = &doc["components"]["securitySchemes"][BEARER_SCHEME];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&"http".into(), &"bearer".into())
    );
    let error = &doc["components"]["schemas"]["ErrorBody"];
    let required: BTreeSet<&str> = error["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, BTreeSet::from(["code", "message"]), "{error}");

    let mut operation_ids = BTreeSet::new();
    for (name, op) in operations(&doc) {
        assert!(
            operation_ids.insert(op["operationId"].as_str().unwrap().to_owned()),
            "{name}: operationId used twice"
        );
        let path = name.split_once(' ').unwrap().1;
        let secured = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get(BEARER_SCHEME).is_some()));
        assert_eq!(secured, !OPEN.contains(&path), "{name}: security {op}");
        let responses = op["responses"].as_object().unwrap();
        if secured {
            assert!(responses.contains_key("401"), "{name} documents no 401");
        }
        // Every error status answers the one error body.
        for (status, response) in responses {
            if status.starts_with('4') {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ErrorBody",
                    "{name} {status}: {response}"
                );
            }
        }
        // Each `{param}` of the path is documented.
        for param in path.split('/').filter_map(|s| s.strip_prefix('{')) {
            let param = param.trim_end_matches('}');
            assert!(
                op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == param && p["in"] == "path")),
                "{name}: path parameter {param} not documented"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served_and_every_served_route_documented() {
    let doc = serde_json::to_value(document()).unwrap();
    let ops = operations(&doc);
    let documented: BTreeSet<&str> = ops.iter().map(|(name, _)| name.as_str()).collect();
    let served: BTreeSet<&str> = SERVED.iter().copied().collect();
    assert_eq!(served.len(), SERVED.len(), "SERVED lists a route twice");
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "served but not in the document: {missing:?}; documented but not in SERVED: {extra:?}"
    );
    assert_eq!(ops.len(), 44);
    let in_source = routes_in_source();
    let in_source: BTreeSet<&str> = in_source.iter().map(String::as_str).collect();
    let unlisted: Vec<_> = in_source.difference(&served).collect();
    let gone: Vec<_> = served.difference(&in_source).collect();
    assert!(
        unlisted.is_empty() && gone.is_empty(),
        "routed in src/api/ but not in SERVED (give the handler a #[utoipa::path], add it to \
         ApiDoc and to SERVED): {unlisted:?}; in SERVED but routed nowhere: {gone:?}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let rt = Runtime::builder()
        .data_dir(tmp.path().join("data"))
        .workers(0)
        .build()
        .await
        .unwrap();
    let server = serve(ApiState::new(Arc::new(rt))).await;

    // The detector works: an unknown route is the router's fallback.
    let unknown = request(server.addr, "GET", "/no-such-route", &[], None).await;
    assert_eq!(
        (unknown.status, unknown.body["message"].as_str()),
        (404, Some("route not found"))
    );

    for (name, _) in &ops {
        let (method, path) = name.split_once(' ').unwrap();
        // Any value for a path parameter: the route must match before the handler runs.
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let a = request(server.addr, method, &concrete, &[], None).await;
        assert_ne!(a.status, 405, "{name}: method not served: {a:?}");
        assert!(
            !(a.status == 404 && a.body["message"] == "route not found"),
            "{name}: not a route of the router: {a:?}"
        );
        if OPEN.contains(&path) {
            assert!(a.status == 200 || a.status == 503, "{name}: {a:?}");
        } else {
            // Routed to a handler whose auth extractor refused the missing token.
            assert_eq!(a.status, 401, "{name}: {a:?}");
            assert_eq!(a.body["code"], "unauthenticated", "{name}: {a:?}");
        }
    }

    // The route answers the document itself, as JSON.
    let served_doc = request(server.addr, "GET", "/openapi.json", &[], None).await;
    assert_eq!(served_doc.status, 200);
    assert!(
        served_doc.head.contains("content-type: application/json"),
        "{}",
        served_doc.head
    );
    assert_eq!(served_doc.raw, document_json());
    server.shutdown().await;
}
