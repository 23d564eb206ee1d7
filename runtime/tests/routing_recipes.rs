//! The seed recipes of event routing, end to end with their real example components:
//! quarantine-connection on `session.guardrail_violation` (SQL to a postgres connection
//! through a recording agent) and page-oncall on `session.anomaly_detected` (a webhook
//! POST to a real receiver on loopback through the org's config and egress policy, and a
//! `policy_denied` failure when the webhook host is not on the allow-list). The revoke
//! recipe is covered by `routing_e2e.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_receiver;
mod routing_common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http_receiver::{loopback_egress, receiver};
use routing_common::*;
use runbox::dispatch::WorkerSettings;
use runbox::host::{EgressPolicy, Limits, StaticConfig};
use runbox::model::{ConnectionType, DispatchStatus, SubscriptionSpec, SubscriptionStatus};
use runbox::{EngineSettings, RepoConfig, Runtime};
use serde_json::json;

const QUARANTINE: &str = "ops/quarantine-connection.runbook.wasm";
const PAGE: &str = "ops/page-oncall.runbook.wasm";
const GUARDRAIL: &str = "session.guardrail_violation";
const ANOMALY: &str = "session.anomaly_detected";
/// The database connection the events come from (hoop's samples name it).
const PROD_PG: &str = "conn-prod-pg";

/// hoop's sample payload of `session.guardrail_violation`.
fn guardrail_sample() -> serde_json::Value {
    json!({"session_id":"ses_01HX9DJ3KE","user":"drew.k@acme.com","connection":"conn-prod-pg",
        "rule":"block-truncate-prod","query_excerpt":"TRUNCATE TABLE customers",
        "occurred_at":"2026-05-04T14:55:01Z"})
}

/// hoop's sample payload of `session.anomaly_detected`.
fn anomaly_sample() -> serde_json::Value {
    json!({"session_id":"ses_01HX9F5OPQ","user":"drew.k@acme.com","connection":"conn-prod-pg",
        "risk_level":"high","reason":"query volume 10x above baseline",
        "occurred_at":"2026-05-04T15:10:00Z"})
}

/// A temp dir with the org's source repository holding the two recipe components.
struct Recipes {
    tmp: tempfile::TempDir,
    source: SourceRepo,
    agent: Arc<RecordingAgent>,
}

impl Recipes {
    fn new() -> Recipes {
        let tmp = tempfile::tempdir().unwrap();
        let source = SourceRepo::init(&tmp.path().join("source.git"));
        let quarantine = fixture(runbox_fixtures::examples::QUARANTINE_CONNECTION);
        let page = fixture(runbox_fixtures::examples::PAGE_ONCALL);
        source.commit(
            "main",
            &[(QUARANTINE, &quarantine), (PAGE, &page)],
            "recipes",
        );
        Recipes {
            tmp,
            source,
            agent: Arc::new(RecordingAgent::default()),
        }
    }

    /// A runtime with routing on and the `conn-prod-pg` postgres connection; `config` and
    /// `egress` are the org's, when given.
    async fn runtime(&self, config: Option<StaticConfig>, egress: Option<EgressPolicy>) -> Runtime {
        let mut builder = Runtime::builder()
            .data_dir(self.tmp.path().join("data"))
            .repository(ORG, RepoConfig::new(self.source.file_url()))
            .engine_settings(EngineSettings {
                max_instances: 4,
                ..EngineSettings::default()
            })
            .limits(Limits::default())
            .worker_settings(WorkerSettings {
                workers: 2,
                claim_batch: 4,
                lease: Duration::from_secs(60),
                idle_poll: Duration::from_millis(100),
                ..WorkerSettings::default()
            })
            .agent(self.agent.clone());
        if let Some(config) = config {
            builder = builder.config_source(ORG, Arc::new(config));
        }
        if let Some(egress) = egress {
            builder = builder.egress_policy(ORG, Arc::new(egress));
        }
        let rt = builder.build().await.expect("runtime builds");
        rt.set_event_routing(ORG, true, "admin").await.unwrap();
        rt.create_connection(ORG, postgres_connection(), "admin")
            .await
            .unwrap();
        rt
    }

    fn subscription(
        &self,
        name: &str,
        event: &str,
        file: &str,
        mapping: &[(&str, &str)],
    ) -> SubscriptionSpec {
        SubscriptionSpec {
            name: name.to_string(),
            description: "seed recipe".into(),
            event_types: vec![event.to_string()],
            runbook_repository: self.source.file_url(),
            runbook_file: file.to_string(),
            connection_name: PROD_PG.to_string(),
            parameter_mapping: mapping
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            status: SubscriptionStatus::Active,
            retry_policy: None,
        }
    }
}

/// `conn-prod-pg`: `database`/`postgres` with the runbooks plugin, bound to the recording
/// agent.
fn postgres_connection() -> runbox::model::ConnectionSpec {
    let mut spec = connection_spec(PROD_PG);
    spec.kind = ConnectionType::Database;
    spec.subtype = "postgres".into();
    spec.tags = vec!["prod".into()];
    spec.command = Vec::new();
    spec
}

async fn publish_one(rt: &Runtime, event: &str, payload: serde_json::Value, key: &str) -> String {
    let receipt = rt.publish(ORG, event, payload, Some(key)).await.unwrap();
    assert!(
        !receipt.duplicate && !receipt.feature_disabled,
        "{receipt:?}"
    );
    assert_eq!(receipt.dispatch_ids.len(), 1, "{receipt:?}");
    receipt.dispatch_ids[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_recipe_sends_quoted_sql_to_the_postgres_connection() {
    let recipes = Recipes::new();
    let rt = recipes.runtime(None, None).await;
    let sub = rt
        .create_subscription(
            ORG,
            recipes.subscription(
                "quarantine-on-guardrail",
                GUARDRAIL,
                QUARANTINE,
                &[
                    ("connection", "$.connection"),
                    ("triggered_rule", "$.rule"),
                    ("query_excerpt", "$.query_excerpt"),
                ],
            ),
            "admin",
        )
        .await
        .unwrap();

    // hoop's sample.
    let id = publish_one(
        &rt,
        GUARDRAIL,
        guardrail_sample(),
        "ses_01HX9DJ3KE:session.guardrail_violation:block-truncate-prod",
    )
    .await;
    let done = wait_for(&rt, &id, DispatchStatus::Delivered).await;
    assert_eq!(done.dispatch.attempt, 1);
    assert_eq!(done.dispatch.last_error, None);
    assert_eq!(done.subscription_name, "quarantine-on-guardrail");
    let excerpt = done.dispatch.output_excerpt.clone().unwrap_or_default();
    assert!(
        excerpt.contains(&format!(
            "quarantined conn-prod-pg (REVOKE CONNECT on the current database, rule block-truncate-prod, dispatch {id})"
        )),
        "{excerpt}"
    );
    let calls = recipes.agent.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call.connection, PROD_PG);
    assert_eq!(call.dispatch_id, id);
    assert!(
        call.input.contains(&format!(
            "VALUES ('{id}', 'conn-prod-pg', 'block-truncate-prod', 'TRUNCATE TABLE customers')"
        )),
        "{}",
        call.input
    );
    assert!(
        call.input.contains("'TRUNCATE TABLE customers'"),
        "{}",
        call.input
    );
    assert!(
        call.input.contains(
            "EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', current_database());"
        ),
        "{}",
        call.input
    );
    assert!(call.input.ends_with("COMMIT;\n"), "{}", call.input);

    // `query_excerpt` is optional in the event: still delivered, the excerpt is NULL.
    let mut without = guardrail_sample();
    without["session_id"] = json!("ses_01HX9DJ3KF");
    without.as_object_mut().unwrap().remove("query_excerpt");
    let id2 = publish_one(
        &rt,
        GUARDRAIL,
        without,
        "ses_01HX9DJ3KF:session.guardrail_violation:block-truncate-prod",
    )
    .await;
    let done = wait_for(&rt, &id2, DispatchStatus::Delivered).await;
    assert_eq!(done.dispatch.last_error, None);
    let calls = recipes.agent.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let call = &calls[1];
    assert_eq!(call.dispatch_id, id2);
    assert!(
        call.input.contains(&format!(
            "VALUES ('{id2}', 'conn-prod-pg', 'block-truncate-prod', NULL)"
        )),
        "{}",
        call.input
    );

    let view = rt.get_subscription(ORG, &sub.id).await.unwrap();
    assert_eq!(view.stats.delivered_count_7d, 2);
    assert_eq!(view.stats.failed_count_7d, 0);
    rt.shutdown(Duration::from_secs(5)).await;
}

const PAGE_MAPPING: &[(&str, &str)] =
    &[("session_id", "$.session_id"), ("risk_summary", "$.reason")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_recipe_posts_to_the_configured_webhook_through_the_egress_policy() {
    let (port, mut received) = receiver().await;
    let recipes = Recipes::new();
    let config =
        StaticConfig::new().with("pager_webhook_url", format!("http://127.0.0.1:{port}/page"));
    let rt = recipes
        .runtime(Some(config), Some(loopback_egress(port)))
        .await;
    rt.create_subscription(
        ORG,
        recipes.subscription("page-on-anomaly", ANOMALY, PAGE, PAGE_MAPPING),
        "admin",
    )
    .await
    .unwrap();
    let id = publish_one(
        &rt,
        ANOMALY,
        anomaly_sample(),
        "ses_01HX9F5OPQ:session.anomaly_detected",
    )
    .await;
    let done = wait_for(&rt, &id, DispatchStatus::Delivered).await;
    assert_eq!(done.dispatch.last_error, None, "{done:#?}");
    let excerpt = done.dispatch.output_excerpt.clone().unwrap_or_default();
    assert!(
        excerpt.contains("paged on-call for session ses_01HX9F5OPQ: status 202"),
        "{excerpt}"
    );

    let request = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("the receiver got the page")
        .unwrap();
    assert!(
        request.request_line.starts_with("POST /page HTTP/1.1"),
        "{request:?}"
    );
    assert_eq!(
        request.header("x-runbox-dispatch"),
        Some(id.as_str()),
        "{request:?}"
    );
    assert!(
        request
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "{request:?}"
    );
    assert_eq!(
        request.header("authorization"),
        None,
        "no pager_token granted"
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["summary"], "query volume 10x above baseline");
    assert_eq!(body["session_id"], "ses_01HX9F5OPQ");
    assert_eq!(body["dispatch_id"], id.as_str());
    assert_eq!(body["severity"], "critical");
    // page-oncall never execs.
    assert!(recipes.agent.calls().is_empty());
    assert!(received.try_recv().is_err(), "exactly one page");
    rt.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_recipe_to_a_host_off_the_allow_list_fails_as_policy_denied() {
    let (port, mut received) = receiver().await;
    let recipes = Recipes::new();
    // The loopback receiver is allowed, the configured webhook host is not.
    let denied_host = "pager.not-allowed.invalid";
    let config = StaticConfig::new().with(
        "pager_webhook_url",
        format!("http://{denied_host}:{port}/page"),
    );
    let rt = recipes
        .runtime(Some(config), Some(loopback_egress(port)))
        .await;
    rt.create_subscription(
        ORG,
        recipes.subscription("page-on-anomaly", ANOMALY, PAGE, PAGE_MAPPING),
        "admin",
    )
    .await
    .unwrap();
    let id = publish_one(
        &rt,
        ANOMALY,
        anomaly_sample(),
        "ses_01HX9F5OPQ:session.anomaly_detected",
    )
    .await;
    let done = wait_for(&rt, &id, DispatchStatus::Failed).await;
    let error = done
        .dispatch
        .last_error
        .clone()
        .expect("a failed dispatch has its error");
    assert_eq!(error.code, "policy_denied", "{error:?}");
    assert!(error.message.contains(denied_host), "{error:?}");
    assert!(!error.retryable, "{error:?}");
    assert_eq!(done.dispatch.attempt, 1);
    assert!(received.try_recv().is_err(), "nothing reached the receiver");
    rt.shutdown(Duration::from_secs(5)).await;
}
