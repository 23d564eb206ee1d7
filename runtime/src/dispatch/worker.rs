//! One worker: claim due dispatches, run each, record the result.
//!
//! Every claimed dispatch ends in exactly one store transition (`finish` or `requeue`),
//! whatever fails on the way (subscription, connection, runbook, params, agent, guest):
//! a failure is a `failed` dispatch with its reason, never a lost one.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt as _;
use runbox_host_api::{Agent, ErrorCode, Invocation, RunOutcome, RunRequest, Trigger, cap_text};
use serde_json::Value;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::batch::BatchCache;
use super::{AgentChoice, Dispatcher, retry_due};
use crate::agent::LocalAgent;
use crate::catalog::Catalog;
use crate::model::{Connection, Dispatch, DispatchError, Subscription, Timestamp};
use crate::routing::{CompiledMapping, ParameterMapping, render};
use crate::store::{FinishOutcome, TerminalStatus};

/// Bytes of a run's output kept with the dispatch.
pub const OUTPUT_EXCERPT_BYTES: usize = 4096;

/// Claimed batches one worker has running at once. Why two: a batch's last act is waiting
/// for the flush that makes its ends durable; meanwhile the worker already claims the next
/// batch, whose own durable claim then shares that flush instead of waiting for another.
const BATCHES_IN_FLIGHT: usize = 2;

/// The worker loop; returns once the dispatcher is stopped and its claimed batches ended.
pub(crate) async fn run(d: Arc<Dispatcher>, n: usize) {
    let mut stop = d.stop.subscribe();
    let mut running: JoinSet<()> = JoinSet::new();
    tracing::debug!(worker = n, "dispatch worker started");
    loop {
        if *stop.borrow_and_update() {
            break;
        }
        if running.len() >= BATCHES_IN_FLIGHT {
            joined(n, running.join_next().await);
            continue;
        }
        // Registered before claiming, so a wake-up between the claim and the wait is kept.
        let notified = d.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let filter = |c: &crate::store::ClaimCandidate<'_>| d.agents.may_claim(c);
        let settings = d.settings;
        match d
            .store
            .claim_due(
                Timestamp::now(),
                settings.claim_batch,
                settings.lease,
                &filter,
            )
            .await
        {
            Ok(batch) if !batch.is_empty() => {
                // Claimed dispatches are run even when a stop comes meanwhile: shutdown
                // lets them finish within its deadline, then interrupts them.
                running.spawn(run_batch(Arc::clone(&d), batch).in_current_span());
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::error!(worker = n, error = %e, "claiming dispatches failed"),
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep(settings.idle_poll) => {}
            _ = stop.changed() => {}
            ended = running.join_next(), if !running.is_empty() => joined(n, ended),
        }
    }
    while let Some(ended) = running.join_next().await {
        joined(n, Some(ended));
    }
    tracing::debug!(worker = n, "dispatch worker stopped");
}

/// Runs a claimed batch concurrently (bounded by the engine's instance slots), so its
/// finishes share group-commit flushes instead of paying one each; every dispatch is
/// still recorded durably on its own.
async fn run_batch(d: Arc<Dispatcher>, batch: Vec<Dispatch>) {
    let cache = BatchCache::default();
    futures::future::join_all(
        batch
            .into_iter()
            .map(|dispatch| process(&d, &cache, dispatch)),
    )
    .await;
}

/// Logs a batch task that did not end normally (a panic outside a run, e.g. while
/// recording its end: the batch's unrecorded dispatches stay `processing` until recovery).
fn joined(n: usize, ended: Option<Result<(), tokio::task::JoinError>>) {
    if let Some(Err(e)) = ended {
        tracing::error!(worker = n, error = %e, "a dispatch batch ended abnormally");
    }
}

/// Runs one claimed dispatch and records its end.
async fn process(d: &Dispatcher, cache: &BatchCache, dispatch: Dispatch) {
    let span = tracing::info_span!(
        "dispatch",
        org = %dispatch.org,
        dispatch_id = %dispatch.id,
        subscription = %dispatch.subscription_id,
        attempt = dispatch.attempt,
    );
    async {
        let started = Instant::now();
        // A panic in the host (the gateway's agent, or a runbox bug) ends this dispatch as
        // `failed`; unwound, it would take the whole batch's task with it and leave every
        // dispatch of the batch `processing` until the next start.
        let (subscription, result) = match AssertUnwindSafe(execute(d, cache, &dispatch))
            .catch_unwind()
            .await
        {
            Ok(executed) => executed,
            Err(panic) => (None, Err(host_panicked(panic.as_ref()))),
        };
        let outcome = match result {
            Ok(o) => o,
            Err(error) => Ended::failed_before_run(error, started),
        };
        record(d, &dispatch, subscription.as_deref(), outcome).await;
    }
    .instrument(span)
    .await;
}

/// The error of a dispatch whose run panicked in the host (dispatch errors are API
/// answers, so the panic's message goes to the log only).
fn host_panicked(panic: &(dyn std::any::Any + Send)) -> DispatchError {
    let message = crate::error::host_panicked_run("dispatch's run", panic);
    DispatchError::new(ErrorCode::Internal.as_str(), message, false)
}

/// What a dispatch ended with, before it is stored.
struct Ended {
    error: Option<DispatchError>,
    duration_ms: u64,
    fuel_used: Option<u64>,
    peak_memory_bytes: Option<u64>,
    commit_sha: Option<String>,
    output_excerpt: Option<String>,
}

impl Ended {
    fn failed_before_run(error: DispatchError, started: Instant) -> Self {
        Ended {
            error: Some(error),
            duration_ms: started.elapsed().as_millis() as u64,
            fuel_used: None,
            peak_memory_bytes: None,
            commit_sha: None,
            output_excerpt: None,
        }
    }

    fn from_run(outcome: RunOutcome, commit: String) -> Self {
        let (error, text) = match outcome.result {
            Ok(output) => (None, output),
            Err(failure) => {
                // Agent failures are worth a retry whatever the guest made of them.
                let retryable = failure.retryable || failure.code == ErrorCode::AgentOffline;
                let error = DispatchError::new(failure.code.as_str(), failure.message, retryable);
                (Some(error), outcome.console)
            }
        };
        let excerpt = (!text.is_empty()).then(|| cap_text(text, OUTPUT_EXCERPT_BYTES).0);
        Ended {
            error,
            duration_ms: outcome.usage.duration.as_millis() as u64,
            fuel_used: Some(outcome.usage.fuel_used),
            peak_memory_bytes: Some(outcome.usage.peak_memory_bytes),
            commit_sha: Some(commit),
            output_excerpt: excerpt,
        }
    }
}

/// Loads everything the run needs and runs it. The subscription is returned whenever it
/// was found, for the retry decision.
async fn execute(
    d: &Dispatcher,
    cache: &BatchCache,
    dispatch: &Dispatch,
) -> (Option<Arc<Subscription>>, Result<Ended, DispatchError>) {
    let org = dispatch.org.as_str();
    let sub_id = dispatch.subscription_id.as_str();
    let subscription = cache
        .subscription(org, sub_id, async {
            d.store
                .get_subscription(org, sub_id)
                .await
                .map_err(|e| DispatchError::new("not_found", e.to_string(), false))
        })
        .await;
    let subscription = match subscription {
        Ok(s) => s,
        Err(e) => return (None, Err(e)),
    };
    let result = execute_for(d, cache, dispatch, &subscription).await;
    (Some(subscription), result)
}

async fn execute_for(
    d: &Dispatcher,
    cache: &BatchCache,
    dispatch: &Dispatch,
    sub: &Subscription,
) -> Result<Ended, DispatchError> {
    let org = dispatch.org.as_str();
    let loaded = cache
        .event(org, &dispatch.event_id, async {
            d.store
                .get_event(org, &dispatch.event_id)
                .await
                .map_err(|e| DispatchError::new("not_found", e.to_string(), false))
        })
        .await?;
    let event = &loaded.event;
    let connection = cache
        .connection(org, &sub.connection_name, async {
            d.store
                .connection_by_name(org, &sub.connection_name)
                .await
                .map_err(|e| {
                    DispatchError::new(
                        "connection_not_found",
                        format!("connection \"{}\" not found ({e})", sub.connection_name),
                        false,
                    )
                })
        })
        .await?;
    if !connection.allows_runbooks() {
        return Err(DispatchError::new(
            ErrorCode::PolicyDenied.as_str(),
            format!(
                "connection \"{}\" does not allow runbooks (attach the runbooks plugin and enable the runbooks access mode)",
                connection.name
            ),
            false,
        ));
    }
    let agent = agent_for(d, &connection)?;
    let handle = cache
        .runbook(org, &sub.runbook_repository, &sub.runbook_file, async {
            d.repos
                .get(org, &sub.runbook_repository, &sub.runbook_file)
                .await
                .map_err(|e| {
                    let retryable = matches!(e.code(), "fetch_failed" | "fetch_timeout");
                    DispatchError::new(e.code(), e.to_string(), retryable)
                })
        })
        .await?;

    let params = handle
        .info()
        .map(|i| i.params.as_slice())
        .unwrap_or_default();
    let compiled = cache
        .mapping(org, &sub.id, &handle.commit, async {
            let mut mapping: ParameterMapping = sub
                .parameter_mapping
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if let Some(entry) = Catalog::builtin().get(&event.event_type) {
                // The runbook may have gained params since the subscription was saved.
                mapping = mapping.with_prematched(params, &entry.schema);
            }
            CompiledMapping::compile(&mapping)
                .map_err(|e| DispatchError::new(e.code(), e.to_string(), false))
        })
        .await?;
    let rendered = render(&compiled, &event.payload, params)
        .map_err(|e| DispatchError::new(e.code(), e.to_string(), false))?;

    let invocation = Invocation {
        dispatch_id: dispatch.id.clone(),
        attempt: dispatch.attempt,
        trigger: Trigger::Event(event.event_type.clone()),
        payload: loaded.payload_text.clone(),
        params: Value::Object(rendered).to_string(),
        connection: Some(connection.guest_info()),
    };
    let capabilities = d.capabilities.for_org(org, Some(agent));
    let request = RunRequest {
        invocation,
        limits: d.limits.clone(),
        capabilities,
    };
    let outcome = if d.interrupted() {
        // Claimed but not started before the shutdown deadline: never started, so not run.
        let error = DispatchError::interrupted();
        return Err(error);
    } else {
        d.engine
            .run_until(handle.prepared(), request, d.interrupt_signal())
            .await
    };
    Ok(Ended::from_run(outcome, handle.commit.clone()))
}

/// The agent serving this connection's `connection.exec`.
fn agent_for(d: &Dispatcher, connection: &Connection) -> Result<Arc<dyn Agent>, DispatchError> {
    match &d.agent {
        AgentChoice::Gateway(agent) => {
            if connection.agent_id.is_none() {
                return Err(DispatchError::new(
                    ErrorCode::AgentOffline.as_str(),
                    format!("connection \"{}\" has no agent assigned", connection.name),
                    false,
                ));
            }
            Ok(Arc::clone(agent))
        }
        AgentChoice::Local(limits) => Ok(Arc::new(LocalAgent::for_connection(*limits, connection))),
    }
}

/// Stores the end of a run: `delivered`, `failed`, or back to `pending` for a retry.
async fn record(d: &Dispatcher, dispatch: &Dispatch, sub: Option<&Subscription>, ended: Ended) {
    let org = dispatch.org.as_str();
    let now = Timestamp::now();
    if let Some(error) = &ended.error {
        let policy = sub.and_then(|s| s.retry_policy.as_ref());
        if let Some(due) = retry_due(policy, dispatch, error, now) {
            tracing::info!(code = %error.code, due = %due, "dispatch failed; retry scheduled");
            match d.store.requeue(org, &dispatch.id, due, error.clone()).await {
                Ok(_) => return,
                Err(e) => tracing::error!(error = %e, "requeue failed; recording the failure"),
            }
        }
    }
    let status = if ended.error.is_some() {
        TerminalStatus::Failed
    } else {
        TerminalStatus::Delivered
    };
    match &ended.error {
        Some(e) => tracing::info!(code = %e.code, message = %e.message, "dispatch failed"),
        None => tracing::info!(duration_ms = ended.duration_ms, "dispatch delivered"),
    }
    let outcome = FinishOutcome {
        status,
        last_error: ended.error,
        finished_at: now,
        duration_ms: ended.duration_ms,
        fuel_used: ended.fuel_used,
        peak_memory_bytes: ended.peak_memory_bytes,
        commit_sha: ended.commit_sha,
        output_excerpt: ended.output_excerpt,
    };
    if let Err(e) = d.store.finish(org, &dispatch.id, outcome).await {
        // Typically: the subscription (and its history) was deleted during the run.
        tracing::warn!(error = %e, "recording the end of the dispatch failed");
    }
}
