//! Ending runs on sled: `processing` -> `delivered` | `failed` (finish) or back to
//! `pending` (requeue), with concurrent ends coalesced into one transaction.
//!
//! Why: a worker runs its claimed batch concurrently, so its runs end at nearly the same
//! moment. Each end in a transaction of its own would pay sled's per-transaction cost and
//! rewrite the subscription's hourly counter once per dispatch. Instead the first caller
//! becomes the *leader*: it takes every end queued so far, commits them in one transaction
//! (one counter write per subscription and hour, one audit entry per org), answers each
//! caller, and repeats until the queue is empty. Every caller then waits for a group-commit
//! flush covering its end, so each end is still durable when its call returns.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::claim_book::{ClaimBook, Claimed};
use super::sled_audit::Transition;
use super::sled_dispatch::{DISPATCH, dispatch_key, requeue_in};
use super::sled_queue::{END_TREES, HourlyCounts, WORKER};
use super::sled_store::{SledStore, Tx, TxResult, t};
use super::{FinishOutcome, StoreResult, TerminalStatus};
use crate::error::StoreError;
use crate::model::{Dispatch, DispatchError, DispatchStatus, ObjectKind, Timestamp};

/// How a run ends.
#[derive(Debug, Clone)]
pub(crate) enum End {
    Finish(FinishOutcome),
    Requeue {
        due_at: Timestamp,
        error: DispatchError,
    },
}

impl End {
    fn target(&self) -> DispatchStatus {
        match self {
            End::Finish(o) => match o.status {
                TerminalStatus::Delivered => DispatchStatus::Delivered,
                TerminalStatus::Failed => DispatchStatus::Failed,
            },
            End::Requeue { .. } => DispatchStatus::Pending,
        }
    }
}

/// One queued end and where its answer goes.
#[derive(Debug)]
struct Queued {
    org: String,
    id: String,
    end: End,
    reply: oneshot::Sender<StoreResult<Dispatch>>,
}

#[derive(Debug, Default)]
struct State {
    queue: Vec<Queued>,
    /// A caller is committing the queue; newcomers only enqueue.
    leading: bool,
}

/// The queue of ends waiting for a transaction.
#[derive(Debug, Default)]
pub(crate) struct EndQueue {
    state: Mutex<State>,
}

impl EndQueue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SledStore {
    /// Ends a `processing` dispatch; returns once the change is durable.
    pub(crate) async fn end_run(&self, org: &str, id: &str, end: End) -> StoreResult<Dispatch> {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut state = self.inner.ends.lock();
            state.queue.push(Queued {
                org: org.to_string(),
                id: id.to_string(),
                end,
                reply,
            });
            !std::mem::replace(&mut state.leading, true)
        };
        if lead {
            // Let the caller's sibling futures (a worker runs its batch in one task) queue
            // their ends first, so they share this transaction. The guard commits even if
            // this future is dropped during the yield, so no queued end is ever stranded.
            let guard = Leader(self);
            tokio::task::yield_now().await;
            drop(guard);
        }
        let dispatch = answer.await.map_err(|_| StoreError::Closed)??;
        self.durable().await?;
        Ok(dispatch)
    }

    /// The leader's loop: commit queued ends until none is left.
    /// (Sync: the transaction is sync, and so the leader can run it from a `Drop`.)
    fn commit_ends(&self) {
        let _step_down = StepDown(&self.inner.ends);
        loop {
            let batch = {
                let mut state = self.inner.ends.lock();
                if state.queue.is_empty() {
                    state.leading = false;
                    return;
                }
                std::mem::take(&mut state.queue)
            };
            let results = self.commit_batch(&batch);
            for (queued, result) in batch.into_iter().zip(results) {
                // A caller that went away no longer needs its answer.
                let _ = queued.reply.send(result);
            }
        }
    }

    /// One transaction for `batch`; one result per item, in order.
    fn commit_batch(&self, batch: &[Queued]) -> Vec<StoreResult<Dispatch>> {
        let now = Timestamp::now();
        #[cfg(test)]
        if self.panic_recording_ends() {
            panic!("injected panic while recording run ends");
        }
        let mut book = self.claim_book();
        let committed = self.tx_on(END_TREES, |tx| {
            let mut results = Vec::with_capacity(batch.len());
            let mut counts = HourlyCounts::default();
            let mut audit: BTreeMap<&str, Vec<Transition>> = BTreeMap::new();
            // Claims ended by this batch, with how many of their runs it ends.
            let mut ending: BTreeMap<u64, usize> = BTreeMap::new();
            for q in batch {
                let claim = book.get(&q.org, &q.id);
                let result = end_one(tx, q, claim, &mut counts)?;
                if let Ok((_, transition)) = &result {
                    audit.entry(&q.org).or_default().push(transition.clone());
                }
                if let Some(claim) = claim {
                    *ending.entry(claim.seq).or_default() += 1;
                }
                results.push(result.map(|(d, _)| d));
            }
            counts.write(tx)?;
            for (seq, n) in &ending {
                if *n >= book.running(*seq) {
                    tx.del(t::CLAIMS, &seq.to_be_bytes())?;
                }
            }
            for (org, transitions) in audit {
                tx.audit_many(org, now, WORKER, ObjectKind::Dispatch, transitions)?;
            }
            Ok(results)
        });
        match committed {
            Ok(results) => {
                for q in batch {
                    book.ended(&q.org, &q.id);
                }
                results
            }
            Err(e) => {
                tracing::error!(error = %e, ends = batch.len(), "recording run ends failed");
                batch.iter().map(|_| Err(e.clone())).collect()
            }
        }
    }

    pub(crate) fn claim_book(&self) -> MutexGuard<'_, ClaimBook> {
        self.inner.claims.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Clears the leader flag if the leader's commit unwinds (a panic: a runbox bug). Without
/// it every later end would find a leader and only queue, and no run end would ever be
/// recorded again. The ends of the batch being committed get `Closed` (their reply senders
/// are dropped); ends queued meanwhile go with the next leader's.
struct StepDown<'a>(&'a EndQueue);

impl Drop for StepDown<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().leading = false;
        }
    }
}

/// Leadership of the end queue: commits the queue when dropped.
struct Leader<'a>(&'a SledStore);

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        self.0.commit_ends();
    }
}

/// Applies one end in the transaction. The outer `Err` aborts the whole transaction
/// (storage failure); the inner one is this item's own refusal (gone, not processing).
fn end_one(
    tx: &Tx<'_>,
    q: &Queued,
    claim: Option<Claimed>,
    counts: &mut HourlyCounts,
) -> TxResult<StoreResult<(Dispatch, Transition)>> {
    let key = dispatch_key(&q.org, &q.id);
    let Some(mut d) = tx.get_dispatch(&key)? else {
        return Ok(Err(StoreError::NotFound {
            kind: DISPATCH,
            id: q.id.clone(),
        }));
    };
    let to = q.end.target();
    // Only a run this process claimed can end: the row says `pending` until then.
    if let Some(claim) = claim.filter(|c| c.holds(&d)) {
        claim.apply(&mut d);
    }
    if d.status != DispatchStatus::Processing {
        return Ok(Err(StoreError::InvalidTransition {
            id: d.id.clone(),
            from: d.status.as_str(),
            to: to.as_str(),
        }));
    }
    let transition = match &q.end {
        End::Finish(outcome) => {
            d.status = to;
            d.last_error = outcome.last_error.clone();
            d.finished_at = Some(outcome.finished_at);
            d.duration_ms = Some(outcome.duration_ms);
            d.lease_until = None;
            d.fuel_used = outcome.fuel_used;
            d.peak_memory_bytes = outcome.peak_memory_bytes;
            d.commit_sha = outcome.commit_sha.clone();
            d.output_excerpt = outcome.output_excerpt.clone();
            tx.put_dispatch(key, &d)?;
            counts.add(&d, outcome.finished_at);
            Transition {
                object_id: d.id.clone(),
                from: Some("processing".into()),
                to: Some(to.as_str().into()),
                detail: d.last_error.as_ref().map(|e| e.code.clone()),
            }
        }
        End::Requeue { due_at, error } => requeue_in(tx, &mut d, *due_at, error.clone())?,
    };
    Ok(Ok((d, transition)))
}
