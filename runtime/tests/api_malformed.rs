//! A malformed-input table over real HTTP on loopback: malformed JSON, wrong types,
//! unknown fields, missing fields, wrong content types, oversized bodies, bad ids, bad
//! query values and bad headers, on every route that takes input. Each must be a 4xx with
//! the JSON error shape (`code` and a `message` naming the problem), never a 5xx.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api_common/mod.rs"]
mod api_common;
#[path = "routing_common/mod.rs"]
mod routing_common;

use std::sync::Arc;
use std::time::Duration;

use api_common::{Client, assert_error, request, serve};
use routing_common::*;
use runbox::Role;
use runbox::api::ApiState;
use serde_json::json;

/// One row: method, path, content type, body, expected status, text the message must hold.
type Case = (
    &'static str,
    String,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
);

const JSON: Option<&str> = Some("application/json");

fn body(v: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_is_a_4xx_json_error_naming_the_problem() {
    let world = World::new();
    let rt = Arc::new(world.ready(0).await);
    let token = rt.create_token(ORG, Role::Admin, "", "test").await.unwrap();
    let spec = serde_json::to_value(world.subscription("revoke", REVOKE)).unwrap();
    let sub = rt
        .create_subscription(ORG, world.subscription("revoke", REVOKE), "test")
        .await
        .unwrap();
    let server = serve(ApiState::new(rt.clone())).await;
    let c = server.client(Some(&token.secret_text));
    let subs = "/event-routing/subscriptions".to_string();
    let sub_path = format!("{subs}/{}", sub.id);
    let flags = format!("/orgs/{ORG}/feature-flags");
    let agent = format!("/agents/{AGENT_ID}/status");
    let event = |extra: serde_json::Value| {
        let mut b = json!({"event_type": EVENT, "payload": sample_payload()});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        body(b)
    };
    let mut extra_sub = spec.clone();
    extra_sub["colour"] = json!("red");

    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        // ---- malformed JSON ----
        ("POST", "/events".into(), JSON, b"{\"event_type\":".to_vec(), 400, "EOF"),
        ("POST", "/connections".into(), JSON, b"{not json".to_vec(), 400, "key must be a string"),
        ("POST", subs.clone(), JSON, b"[1,2".to_vec(), 400, ""),
        ("PUT", agent.clone(), JSON, b"online".to_vec(), 400, ""),
        ("PUT", flags.clone(), JSON, b"{\"experimental.event_routing\": tru}".to_vec(), 400, ""),
        ("POST", "/events".into(), JSON, Vec::new(), 400, "EOF"),
        ("POST", "/events".into(), JSON, vec![0xff, 0xfe, b'{'], 400, ""),
        // ---- wrong types ----
        ("POST", "/events".into(), JSON, body(json!({"event_type": 5, "payload": {}})), 400, "event_type"),
        ("POST", "/events".into(), JSON, body(json!([EVENT])), 400, "invalid length"),
        ("POST", "/events".into(), JSON, event(json!({"producer_event_id": 7})), 400, "producer_event_id"),
        ("POST", "/connections".into(), JSON, body(json!({"name": 5, "type": "custom"})), 400, "name"),
        ("POST", "/connections".into(), JSON, body(json!({"name": "x", "type": "printer"})), 400, "printer"),
        ("POST", "/connections".into(), JSON, body(json!({"name": "x", "type": "custom", "tags": "prod"})), 400, "tags"),
        ("POST", "/connections".into(), JSON, body(json!({"name": "x", "type": "custom", "access_mode_exec": true})), 400, "access_mode_exec"),
        ("POST", "/connections".into(), JSON, body(json!({"name": "x", "type": "custom", "secret": ["envvar:A"]})), 400, "secret"),
        ("POST", "/connections".into(), JSON, body(json!({"name": "x", "type": "custom", "secret": {"envvar:A": "!!"}})), 400, "envvar:A"),
        ("POST", "/connections".into(), JSON, body(json!({"name": "x", "type": "custom", "secret": {"PASSWORD": "YQ=="}})), 400, "PASSWORD"),
        ("PUT", agent.clone(), JSON, body(json!({"status": true})), 400, "status"),
        ("PUT", agent.clone(), JSON, body(json!({"status": "sleeping"})), 400, "sleeping"),
        ("PUT", flags.clone(), JSON, body(json!({"experimental.event_routing": 1})), 400, "experimental.event_routing"),
        ("POST", subs.clone(), JSON, body(json!({"name": "x", "event_types": EVENT})), 400, "event_types"),
        // ---- missing fields ----
        ("POST", "/events".into(), JSON, body(json!({"event_type": EVENT})), 400, "payload"),
        ("POST", "/events".into(), JSON, body(json!({"payload": {}})), 400, "event_type"),
        ("POST", "/connections".into(), JSON, body(json!({"name": "x"})), 400, "type"),
        ("PUT", agent.clone(), JSON, body(json!({})), 400, "status"),
        // ---- unknown fields ----
        ("POST", "/events".into(), JSON, event(json!({"org": "globex"})), 400, "org"),
        ("POST", "/connections".into(), JSON, body(json!({"name": "x", "type": "custom", "reviewers": []})), 400, "reviewers"),
        ("PUT", agent.clone(), JSON, body(json!({"status": "online", "since": 1})), 400, "since"),
        ("PUT", flags.clone(), JSON, body(json!({"experimental.events": true})), 400, "experimental.events"),
        ("POST", subs.clone(), JSON, body(extra_sub), 400, "colour"),
        ("PUT", sub_path.clone(), JSON, body(json!({"name": "x", "nope": 1})), 400, "nope"),
        // ---- content type ----
        ("POST", "/events".into(), None, event(json!({})), 415, "Content-Type"),
        ("POST", "/connections".into(), Some("text/plain"), b"{}".to_vec(), 415, "Content-Type"),
        // ---- bad ids: 404, as for an id that does not exist ----
        ("GET", "/connections/%FF".into(), None, Vec::new(), 404, "not found"),
        ("PUT", "/connections/%C0%AF".into(), JSON, body(json!({"name": "x", "type": "custom"})), 404, "not found"),
        ("DELETE", "/connections/con_%00".into(), None, Vec::new(), 404, "not found"),
        ("GET", format!("{subs}/%FF%FE"), None, Vec::new(), 404, "not found"),
        ("GET", format!("{subs}/sub_x"), None, Vec::new(), 404, "not found"),
        ("GET", format!("{subs}/{}", "z".repeat(4000)), None, Vec::new(), 404, "not found"),
        ("POST", format!("{subs}/%FF/pause"), None, Vec::new(), 404, "not found"),
        ("GET", "/event-routing/dispatches/%E2%82".into(), None, Vec::new(), 404, "not found"),
        ("POST", "/event-routing/dispatches/..%2F..%2Fetc/replay".into(), None, Vec::new(), 404, "not found"),
        ("GET", "/event-routing/catalog/%FF".into(), None, Vec::new(), 404, "not found"),
        ("GET", "/agents/%FF/status".into(), None, Vec::new(), 404, "not found"),
        ("GET", "/orgs/%FF/feature-flags".into(), None, Vec::new(), 404, "not found"),
        // ---- bad query values ----
        ("GET", format!("{subs}?status=1"), None, Vec::new(), 400, "status"),
        ("GET", format!("{subs}?status=sleepy"), None, Vec::new(), 400, "sleepy"),
        ("GET", format!("{subs}?sort=name"), None, Vec::new(), 400, "sort"),
        ("GET", "/event-routing/catalog?category=".into(), None, Vec::new(), 400, "category"),
        ("GET", "/event-routing/catalog?category=%FF".into(), None, Vec::new(), 400, ""),
        ("GET", format!("{sub_path}/dispatches?page=-1"), None, Vec::new(), 400, "page"),
        ("GET", format!("{sub_path}/dispatches?page=abc"), None, Vec::new(), 400, "page"),
        ("GET", format!("{sub_path}/dispatches?page_size=0"), None, Vec::new(), 400, "page_size"),
        ("GET", format!("{sub_path}/dispatches?page=99999999999999999999999"), None, Vec::new(), 400, "page"),
        // ---- tokens ----
        ("POST", "/tokens".into(), JSON, b"{\"role\"".to_vec(), 400, "EOF"),
        ("POST", "/tokens".into(), JSON, body(json!({"role": 1})), 400, "role"),
        ("POST", "/tokens".into(), JSON, body(json!({"label": "x"})), 400, "role"),
        ("POST", "/tokens".into(), JSON, body(json!({"role": "admin", "label": " x"})), 400, "label"),
        ("POST", "/tokens".into(), JSON, body(json!({"role": "admin", "ttl": 5})), 400, "ttl"),
        ("DELETE", "/tokens/%FF".into(), None, Vec::new(), 404, "not found"),
        // ---- routes and methods ----
        ("GET", "/no/such/route".into(), None, Vec::new(), 404, "route not found"),
        ("PATCH", "/connections".into(), None, Vec::new(), 405, "method"),
        ("DELETE", "/events".into(), None, Vec::new(), 405, "method"),
    ];
    for (method, path, ct, bytes, status, message_has) in &cases {
        let a = c.raw(method, path, *ct, Some(bytes)).await;
        assert!(
            a.status == *status && a.body["code"].is_string(),
            "{method} {path} {:?}: {a:?}",
            String::from_utf8_lossy(bytes)
        );
        assert_error(&a, *status, message_has);
    }

    // ---- oversized bodies: 413 on every body-taking route, under a small limit ----
    let small = serve(ApiState::new(rt.clone()).with_body_limit(512)).await;
    let sc = small.client(Some(&token.secret_text));
    let big = "x".repeat(2048);
    #[rustfmt::skip]
    let oversized = [
        ("POST", "/events".to_string(), event(json!({"producer_event_id": big}))),
        ("POST", "/connections".to_string(), body(json!({"name": big, "type": "custom"}))),
        ("PUT", format!("/connections/{CONNECTION}"), body(json!({"name": big, "type": "custom"}))),
        ("POST", subs.clone(), body(json!({"name": big}))),
        ("PUT", agent.clone(), body(json!({"status": big}))),
        ("PUT", flags.clone(), body(json!({"x": big}))),
        ("POST", "/tokens".to_string(), body(json!({"role": big}))),
        ("POST", "/event-routing/mapping/preview".to_string(), body(json!({"event_type": big}))),
    ];
    for (method, path, bytes) in &oversized {
        let a = sc.raw(method, path, JSON, Some(bytes)).await;
        assert_error(&a, 413, "limit");
        assert_eq!(a.body["code"], "payload_too_large", "{method} {path}");
    }
    small.shutdown().await;

    // ---- bad authorization headers: 401 JSON (a value with control characters never
    // reaches the router: hyper answers 400 itself) ----
    let bad_headers = [
        "authorization: Bearer".to_string(),
        "authorization: Bearer    ".to_string(),
        "authorization: Token abc".to_string(),
        format!("authorization: Bearer {}", "a".repeat(10_000)),
    ];
    for h in &bad_headers {
        let a = request(
            server.addr,
            "GET",
            "/connections",
            std::slice::from_ref(h),
            None,
        )
        .await;
        assert_error(&a, 401, "");
    }
    // Non-ASCII bytes in the header value.
    let a = request(
        server.addr,
        "GET",
        "/connections",
        &["authorization: Bearer r\u{e9}box".to_string()],
        None,
    )
    .await;
    assert_error(&a, 401, "");
    let anonymous = Client {
        addr: server.addr,
        token: None,
    };
    let a = anonymous.call("POST", "/events", Some(json!({}))).await;
    assert_error(&a, 401, "bearer");

    // Nothing above changed the org's state.
    assert_eq!(rt.list_connections(ORG).await.unwrap().len(), 1);
    assert_eq!(rt.list_subscriptions(ORG, None).await.unwrap().len(), 1);
    assert!(rt.agent_online(AGENT_ID));
    server.shutdown().await;
    rt.shutdown(Duration::from_secs(5)).await;
}
