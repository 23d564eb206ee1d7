//! Start-up recovery: no dispatch is left `processing` by a crash, and none is re-run
//! silently.

use crate::model::{Dispatch, DispatchStatus, Timestamp};
use crate::store::{Store, StoreResult, recover_by_retry_policy};

/// Moves every dispatch left `processing` to `failed` with code `interrupted`, or back to
/// `pending` (after its backoff) when its subscription's retry policy allows another
/// attempt. Must run before any worker claims. Returns the recovered dispatches.
pub async fn recover(store: &dyn Store, now: Timestamp) -> StoreResult<Vec<Dispatch>> {
    let policy = recover_by_retry_policy(now);
    let recovered = store.recover_processing(now, &policy).await?;
    if !recovered.is_empty() {
        let retried = recovered
            .iter()
            .filter(|d| d.status == DispatchStatus::Pending)
            .count();
        tracing::warn!(
            recovered = recovered.len(),
            retried,
            failed = recovered.len() - retried,
            "dispatches interrupted by the previous run were recovered"
        );
    }
    Ok(recovered)
}
