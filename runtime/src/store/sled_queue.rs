//! The due queue and claims on sled: which `pending` dispatches may run now, moving a batch
//! of them to `processing`, and finding at start-up what a crash left `processing`.
//!
//! Layout (see `t::DUE` and `t::CLAIMS`): a publish adds *one* due entry for its whole
//! fan-out instead of one per dispatch, and a claimed batch is remembered by *one* claim
//! entry instead of one processing-index entry per dispatch. sled's cost is per key, so a
//! claim of a batch writes a handful of keys whatever its size:
//! a claim writes no dispatch row: the claim entry and the in-memory `ClaimBook` say what
//! it changed (see `claim_book.rs`). When the last dispatch of a claim ends (finish,
//! requeue), the claim entry is removed in that same transaction; after a crash
//! [`SledStore::recover_processing_now`] reads the entries left.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use super::claim_book::{ClaimEntry, Claimed, decode_claim_entry};
use super::keys::{Key, KeyReader};
use super::sled_audit::Transition;
use super::sled_dispatch::{dispatch_key, requeue_in};
use super::sled_store::{HourCounts, SledStore, Tx, TxResult, decode, t};
use super::{ClaimCandidate, ClaimFilter, Recovery, RecoveryPolicy, StoreResult};
use crate::error::StoreError;
use crate::model::{Connection, Dispatch, DispatchStatus, ObjectKind, Subscription, Timestamp};

pub(crate) const WORKER: &str = "worker";

/// The trees ending a run (finish, requeue, recovery) writes.
pub(crate) const END_TREES: &[usize] = &[
    t::DISPATCHES,
    t::DUE,
    t::CLAIMS,
    t::SUB_HOURLY,
    t::SUB_LAST_ERROR,
    t::AUDIT,
];
const RECOVERY: &str = "recovery";
const HOUR_MS: u64 = 3_600_000;

/// A due entry's key: `(due_at ms, org, group)`.
pub(crate) fn due_key(due_at: Timestamp, org: &str, group: &str) -> Vec<u8> {
    Key::new().n(due_at.as_millis()).s(org).s(group).done()
}

/// Adds a due entry holding `ids` (all of `org`).
pub(crate) fn put_due(
    tx: &Tx<'_>,
    due_at: Timestamp,
    org: &str,
    group: &str,
    ids: &[&str],
) -> TxResult<()> {
    tx.put(t::DUE, due_key(due_at, org, group), &ids)
}

/// What the scan outside the transaction decided about one due entry.
struct Pick {
    key: Vec<u8>,
    org: String,
    /// Ids the filter accepted, to claim.
    chosen: Vec<String>,
    /// Ids whose row is gone or no longer pending: dropped from the entry.
    stale: HashSet<String>,
}

impl SledStore {
    pub(crate) fn claim_due_now(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
        filter: ClaimFilter<'_>,
    ) -> StoreResult<Vec<Dispatch>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let picks = self.pick_due(now, limit, filter)?;
        if picks.is_empty() {
            return Ok(Vec::new());
        }
        let seq = self.inner.db.generate_id()?;
        let lease_until = now.saturating_add(lease);
        // The book is held across the transaction so an end committed meanwhile cannot
        // look for a claim that is not in it yet.
        let mut book = self.claim_book();
        let claimed = self.tx_on(&[t::DUE, t::DISPATCHES, t::CLAIMS, t::AUDIT], |tx| {
            let mut claimed: Vec<Dispatch> = Vec::new();
            let mut audit: BTreeMap<&str, Vec<Transition>> = BTreeMap::new();
            for pick in &picks {
                let Some(bytes) = tx.get_raw(t::DUE, &pick.key)? else {
                    continue; // claimed whole by another worker since the scan
                };
                let ids: Vec<String> = decode(&bytes, "due entry").map_err(abort_with)?;
                let mut keep: Vec<&str> = Vec::with_capacity(ids.len());
                for id in &ids {
                    if pick.stale.contains(id) {
                        // The scan found no pending row for it. In a store without a
                        // journal a transaction is applied to sled one write at a time,
                        // so the scan can see its due entry before its rows: look again
                        // now that none is being applied, and drop the id only if still so.
                        let again = tx.get_dispatch(&dispatch_key(&pick.org, id))?;
                        if let Some(mut d) = again {
                            book.overlay(&mut d);
                            if d.status == DispatchStatus::Pending {
                                keep.push(id);
                            }
                        }
                        continue;
                    }
                    if !pick.chosen.contains(id) {
                        keep.push(id);
                        continue;
                    }
                    let key = dispatch_key(&pick.org, id);
                    let Some(mut d) = tx.get_dispatch(&key)? else {
                        continue;
                    };
                    if d.status != DispatchStatus::Pending {
                        continue;
                    }
                    // The row is not written: the claim entry below carries the attempt.
                    let claim = Claimed {
                        seq,
                        attempt: d.attempt + 1,
                        dispatched_at: now,
                        lease_until,
                    };
                    claim.apply(&mut d);
                    audit.entry(&pick.org).or_default().push(Transition {
                        object_id: d.id.clone(),
                        from: Some("pending".into()),
                        to: Some("processing".into()),
                        detail: Some(format!("attempt {}", d.attempt)),
                    });
                    claimed.push(d);
                }
                if keep.is_empty() {
                    tx.del(t::DUE, &pick.key)?;
                } else if keep.len() != ids.len() {
                    tx.put(t::DUE, pick.key.clone(), &keep)?;
                }
            }
            if !claimed.is_empty() {
                let entry = ClaimEntry {
                    dispatched_at: now.as_millis(),
                    lease_until: lease_until.as_millis(),
                    members: claimed
                        .iter()
                        .map(|d| (d.org.clone(), d.id.clone(), d.attempt))
                        .collect(),
                };
                tx.put(t::CLAIMS, seq.to_be_bytes().to_vec(), &entry)?;
            }
            for (org, transitions) in audit {
                tx.audit_many(org, now, WORKER, ObjectKind::Dispatch, transitions)?;
            }
            Ok(claimed)
        })?;
        if !claimed.is_empty() {
            book.claimed(seq, &claimed);
        }
        Ok(claimed)
    }

    /// Scans due entries (outside any transaction: the filter may look at anything) and
    /// picks up to `limit` dispatches the filter accepts.
    fn pick_due(
        &self,
        now: Timestamp,
        limit: usize,
        filter: ClaimFilter<'_>,
    ) -> StoreResult<Vec<Pick>> {
        let end = Key::new().n(now.as_millis().saturating_add(1)).done();
        let mut subs: HashMap<(String, String), Option<Subscription>> = HashMap::new();
        let mut conns: HashMap<(String, String), Option<Connection>> = HashMap::new();
        let mut picks = Vec::new();
        let mut total = 0usize;
        for entry in self.tree(t::DUE).range(..end) {
            if total >= limit {
                break;
            }
            let (key, value) = entry?;
            let mut r = KeyReader::new(&key);
            let (Some(_), Some(org)) = (r.n(), r.s()) else {
                continue;
            };
            let ids: Vec<String> = decode(&value, "due entry")?;
            let mut pick = Pick {
                key: key.to_vec(),
                org: org.to_string(),
                chosen: Vec::new(),
                stale: HashSet::new(),
            };
            for id in ids {
                if total >= limit {
                    break;
                }
                let row = self.read_dispatch(&dispatch_key(org, &id))?;
                let Some(dispatch) = row.filter(|d| d.status == DispatchStatus::Pending) else {
                    pick.stale.insert(id);
                    continue;
                };
                let sub = self.cached_subscription(&mut subs, org, &dispatch.subscription_id)?;
                let conn = match &sub {
                    Some(s) => self.cached_connection(&mut conns, org, &s.connection_name)?,
                    None => None,
                };
                let candidate = ClaimCandidate {
                    dispatch: &dispatch,
                    subscription: sub.as_ref(),
                    connection: conn.as_ref(),
                };
                if filter(&candidate) {
                    pick.chosen.push(id);
                    total += 1;
                }
            }
            if !pick.chosen.is_empty() || !pick.stale.is_empty() {
                picks.push(pick);
            }
        }
        Ok(picks)
    }

    fn cached_subscription(
        &self,
        cache: &mut HashMap<(String, String), Option<Subscription>>,
        org: &str,
        id: &str,
    ) -> StoreResult<Option<Subscription>> {
        let key = (org.to_string(), id.to_string());
        if let Some(found) = cache.get(&key) {
            return Ok(found.clone());
        }
        let sub = match self.subscription_now(org, id) {
            Ok(s) => Some(s),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        cache.insert(key, sub.clone());
        Ok(sub)
    }

    fn cached_connection(
        &self,
        cache: &mut HashMap<(String, String), Option<Connection>>,
        org: &str,
        name: &str,
    ) -> StoreResult<Option<Connection>> {
        let key = (org.to_string(), name.to_string());
        if let Some(found) = cache.get(&key) {
            return Ok(found.clone());
        }
        let conn = match self.connection_by_name_now(org, name) {
            Ok(c) => Some(c),
            Err(StoreError::NotFound { .. } | StoreError::UnknownConnection { .. }) => None,
            Err(e) => return Err(e),
        };
        cache.insert(key, conn.clone());
        Ok(conn)
    }

    /// At start-up: every dispatch of a claim entry that is still `processing` is moved as
    /// `policy` says, and the claim entries are removed.
    pub(crate) fn recover_processing_now(
        &self,
        now: Timestamp,
        policy: RecoveryPolicy<'_>,
    ) -> StoreResult<Vec<Dispatch>> {
        let mut out = Vec::new();
        for entry in self.tree(t::CLAIMS).iter() {
            let (claim_key, value) = entry?;
            let seq = claim_key
                .as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .unwrap_or_default();
            let members = decode_claim_entry(seq, &value)?;
            let mut decided = Vec::new();
            for member in &members {
                let row = self.read_dispatch_raw(&dispatch_key(&member.org, &member.id))?;
                let Some(d) = row.and_then(|row| member.still_running(row)) else {
                    continue;
                };
                let sub = self.subscription_now(&member.org, &d.subscription_id).ok();
                decided.push((member, policy(&d, sub.as_ref())));
            }
            let moved = self.tx_on(END_TREES, |tx| {
                let mut moved = Vec::new();
                for (member, decision) in &decided {
                    let (org, id) = (member.org.as_str(), member.id.as_str());
                    let key = dispatch_key(org, id);
                    let Some(row) = tx.get_dispatch(&key)? else {
                        continue;
                    };
                    let Some(mut d) = member.still_running(row) else {
                        continue;
                    };
                    match decision {
                        Recovery::Fail(error) => {
                            d.status = DispatchStatus::Failed;
                            d.last_error = Some(error.clone());
                            d.finished_at = Some(now);
                            d.lease_until = None;
                            tx.put_dispatch(key, &d)?;
                            let mut counts = HourlyCounts::default();
                            counts.add(&d, now);
                            counts.write(tx)?;
                            tx.audit(
                                org,
                                now,
                                RECOVERY,
                                ObjectKind::Dispatch,
                                id,
                                Some("processing"),
                                Some("failed"),
                                Some(error.code.clone()),
                            )?;
                        }
                        Recovery::Retry { due_at, last_error } => {
                            let transition = requeue_in(tx, &mut d, *due_at, last_error.clone())?;
                            tx.audit_many(
                                org,
                                now,
                                RECOVERY,
                                ObjectKind::Dispatch,
                                vec![transition],
                            )?;
                        }
                    }
                    moved.push(d);
                }
                tx.del(t::CLAIMS, &claim_key)?;
                Ok(moved)
            })?;
            out.extend(moved);
        }
        Ok(out)
    }
}

fn abort_with(e: StoreError) -> sled::transaction::ConflictableTransactionError<StoreError> {
    sled::transaction::ConflictableTransactionError::Abort(e)
}

/// Delivered/failed counts to add, by (org, subscription, hour), and each subscription's
/// latest error: a batch of ends touches each counter key once.
#[derive(Debug, Default)]
pub(crate) struct HourlyCounts {
    counts: BTreeMap<Vec<u8>, HourCounts>,
    last_errors: BTreeMap<Vec<u8>, crate::model::DispatchError>,
}

impl HourlyCounts {
    pub(crate) fn add(&mut self, d: &Dispatch, at: Timestamp) {
        let sub = Key::org(&d.org).s(&d.subscription_id);
        let key = sub.clone().n(at.as_millis() / HOUR_MS).done();
        let counts = self.counts.entry(key).or_default();
        if d.status == DispatchStatus::Delivered {
            counts.delivered += 1;
        } else {
            counts.failed += 1;
            if let Some(e) = &d.last_error {
                self.last_errors.insert(sub.done(), e.clone());
            }
        }
    }

    pub(crate) fn write(&self, tx: &Tx<'_>) -> TxResult<()> {
        for (key, add) in &self.counts {
            let mut counts = tx
                .get::<HourCounts>(t::SUB_HOURLY, key, "stats")?
                .unwrap_or_default();
            counts.delivered += add.delivered;
            counts.failed += add.failed;
            tx.put(t::SUB_HOURLY, key.clone(), &counts)?;
        }
        for (key, error) in &self.last_errors {
            tx.put(t::SUB_LAST_ERROR, key.clone(), error)?;
        }
        Ok(())
    }
}
