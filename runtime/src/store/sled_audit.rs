//! The audit log on sled: one stored record per transaction and org, expanded into one
//! [`AuditRecord`] per transition when read.
//!
//! Why: a worker moves a whole claimed batch `pending -> processing` (and later to its end)
//! in one transaction. Writing one tree entry per transition would be the most expensive
//! part of that transaction (sled's cost is per key, not per byte), so a batch is one entry
//! holding every transition, and readers still see one record per transition, each with
//! its own `seq` (`stored seq * SEQ_SPAN + position`).

use serde::{Deserialize, Serialize};

use super::StoreResult;
use super::keys::Key;
use super::sled_store::{SledStore, Tx, TxResult, decode, t};
use crate::model::{AuditRecord, ObjectKind, Timestamp};

/// Transitions one stored entry may hold; `seq`s of its records are consecutive.
pub(crate) const SEQ_SPAN: u64 = 1 << 12;

/// One transition of a stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Transition {
    pub object_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What is stored under `(org, seq)`: transitions sharing time, actor and object kind.
#[derive(Debug, Serialize, Deserialize)]
struct StoredAudit {
    at: Timestamp,
    actor: String,
    object_kind: ObjectKind,
    transitions: Vec<Transition>,
}

impl Tx<'_> {
    /// Appends one audit record in this transaction.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn audit(
        &self,
        org: &str,
        at: Timestamp,
        actor: &str,
        object_kind: ObjectKind,
        object_id: &str,
        from: Option<&str>,
        to: Option<&str>,
        detail: Option<String>,
    ) -> TxResult<()> {
        let transition = Transition {
            object_id: object_id.to_string(),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
            detail,
        };
        self.audit_many(org, at, actor, object_kind, vec![transition])
    }

    /// Appends one record per transition, stored as few entries (one per [`SEQ_SPAN`]).
    pub(crate) fn audit_many(
        &self,
        org: &str,
        at: Timestamp,
        actor: &str,
        object_kind: ObjectKind,
        transitions: Vec<Transition>,
    ) -> TxResult<()> {
        let mut rest = transitions;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(SEQ_SPAN as usize));
            let seq = self.generate_id()? + 1;
            let stored = StoredAudit {
                at,
                actor: actor.to_string(),
                object_kind,
                transitions: rest,
            };
            self.put(t::AUDIT, Key::org(org).n(seq).done(), &stored)?;
            rest = tail;
        }
        Ok(())
    }
}

impl SledStore {
    pub(crate) fn audit_log_now(
        &self,
        org: &str,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<AuditRecord>> {
        let start = Key::org(org).n(after / SEQ_SPAN).done();
        let prefix = Key::org(org).done();
        let mut out = Vec::new();
        for entry in self.tree(t::AUDIT).range(start..) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = entry?;
            let Some(base) = key
                .strip_prefix(prefix.as_slice())
                .and_then(|rest| <[u8; 8]>::try_from(rest).ok())
                .map(u64::from_be_bytes)
            else {
                break;
            };
            let stored: StoredAudit = decode(&value, "audit record")?;
            for (i, tr) in stored.transitions.into_iter().enumerate() {
                let seq = base * SEQ_SPAN + i as u64;
                if seq <= after || out.len() >= limit {
                    continue;
                }
                out.push(AuditRecord {
                    seq,
                    at: stored.at,
                    actor: stored.actor.clone(),
                    object_kind: stored.object_kind,
                    object_id: tr.object_id,
                    from: tr.from,
                    to: tr.to,
                    detail: tr.detail,
                });
            }
        }
        Ok(out)
    }
}
