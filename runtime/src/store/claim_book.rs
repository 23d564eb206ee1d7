//! Claims without row writes: what a claim changed about a dispatch lives in the batch's
//! claim entry (durable) and in the in-memory [`ClaimBook`], not in the dispatch row.
//!
//! Why: sled's cost is per written key and a dispatch row was written three times (publish,
//! claim, end). A claim now writes one entry for its whole batch; the row keeps saying
//! `pending` until the run ends, and every read of a row goes through [`ClaimBook::overlay`],
//! which shows it as `processing` with the claim's attempt, start time and lease.
//!
//! A claim still holds a row while the row is `pending` with an attempt below the claim's
//! (the claim's attempt is the row's plus one): ending the run writes the row with the
//! claim's attempt (`delivered`, `failed`, or `pending` again for a retry), so a claim entry
//! left over after that no longer holds it. Recovery after a crash relies on the same test.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::model::{Dispatch, DispatchStatus, Timestamp};

/// What one claim did to one dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Claimed {
    /// The claim entry (`t::CLAIMS` key).
    pub seq: u64,
    pub attempt: u32,
    pub dispatched_at: Timestamp,
    pub lease_until: Timestamp,
}

impl Claimed {
    /// Whether the stored row is still the one this claim took (its run has not ended).
    pub(crate) fn holds(&self, row: &Dispatch) -> bool {
        row.status == DispatchStatus::Pending && row.attempt < self.attempt
    }

    /// The stored row as this claim made it: `processing`.
    pub(crate) fn apply(&self, d: &mut Dispatch) {
        d.status = DispatchStatus::Processing;
        d.attempt = self.attempt;
        d.dispatched_at = Some(self.dispatched_at);
        d.lease_until = Some(self.lease_until);
    }
}

/// A claim entry as stored: one per claimed batch.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ClaimEntry {
    pub dispatched_at: u64,
    pub lease_until: u64,
    /// (org, dispatch id, attempt)
    pub members: Vec<(String, String, u32)>,
}

/// One member of a stored claim entry, as recovery reads it.
#[derive(Debug)]
pub(crate) struct ClaimMember {
    pub org: String,
    pub id: String,
    /// `None` for an entry written before claims stopped writing rows: its rows say
    /// `processing` themselves.
    pub claim: Option<Claimed>,
}

impl ClaimMember {
    /// The dispatch as it stands if this claim still holds `row` (`processing`).
    pub(crate) fn still_running(&self, mut row: Dispatch) -> Option<Dispatch> {
        match &self.claim {
            Some(claim) if claim.holds(&row) => {
                claim.apply(&mut row);
                Some(row)
            }
            Some(_) => None,
            None => (row.status == DispatchStatus::Processing).then_some(row),
        }
    }
}

/// Decodes a stored claim entry (current or earlier layout).
pub(crate) fn decode_claim_entry(seq: u64, bytes: &[u8]) -> Result<Vec<ClaimMember>, StoreError> {
    if let Ok(entry) = serde_json::from_slice::<ClaimEntry>(bytes) {
        let dispatched_at = Timestamp::from_millis(entry.dispatched_at);
        let lease_until = Timestamp::from_millis(entry.lease_until);
        return Ok(entry
            .members
            .into_iter()
            .map(|(org, id, attempt)| ClaimMember {
                org,
                id,
                claim: Some(Claimed {
                    seq,
                    attempt,
                    dispatched_at,
                    lease_until,
                }),
            })
            .collect());
    }
    let legacy: Vec<(String, String)> =
        serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            what: "claim entry",
            reason: e.to_string(),
        })?;
    Ok(legacy
        .into_iter()
        .map(|(org, id)| ClaimMember {
            org,
            id,
            claim: None,
        })
        .collect())
}

/// Claims still running, by claim entry. Only a cache of the claim entries: after a crash
/// it is empty and recovery reads the entries themselves.
#[derive(Debug, Default)]
pub(crate) struct ClaimBook {
    /// Claim seq -> dispatches of it not ended yet.
    running: HashMap<u64, usize>,
    /// Org -> dispatch id -> its claim (nested so a lookup by `&str` allocates nothing:
    /// every read of a dispatch row goes through [`ClaimBook::overlay`]).
    claims: HashMap<String, HashMap<String, Claimed>>,
}

impl ClaimBook {
    /// The claim of a running dispatch.
    pub(crate) fn get(&self, org: &str, id: &str) -> Option<Claimed> {
        self.claims.get(org)?.get(id).copied()
    }

    /// Shows a stored row as its running claim made it (no-op when none holds it).
    pub(crate) fn overlay(&self, d: &mut Dispatch) {
        if self.claims.is_empty() {
            return;
        }
        if let Some(claim) = self.get(&d.org, &d.id)
            && claim.holds(d)
        {
            claim.apply(d);
        }
    }

    /// Dispatches of claim `seq` not ended yet.
    pub(crate) fn running(&self, seq: u64) -> usize {
        self.running.get(&seq).copied().unwrap_or(0)
    }

    /// Forgets a dispatch that ended (in a committed transaction).
    pub(crate) fn ended(&mut self, org: &str, id: &str) {
        let Some(of_org) = self.claims.get_mut(org) else {
            return;
        };
        let removed = of_org.remove(id);
        if of_org.is_empty() {
            self.claims.remove(org);
        }
        if let Some(claim) = removed
            && let Some(n) = self.running.get_mut(&claim.seq)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.running.remove(&claim.seq);
            }
        }
    }

    /// Records a committed claim of `dispatches` (as claimed: `processing`).
    pub(crate) fn claimed(&mut self, seq: u64, dispatches: &[Dispatch]) {
        self.running.insert(seq, dispatches.len());
        for d in dispatches {
            let (Some(dispatched_at), Some(lease_until)) = (d.dispatched_at, d.lease_until) else {
                continue;
            };
            let claim = Claimed {
                seq,
                attempt: d.attempt,
                dispatched_at,
                lease_until,
            };
            self.claims
                .entry(d.org.clone())
                .or_default()
                .insert(d.id.clone(), claim);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pending(attempt: u32) -> Dispatch {
        Dispatch {
            id: "d1".into(),
            org: "o".into(),
            event_id: "e1".into(),
            subscription_id: "s1".into(),
            status: DispatchStatus::Pending,
            attempt,
            last_error: None,
            replayed_from: None,
            created_at: Timestamp::from_millis(500),
            dispatched_at: None,
            finished_at: None,
            duration_ms: None,
            due_at: Timestamp::from_millis(500),
            lease_until: None,
            fuel_used: None,
            peak_memory_bytes: None,
            commit_sha: None,
            output_excerpt: None,
        }
    }

    fn claim(attempt: u32) -> Claimed {
        Claimed {
            seq: 7,
            attempt,
            dispatched_at: Timestamp::from_millis(1_000),
            lease_until: Timestamp::from_millis(2_000),
        }
    }

    #[test]
    fn a_claim_holds_a_row_until_its_run_ends() {
        let c = claim(1);
        assert!(c.holds(&pending(0)));
        // Requeued for a retry: pending again, but with the claim's attempt.
        assert!(!c.holds(&pending(1)));
        let mut done = pending(0);
        done.status = DispatchStatus::Delivered;
        assert!(!c.holds(&done));
    }

    #[test]
    fn the_book_overlays_running_claims_only() {
        let mut book = ClaimBook::default();
        let mut claimed = pending(0);
        claim(1).apply(&mut claimed);
        book.claimed(7, std::slice::from_ref(&claimed));
        let mut row = pending(0);
        book.overlay(&mut row);
        assert_eq!(row.status, DispatchStatus::Processing);
        assert_eq!(
            (row.attempt, row.lease_until),
            (1, Some(Timestamp::from_millis(2_000)))
        );
        assert_eq!(book.running(7), 1);
        book.ended("o", "d1");
        assert_eq!(book.running(7), 0);
        let mut row = pending(0);
        book.overlay(&mut row);
        assert_eq!(row.status, DispatchStatus::Pending);
    }

    #[test]
    fn claim_entries_decode_in_both_layouts() {
        let entry = ClaimEntry {
            dispatched_at: 1_000,
            lease_until: 2_000,
            members: vec![("o".into(), "d1".into(), 2)],
        };
        let members = decode_claim_entry(7, &serde_json::to_vec(&entry).unwrap()).unwrap();
        assert_eq!(members[0].claim, Some(claim(2)));
        // Before claims stopped writing rows: (org, id) pairs, rows say processing.
        let legacy = serde_json::to_vec(&vec![("o", "d1")]).unwrap();
        let members = decode_claim_entry(7, &legacy).unwrap();
        assert_eq!((members[0].id.as_str(), members[0].claim), ("d1", None));
        let mut running = pending(1);
        running.status = DispatchStatus::Processing;
        assert!(members[0].still_running(running).is_some());
        assert!(members[0].still_running(pending(1)).is_none());
        let err = decode_claim_entry(7, b"{}").unwrap_err();
        assert_eq!(err.code(), "store_corrupt");
    }
}
