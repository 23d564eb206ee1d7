//! The connection, event, agent and feature-flag routes over real HTTP on loopback, with a
//! real runtime (git repository over `file://`, real runbook components, a recording
//! agent): every route and status code, rename carry-over, write-only secrets, and
//! `POST /events` -> a delivered dispatch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api_common/mod.rs"]
mod api_common;
#[path = "routing_common/mod.rs"]
mod routing_common;

use std::sync::Arc;
use std::time::Duration;

use api_common::{Client, Server, assert_error, serve};
use routing_common::*;
use runbox::api::ApiState;
use runbox::host::Limits;
use runbox::model::{DispatchStatus, ObjectKind};
use runbox::{Role, Runtime};
use serde_json::{Value, json};

/// A served runtime and an admin client of org [`ORG`].
async fn start(rt: Runtime) -> (Arc<Runtime>, Server, Client, String) {
    let rt = Arc::new(rt);
    let token = rt.create_token(ORG, Role::Admin, "", "test").await.unwrap();
    let server = serve(ApiState::new(rt.clone())).await;
    let client = server.client(Some(&token.secret_text));
    (rt, server, client, token.id)
}

fn pg(name: &str) -> Value {
    json!({"name": name, "type": "database", "subtype": "postgres", "tags": ["prod", "pci"],
        "agent_id": "agent-pg", "access_mode_exec": "enabled", "access_mode_connect": "enabled",
        "secret": {"envvar:PGPASSWORD": "aHVudGVyMg==", "envvar:HOST": "ZGIuaW50ZXJuYWw="}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_crud_over_http() {
    let world = World::new();
    let (rt, server, c, token_id) = start(world.ready(1).await).await;

    // ---- create: 201, secrets write-only, hoop's default plugins ----
    let created = c.call("POST", "/connections", Some(pg("pg-prod"))).await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("con_"), "{id}");
    assert_eq!(created.body["type"], "database");
    assert_eq!(created.body["subtype"], "postgres");
    assert_eq!(created.body["tags"], json!(["prod", "pci"]));
    assert_eq!(created.body["agent_id"], "agent-pg");
    assert_eq!(created.body["access_mode_runbooks"], "disabled");
    assert_eq!(
        created.body["plugins"],
        json!(["audit", "dlp", "review", "slack"])
    );
    assert_eq!(
        created.body["secret_keys"],
        json!(["envvar:HOST", "envvar:PGPASSWORD"])
    );
    for value in ["hunter2", "aHVudGVyMg==", "db.internal", "ZGIuaW50ZXJuYWw="] {
        assert!(!created.raw.contains(value), "{}", created.raw);
    }
    let stored = rt.get_connection(ORG, &id).await.unwrap();
    assert_eq!(
        stored.secrets.0.get("PGPASSWORD").map(String::as_str),
        Some("hunter2"),
        "stored decoded"
    );
    let dup = c.call("POST", "/connections", Some(pg("pg-prod"))).await;
    assert_error(&dup, 409, "pg-prod");
    assert_eq!(dup.body["code"], "duplicate_name");
    let mut bad = pg("pg-bad");
    bad["secret"] = json!({"envvar:TOKEN": "%%%"});
    let a = c.call("POST", "/connections", Some(bad)).await;
    assert_error(&a, 400, "envvar:TOKEN");
    assert_eq!(a.body["code"], "invalid_secret");
    let a = c
        .call(
            "POST",
            "/connections",
            Some(json!({"name": " spaced ", "type": "custom"})),
        )
        .await;
    assert_error(&a, 400, "name");

    // ---- list (sorted by name), get by id and by name ----
    let list = c.call("GET", "/connections", None).await;
    assert_eq!(list.status, 200);
    let names: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec![CONNECTION, "pg-prod"]);
    assert!(!list.raw.contains("hunter2"));
    for key in [id.as_str(), "pg-prod"] {
        let got = c.call("GET", &format!("/connections/{key}"), None).await;
        assert_eq!(
            (got.status, got.body["id"].as_str()),
            (200, Some(id.as_str()))
        );
        assert_eq!(got.body["secret_keys"].as_array().unwrap().len(), 2);
    }
    let none = c.call("GET", "/connections/nope", None).await;
    assert_error(&none, 404, "connection not found");

    // ---- update: secrets and plugins kept when absent, replaced when given ----
    let mut change = pg("pg-prod");
    change.as_object_mut().unwrap().remove("secret");
    change["tags"] = json!(["prod"]);
    change["plugins"] = json!(["runbooks", "audit"]);
    change["access_mode_runbooks"] = json!("enabled");
    let put = c
        .call("PUT", "/connections/pg-prod", Some(change.clone()))
        .await;
    assert_eq!(put.status, 200, "{put:?}");
    assert_eq!(put.body["tags"], json!(["prod"]));
    assert_eq!(put.body["plugins"], json!(["runbooks", "audit"]));
    assert_eq!(put.body["secret_keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        rt.get_connection(ORG, &id).await.unwrap().secrets.0["HOST"],
        "db.internal"
    );
    change["secret"] = json!({"envvar:ONLY": "MQ=="});
    change.as_object_mut().unwrap().remove("plugins");
    let put = c
        .call("PUT", &format!("/connections/{id}"), Some(change.clone()))
        .await;
    assert_eq!(put.status, 200, "{put:?}");
    assert_eq!(put.body["secret_keys"], json!(["envvar:ONLY"]));
    assert_eq!(put.body["plugins"], json!(["runbooks", "audit"]));
    let a = c
        .call("PUT", "/connections/nope", Some(change.clone()))
        .await;
    assert_error(&a, 404, "");
    let mut clash = change.clone();
    clash["name"] = json!(CONNECTION);
    let a = c
        .call("PUT", &format!("/connections/{id}"), Some(clash))
        .await;
    assert_error(&a, 409, CONNECTION);

    // ---- a rename carries over to subscriptions; a used connection cannot go ----
    let mut spec = serde_json::to_value(world.subscription("revoke", REVOKE)).unwrap();
    spec["connection_name"] = json!("pg-prod");
    let sub = c
        .call("POST", "/event-routing/subscriptions", Some(spec))
        .await;
    assert_eq!(sub.status, 201, "{sub:?}");
    let sub_path = format!(
        "/event-routing/subscriptions/{}",
        sub.body["id"].as_str().unwrap()
    );
    let mut rename = change.clone();
    rename.as_object_mut().unwrap().remove("secret");
    rename["name"] = json!("pg-primary");
    let put = c.call("PUT", "/connections/pg-prod", Some(rename)).await;
    assert_eq!(
        (put.status, put.body["name"].as_str()),
        (200, Some("pg-primary"))
    );
    let got = c.call("GET", &sub_path, None).await;
    assert_eq!(got.body["connection_name"], "pg-primary", "{got:?}");
    assert_error(&c.call("GET", "/connections/pg-prod", None).await, 404, "");
    let del = c.call("DELETE", "/connections/pg-primary", None).await;
    assert_error(&del, 409, "revoke");
    assert_eq!(del.body["code"], "connection_in_use");
    assert_eq!(c.call("DELETE", &sub_path, None).await.status, 204);
    let del = c.call("DELETE", "/connections/pg-primary", None).await;
    assert_eq!((del.status, del.raw.as_str()), (204, ""));
    assert_error(
        &c.call("GET", &format!("/connections/{id}"), None).await,
        404,
        "",
    );
    assert_error(
        &c.call("DELETE", &format!("/connections/{id}"), None).await,
        404,
        "",
    );

    // ---- the audit trail names the token ----
    let audit = rt.store().audit_log(ORG, 0, 10_000).await.unwrap();
    let connection_records: Vec<_> = audit
        .iter()
        .filter(|r| r.object_kind == ObjectKind::Connection && r.object_id == id)
        .collect();
    assert_eq!(connection_records.len(), 5, "{connection_records:#?}"); // create, 3 updates, delete
    assert!(
        connection_records
            .iter()
            .all(|r| r.actor == format!("token:{token_id}"))
    );

    server.shutdown().await;
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_published_and_delivered_and_agents_gate_them() {
    let world = World::new();
    let (rt, server, c, _) = start(world.ready(1).await).await;
    let spec = serde_json::to_value(world.subscription("revoke", REVOKE)).unwrap();
    assert_eq!(
        c.call("POST", "/event-routing/subscriptions", Some(spec))
            .await
            .status,
        201
    );

    // ---- POST /events -> 202 after durability -> delivered at the agent ----
    let body = json!({"event_type": EVENT, "payload": sample_payload(),
        "producer_event_id": "ses_01HX9A2BCD:alert.sensitive_data_detected"});
    let a = c.call("POST", "/events", Some(body.clone())).await;
    assert_eq!(a.status, 202, "{a:?}");
    let event_id = a.body["event_id"].as_str().unwrap().to_string();
    assert!(event_id.starts_with("evt_"));
    assert_eq!(a.body["duplicate"], false);
    assert_eq!(a.body["feature_disabled"], false);
    let dispatch_id = a.body["dispatch_ids"][0].as_str().unwrap().to_string();
    assert_eq!(a.body["dispatch_ids"].as_array().unwrap().len(), 1);
    // Durable when answered: the store has the event and the dispatch.
    assert_eq!(
        rt.store().get_event(ORG, &event_id).await.unwrap().id,
        event_id
    );
    wait_for(&rt, &dispatch_id, DispatchStatus::Delivered).await;
    let calls = world.agent.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].dispatch_id, dispatch_id);
    assert!(calls[0].input.contains("alex.morgan@acme.com"), "{calls:?}");
    let d = c
        .call(
            "GET",
            &format!("/event-routing/dispatches/{dispatch_id}"),
            None,
        )
        .await;
    assert_eq!(d.body["status"], "delivered");

    // A repeated producer id: the original event, nothing new.
    let again = c.call("POST", "/events", Some(body)).await;
    assert_eq!(again.status, 202);
    assert_eq!(again.body["event_id"], event_id.as_str());
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.body["dispatch_ids"], json!([]));

    // Unknown type, schema violations: 400 naming the problem.
    let a = c
        .call(
            "POST",
            "/events",
            Some(json!({"event_type": "no.such", "payload": {}})),
        )
        .await;
    assert_error(&a, 400, "no.such");
    let mut payload = sample_payload();
    payload.as_object_mut().unwrap().remove("user");
    let a = c
        .call(
            "POST",
            "/events",
            Some(json!({"event_type": EVENT, "payload": payload})),
        )
        .await;
    assert_error(&a, 400, "user");
    let mut payload = sample_payload();
    payload["total_detections"] = json!("twelve");
    let a = c
        .call(
            "POST",
            "/events",
            Some(json!({"event_type": EVENT, "payload": payload})),
        )
        .await;
    assert_error(&a, 400, "total_detections");
    let a = c
        .call(
            "POST",
            "/events",
            Some(
                json!({"event_type": EVENT, "payload": sample_payload(), "producer_event_id": ""}),
            ),
        )
        .await;
    assert_error(&a, 400, "producer_event_id");

    // ---- agents: offline keeps dispatches pending, online releases them ----
    let agent_path = format!("/agents/{AGENT_ID}/status");
    let a = c
        .call("PUT", &agent_path, Some(json!({"status": "offline"})))
        .await;
    assert_eq!(
        (a.status, a.body.clone()),
        (200, json!({"id": AGENT_ID, "status": "offline"}))
    );
    assert!(!rt.agent_online(AGENT_ID));
    let got = c.call("GET", &agent_path, None).await;
    assert_eq!(got.body["status"], "offline");
    let a = c
        .call(
            "POST",
            "/events",
            Some(json!({"event_type": EVENT, "payload": sample_payload()})),
        )
        .await;
    assert_eq!(a.status, 202);
    let pending_id = a.body["dispatch_ids"][0].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rt.get_dispatch(ORG, &pending_id)
            .await
            .unwrap()
            .dispatch
            .status,
        DispatchStatus::Pending
    );
    let a = c
        .call("PUT", &agent_path, Some(json!({"status": "online"})))
        .await;
    assert_eq!((a.status, a.body["status"].as_str()), (200, Some("online")));
    wait_for(&rt, &pending_id, DispatchStatus::Delivered).await;
    assert_error(
        &c.call(
            "PUT",
            "/agents/agent-nobody/status",
            Some(json!({"status": "online"})),
        )
        .await,
        404,
        "agent",
    );
    assert_error(
        &c.call("GET", "/agents/agent-nobody/status", None).await,
        404,
        "agent",
    );
    let a = c
        .call("PUT", &agent_path, Some(json!({"status": "asleep"})))
        .await;
    assert_error(&a, 400, "asleep");

    server.shutdown().await;
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_flags_over_http() {
    let world = World::new();
    // Routing off at start: a fresh org.
    let (rt, server, c, token_id) = start(world.runtime(0).await).await;
    let flags = format!("/orgs/{ORG}/feature-flags");
    let got = c.call("GET", &flags, None).await;
    assert_eq!(
        (got.status, got.body.clone()),
        (200, json!({"experimental.event_routing": false}))
    );

    // Off: publishing is accepted and ignored; event-routing routes are 403.
    let a = c
        .call(
            "POST",
            "/events",
            Some(json!({"event_type": EVENT, "payload": sample_payload()})),
        )
        .await;
    assert_eq!(a.status, 202, "{a:?}");
    assert_eq!(a.body["feature_disabled"], true);
    assert_eq!(a.body["event_id"], Value::Null);
    let a = c.call("GET", "/event-routing/subscriptions", None).await;
    assert_error(&a, 403, "experimental.event_routing");
    assert_eq!(a.body["code"], "feature_disabled");

    let put = c
        .call(
            "PUT",
            &flags,
            Some(json!({"experimental.event_routing": true})),
        )
        .await;
    assert_eq!(
        (put.status, put.body.clone()),
        (200, json!({"experimental.event_routing": true}))
    );
    assert!(rt.event_routing_enabled(ORG).await.unwrap());
    assert_eq!(
        c.call("GET", "/event-routing/subscriptions", None)
            .await
            .status,
        200
    );
    // An empty body changes nothing.
    let put = c.call("PUT", &flags, Some(json!({}))).await;
    assert_eq!(put.body, json!({"experimental.event_routing": true}));
    let a = c
        .call("PUT", &flags, Some(json!({"experimental.other": true})))
        .await;
    assert_error(&a, 400, "experimental.other");
    let a = c
        .call(
            "PUT",
            &flags,
            Some(json!({"experimental.event_routing": "yes"})),
        )
        .await;
    assert_error(&a, 400, "");
    let a = c.call("GET", "/orgs/globex/feature-flags", None).await;
    assert_error(&a, 404, "org not found");

    let audit = rt.store().audit_log(ORG, 0, 10_000).await.unwrap();
    let flag = audit
        .iter()
        .rfind(|r| r.object_kind == ObjectKind::Org)
        .unwrap();
    assert_eq!(flag.actor, format!("token:{token_id}"));
    assert_eq!(
        (flag.from.as_deref(), flag.to.as_deref()),
        (Some("off"), Some("on"))
    );

    server.shutdown().await;
    rt.shutdown(Duration::from_secs(5)).await;
}

/// A payload above the runtime's limit is 413 naming both sizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_payload_above_the_limit_is_413() {
    let world = World::new();
    let limits = Limits {
        payload_bytes: 512,
        ..Limits::default()
    };
    let rt = world.runtime_with(0, limits).await;
    enable(&rt).await;
    let (rt, server, c, _) = start(rt).await;
    let mut payload = sample_payload();
    payload["user"] = json!(format!("{}@acme.com", "a".repeat(600)));
    let a = c
        .call(
            "POST",
            "/events",
            Some(json!({"event_type": EVENT, "payload": payload})),
        )
        .await;
    assert_error(&a, 413, "512");
    assert_eq!(a.body["code"], "payload_too_large");
    server.shutdown().await;
    rt.shutdown(Duration::from_secs(5)).await;
}
