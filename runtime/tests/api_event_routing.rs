//! The event-routing admin API over real HTTP on loopback: a real axum server on
//! `127.0.0.1:0`, a real runtime (git repository over `file://`, real runbook components, a
//! recording agent), an admin API token and a small HTTP/1.1 client written on a
//! `TcpStream`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api_common/mod.rs"]
mod api_common;
#[path = "routing_common/mod.rs"]
mod routing_common;

use std::sync::Arc;
use std::time::Duration;

use api_common::{assert_error, serve};
use routing_common::*;
use runbox::Role;
use runbox::api::ApiState;
use runbox::model::DispatchStatus;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_over_http() {
    let world = World::new();
    let rt = Arc::new(world.ready(1).await);
    let token = rt
        .create_token(ORG, Role::Admin, "api test", "test")
        .await
        .unwrap()
        .secret_text;
    let server = serve(ApiState::new(rt.clone())).await;
    let c = server.client(Some(&token));

    // ---- catalog ----
    let all = c.call("GET", "/event-routing/catalog", None).await;
    assert_eq!(all.status, 200, "{all:?}");
    let names: Vec<&str> = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 9);
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    let alerts = c
        .call("GET", "/event-routing/catalog?category=alert", None)
        .await;
    assert_eq!(alerts.status, 200);
    let alerts = alerts.body.as_array().unwrap().clone();
    assert!(!alerts.is_empty() && alerts.iter().all(|e| e["category"] == "Alert"));
    let bad = c
        .call("GET", "/event-routing/catalog?category=nope", None)
        .await;
    assert_error(&bad, 400, "nope");
    let bad = c
        .call("GET", "/event-routing/catalog?colour=red", None)
        .await;
    assert_error(&bad, 400, "colour");
    let one = c
        .call("GET", &format!("/event-routing/catalog/{EVENT}"), None)
        .await;
    assert_eq!((one.status, one.body["name"].as_str()), (200, Some(EVENT)));
    let none = c.call("GET", "/event-routing/catalog/no.such", None).await;
    assert_error(&none, 404, "event type not found");
    assert_eq!(none.body["message"], "event type not found");

    // ---- create ----
    let spec = serde_json::to_value(world.subscription("revoke", REVOKE)).unwrap();
    let created = c
        .call("POST", "/event-routing/subscriptions", Some(spec.clone()))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let sub_id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["status"], "active");
    let dup = c
        .call("POST", "/event-routing/subscriptions", Some(spec.clone()))
        .await;
    assert_error(&dup, 409, "revoke");
    assert_eq!(dup.body["code"], "duplicate_name");
    let mut unknown_type = spec.clone();
    unknown_type["name"] = json!("other");
    unknown_type["event_types"] = json!(["no.such_event"]);
    let a = c
        .call("POST", "/event-routing/subscriptions", Some(unknown_type))
        .await;
    assert_error(&a, 400, "no.such_event");
    assert_eq!(a.body["code"], "unknown_event_type");
    let mut bad_mapping = spec.clone();
    bad_mapping["name"] = json!("other");
    bad_mapping["parameter_mapping"] =
        json!({"agent_user": "$.[[[", "connection_name": "$.connection"});
    let a = c
        .call("POST", "/event-routing/subscriptions", Some(bad_mapping))
        .await;
    assert_error(&a, 400, "agent_user");
    assert_eq!(a.body["code"], "invalid_mapping");
    let mut unknown_conn = spec.clone();
    unknown_conn["name"] = json!("other");
    unknown_conn["connection_name"] = json!("no-such-connection");
    let a = c
        .call("POST", "/event-routing/subscriptions", Some(unknown_conn))
        .await;
    assert_error(&a, 400, "no-such-connection");

    // ---- list / get / update / pause / resume ----
    let list = c.call("GET", "/event-routing/subscriptions", None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    let paused = c
        .call("GET", "/event-routing/subscriptions?status=paused", None)
        .await;
    assert_eq!((paused.status, paused.body.clone()), (200, json!([])));
    let bad = c
        .call("GET", "/event-routing/subscriptions?status=sleepy", None)
        .await;
    assert_error(&bad, 400, "sleepy");
    let sub_path = format!("/event-routing/subscriptions/{sub_id}");
    let got = c.call("GET", &sub_path, None).await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(got.body["delivered_count_7d"], 0);
    assert_eq!(got.body["failed_count_7d"], 0);
    assert!(got.body.get("last_error").is_some(), "{got:?}");
    let mut changed = spec.clone();
    changed["description"] = json!("changed over http");
    let put = c.call("PUT", &sub_path, Some(changed)).await;
    assert_eq!(put.status, 200, "{put:?}");
    assert_eq!(put.body["description"], "changed over http");
    let p = c.call("POST", &format!("{sub_path}/pause"), None).await;
    assert_eq!(
        (p.status, p.body.clone()),
        (200, json!({"status": "paused"}))
    );
    let r = c.call("POST", &format!("{sub_path}/resume"), None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (200, json!({"status": "active"}))
    );

    // ---- dispatches: replay of a pending one is 409, of a delivered one 201 ----
    rt.set_agent_status(AGENT_ID, false);
    let receipt = rt
        .publish(ORG, EVENT, sample_payload(), None)
        .await
        .unwrap();
    let dispatch_id = receipt.dispatch_ids[0].clone();
    let d_path = format!("/event-routing/dispatches/{dispatch_id}");
    let d = c.call("GET", &d_path, None).await;
    assert_eq!(d.status, 200, "{d:?}");
    assert_eq!(d.body["subscription_name"], "revoke");
    assert_eq!(d.body["event_payload"], sample_payload());
    assert_eq!(d.body["status"], "pending");
    let refused = c.call("POST", &format!("{d_path}/replay"), None).await;
    assert_error(&refused, 409, "cannot replay a dispatch that is pending");
    assert_eq!(refused.body["code"], "replay_conflict");
    rt.set_agent_status(AGENT_ID, true);
    wait_for(&rt, &dispatch_id, DispatchStatus::Delivered).await;
    let replayed = c.call("POST", &format!("{d_path}/replay"), None).await;
    assert_eq!(replayed.status, 201, "{replayed:?}");
    assert_eq!(replayed.body["status"], "pending");
    assert_eq!(replayed.body["replayed_from"], dispatch_id.as_str());
    let replay_id = replayed.body["id"].as_str().unwrap().to_string();
    wait_for(&rt, &replay_id, DispatchStatus::Delivered).await;

    let page = c
        .call(
            "GET",
            &format!("{sub_path}/dispatches?page=1&page_size=500"),
            None,
        )
        .await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.body["total"], 2);
    assert_eq!(page.body["page"], 1);
    assert_eq!(page.body["limit"], 100, "page_size above 100 is capped");
    assert_eq!(page.body["items"].as_array().unwrap().len(), 2);
    let small = c
        .call(
            "GET",
            &format!("{sub_path}/dispatches?page=2&page_size=1"),
            None,
        )
        .await;
    assert_eq!(small.status, 200);
    assert_eq!(small.body["items"].as_array().unwrap().len(), 1);
    let a = c
        .call("GET", &format!("{sub_path}/dispatches?page=0"), None)
        .await;
    assert_error(&a, 400, "page");
    let a = c
        .call(
            "GET",
            &format!("{sub_path}/dispatches?page_size=lots"),
            None,
        )
        .await;
    assert_error(&a, 400, "page_size");
    let got = c.call("GET", &sub_path, None).await;
    assert_eq!(got.body["delivered_count_7d"], 2, "{got:?}");

    // ---- preview ----
    let preview = json!({"event_type": EVENT,
        "parameter_mapping": {"agent_user": "$.user", "n": "$.total_detections"}});
    let a = c
        .call("POST", "/event-routing/mapping/preview", Some(preview))
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["params"]["agent_user"], "alex.morgan@acme.com");
    assert_eq!(a.body["errors"], json!([]));
    let with_payload = json!({"event_type": EVENT, "parameter_mapping": {"u": "$.user"},
        "payload": {"session_id":"s","user":"kim@acme.com","connection":"c",
            "types_detected":["EMAIL_ADDRESS"],"total_detections":1,
            "occurred_at":"2026-05-04T14:30:00Z"}});
    let a = c
        .call("POST", "/event-routing/mapping/preview", Some(with_payload))
        .await;
    assert_eq!(
        (a.status, a.body["params"]["u"].clone()),
        (200, json!("kim@acme.com"))
    );
    let a = c
        .call(
            "POST",
            "/event-routing/mapping/preview",
            Some(json!({"event_type": "no.such", "parameter_mapping": {}})),
        )
        .await;
    assert_error(&a, 400, "no.such");

    // ---- malformed input: 4xx JSON with a message, never 5xx ----
    let subs = "/event-routing/subscriptions";
    let a = c
        .raw("POST", subs, Some("application/json"), Some(b"{not json"))
        .await;
    assert_error(&a, 400, "");
    let mut extra = spec.clone();
    extra["name"] = json!("extra");
    extra["colour"] = json!("red");
    let a = c.call("POST", subs, Some(extra)).await;
    assert_error(&a, 400, "colour");
    let mut wrong = spec.clone();
    wrong["name"] = json!(5);
    let a = c.call("POST", subs, Some(wrong)).await;
    assert_error(&a, 400, "name");
    let a = c.call("POST", subs, Some(json!({"name": "x"}))).await;
    assert_error(&a, 400, "event_types");
    let a = c.raw("POST", subs, None, Some(b"{}")).await;
    assert_error(&a, 415, "");
    let a = server.client(None).raw("GET", subs, None, None).await;
    assert_error(&a, 401, "bearer");
    let a = c.call("GET", "/no/such/route", None).await;
    assert_error(&a, 404, "");
    let a = c.call("PATCH", subs, None).await;
    assert_error(&a, 405, "");
    let a = c
        .call("GET", "/event-routing/subscriptions/sub_nope", None)
        .await;
    assert_error(&a, 404, "");
    let a = c
        .call("GET", "/event-routing/dispatches/dsp_nope", None)
        .await;
    assert_error(&a, 404, "");
    let a = c
        .call("POST", "/event-routing/dispatches/dsp_nope/replay", None)
        .await;
    assert_error(&a, 404, "");
    let a = c
        .call(
            "GET",
            "/event-routing/subscriptions/sub_nope/dispatches",
            None,
        )
        .await;
    assert_error(&a, 404, "");

    // ---- delete ----
    let del = c.call("DELETE", &sub_path, None).await;
    assert_eq!((del.status, del.raw.as_str()), (204, ""));
    let gone = c.call("GET", &sub_path, None).await;
    assert_error(&gone, 404, "");
    let gone = c.call("GET", &d_path, None).await;
    assert_error(&gone, 404, "");

    // ---- body limit: 413 JSON ----
    let small = serve(ApiState::new(rt.clone()).with_body_limit(256)).await;
    let mut big = spec.clone();
    big["description"] = json!("x".repeat(1024));
    let a = small
        .client(Some(&token))
        .call("POST", subs, Some(big))
        .await;
    assert_error(&a, 413, "limit");
    assert_eq!(a.body["code"], "payload_too_large");
    small.shutdown().await;

    server.shutdown().await;
    rt.shutdown(Duration::from_secs(5)).await;
}
