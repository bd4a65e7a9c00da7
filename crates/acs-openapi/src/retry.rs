//! Backoff between attempts, always bounded by the invocation's deadline.
//!
//! Throttling backs off from 200 ms and other transient failures from 100 ms, doubling per
//! retry up to a cap ("equal jitter": half the step is fixed, half random, so concurrent
//! invocations spread out but never retry immediately). A server's `x-acs-retry-after` wins
//! over the computed delay. No sleep may end at or after the cut-off (`deadline - margin`):
//! the function must still have time to answer.

use std::time::{Duration, Instant};

use super::error::RetryClass;

/// First step for throttling errors.
pub(crate) const THROTTLE_BASE: Duration = Duration::from_millis(200);
/// First step for other transient errors.
pub(crate) const TRANSIENT_BASE: Duration = Duration::from_millis(100);
/// Largest step for throttling errors.
pub(crate) const THROTTLE_CAP: Duration = Duration::from_secs(5);
/// Largest step for other transient errors.
pub(crate) const TRANSIENT_CAP: Duration = Duration::from_secs(2);

/// The wait before retry number `retry` (0 = the first retry), with `random` as jitter source.
pub(crate) fn backoff_delay(class: RetryClass, retry: u32, random: u64) -> Duration {
    let (base, cap) = match class {
        RetryClass::Throttled => (THROTTLE_BASE, THROTTLE_CAP),
        _ => (TRANSIENT_BASE, TRANSIENT_CAP),
    };
    let step = base
        .checked_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
        .unwrap_or(cap)
        .min(cap);
    let half = step.as_millis() as u64 / 2;
    Duration::from_millis(half + random % (half + 1))
}

/// The delay to actually sleep: the server's hint if it gave one, else the computed backoff —
/// or `None` if sleeping would reach the cut-off (then the caller gives up with
/// `DeadlineExceeded`).
pub(crate) fn sleep_before_retry(
    now: Instant,
    cutoff: Instant,
    computed: Duration,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let delay = retry_after.unwrap_or(computed);
    let wake = now.checked_add(delay)?;
    (wake < cutoff).then_some(delay)
}

/// Random bits for jitter, from the v4 UUID generator the crate already uses for nonces.
pub(crate) fn jitter_bits() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_backs_off_from_200ms_and_doubles() {
        let lowest = |n| backoff_delay(RetryClass::Throttled, n, 0);
        let highest = |n| backoff_delay(RetryClass::Throttled, n, u64::MAX - 1);
        assert_eq!(lowest(0), Duration::from_millis(100));
        assert!(highest(0) <= Duration::from_millis(200));
        assert_eq!(lowest(1), Duration::from_millis(200));
        assert_eq!(lowest(2), Duration::from_millis(400));
    }

    #[test]
    fn transient_errors_back_off_from_100ms() {
        assert_eq!(
            backoff_delay(RetryClass::Transient, 0, 0),
            Duration::from_millis(50)
        );
        assert!(backoff_delay(RetryClass::Transient, 0, 7) <= TRANSIENT_BASE);
    }

    #[test]
    fn the_backoff_never_exceeds_its_cap_even_after_many_retries() {
        for retry in [5, 10, 31, 32, 1000, u32::MAX] {
            for random in [0, 1, 12345, u64::MAX] {
                assert!(backoff_delay(RetryClass::Throttled, retry, random) <= THROTTLE_CAP);
                assert!(backoff_delay(RetryClass::Transient, retry, random) <= TRANSIENT_CAP);
            }
        }
    }

    #[test]
    fn a_sleep_that_would_reach_the_cutoff_is_refused() {
        let now = Instant::now();
        let cutoff = now + Duration::from_millis(300);
        assert_eq!(
            sleep_before_retry(now, cutoff, Duration::from_millis(100), None),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            sleep_before_retry(now, cutoff, Duration::from_millis(300), None),
            None
        );
        assert_eq!(
            sleep_before_retry(now, cutoff, Duration::from_secs(3), None),
            None
        );
    }

    #[test]
    fn the_servers_retry_after_wins_but_is_still_bounded_by_the_cutoff() {
        let now = Instant::now();
        let cutoff = now + Duration::from_secs(2);
        assert_eq!(
            sleep_before_retry(
                now,
                cutoff,
                Duration::from_millis(100),
                Some(Duration::from_millis(1500))
            ),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            sleep_before_retry(
                now,
                cutoff,
                Duration::from_millis(100),
                Some(Duration::from_secs(5))
            ),
            None
        );
    }

    #[test]
    fn jitter_bits_vary() {
        let a: Vec<u64> = (0..4).map(|_| jitter_bits()).collect();
        assert!(a.windows(2).any(|w| w[0] != w[1]));
    }
}
