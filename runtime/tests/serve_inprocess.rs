//! `runbox serve` started in-process ([`runbox::server::Server`]) over real HTTP on
//! `127.0.0.1:0`, with a real git repository of real runbook components and the sled
//! store: probes, metrics, `/runbooks` (list, exec, configurations, refresh after a new
//! commit), graceful shutdown with a run in flight, and a restart on the same data dir.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "serve_common/mod.rs"]
mod serve_common;

use std::time::Duration;

use runbox::Role;
use runbox::server::Server;
use serde_json::{Value, json};
use serve_common::*;

fn runbooks_of(a: &Answer) -> Vec<String> {
    a.body["repositories"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

fn subscription(url: &str) -> Value {
    json!({
        "name": "revoke-on-pii",
        "event_types": [EVENT],
        "runbook_repository": url,
        "runbook_file": REVOKE,
        "connection_name": CONNECTION,
        "parameter_mapping": {"agent_user": "$.user", "connection_name": "$.connection"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_metrics_runbooks_and_exec() {
    let tmp = tempfile::tempdir().unwrap();
    let source = SourceRepo::init(&tmp.path().join("source.git"));
    let sha = commit(&source, &runbook_files(), "runbooks");
    let url = source.file_url();
    let server = Server::start(&config(&tmp.path().join("data"), Some(&url)))
        .await
        .unwrap();
    let addr = server.local_addr();
    let rt = server.runtime().clone();
    let tok = token(&server, ORG, Role::Admin).await;
    let other = token(&server, "other", Role::Admin).await;

    let health = http(addr, "GET", "/healthz", None, None).await;
    assert_eq!(
        (health.status, &health.body),
        (200, &json!({"status": "ok"}))
    );
    let ready = poll(addr, &tok, "/readyz", |a| a.status == 200).await;
    assert_eq!(ready.body["status"], "ready");

    rt.create_connection(ORG, connection(CONNECTION), "test")
        .await
        .unwrap();

    // ---- list ----
    let list = get(addr, &tok, "/runbooks").await;
    assert_eq!(list.status, 200, "{list:?}");
    let repo = &list.body["repositories"][0];
    assert_eq!(repo["commit"], sha.as_str());
    assert_eq!(repo["branch"], "main");
    assert!(repo["error"].is_null(), "{repo}");
    let mut names = runbooks_of(&list);
    names.sort();
    assert_eq!(names, [ECHO, INFINITE, REVOKE]);
    let echo = repo["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == ECHO)
        .unwrap();
    assert_eq!(echo["metadata"]["count"]["required"], true, "{echo}");
    assert_eq!(echo["metadata"]["flag"]["default"], "false", "{echo}");
    assert!(echo["error"].is_null());
    let filtered = get(
        addr,
        &tok,
        &format!("/runbooks?connection_name={CONNECTION}"),
    )
    .await;
    assert_eq!(filtered.status, 200);
    assert_eq!(runbooks_of(&filtered).len(), 3);
    let unknown = get(addr, &tok, "/runbooks?connection_name=nope").await;
    assert_eq!(unknown.status, 400, "{unknown:?}");
    assert_eq!(unknown.body["code"], "unknown_connection");
    let bad_query = get(addr, &tok, "/runbooks?colour=red").await;
    assert_eq!(bad_query.status, 400);
    assert!(
        bad_query.body["message"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
    let other_org = http(addr, "GET", "/runbooks", Some(other.as_str()), None).await;
    assert_eq!(other_org.body, json!({"repositories": []}));

    // ---- auth: reads need any token, runs and configuration changes an admin ----
    let reader = token(&server, ORG, Role::ReadOnly).await;
    assert_eq!(
        http(addr, "GET", "/runbooks", Some(&reader), None)
            .await
            .status,
        200
    );
    assert_eq!(http(addr, "GET", "/runbooks", None, None).await.status, 401);
    let body = json!({"connection_name": CONNECTION, "repository": url, "file_name": ECHO});
    let denied = http(addr, "POST", "/runbooks/exec", Some(&reader), Some(&body)).await;
    assert_eq!(denied.status, 403, "{denied:?}");
    let body = json!({"git_url": "/elsewhere"});
    let denied = http(
        addr,
        "POST",
        "/runbooks/configurations",
        Some(&reader),
        Some(&body),
    )
    .await;
    assert_eq!(denied.status, 403, "{denied:?}");

    // ---- exec ----
    let exec = |file: &str, params: Value| json!({"connection_name": CONNECTION, "repository": url, "file_name": file, "parameters": params});
    let post_exec = |body: Value| {
        let tok = tok.clone();
        async move {
            http(
                addr,
                "POST",
                "/runbooks/exec",
                Some(tok.as_str()),
                Some(&body),
            )
            .await
        }
    };
    let ok = post_exec(exec(ECHO, json!({"text": "hi", "count": "3"}))).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body["output_status"], "success");
    assert_eq!(ok.body["exit_code"], 0);
    assert_eq!(ok.body["truncated"], false);
    assert_eq!(ok.body["commit"], sha.as_str());
    assert!(ok.body["execution_time"].is_u64());
    let session = ok.body["session_id"].as_str().unwrap();
    assert!(session.starts_with("ses_"), "{session}");
    let out: Value = serde_json::from_str(ok.body["output"].as_str().unwrap()).unwrap();
    assert_eq!(out["params"]["count"], 3);
    assert_eq!(out["trigger"], "manual");
    assert_eq!(out["connection"], CONNECTION);
    assert_eq!(out["dispatch_id"], session);

    let missing = post_exec(exec(ECHO, json!({"text": "hi"}))).await;
    assert_eq!(missing.status, 200, "{missing:?}");
    assert_eq!(missing.body["output_status"], "failed");
    assert_eq!(missing.body["error_code"], "param_missing");
    assert_eq!(missing.body["exit_code"], 1);

    let looping = post_exec(exec(INFINITE, json!({}))).await;
    assert_eq!(looping.body["error_code"], "fuel_exhausted", "{looping:?}");

    let no_file = post_exec(exec("ops/none.runbook.wasm", json!({}))).await;
    assert_eq!(no_file.status, 400, "{no_file:?}");
    assert_eq!(no_file.body["code"], "runbook_not_found");
    let mut no_conn = exec(ECHO, json!({}));
    no_conn["connection_name"] = json!("nope");
    let no_conn = post_exec(no_conn).await;
    assert_eq!(no_conn.status, 400, "{no_conn:?}");
    assert!(no_conn.body["message"].as_str().unwrap().contains("nope"));
    let mut extra = exec(ECHO, json!({}));
    extra["colour"] = json!("red");
    let extra = post_exec(extra).await;
    assert_eq!(extra.status, 400, "{extra:?}");
    assert!(extra.body["message"].as_str().unwrap().contains("colour"));
    let no_org = http(
        addr,
        "POST",
        "/runbooks/exec",
        None,
        Some(&exec(ECHO, json!({}))),
    )
    .await;
    assert_eq!(no_org.status, 401);

    // ---- a dispatch, for the metrics ----
    let created = http(
        addr,
        "POST",
        "/event-routing/subscriptions",
        Some(tok.as_str()),
        Some(&subscription(&url)),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    let receipt = rt
        .publish(ORG, EVENT, sample_payload(), Some("ses_01HX9A2BCD:pii"))
        .await
        .unwrap();
    let dispatch = &receipt.dispatch_ids[0];
    let done = poll(
        addr,
        &tok,
        &format!("/event-routing/dispatches/{dispatch}"),
        |a| a.body["status"] == "delivered" || a.body["status"] == "failed",
    )
    .await;
    assert_eq!(done.body["status"], "delivered", "{done:?}");

    // ---- metrics ----
    let m = http(addr, "GET", "/metrics", None, None).await;
    assert_eq!(m.status, 200);
    assert!(
        m.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        m.content_type
    );
    let text = &m.raw;
    let s = |series: &str| sample(text, series);
    assert_eq!(
        s(&format!(
            "runbox_events_published_total{{event_type=\"{EVENT}\"}}"
        )),
        Some(1.0),
        "{text}"
    );
    assert_eq!(s("runbox_dispatches_total{status=\"pending\"}"), Some(1.0));
    assert_eq!(
        s("runbox_dispatches_total{status=\"processing\"}"),
        Some(1.0)
    );
    assert_eq!(
        s("runbox_dispatches_total{status=\"delivered\"}"),
        Some(1.0)
    );
    assert_eq!(s("runbox_run_duration_seconds_count"), Some(1.0));
    assert_eq!(
        s("runbox_run_duration_seconds_bucket{le=\"+Inf\"}"),
        Some(1.0)
    );
    assert!(s("runbox_fuel_consumed_total").unwrap() > 0.0);
    assert_eq!(
        s("runbox_limit_hits_total{code=\"fuel_exhausted\"}"),
        Some(1.0)
    );
    assert_eq!(
        s("runbox_manual_runs_total{outcome=\"success\"}"),
        Some(1.0)
    );
    assert_eq!(s("runbox_manual_runs_total{outcome=\"failed\"}"), Some(2.0));
    assert_eq!(s("runbox_runs_in_flight"), Some(0.0));
    let key = list.body["repositories"][0]["repository"].as_str().unwrap();
    let labels = format!("org=\"{ORG}\",repository=\"{key}\"");
    assert_eq!(
        s(&format!(
            "runbox_repository_runbooks{{{labels},state=\"loaded\"}}"
        )),
        Some(3.0)
    );
    assert_eq!(
        s(&format!("runbox_repository_last_fetch_failed{{{labels}}}")),
        Some(0.0)
    );
    assert!(text.contains("# TYPE runbox_run_duration_seconds histogram"));

    let report = server.shutdown().await;
    assert!(!report.requests_cut);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurations_crud_secrets_and_refresh_after_a_new_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let fixed = SourceRepo::init(&tmp.path().join("fixed.git"));
    commit(&fixed, &runbook_files()[..1], "one");
    let server = Server::start(&config(&data, Some(&fixed.file_url())))
        .await
        .unwrap();
    let addr = server.local_addr();
    let tok = token(&server, ORG, Role::Admin).await;
    let other = token(&server, "other", Role::Admin).await;
    let post = |body: Value| {
        let tok = tok.clone();
        async move {
            http(
                addr,
                "POST",
                "/runbooks/configurations",
                Some(tok.as_str()),
                Some(&body),
            )
            .await
        }
    };

    // The config file's repository: listed, read-only.
    let list = get(addr, &tok, "/runbooks/configurations").await;
    assert_eq!(list.status, 200);
    let from_file = &list.body[0];
    assert_eq!(from_file["source"], "config");
    let file_id = from_file["id"].as_str().unwrap().to_owned();
    let del = http(
        addr,
        "DELETE",
        &format!("/runbooks/configurations/{file_id}"),
        Some(tok.as_str()),
        None,
    )
    .await;
    assert_eq!(del.status, 409, "{del:?}");
    assert_eq!(del.body["code"], "read_only");

    // Secrets are write-only.
    let https = post(json!({
        "git_url": "https://bot:t0ken-in-url@git.invalid/acme/private.git",
        "git_password": "pa55-w0rd-x",
        "branch": "main"
    }))
    .await;
    assert_eq!(https.status, 201, "{https:?}");
    assert!(
        !https.raw.contains("pa55-w0rd-x") && !https.raw.contains("t0ken-in-url"),
        "{}",
        https.raw
    );
    assert_eq!(https.body["secrets_set"], json!(["git_password"]));
    assert_eq!(https.body["source"], "api");
    let https_id = https.body["id"].as_str().unwrap().to_owned();
    let https_key = https.body["repository"].as_str().unwrap().to_owned();
    assert_eq!(https_key, "git.invalid/acme/private");
    let stored = std::fs::read_to_string(data.join("repositories.json")).unwrap();
    assert!(
        stored.contains("pa55-w0rd-x"),
        "kept for fetching after a restart"
    );
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.join("repositories.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Not fetchable: not ready, and the reason names it.
    let not_ready = poll(addr, &tok, "/readyz", |a| a.status == 503).await;
    let reasons = not_ready.body["reasons"].to_string();
    assert!(reasons.contains(&https_key), "{reasons}");
    assert!(
        !reasons.contains("pa55") && !reasons.contains("t0ken"),
        "{reasons}"
    );
    // An update without the secret keeps it; "" clears it.
    let path = format!("/runbooks/configurations/{https_id}");
    let kept = http(
        addr,
        "PUT",
        &path,
        Some(tok.as_str()),
        Some(&json!({
            "git_url": "https://git.invalid/acme/private.git", "branch": "release"
        })),
    )
    .await;
    assert_eq!(kept.status, 200, "{kept:?}");
    assert_eq!(kept.body["secrets_set"], json!(["git_password"]));
    assert_eq!(kept.body["branch"], "release");
    let cleared = http(
        addr,
        "PUT",
        &path,
        Some(tok.as_str()),
        Some(&json!({
            "git_url": "https://git.invalid/acme/private.git", "git_password": ""
        })),
    )
    .await;
    assert_eq!(cleared.body["secrets_set"], json!([]), "{cleared:?}");
    let gone = http(addr, "DELETE", &path, Some(tok.as_str()), None).await;
    assert_eq!(gone.status, 204);
    assert_eq!(get(addr, &tok, &path).await.status, 404);
    // Every write is in the org's audit record, by token, without secret values.
    let audit = get(addr, &tok, "/audit?limit=1000").await;
    assert_eq!(audit.status, 200, "{audit:?}");
    assert!(
        !audit.raw.contains("pa55-w0rd-x") && !audit.raw.contains("t0ken-in-url"),
        "{}",
        audit.raw
    );
    let changes: Vec<(Value, Value)> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["object_kind"] == "repository" && r["object_id"] == https_id.as_str())
        .inspect(|r| assert!(r["actor"].as_str().unwrap().starts_with("token:"), "{r}"))
        .map(|r| (r["from"].clone(), r["to"].clone()))
        .collect();
    let key = json!(https_key);
    assert_eq!(
        changes,
        [
            (Value::Null, key.clone()),
            (key.clone(), key.clone()),
            (key.clone(), key.clone()),
            (key.clone(), Value::Null),
        ]
    );
    let first_update = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["object_id"] == https_id.as_str() && r["from"] == key)
        .unwrap()["detail"]
        .clone();
    assert!(
        first_update
            .as_str()
            .unwrap()
            .contains("branch release, secrets set: git_password"),
        "{first_update}"
    );
    let elsewhere = get(addr, &other, "/audit").await;
    assert!(!elsewhere.raw.contains(&https_id), "{}", elsewhere.raw);
    let bad = get(addr, &tok, "/audit?limit=0").await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(bad.body["message"].as_str().unwrap().contains("limit"));
    assert_eq!(
        http(
            addr,
            "GET",
            &format!("/runbooks/configurations/{file_id}"),
            Some(other.as_str()),
            None
        )
        .await
        .status,
        404
    );
    poll(addr, &tok, "/readyz", |a| a.status == 200).await;

    // Bad input.
    let typo = post(json!({"git_url": "/x", "git_pasword": "p"})).await;
    assert_eq!(typo.status, 400, "{typo:?}");
    assert!(
        typo.body["message"]
            .as_str()
            .unwrap()
            .contains("git_pasword")
    );
    let bad_branch = post(json!({"git_url": "/x", "branch": "a..b"})).await;
    assert_eq!(bad_branch.status, 400, "{bad_branch:?}");
    assert!(
        bad_branch.body["message"]
            .as_str()
            .unwrap()
            .contains("branch")
    );
    let dup = post(json!({"git_url": fixed.file_url()})).await;
    assert_eq!(dup.status, 409, "{dup:?}");

    // A second repository, then a new commit in it and a refresh.
    let source = SourceRepo::init(&tmp.path().join("team.git"));
    let first = commit(&source, &runbook_files()[..1], "echo only");
    let created = post(json!({"git_url": source.file_url(), "branch": "main"})).await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.body["id"].as_str().unwrap().to_owned();
    let key = created.body["repository"].as_str().unwrap().to_owned();
    let refresh_path = format!("/runbooks/configurations/{id}/refresh");
    let r = http(addr, "POST", &refresh_path, Some(tok.as_str()), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    let listed = get(addr, &tok, "/runbooks").await;
    let team = listed.body["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repository"] == key.as_str())
        .unwrap()
        .clone();
    assert_eq!(team["commit"], first.as_str());
    assert_eq!(team["items"].as_array().unwrap().len(), 1);

    let second = commit(&source, &runbook_files(), "all three");
    let r = http(addr, "POST", &refresh_path, Some(tok.as_str()), None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["outcome"], "updated", "{r:?}");
    assert_eq!(r.body["to"], second.as_str());
    assert_eq!(r.body["loaded"], 3);
    let listed = get(addr, &tok, "/runbooks").await;
    let team = listed.body["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repository"] == key.as_str())
        .unwrap()
        .clone();
    assert_eq!(team["commit"], second.as_str());
    assert_eq!(team["items"].as_array().unwrap().len(), 3);
    let again = http(addr, "POST", &refresh_path, Some(tok.as_str()), None).await;
    assert_eq!(again.body["outcome"], "unchanged", "{again:?}");
    let unknown = http(
        addr,
        "POST",
        "/runbooks/configurations/rcf_nope/refresh",
        Some(tok.as_str()),
        None,
    )
    .await;
    assert_eq!(unknown.status, 404);

    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_runs_in_flight_and_stops_accepting() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let source = SourceRepo::init(&tmp.path().join("source.git"));
    commit(&source, &runbook_files(), "runbooks");
    let url = source.file_url();
    let mut c = config(&data, Some(&url));
    // The loop runs into the wall-clock limit, not the fuel budget: runs that stay in
    // flight long enough to shut down under them.
    c.limits.fuel = u64::MAX / 4;
    c.limits.timeout = Duration::from_secs(3);
    let server = Server::start(&c).await.unwrap();
    let addr = server.local_addr();
    let tok = token(&server, ORG, Role::Admin).await;
    server
        .runtime()
        .create_connection(ORG, connection(CONNECTION), "test")
        .await
        .unwrap();
    poll(addr, &tok, "/readyz", |a| a.status == 200).await;

    // A dispatch in flight...
    let mut sub = subscription(&url);
    sub["runbook_file"] = json!(INFINITE);
    sub["parameter_mapping"] = json!({});
    let created = http(
        addr,
        "POST",
        "/event-routing/subscriptions",
        Some(tok.as_str()),
        Some(&sub),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    let receipt = server
        .runtime()
        .publish(ORG, EVENT, sample_payload(), Some("loop:1"))
        .await
        .unwrap();
    let dispatch = receipt.dispatch_ids[0].clone();
    poll(
        addr,
        &tok,
        &format!("/event-routing/dispatches/{dispatch}"),
        |a| a.body["status"] == "processing",
    )
    .await;
    // ... and a manual run in flight.
    let body = json!({"connection_name": CONNECTION, "repository": url, "file_name": INFINITE});
    let run_tok = tok.clone();
    let run = tokio::spawn(async move {
        http(
            addr,
            "POST",
            "/runbooks/exec",
            Some(run_tok.as_str()),
            Some(&body),
        )
        .await
    });
    let metrics = server.runtime().metrics().clone();
    while metrics.runs_in_flight() == 0 {
        assert!(!run.is_finished(), "{:?}", run.await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let report = server.shutdown().await;
    assert!(!report.requests_cut);
    let answer = run.await.unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["error_code"], "deadline_exceeded", "{answer:?}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing accepts after shutdown"
    );

    // The dispatch ended on its own limit (not `interrupted`), recorded durably.
    let server = Server::start(&c).await.unwrap();
    let d = get(
        server.local_addr(),
        &tok,
        &format!("/event-routing/dispatches/{dispatch}"),
    )
    .await;
    assert_eq!(d.body["status"], "failed", "{d:?}");
    assert_eq!(d.body["last_error"]["code"], "deadline_exceeded", "{d:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_subscriptions_history_and_configurations() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let source = SourceRepo::init(&tmp.path().join("source.git"));
    commit(&source, &runbook_files(), "runbooks");
    let url = source.file_url();
    let extra = SourceRepo::init(&tmp.path().join("extra.git"));
    commit(&extra, &runbook_files()[..1], "extra");

    let (sub_id, dispatch_id, extra_key) = {
        let server = Server::start(&config(&data, Some(&url))).await.unwrap();
        let addr = server.local_addr();
        let tok = token(&server, ORG, Role::Admin).await;
        server
            .runtime()
            .create_connection(ORG, connection(CONNECTION), "test")
            .await
            .unwrap();
        let created = http(
            addr,
            "POST",
            "/event-routing/subscriptions",
            Some(tok.as_str()),
            Some(&subscription(&url)),
        )
        .await;
        assert_eq!(created.status, 201, "{created:?}");
        let receipt = server
            .runtime()
            .publish(ORG, EVENT, sample_payload(), Some("restart:1"))
            .await
            .unwrap();
        let d = receipt.dispatch_ids[0].clone();
        poll(addr, &tok, &format!("/event-routing/dispatches/{d}"), |a| {
            a.body["status"] == "delivered"
        })
        .await;
        let repo = http(
            addr,
            "POST",
            "/runbooks/configurations",
            Some(tok.as_str()),
            Some(&json!({"git_url": extra.file_url()})),
        )
        .await;
        assert_eq!(repo.status, 201, "{repo:?}");
        server.shutdown().await;
        (
            created.body["id"].as_str().unwrap().to_owned(),
            d,
            repo.body["repository"].as_str().unwrap().to_owned(),
        )
    };

    let server = Server::start(&config(&data, Some(&url))).await.unwrap();
    let addr = server.local_addr();
    let tok = token(&server, ORG, Role::Admin).await;
    let subs = get(addr, &tok, "/event-routing/subscriptions").await;
    assert_eq!(subs.body[0]["id"], sub_id.as_str(), "{subs:?}");
    let history = get(
        addr,
        &tok,
        &format!("/event-routing/subscriptions/{sub_id}/dispatches"),
    )
    .await;
    assert_eq!(history.body["total"], 1, "{history:?}");
    assert_eq!(history.body["items"][0]["id"], dispatch_id.as_str());
    assert_eq!(history.body["items"][0]["status"], "delivered");
    let configs = get(addr, &tok, "/runbooks/configurations").await;
    let sources: Vec<(&str, &str)> = configs
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["source"].as_str().unwrap(),
                c["repository"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        sources.contains(&("api", extra_key.as_str())),
        "{sources:?}"
    );
    assert_eq!(sources.len(), 2, "{sources:?}");
    let ready = poll(addr, &tok, "/readyz", |a| a.status == 200).await;
    assert_eq!(ready.body["status"], "ready");
    let listed = get(addr, &tok, "/runbooks").await;
    assert_eq!(listed.body["repositories"].as_array().unwrap().len(), 2);
    // Still dispatching after the restart.
    let receipt = server
        .runtime()
        .publish(ORG, EVENT, sample_payload(), Some("restart:2"))
        .await
        .unwrap();
    let d = &receipt.dispatch_ids[0];
    poll(addr, &tok, &format!("/event-routing/dispatches/{d}"), |a| {
        a.body["status"] == "delivered"
    })
    .await;
    server.shutdown().await;
}
