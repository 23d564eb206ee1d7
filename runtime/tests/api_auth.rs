//! Bearer-token auth of the admin API over real HTTP on loopback: the auth matrix (no token,
//! garbage, wrong secret, revoked, read-only, admin, another org), the audit actor of
//! writes, tokens surviving a restart and issued by `runbox token create`, and token
//! secrets never showing in answers, the audit trail or logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api_common/mod.rs"]
mod api_common;
#[path = "routing_common/mod.rs"]
mod routing_common;

use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api_common::{Answer, Client, assert_error, serve};
use routing_common::*;
use runbox::Role;
use runbox::api::ApiState;
use runbox::model::ObjectKind;
use serde_json::{Value, json};

const OTHER_ORG: &str = "globex";

fn secret_of(token: &str) -> &str {
    token.rsplit('_').next().unwrap()
}

/// The error answers of a bad token: 401, `code`, a bearer challenge, nothing echoed.
#[track_caller]
fn assert_unauthenticated(a: &Answer, code: &str) {
    assert_error(a, 401, "");
    assert_eq!(a.body["code"], code, "{a:?}");
    assert!(a.head.contains("www-authenticate: bearer"), "{}", a.head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_matrix_over_http() {
    let world = World::new();
    let rt = Arc::new(world.ready(1).await);
    let admin = rt
        .create_token(ORG, Role::Admin, "ci", "test")
        .await
        .unwrap();
    let reader = rt
        .create_token(ORG, Role::ReadOnly, "dashboards", "test")
        .await
        .unwrap();
    let other = rt
        .create_token(OTHER_ORG, Role::Admin, "", "test")
        .await
        .unwrap();
    let server = serve(ApiState::new(rt.clone())).await;
    let a = server.client(Some(&admin.secret_text));
    let r = server.client(Some(&reader.secret_text));
    let o = server.client(Some(&other.secret_text));

    // Objects of org A made by its admin: a subscription and a dispatch (via POST /events).
    let spec = serde_json::to_value(world.subscription("revoke", REVOKE)).unwrap();
    let sub = a
        .call("POST", "/event-routing/subscriptions", Some(spec))
        .await;
    assert_eq!(sub.status, 201, "{sub:?}");
    let sub_id = sub.body["id"].as_str().unwrap().to_string();
    let published = a
        .call(
            "POST",
            "/events",
            Some(json!({"event_type": EVENT, "payload": sample_payload()})),
        )
        .await;
    assert_eq!(published.status, 202, "{published:?}");
    let dispatch_id = published.body["dispatch_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let conn_id = rt.connection_by_name(ORG, CONNECTION).await.unwrap().id;

    // ---- no token, or one that is not valid: 401 ----
    let anonymous = server.client(None);
    for path in [
        "/connections",
        "/event-routing/catalog",
        "/event-routing/subscriptions",
    ] {
        assert_unauthenticated(&anonymous.call("GET", path, None).await, "unauthenticated");
    }
    let basic = api_common::request(
        server.addr,
        "GET",
        "/connections",
        &["authorization: Basic YWRtaW46YWRtaW4=".to_string()],
        None,
    )
    .await;
    assert_unauthenticated(&basic, "unauthenticated");
    let wrong_secret = format!(
        "rbx_{}_{}",
        admin.id,
        "0".repeat(64) // right id, wrong secret
    );
    let unknown_id = admin
        .secret_text
        .replace(&admin.id[4..], "00000000000000000000000000");
    for garbage in [
        "garbage".to_string(),
        "rbx_".to_string(),
        wrong_secret,
        unknown_id,
        format!("{}x", admin.secret_text),
    ] {
        let c = Client {
            addr: server.addr,
            token: Some(garbage.clone()),
        };
        let answer = c.call("GET", "/connections", None).await;
        assert_unauthenticated(&answer, "invalid_token");
        assert!(!answer.raw.contains(&garbage), "token echoed: {answer:?}");
        // A write with a bad token is 401 too (not 403, not executed).
        let answer = c
            .call("DELETE", &format!("/connections/{conn_id}"), None)
            .await;
        assert_unauthenticated(&answer, "invalid_token");
    }
    assert!(rt.get_connection(ORG, &conn_id).await.is_ok());

    // ---- read-only: reads 200, writes 403 and nothing changes ----
    for path in [
        "/connections".to_string(),
        format!("/connections/{CONNECTION}"),
        "/event-routing/catalog".to_string(),
        "/event-routing/subscriptions".to_string(),
        format!("/event-routing/subscriptions/{sub_id}"),
        format!("/event-routing/subscriptions/{sub_id}/dispatches"),
        format!("/event-routing/dispatches/{dispatch_id}"),
        format!("/agents/{AGENT_ID}/status"),
    ] {
        let answer = r.call("GET", &path, None).await;
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
    }
    let preview = json!({"event_type": EVENT, "parameter_mapping": {"u": "$.user"}});
    let answer = r
        .call("POST", "/event-routing/mapping/preview", Some(preview))
        .await;
    assert_eq!(answer.status, 200, "preview is a read: {answer:?}");
    let writes: Vec<(&str, String, Option<Value>)> = vec![
        (
            "POST",
            "/connections".into(),
            Some(json!({"name": "x", "type": "custom"})),
        ),
        (
            "PUT",
            format!("/connections/{conn_id}"),
            Some(json!({"name": "x", "type": "custom"})),
        ),
        ("DELETE", format!("/connections/{conn_id}"), None),
        (
            "POST",
            "/events".into(),
            Some(json!({"event_type": EVENT, "payload": sample_payload()})),
        ),
        (
            "PUT",
            format!("/agents/{AGENT_ID}/status"),
            Some(json!({"status": "offline"})),
        ),
        ("GET", format!("/orgs/{ORG}/feature-flags"), None),
        (
            "PUT",
            format!("/orgs/{ORG}/feature-flags"),
            Some(json!({"experimental.event_routing": false})),
        ),
        (
            "DELETE",
            format!("/event-routing/subscriptions/{sub_id}"),
            None,
        ),
        (
            "POST",
            format!("/event-routing/subscriptions/{sub_id}/pause"),
            None,
        ),
        (
            "POST",
            format!("/event-routing/dispatches/{dispatch_id}/replay"),
            None,
        ),
    ];
    for (method, path, body) in &writes {
        let answer = r.call(method, path, body.clone()).await;
        assert_error(&answer, 403, "admin");
        assert_eq!(answer.body["code"], "forbidden", "{method} {path}");
    }
    assert!(rt.get_connection(ORG, &conn_id).await.is_ok());
    assert!(rt.agent_online(AGENT_ID));
    assert!(rt.event_routing_enabled(ORG).await.unwrap());
    assert_eq!(rt.list_subscriptions(ORG, None).await.unwrap().len(), 1);

    // ---- another org's admin: A's objects are 404, the same answer as for no object ----
    let nothing = o
        .call("GET", "/connections/con_00000000000000000000000000", None)
        .await;
    assert_error(&nothing, 404, "");
    let paths_and_methods: Vec<(&str, String)> = vec![
        ("GET", format!("/connections/{conn_id}")),
        ("GET", format!("/connections/{CONNECTION}")),
        ("DELETE", format!("/connections/{conn_id}")),
        ("GET", format!("/event-routing/subscriptions/{sub_id}")),
        ("DELETE", format!("/event-routing/subscriptions/{sub_id}")),
        ("GET", format!("/event-routing/dispatches/{dispatch_id}")),
        (
            "POST",
            format!("/event-routing/dispatches/{dispatch_id}/replay"),
        ),
        ("GET", format!("/agents/{AGENT_ID}/status")),
        ("GET", format!("/orgs/{ORG}/feature-flags")),
    ];
    // The other org needs routing on for the event-routing routes to reach the store.
    let on = o
        .call(
            "PUT",
            &format!("/orgs/{OTHER_ORG}/feature-flags"),
            Some(json!({"experimental.event_routing": true})),
        )
        .await;
    assert_eq!(on.status, 200, "{on:?}");
    for (method, path) in &paths_and_methods {
        let answer = o.call(method, path, None).await;
        assert_eq!(answer.status, 404, "{method} {path}: {answer:?}");
        assert_eq!(answer.body["code"], "not_found", "{method} {path}");
        // The very answer a made-up id gets: nothing tells "exists elsewhere" apart.
        let ghost_path = path
            .replace(&conn_id, "con_00000000000000000000000000")
            .replace(&sub_id, "sub_00000000000000000000000000")
            .replace(&dispatch_id, "dsp_00000000000000000000000000")
            .replace(CONNECTION, "no-such-connection")
            .replace(AGENT_ID, "no-such-agent")
            .replace(&format!("/orgs/{ORG}/"), "/orgs/no-such-org/");
        assert_ne!(&ghost_path, path);
        let ghost = o.call(method, &ghost_path, None).await;
        assert_eq!(answer.raw, ghost.raw, "{method} {path} vs {ghost_path}");
        for leak in [&conn_id, &sub_id, &dispatch_id, "revoke", ORG] {
            assert!(
                !answer.raw.contains(leak),
                "{path} leaks {leak}: {}",
                answer.raw
            );
        }
    }
    let answer = o
        .call(
            "PUT",
            &format!("/agents/{AGENT_ID}/status"),
            Some(json!({"status": "offline"})),
        )
        .await;
    assert_error(&answer, 404, "agent");
    let answer = o
        .call(
            "PUT",
            &format!("/orgs/{ORG}/feature-flags"),
            Some(json!({"experimental.event_routing": false})),
        )
        .await;
    assert_error(&answer, 404, "");
    let listed = o.call("GET", "/connections", None).await;
    assert_eq!((listed.status, listed.body.clone()), (200, json!([])));
    let listed = o.call("GET", "/event-routing/subscriptions", None).await;
    assert_eq!((listed.status, listed.body.clone()), (200, json!([])));
    assert!(rt.get_connection(ORG, &conn_id).await.is_ok());
    assert!(rt.agent_online(AGENT_ID));
    assert!(rt.event_routing_enabled(ORG).await.unwrap());

    // ---- every write is audited with the token's identity ----
    let audit = rt.store().audit_log(ORG, 0, 10_000).await.unwrap();
    let sub_created = audit
        .iter()
        .find(|r| r.object_kind == ObjectKind::Subscription && r.object_id == sub_id)
        .expect("subscription creation audited");
    assert_eq!(sub_created.actor, format!("token:{}", admin.id));
    assert!(
        !audit
            .iter()
            .any(|r| r.actor == format!("token:{}", reader.id)),
        "a refused write left an audit record"
    );
    let other_audit = rt.store().audit_log(OTHER_ORG, 0, 10_000).await.unwrap();
    assert!(
        other_audit
            .iter()
            .any(|r| r.object_kind == ObjectKind::Org && r.actor == format!("token:{}", other.id))
    );

    // ---- a revoked token stops working at once; revoking is per org ----
    let err = rt
        .revoke_token(OTHER_ORG, &reader.id, "test")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert_eq!(r.call("GET", "/connections", None).await.status, 200);
    let revoked = rt.revoke_token(ORG, &reader.id, "test").await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_unauthenticated(&r.call("GET", "/connections", None).await, "invalid_token");
    let listed = rt.list_tokens(ORG).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().filter(|t| t.revoked_at.is_some()).count(), 1);

    server.shutdown().await;
    rt.shutdown(Duration::from_secs(5)).await;
}

/// `runbox token create` writes into the data dir's store; a runtime opened there later
/// (and again after a restart) accepts that token and its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_survive_a_restart_are_hashed_on_disk_and_the_cli_issues_them() {
    let world = World::new();
    let data_dir = world.data_dir();
    let runbox = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_runbox"))
            .args(args)
            .arg("--data-dir")
            .arg(&data_dir)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let out = runbox(&[
        "token",
        "create",
        "--org",
        ORG,
        "--role",
        "read-only",
        "--label",
        "cli",
    ]);
    assert!(out.status.success(), "{out:?}");
    let cli_token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(cli_token.starts_with("rbx_tok_"), "{cli_token}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("not shown again") && !stderr.contains(secret_of(&cli_token)));
    let bad = runbox(&["token", "create", "--org", ORG, "--role", "owner"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("owner"));
    let listed = runbox(&["token", "list", "--org", ORG]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("read-only") && listed.contains("cli"),
        "{listed}"
    );
    assert!(!listed.contains(secret_of(&cli_token)), "{listed}");

    let rt = Arc::new(world.ready(0).await);
    let admin = rt.create_token(ORG, Role::Admin, "", "test").await.unwrap();
    let caller = rt.authenticate(&cli_token).await.unwrap();
    assert_eq!((caller.org.as_str(), caller.role), (ORG, Role::ReadOnly));
    // While a runtime holds the store, the command line says why it cannot open it.
    let locked = runbox(&["token", "list", "--org", ORG]);
    assert_eq!(locked.status.code(), Some(2), "{locked:?}");
    assert!(
        String::from_utf8_lossy(&locked.stderr).contains("is a runbox server running"),
        "{locked:?}"
    );
    rt.shutdown(Duration::from_secs(5)).await;
    drop(rt);

    // Only hashes are on disk: no store file holds a secret, while they do hold the ids.
    let (mut ids_seen, mut files) = (false, vec![data_dir.join("store")]);
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        ids_seen |= has(&admin.id);
        for secret in [secret_of(&cli_token), secret_of(&admin.secret_text)] {
            assert!(!has(secret), "{} holds a token secret", path.display());
        }
    }
    assert!(ids_seen, "the scan reached the token records");

    let rt = Arc::new(world.runtime(0).await);
    let server = serve(ApiState::new(rt.clone())).await;
    let answer = server
        .client(Some(&cli_token))
        .call("GET", "/connections", None)
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body[0]["name"], CONNECTION);
    let answer = server
        .client(Some(&admin.secret_text))
        .call(
            "PUT",
            &format!("/agents/{AGENT_ID}/status"),
            Some(json!({"status": "offline"})),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, json!({"id": AGENT_ID, "status": "offline"}));
    server.shutdown().await;
    rt.shutdown(Duration::from_secs(5)).await;
    drop(rt);

    // Revoked from the command line while the server is down: refused after the restart.
    let revoked = runbox(&["token", "revoke", "--org", ORG, &admin.id]);
    assert!(revoked.status.success(), "{revoked:?}");
    let rt = world.runtime(0).await;
    assert_eq!(
        rt.authenticate(&admin.secret_text)
            .await
            .unwrap_err()
            .code(),
        "invalid_token"
    );
    assert!(rt.authenticate(&cli_token).await.is_ok());
    rt.shutdown(Duration::from_secs(5)).await;
}

/// Everything the tracing subscriber of this test binary writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Token secrets appear in no answer (bodies and heads), no audit record and no log line,
/// whatever the request: valid, wrong secret, revoked, read-only write, malformed body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_secrets_appear_in_no_answer_audit_record_or_log() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let world = World::new();
    let rt = Arc::new(world.ready(1).await);
    let admin = rt.create_token(ORG, Role::Admin, "", "test").await.unwrap();
    let reader = rt
        .create_token(ORG, Role::ReadOnly, "", "test")
        .await
        .unwrap();
    let revoked = rt.create_token(ORG, Role::Admin, "", "test").await.unwrap();
    rt.revoke_token(ORG, &revoked.id, "test").await.unwrap();
    let server = serve(ApiState::new(rt.clone())).await;
    let secrets = [&admin, &reader, &revoked].map(|t| secret_of(&t.secret_text).to_string());
    assert!(secrets.iter().all(|s| s.len() == 64));

    let mut answers = Vec::new();
    let a = server.client(Some(&admin.secret_text));
    let created = a
        .call(
            "POST",
            "/connections",
            Some(
                json!({"name": "pg", "type": "database", "subtype": "postgres",
                "secret": {"envvar:PGPASSWORD": "aHVudGVyMg=="}}),
            ),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    answers.push(created);
    answers.push(
        a.call(
            "POST",
            "/events",
            Some(json!({"event_type": EVENT, "payload": sample_payload()})),
        )
        .await,
    );
    answers.push(
        a.raw(
            "POST",
            "/connections",
            Some("application/json"),
            Some(b"{bad"),
        )
        .await,
    );
    answers.push(
        a.call("POST", "/connections", Some(json!({"name": 1})))
            .await,
    );
    answers.push(a.call("GET", "/connections/%FF", None).await);
    let r = server.client(Some(&reader.secret_text));
    answers.push(r.call("DELETE", "/connections/pg", None).await);
    answers.push(
        server
            .client(Some(&revoked.secret_text))
            .call("GET", "/connections", None)
            .await,
    );
    let swapped = format!("rbx_{}_{}", reader.id, secrets[0]);
    answers.push(
        server
            .client(Some(&swapped))
            .call("GET", "/connections", None)
            .await,
    );
    answers.push(
        server
            .client(Some(&format!("{} trailing", admin.secret_text)))
            .call("GET", "/connections", None)
            .await,
    );
    assert!(answers.iter().all(|x| x.status < 500), "{answers:?}");
    assert!(answers.iter().filter(|x| x.status == 401).count() >= 3);

    let audit = rt.store().audit_log(ORG, 0, 10_000).await.unwrap();
    let audit_text = serde_json::to_string(&audit).unwrap();
    assert!(audit_text.contains(&format!("token:{}", admin.id)));
    server.shutdown().await;
    rt.shutdown(Duration::from_secs(5)).await;
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).to_string();
    assert!(
        logs.contains(&admin.id),
        "the capture sees the runtime's logs"
    );
    for secret in &secrets {
        for answer in &answers {
            assert!(!answer.raw.contains(secret.as_str()), "{answer:?}");
            assert!(!answer.head.contains(secret.as_str()), "{answer:?}");
        }
        assert!(
            !audit_text.contains(secret.as_str()),
            "secret in the audit log"
        );
        assert!(!logs.contains(secret.as_str()), "secret in the logs");
    }
    assert!(!logs.contains("hunter2") && !audit_text.contains("hunter2"));
}

/// `/tokens`: an admin lists, creates and revokes the org's tokens while the server runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_managed_over_http() {
    let world = World::new();
    let rt = Arc::new(world.ready(0).await);
    let admin = rt
        .create_token(ORG, Role::Admin, "root", "test")
        .await
        .unwrap();
    let other = rt
        .create_token(OTHER_ORG, Role::Admin, "", "test")
        .await
        .unwrap();
    let server = serve(ApiState::new(rt.clone())).await;
    let a = server.client(Some(&admin.secret_text));

    let created = a
        .call(
            "POST",
            "/tokens",
            Some(json!({"role": "read-only", "label": "grafana"})),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["org"], ORG);
    assert_eq!(created.body["role"], "read-only");
    let text = created.body["token"].as_str().unwrap().to_string();
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(text.starts_with(&format!("rbx_{id}_")), "{text}");
    let r = server.client(Some(&text));
    assert_eq!(r.call("GET", "/connections", None).await.status, 200);
    assert_error(&r.call("GET", "/tokens", None).await, 403, "admin");
    assert_error(
        &r.call("POST", "/tokens", Some(json!({"role": "admin"})))
            .await,
        403,
        "admin",
    );

    let listed = a.call("GET", "/tokens", None).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let items = listed.body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["label"], "grafana");
    assert_eq!(items[1]["created_by"], format!("token:{}", admin.id));
    for secret in [secret_of(&text), secret_of(&admin.secret_text)] {
        assert!(!listed.raw.contains(secret), "{}", listed.raw);
    }
    assert!(!listed.raw.contains("secret_hash"), "{}", listed.raw);

    let a_bad = a
        .call("POST", "/tokens", Some(json!({"role": "owner"})))
        .await;
    assert_error(&a_bad, 400, "owner");
    let a_bad = a
        .call(
            "POST",
            "/tokens",
            Some(json!({"role": "admin", "org": OTHER_ORG})),
        )
        .await;
    assert_error(&a_bad, 400, "org");

    // Another org cannot revoke it; its admin can, and it stops working at once.
    let o = server.client(Some(&other.secret_text));
    assert_error(
        &o.call("DELETE", &format!("/tokens/{id}"), None).await,
        404,
        "",
    );
    assert_eq!(r.call("GET", "/connections", None).await.status, 200);
    let revoked = a.call("DELETE", &format!("/tokens/{id}"), None).await;
    assert_eq!((revoked.status, revoked.raw.as_str()), (204, ""));
    assert_unauthenticated(&r.call("GET", "/connections", None).await, "invalid_token");
    assert_error(&a.call("DELETE", "/tokens/tok_nope", None).await, 404, "");
    let listed = a.call("GET", "/tokens", None).await;
    assert!(listed.body[1]["revoked_at"].is_string(), "{listed:?}");

    server.shutdown().await;
    rt.shutdown(Duration::from_secs(5)).await;
}
