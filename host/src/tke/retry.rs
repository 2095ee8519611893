//! When a Tencent Cloud API call may be retried, how long to wait, and the client-side rate limit.
//!
//! Only read-only calls are ever retried here. `AddExistedInstances` reinstalls the OS and
//! neither it nor `DeleteClusterInstances` has an idempotency token: when one of them times out
//! or gets an ambiguous answer the caller re-reads the state (`DescribeClusterInstances`,
//! `DescribeExistedInstances`) and decides. The backoff is exponential with full jitter, so many
//! throttled clients do not retry in lockstep.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Whether a call changes anything in the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// A `Describe*` call: safe to repeat.
    ReadOnly,
    /// Adds or removes instances: never repeated blindly.
    Mutating,
}

/// Whether an API error code is worth retrying for a read-only call: throttling
/// (`RequestLimitExceeded`, `.UinLimitExceeded`, `.GlobalRegionUinLimitExceeded`, ...) and the
/// generic `InternalError` / `InternalServerError`. Specific internal errors such as
/// `InternalError.Param` are deterministic and are not retried.
pub fn is_retryable_code(code: &str) -> bool {
    code == "RequestLimitExceeded"
        || code.starts_with("RequestLimitExceeded.")
        || matches!(
            code,
            "InternalError" | "InternalServerError" | "InternalError.UnexpectedInternal"
        )
}

/// Exponential backoff with full jitter.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Ceiling of the first delay.
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Total attempts, the first included.
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(200),
            max: Duration::from_secs(10),
            attempts: 6,
        }
    }
}

impl Backoff {
    /// The delay before retry number `retry` (0 for the first retry), given `unit` drawn
    /// uniformly from [0, 1): uniform in [0, min(max, base * 2^retry)).
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .min(self.max);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// [`Backoff::delay`] with a random jitter.
    pub fn jittered(&self, retry: u32) -> Duration {
        self.delay(retry, rand::random::<f64>())
    }
}

/// A per-action request-rate limit, kept under the documented 20 requests/second per action (40
/// for CVM `DescribeInstances`) so that one tool run never throttles the account's other users.
/// Requests of one action are spaced evenly; different actions do not wait for each other.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<HashMap<&'static str, Instant>>,
}

/// The default rate: 15 requests/second per action, a margin under TKE's 20.
pub const DEFAULT_RATE_PER_SECOND: u32 = 15;

impl RateLimiter {
    /// `per_second` requests per second per action (at least 1).
    pub fn new(per_second: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Wait until `action` may send its next request.
    pub async fn acquire(&self, action: &'static str) {
        let wait_until = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = next.entry(action).or_insert(now);
            let at = (*slot).max(now);
            *slot = at + self.interval;
            at
        };
        tokio::time::sleep_until(wait_until).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_codes() {
        let cases = [
            ("RequestLimitExceeded", true),
            ("RequestLimitExceeded.UinLimitExceeded", true),
            ("RequestLimitExceeded.GlobalRegionUinLimitExceeded", true),
            ("InternalError", true),
            ("InternalError.Param", false),
            ("InvalidParameter", false),
            ("AuthFailure.SignatureFailure", false),
            ("ResourceNotFound", false),
        ];
        for (code, want) in cases {
            assert_eq!(is_retryable_code(code), want, "{code}");
        }
    }

    #[test]
    fn backoff_grows_to_the_cap_and_jitters_below_it() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            attempts: 10,
        };
        assert_eq!(b.delay(0, 0.999_999).as_millis(), 99);
        assert_eq!(b.delay(2, 0.5), Duration::from_millis(200));
        assert_eq!(b.delay(9, 0.5), Duration::from_millis(500));
        assert_eq!(b.delay(40, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay(3, 0.0), Duration::ZERO);
        for retry in 0..12 {
            assert!(b.jittered(retry) <= b.max);
        }
    }

    #[tokio::test]
    async fn rate_limit_spaces_one_action_but_not_others() {
        let limiter = RateLimiter::new(50);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire("DescribeClusterInstances").await;
        }
        // Five requests at 50/s: the fifth goes out 80 ms after the first, not before.
        let spent = start.elapsed();
        assert!(spent >= Duration::from_millis(80), "{spent:?}");
        assert!(spent < Duration::from_millis(500), "{spent:?}");
        let other = Instant::now();
        limiter.acquire("DescribeClusters").await;
        assert!(other.elapsed() < Duration::from_millis(20));
    }
}
