//! The quarantine-connection recipe against a real PostgreSQL started by the test: the
//! subscription on `session.guardrail_violation`, fired with hoop's sample, runs the
//! example component, whose SQL goes through `connection.exec` to the built-in
//! [`LocalAgent`] running `psql` against the cluster; the effect is asserted in the
//! database (the quarantine record, `CONNECT` revoked, an ordinary role refused).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_common;
mod routing_common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pg_common::PgCluster;
use routing_common::*;
use runbox::agent::{LocalAgent, LocalAgentLimits, LocalCommand};
use runbox::dispatch::WorkerSettings;
use runbox::model::{ConnectionType, DispatchStatus, SubscriptionSpec, SubscriptionStatus};
use runbox::{EngineSettings, RepoConfig, Runtime};
use serde_json::json;

const QUARANTINE: &str = "ops/quarantine-connection.runbook.wasm";
const GUARDRAIL: &str = "session.guardrail_violation";
const PROD_PG: &str = "conn-prod-pg";
/// The database behind `conn-prod-pg`, and an ordinary role relying on `PUBLIC`'s
/// `CONNECT`.
const DB: &str = "prod";
const APP_ROLE: &str = "app";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_recipe_revokes_connect_on_a_real_postgres() {
    let pg = PgCluster::start();
    pg.query("postgres", &format!("CREATE DATABASE {DB}"));
    pg.query("postgres", &format!("CREATE ROLE {APP_ROLE} LOGIN"));
    pg.can_connect(APP_ROLE, DB)
        .expect("the app role connects before");

    let tmp = tempfile::tempdir().unwrap();
    let source = SourceRepo::init(&tmp.path().join("source.git"));
    let quarantine = fixture(runbox_fixtures::examples::QUARANTINE_CONNECTION);
    source.commit("main", &[(QUARANTINE, &quarantine)], "recipe");

    // The gateway's agent for conn-prod-pg: psql against the cluster as its owner.
    let argv: Vec<String> = std::iter::once(pg.psql().to_string_lossy().into_owned())
        .chain(pg.psql_args(pg_common::SUPERUSER, DB))
        .collect();
    let agent = LocalAgent::new(LocalAgentLimits::default(), move |c| {
        (c.name == PROD_PG).then(|| LocalCommand {
            argv: argv.clone(),
            env: BTreeMap::new(),
        })
    });
    let rt = Runtime::builder()
        .data_dir(tmp.path().join("data"))
        .repository(ORG, RepoConfig::new(source.file_url()))
        .engine_settings(EngineSettings {
            max_instances: 4,
            ..EngineSettings::default()
        })
        .worker_settings(WorkerSettings {
            workers: 1,
            claim_batch: 4,
            lease: Duration::from_secs(60),
            idle_poll: Duration::from_millis(100),
            ..WorkerSettings::default()
        })
        .agent(Arc::new(agent))
        .build()
        .await
        .unwrap();
    rt.set_event_routing(ORG, true, "admin").await.unwrap();
    let mut conn = connection_spec(PROD_PG);
    conn.kind = ConnectionType::Database;
    conn.subtype = "postgres".into();
    conn.command = Vec::new();
    rt.create_connection(ORG, conn, "admin").await.unwrap();
    rt.create_subscription(
        ORG,
        SubscriptionSpec {
            name: "quarantine-on-guardrail".into(),
            description: "seed recipe".into(),
            event_types: vec![GUARDRAIL.into()],
            runbook_repository: source.file_url(),
            runbook_file: QUARANTINE.into(),
            connection_name: PROD_PG.into(),
            parameter_mapping: BTreeMap::from([
                ("connection".to_string(), "$.connection".to_string()),
                ("triggered_rule".to_string(), "$.rule".to_string()),
                ("query_excerpt".to_string(), "$.query_excerpt".to_string()),
            ]),
            status: SubscriptionStatus::Active,
            retry_policy: None,
        },
        "admin",
    )
    .await
    .unwrap();

    // hoop's sample, with a quote in the excerpt to check the literal quoting for real.
    let payload = json!({"session_id":"ses_01HX9DJ3KE","user":"drew.k@acme.com",
        "connection":"conn-prod-pg","rule":"block-truncate-prod",
        "query_excerpt":"TRUNCATE TABLE customers -- it's gone","occurred_at":"2026-05-04T14:55:01Z"});
    let receipt = rt
        .publish(
            ORG,
            GUARDRAIL,
            payload,
            Some("ses_01HX9DJ3KE:session.guardrail_violation:block-truncate-prod"),
        )
        .await
        .unwrap();
    let id = receipt.dispatch_ids[0].clone();
    let done = wait_for(&rt, &id, DispatchStatus::Delivered).await;
    assert_eq!(done.dispatch.last_error, None, "{done:#?}");

    assert_eq!(
        pg.query(DB, "SELECT dispatch_id || '|' || connection || '|' || rule || '|' || excerpt FROM runbox_quarantine"),
        format!("{id}|conn-prod-pg|block-truncate-prod|TRUNCATE TABLE customers -- it's gone")
    );
    assert_eq!(
        pg.query(
            "postgres",
            &format!("SELECT has_database_privilege('{APP_ROLE}', '{DB}', 'CONNECT')")
        ),
        "f"
    );
    let refused = pg
        .can_connect(APP_ROLE, DB)
        .expect_err("the app role is refused now");
    assert!(refused.contains("CONNECT"), "{refused}");

    // A replay is a new dispatch (a new id): it records a second quarantine, and
    // revoking what is already revoked is a no-op that succeeds.
    let replay = rt.replay(ORG, &id, "admin").await.unwrap();
    let again = wait_for(&rt, &replay.id, DispatchStatus::Delivered).await;
    assert_eq!(again.dispatch.last_error, None, "{again:#?}");
    assert_eq!(pg.query(DB, "SELECT count(*) FROM runbox_quarantine"), "2");
    assert_eq!(
        pg.query(
            "postgres",
            &format!("SELECT has_database_privilege('{APP_ROLE}', '{DB}', 'CONNECT')")
        ),
        "f"
    );
    rt.shutdown(Duration::from_secs(5)).await;
}
