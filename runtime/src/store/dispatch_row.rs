//! The stored form of a dispatch row: compact binary (postcard) instead of JSON.
//!
//! Why: a dispatch row is written three times in its life (publish, claim, end) and read
//! more often than that, all on the hot path. As JSON a pending row is ~330 bytes with
//! timestamps formatted and parsed as RFC 3339 text; in this form it is about a third of
//! that, times are integers, and sled's per-write cost (which grows with value size) drops.
//! The first byte is a format version so a later layout can still read old rows.

use serde::{Deserialize, Serialize};

use sled::transaction::ConflictableTransactionError;

use super::sled_store::{SledStore, Tx, TxResult, t};
use crate::error::StoreError;
use crate::model::{Dispatch, DispatchError, DispatchStatus, Timestamp};

/// Layout version of [`Row`].
const VERSION: u8 = 1;

/// Every field of [`Dispatch`], in a fixed order with no skipped fields (postcard is not
/// self-describing), times as Unix milliseconds.
#[derive(Serialize, Deserialize)]
struct Row {
    id: String,
    org: String,
    event_id: String,
    subscription_id: String,
    status: u8,
    attempt: u32,
    /// (code, message, retryable)
    last_error: Option<(String, String, bool)>,
    replayed_from: Option<String>,
    created_at: u64,
    dispatched_at: Option<u64>,
    finished_at: Option<u64>,
    duration_ms: Option<u64>,
    due_at: u64,
    lease_until: Option<u64>,
    fuel_used: Option<u64>,
    peak_memory_bytes: Option<u64>,
    commit_sha: Option<String>,
    output_excerpt: Option<String>,
}

fn status_code(s: DispatchStatus) -> u8 {
    match s {
        DispatchStatus::Pending => 0,
        DispatchStatus::Processing => 1,
        DispatchStatus::Delivered => 2,
        DispatchStatus::Failed => 3,
    }
}

fn status_of(code: u8) -> Option<DispatchStatus> {
    Some(match code {
        0 => DispatchStatus::Pending,
        1 => DispatchStatus::Processing,
        2 => DispatchStatus::Delivered,
        3 => DispatchStatus::Failed,
        _ => return None,
    })
}

fn ms(t: Option<Timestamp>) -> Option<u64> {
    t.map(Timestamp::as_millis)
}

fn ts(v: Option<u64>) -> Option<Timestamp> {
    v.map(Timestamp::from_millis)
}

/// The stored bytes of `d`.
pub(crate) fn encode_dispatch(d: &Dispatch) -> Result<Vec<u8>, StoreError> {
    let row = Row {
        id: d.id.clone(),
        org: d.org.clone(),
        event_id: d.event_id.clone(),
        subscription_id: d.subscription_id.clone(),
        status: status_code(d.status),
        attempt: d.attempt,
        last_error: d
            .last_error
            .as_ref()
            .map(|e| (e.code.clone(), e.message.clone(), e.retryable)),
        replayed_from: d.replayed_from.clone(),
        created_at: d.created_at.as_millis(),
        dispatched_at: ms(d.dispatched_at),
        finished_at: ms(d.finished_at),
        duration_ms: d.duration_ms,
        due_at: d.due_at.as_millis(),
        lease_until: ms(d.lease_until),
        fuel_used: d.fuel_used,
        peak_memory_bytes: d.peak_memory_bytes,
        commit_sha: d.commit_sha.clone(),
        output_excerpt: d.output_excerpt.clone(),
    };
    let mut out = vec![VERSION];
    postcard::to_io(&row, &mut out)
        .map_err(|e| StoreError::Backend(format!("cannot encode a dispatch row: {e}")))?;
    Ok(out)
}

/// A dispatch from its stored bytes; a corrupt or unknown row is [`StoreError::Corrupt`].
pub(crate) fn decode_dispatch(bytes: &[u8]) -> Result<Dispatch, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        what: "dispatch",
        reason,
    };
    let (version, body) = bytes
        .split_first()
        .ok_or_else(|| corrupt("empty row".into()))?;
    if *version != VERSION {
        return Err(corrupt(format!("unknown row format {version}")));
    }
    let row: Row = postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))?;
    let status = status_of(row.status).ok_or_else(|| corrupt(format!("status {}", row.status)))?;
    Ok(Dispatch {
        id: row.id,
        org: row.org,
        event_id: row.event_id,
        subscription_id: row.subscription_id,
        status,
        attempt: row.attempt,
        // Stored errors were capped when made; rebuilt as they are.
        last_error: row
            .last_error
            .map(|(code, message, retryable)| DispatchError {
                code,
                message,
                retryable,
            }),
        replayed_from: row.replayed_from,
        created_at: Timestamp::from_millis(row.created_at),
        dispatched_at: ts(row.dispatched_at),
        finished_at: ts(row.finished_at),
        duration_ms: row.duration_ms,
        due_at: Timestamp::from_millis(row.due_at),
        lease_until: ts(row.lease_until),
        fuel_used: row.fuel_used,
        peak_memory_bytes: row.peak_memory_bytes,
        commit_sha: row.commit_sha,
        output_excerpt: row.output_excerpt,
    })
}

impl Tx<'_> {
    /// The dispatch row under `key` (`dispatch_key`), if any.
    pub(crate) fn get_dispatch(&self, key: &[u8]) -> TxResult<Option<Dispatch>> {
        match self.get_raw(t::DISPATCHES, key)? {
            None => Ok(None),
            Some(bytes) => decode_dispatch(&bytes)
                .map(Some)
                .map_err(ConflictableTransactionError::Abort),
        }
    }

    pub(crate) fn put_dispatch(&self, key: Vec<u8>, d: &Dispatch) -> TxResult<()> {
        let bytes = encode_dispatch(d).map_err(ConflictableTransactionError::Abort)?;
        self.put_raw(t::DISPATCHES, key, &bytes)
    }
}

impl SledStore {
    /// The dispatch under `key`, outside a transaction, as it stands: a row a running claim
    /// holds reads as `processing` (see `claim_book.rs`).
    pub(crate) fn read_dispatch(&self, key: &[u8]) -> Result<Option<Dispatch>, StoreError> {
        let mut row = self.read_dispatch_raw(key)?;
        if let Some(d) = row.as_mut() {
            self.claim_book().overlay(d);
        }
        Ok(row)
    }

    /// The stored row under `key` as written (recovery, which reads claim entries itself).
    pub(crate) fn read_dispatch_raw(&self, key: &[u8]) -> Result<Option<Dispatch>, StoreError> {
        match self.tree(t::DISPATCHES).get(key)? {
            None => Ok(None),
            Some(bytes) => decode_dispatch(&bytes).map(Some),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Dispatch {
        Dispatch {
            id: "dsp_01".into(),
            org: "acme".into(),
            event_id: "evt_01".into(),
            subscription_id: "sub_01".into(),
            status: DispatchStatus::Failed,
            attempt: 3,
            last_error: Some(DispatchError::new("guest_error", "it broke: é", true)),
            replayed_from: Some("dsp_00".into()),
            created_at: Timestamp::from_millis(1_700_000_000_123),
            dispatched_at: Some(Timestamp::from_millis(1_700_000_000_200)),
            finished_at: Some(Timestamp::from_millis(1_700_000_000_300)),
            duration_ms: Some(100),
            due_at: Timestamp::from_millis(1_700_000_000_123),
            lease_until: None,
            fuel_used: Some(123_456),
            peak_memory_bytes: Some(65_536),
            commit_sha: Some("abc".into()),
            output_excerpt: Some("out".into()),
        }
    }

    #[test]
    fn round_trips_every_field_and_is_smaller_than_json() {
        let d = sample();
        let bytes = encode_dispatch(&d).unwrap();
        assert_eq!(decode_dispatch(&bytes).unwrap(), d);
        let json = serde_json::to_vec(&d).unwrap();
        assert!(
            bytes.len() * 2 < json.len(),
            "{} vs {}",
            bytes.len(),
            json.len()
        );
    }

    #[test]
    fn corrupt_rows_are_errors_naming_the_problem() {
        let mut bytes = encode_dispatch(&sample()).unwrap();
        let err = decode_dispatch(&[]).unwrap_err();
        assert!(err.to_string().contains("empty row"), "{err}");
        bytes[0] = 9;
        let err = decode_dispatch(&bytes).unwrap_err();
        assert!(err.to_string().contains("unknown row format 9"), "{err}");
        let err = decode_dispatch(&[VERSION, 1, 2]).unwrap_err();
        assert_eq!(err.code(), "store_corrupt");
    }
}
