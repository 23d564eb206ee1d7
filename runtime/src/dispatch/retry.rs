//! Automatic retries: opt-in per subscription, for retryable failures only.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use crate::model::{Dispatch, DispatchError, RetryPolicy, Timestamp};

/// When the dispatch should run again, or `None` when it must end `failed`: the error is
/// retryable, the subscription has a policy, fewer than `max_attempts` runs were made and
/// the dispatch is younger than `max_age`.
pub fn retry_due(
    policy: Option<&RetryPolicy>,
    dispatch: &Dispatch,
    error: &DispatchError,
    now: Timestamp,
) -> Option<Timestamp> {
    let policy = policy?;
    if !error.retryable || !policy.allows_retry(dispatch.attempt, dispatch.created_at, now) {
        return None;
    }
    Some(now.saturating_add(jittered(policy.backoff(dispatch.attempt))))
}

/// `backoff` spread over ±20 %, so dispatches failed together do not retry together.
pub fn jittered(backoff: Duration) -> Duration {
    let millis = backoff.as_millis().min(u128::from(u64::MAX)) as u64;
    let spread = millis / 5;
    if spread == 0 {
        return backoff;
    }
    // std's RandomState is seeded per instance from the OS: enough for jitter.
    let mut h = RandomState::new().build_hasher();
    h.write_u64(millis);
    let offset = h.finish() % (2 * spread + 1);
    Duration::from_millis(millis - spread + offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DispatchStatus;

    fn dispatch(attempt: u32, created: Timestamp) -> Dispatch {
        Dispatch {
            id: "dsp_1".into(),
            org: "acme".into(),
            event_id: "evt_1".into(),
            subscription_id: "sub_1".into(),
            status: DispatchStatus::Processing,
            attempt,
            last_error: None,
            replayed_from: None,
            created_at: created,
            dispatched_at: None,
            finished_at: None,
            duration_ms: None,
            due_at: created,
            lease_until: None,
            fuel_used: None,
            peak_memory_bytes: None,
            commit_sha: None,
            output_excerpt: None,
        }
    }

    #[test]
    fn retries_only_retryable_errors_within_the_policy() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
            max_age: Duration::from_secs(3600),
        };
        let t0 = Timestamp::from_millis(1_000_000_000);
        let retryable = DispatchError::new("guest_error", "busy", true);
        let fatal = DispatchError::new("guest_error", "no", false);
        let due = retry_due(Some(&policy), &dispatch(1, t0), &retryable, t0);
        let wait = due.map(|d| d.millis_since(t0));
        assert!(matches!(wait, Some(8_000..=12_000)), "{wait:?}");
        let second = retry_due(Some(&policy), &dispatch(2, t0), &retryable, t0);
        assert!(matches!(
            second.map(|d| d.millis_since(t0)),
            Some(16_000..=24_000)
        ));
        assert_eq!(
            retry_due(Some(&policy), &dispatch(3, t0), &retryable, t0),
            None
        );
        assert_eq!(retry_due(Some(&policy), &dispatch(1, t0), &fatal, t0), None);
        assert_eq!(retry_due(None, &dispatch(1, t0), &retryable, t0), None);
        let late = t0.saturating_add(Duration::from_secs(3601));
        assert_eq!(
            retry_due(Some(&policy), &dispatch(1, t0), &retryable, late),
            None
        );
    }
}
