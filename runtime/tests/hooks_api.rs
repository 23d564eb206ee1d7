//! The session and hook routes over real HTTP on loopback: `POST /sessions/{sid}/open`,
//! `POST /sessions/{sid}/close`, `GET /hooks/runs?sid=` and `/hooks/settings`, with the
//! siem-forward hooks posting to a real receiver, and clear 4xx answers for bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hooks_common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hooks_common::*;
use runbox::api::{ApiState, router};
use runbox::auth::Role;
use runbox::hooks::hook_id;
use runbox::host::HookKind;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Admin tokens of the served runtimes, by (server address, org).
static TOKENS: std::sync::Mutex<Vec<(SocketAddr, &'static str, String)>> =
    std::sync::Mutex::new(Vec::new());

/// Serves the API; orgs `ORG` and `other` each get an admin token that [`call`] uses.
async fn serve(state: ApiState) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    for org in [ORG, "other"] {
        let token = state
            .runtime
            .create_token(org, Role::Admin, "hooks test", "test")
            .await
            .unwrap();
        TOKENS.lock().unwrap().push((addr, org, token.secret_text));
    }
    tokio::spawn(async move {
        axum::serve(listener, router(state)).await.unwrap();
    });
    addr
}

/// A one-shot HTTP/1.1 request; returns status and JSON body.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    org: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let body = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    if let Some(org) = org {
        let tokens = TOKENS.lock().unwrap();
        let (_, _, token) = tokens
            .iter()
            .find(|(a, o, _)| *a == addr && *o == org)
            .expect("a token for the org");
        head.push_str(&format!("authorization: Bearer {token}\r\n"));
    }
    if !body.is_empty() {
        head.push_str("content-type: application/json\r\n");
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buf))
        .await
        .expect("answer within 30 s")
        .unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full HTTP answer");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Polls `GET /hooks/runs?sid=` until it lists `n` runs (panics after 60 s).
async fn runs(addr: SocketAddr, sid: &str, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let (status, body) = call(
            addr,
            "GET",
            &format!("/hooks/runs?sid={sid}"),
            Some(ORG),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let list = body.as_array().unwrap().clone();
        if list.len() >= n {
            return list;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "only {list:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_routes_fire_hooks_and_runs_are_listed() {
    let (port, mut rx) = receiver().await;
    let (world, _) = HookWorld::siem();
    let rt = Arc::new(world.siem_runtime(port).await);
    let addr = serve(ApiState::new(rt.clone())).await;

    let open = json!({"verb":"exec","user_email":"alex.morgan@acme.com","connection_name":"pg-prod",
        "connection_reviewers":["dba-team"],"input":"SELECT 1","command":["python3"]});
    let (status, body) = call(
        addr,
        "POST",
        &format!("/sessions/{SID}/open"),
        Some(ORG),
        Some(open),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let open_id = hook_id(HookKind::SessionOpen, SID);
    assert_eq!(
        body,
        json!({"sid":SID,"hook":"session-open","id":open_id,"skipped":false})
    );
    let got = next(&mut rx).await;
    assert_eq!(got.header("x-runbox-hook-id"), Some(open_id.as_str()));
    let payload: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(payload["event_session_open"]["connection_type"], "database");
    assert_eq!(
        payload["event_session_open"]["connection_envs"],
        json!({"envvar:HOST":""})
    );
    assert_eq!(payload["event_session_close"], Value::Null);

    let (status, _) = call(
        addr,
        "POST",
        &format!("/sessions/{SID}/close"),
        Some(ORG),
        Some(json!({"exit_code":2,"output":"ERROR: boom"})),
    )
    .await;
    assert_eq!(status, 202);
    let got = next(&mut rx).await;
    let payload: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(
        payload["event_session_close"],
        json!({"exit_code":2,"output":"ERROR: boom"})
    );
    assert_eq!(payload["command"], json!(["python3"]));

    let list = runs(addr, SID, 2).await;
    assert_eq!(list[0]["id"], open_id.as_str());
    assert_eq!(list[0]["exit_code"], 0);
    assert!(
        list[0]["output"]
            .as_str()
            .unwrap()
            .starts_with("forwarded ")
    );
    assert!(list[0]["execution_time_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(list[1]["id"], hook_id(HookKind::SessionClose, SID).as_str());
    assert_eq!(list[1]["hook"], "session-close");
    // Runs are per org.
    let (status, body) = call(
        addr,
        "GET",
        &format!("/hooks/runs?sid={SID}"),
        Some("other"),
        None,
    )
    .await;
    assert_eq!((status, body), (200, json!([])));

    // Settings round-trip.
    let (status, body) = call(addr, "GET", "/hooks/settings", Some(ORG), None).await;
    assert_eq!((status, body), (200, json!({"show_secret_values":false})));
    let (status, _) = call(
        addr,
        "PUT",
        "/hooks/settings",
        Some(ORG),
        Some(json!({"show_secret_values":true})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(rt.hook_org_settings(ORG).unwrap().show_secret_values);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_session_and_hook_requests_are_4xx_with_a_message() {
    let (world, _) = HookWorld::siem();
    let rt = Arc::new(world.siem_runtime(9).await);
    let addr = serve(ApiState::new(rt)).await;
    let open = json!({"verb":"exec","connection_name":"pg-prod"});

    let (status, body) = call(addr, "POST", "/sessions/s1/open", None, Some(open.clone())).await;
    assert_eq!(status, 401, "{body}");

    let mut bad = open.clone();
    bad["verb"] = json!("shell");
    let (status, body) = call(addr, "POST", "/sessions/s1/open", Some(ORG), Some(bad)).await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("unknown session verb \"shell\""),
        "{body}"
    );

    let (status, body) = call(
        addr,
        "POST",
        "/sessions/s1/open",
        Some(ORG),
        Some(json!({"verb":"exec"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("connection_name"),
        "{body}"
    );

    let mut extra = open.clone();
    extra["connection_envs"] = json!({"envvar:PASS":"aHVudGVyMg=="});
    let (status, body) = call(addr, "POST", "/sessions/s1/open", Some(ORG), Some(extra)).await;
    assert_eq!(status, 400, "secrets are never accepted here: {body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("connection_envs"),
        "{body}"
    );

    let long = "x".repeat(200);
    let (status, body) = call(
        addr,
        "POST",
        &format!("/sessions/{long}/open"),
        Some(ORG),
        Some(open),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("session id"),
        "{body}"
    );

    let (status, body) = call(
        addr,
        "POST",
        "/sessions/s1/close",
        Some(ORG),
        Some(json!({"exit_code":"zero"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = call(addr, "GET", "/hooks/runs", Some(ORG), None).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("sid"), "{body}");

    let (status, body) = call(
        addr,
        "PUT",
        "/hooks/settings",
        Some(ORG),
        Some(json!({"show_secrets":true})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("show_secrets"),
        "{body}"
    );
}
