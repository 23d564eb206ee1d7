//! The event-routing admin API over real HTTP on loopback: a real axum server on
//! `127.0.0.1:0`, a real runtime (git repository over `file://`, real runbook components, a
//! recording agent) and a small HTTP/1.1 client written on a `TcpStream`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "routing_common/mod.rs"]
mod routing_common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use routing_common::*;
use runbox::api::{ApiState, ORG_HEADER, router};
use runbox::model::DispatchStatus;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running server and how to stop it.
struct Server {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn serve(state: ApiState) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Server { addr, stop, task }
}

impl Server {
    async fn shutdown(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops")
            .unwrap();
    }
}

/// An answer: status and body (JSON when there is one).
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    raw: String,
}

/// A one-shot HTTP/1.1 request (`Connection: close`, read to EOF). `body` is sent as is with
/// `content-type: application/json` unless `content_type` is `None`.
async fn request_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    org: Option<&str>,
    content_type: Option<&str>,
    body: Option<&[u8]>,
) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    if let Some(org) = org {
        head.push_str(&format!("{ORG_HEADER}: {org}\r\n"));
    }
    if let Some(ct) = content_type {
        head.push_str(&format!("content-type: {ct}\r\n"));
    }
    let body = body.unwrap_or_default();
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buf))
        .await
        .expect("answer within 30 s")
        .unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full HTTP answer");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "this client reads only content-length bodies: {head}"
    );
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or(Value::Null)
    };
    Answer {
        status,
        body: json,
        raw: body.to_string(),
    }
}

async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Answer {
    let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
    request_raw(
        addr,
        method,
        path,
        Some(ORG),
        bytes.as_ref().map(|_| "application/json"),
        bytes.as_deref(),
    )
    .await
}

/// A 4xx answer with the JSON error shape (`message` says something, `code` is set).
#[track_caller]
fn assert_error(a: &Answer, status: u16, message_has: &str) {
    assert_eq!(a.status, status, "{a:?}");
    let message = a.body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{a:?}"));
    assert!(
        message.contains(message_has),
        "message {message:?} lacks {message_has:?}"
    );
    assert!(a.body["code"].is_string(), "{a:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_over_http() {
    let world = World::new();
    let rt = Arc::new(world.ready(1).await);
    let server = serve(ApiState::new(rt.clone())).await;
    let addr = server.addr;

    // ---- catalog ----
    let all = call(addr, "GET", "/event-routing/catalog", None).await;
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
    let alerts = call(addr, "GET", "/event-routing/catalog?category=alert", None).await;
    assert_eq!(alerts.status, 200);
    let alerts = alerts.body.as_array().unwrap().clone();
    assert!(!alerts.is_empty() && alerts.iter().all(|e| e["category"] == "Alert"));
    let bad = call(addr, "GET", "/event-routing/catalog?category=nope", None).await;
    assert_error(&bad, 400, "nope");
    let bad = call(addr, "GET", "/event-routing/catalog?colour=red", None).await;
    assert_error(&bad, 400, "colour");
    let one = call(
        addr,
        "GET",
        &format!("/event-routing/catalog/{EVENT}"),
        None,
    )
    .await;
    assert_eq!((one.status, one.body["name"].as_str()), (200, Some(EVENT)));
    let none = call(addr, "GET", "/event-routing/catalog/no.such", None).await;
    assert_error(&none, 404, "event type not found");
    assert_eq!(none.body["message"], "event type not found");

    // ---- create ----
    let spec = serde_json::to_value(world.subscription("revoke", REVOKE)).unwrap();
    let created = call(
        addr,
        "POST",
        "/event-routing/subscriptions",
        Some(spec.clone()),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    let sub_id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["status"], "active");
    let dup = call(
        addr,
        "POST",
        "/event-routing/subscriptions",
        Some(spec.clone()),
    )
    .await;
    assert_error(&dup, 409, "revoke");
    assert_eq!(dup.body["code"], "duplicate_name");
    let mut unknown_type = spec.clone();
    unknown_type["name"] = json!("other");
    unknown_type["event_types"] = json!(["no.such_event"]);
    let a = call(
        addr,
        "POST",
        "/event-routing/subscriptions",
        Some(unknown_type),
    )
    .await;
    assert_error(&a, 400, "no.such_event");
    assert_eq!(a.body["code"], "unknown_event_type");
    let mut bad_mapping = spec.clone();
    bad_mapping["name"] = json!("other");
    bad_mapping["parameter_mapping"] =
        json!({"agent_user": "$.[[[", "connection_name": "$.connection"});
    let a = call(
        addr,
        "POST",
        "/event-routing/subscriptions",
        Some(bad_mapping),
    )
    .await;
    assert_error(&a, 400, "agent_user");
    assert_eq!(a.body["code"], "invalid_mapping");
    let mut unknown_conn = spec.clone();
    unknown_conn["name"] = json!("other");
    unknown_conn["connection_name"] = json!("no-such-connection");
    let a = call(
        addr,
        "POST",
        "/event-routing/subscriptions",
        Some(unknown_conn),
    )
    .await;
    assert_error(&a, 400, "no-such-connection");

    // ---- list / get / update / pause / resume ----
    let list = call(addr, "GET", "/event-routing/subscriptions", None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    let paused = call(
        addr,
        "GET",
        "/event-routing/subscriptions?status=paused",
        None,
    )
    .await;
    assert_eq!((paused.status, paused.body.clone()), (200, json!([])));
    let bad = call(
        addr,
        "GET",
        "/event-routing/subscriptions?status=sleepy",
        None,
    )
    .await;
    assert_error(&bad, 400, "sleepy");
    let sub_path = format!("/event-routing/subscriptions/{sub_id}");
    let got = call(addr, "GET", &sub_path, None).await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(got.body["delivered_count_7d"], 0);
    assert_eq!(got.body["failed_count_7d"], 0);
    assert!(got.body.get("last_error").is_some(), "{got:?}");
    let mut changed = spec.clone();
    changed["description"] = json!("changed over http");
    let put = call(addr, "PUT", &sub_path, Some(changed)).await;
    assert_eq!(put.status, 200, "{put:?}");
    assert_eq!(put.body["description"], "changed over http");
    let p = call(addr, "POST", &format!("{sub_path}/pause"), None).await;
    assert_eq!(
        (p.status, p.body.clone()),
        (200, json!({"status": "paused"}))
    );
    let r = call(addr, "POST", &format!("{sub_path}/resume"), None).await;
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
    let d = call(addr, "GET", &d_path, None).await;
    assert_eq!(d.status, 200, "{d:?}");
    assert_eq!(d.body["subscription_name"], "revoke");
    assert_eq!(d.body["event_payload"], sample_payload());
    assert_eq!(d.body["status"], "pending");
    let refused = call(addr, "POST", &format!("{d_path}/replay"), None).await;
    assert_error(&refused, 409, "cannot replay a dispatch that is pending");
    assert_eq!(refused.body["code"], "replay_conflict");
    rt.set_agent_status(AGENT_ID, true);
    wait_for(&rt, &dispatch_id, DispatchStatus::Delivered).await;
    let replayed = call(addr, "POST", &format!("{d_path}/replay"), None).await;
    assert_eq!(replayed.status, 201, "{replayed:?}");
    assert_eq!(replayed.body["status"], "pending");
    assert_eq!(replayed.body["replayed_from"], dispatch_id.as_str());
    let replay_id = replayed.body["id"].as_str().unwrap().to_string();
    wait_for(&rt, &replay_id, DispatchStatus::Delivered).await;

    let page = call(
        addr,
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
    let small = call(
        addr,
        "GET",
        &format!("{sub_path}/dispatches?page=2&page_size=1"),
        None,
    )
    .await;
    assert_eq!(small.status, 200);
    assert_eq!(small.body["items"].as_array().unwrap().len(), 1);
    let a = call(addr, "GET", &format!("{sub_path}/dispatches?page=0"), None).await;
    assert_error(&a, 400, "page");
    let a = call(
        addr,
        "GET",
        &format!("{sub_path}/dispatches?page_size=lots"),
        None,
    )
    .await;
    assert_error(&a, 400, "page_size");
    let got = call(addr, "GET", &sub_path, None).await;
    assert_eq!(got.body["delivered_count_7d"], 2, "{got:?}");

    // ---- preview ----
    let preview = json!({"event_type": EVENT,
        "parameter_mapping": {"agent_user": "$.user", "n": "$.total_detections"}});
    let a = call(
        addr,
        "POST",
        "/event-routing/mapping/preview",
        Some(preview),
    )
    .await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["params"]["agent_user"], "alex.morgan@acme.com");
    assert_eq!(a.body["errors"], json!([]));
    let with_payload = json!({"event_type": EVENT, "parameter_mapping": {"u": "$.user"},
        "payload": {"session_id":"s","user":"kim@acme.com","connection":"c",
            "types_detected":["EMAIL_ADDRESS"],"total_detections":1,
            "occurred_at":"2026-05-04T14:30:00Z"}});
    let a = call(
        addr,
        "POST",
        "/event-routing/mapping/preview",
        Some(with_payload),
    )
    .await;
    assert_eq!(
        (a.status, a.body["params"]["u"].clone()),
        (200, json!("kim@acme.com"))
    );
    let a = call(
        addr,
        "POST",
        "/event-routing/mapping/preview",
        Some(json!({"event_type": "no.such", "parameter_mapping": {}})),
    )
    .await;
    assert_error(&a, 400, "no.such");

    // ---- malformed input: 4xx JSON with a message, never 5xx ----
    let subs = "/event-routing/subscriptions";
    let a = request_raw(
        addr,
        "POST",
        subs,
        Some(ORG),
        Some("application/json"),
        Some(b"{not json"),
    )
    .await;
    assert_error(&a, 400, "");
    let mut extra = spec.clone();
    extra["name"] = json!("extra");
    extra["colour"] = json!("red");
    let a = call(addr, "POST", subs, Some(extra)).await;
    assert_error(&a, 400, "colour");
    let mut wrong = spec.clone();
    wrong["name"] = json!(5);
    let a = call(addr, "POST", subs, Some(wrong)).await;
    assert_error(&a, 400, "name");
    let a = call(addr, "POST", subs, Some(json!({"name": "x"}))).await;
    assert_error(&a, 400, "event_types");
    let a = request_raw(addr, "POST", subs, Some(ORG), None, Some(b"{}")).await;
    assert_error(&a, 415, "");
    let a = request_raw(addr, "GET", subs, None, None, None).await;
    assert_error(&a, 401, ORG_HEADER);
    let a = call(addr, "GET", "/no/such/route", None).await;
    assert_error(&a, 404, "");
    let a = call(addr, "PATCH", subs, None).await;
    assert_error(&a, 405, "");
    let a = call(addr, "GET", "/event-routing/subscriptions/sub_nope", None).await;
    assert_error(&a, 404, "");
    let a = call(addr, "GET", "/event-routing/dispatches/dsp_nope", None).await;
    assert_error(&a, 404, "");
    let a = call(
        addr,
        "POST",
        "/event-routing/dispatches/dsp_nope/replay",
        None,
    )
    .await;
    assert_error(&a, 404, "");
    let a = call(
        addr,
        "GET",
        "/event-routing/subscriptions/sub_nope/dispatches",
        None,
    )
    .await;
    assert_error(&a, 404, "");

    // ---- delete ----
    let del = call(addr, "DELETE", &sub_path, None).await;
    assert_eq!((del.status, del.raw.as_str()), (204, ""));
    let gone = call(addr, "GET", &sub_path, None).await;
    assert_error(&gone, 404, "");
    let gone = call(addr, "GET", &d_path, None).await;
    assert_error(&gone, 404, "");

    // ---- body limit: 413 JSON ----
    let small = serve(ApiState::new(rt.clone()).with_body_limit(256)).await;
    let mut big = spec.clone();
    big["description"] = json!("x".repeat(1024));
    let a = call(small.addr, "POST", subs, Some(big)).await;
    assert_error(&a, 413, "limit");
    assert_eq!(a.body["code"], "payload_too_large");
    small.shutdown().await;

    server.shutdown().await;
    rt.shutdown(Duration::from_secs(5)).await;
}
