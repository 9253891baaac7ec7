//! Retry timing: exponential backoff with full jitter (a uniformly random wait up to the exponential cap), so
//! many senders backing off from the same overloaded target do not come back in lockstep.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// How often and how patiently a request is retried (a `_bulk` batch, a replayed request, an S3 read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Sends per request, the first included, before giving up (default 10).
    pub max_attempts: u32,
    /// The cap of the first wait (default 200 ms); it doubles per attempt.
    pub base: Duration,
    /// The largest cap (default 30 s).
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { max_attempts: 10, base: Duration::from_millis(200), max: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    /// The wait cap before retry number `retry` (1 for the first retry): `base · 2^(retry-1)`, at most `max`.
    pub fn cap(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// A random wait in `[0, cap(retry)]`.
    pub fn delay(&self, retry: u32) -> Duration {
        let cap = self.cap(retry);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(random_u64() % nanos.saturating_add(1))
    }
}

/// A random number from the standard library's per-process randomly keyed hasher: enough for jitter without
/// a random-number crate.
fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_double_up_to_the_maximum_and_delays_stay_below_them() {
        let p = RetryPolicy { max_attempts: 5, base: Duration::from_millis(100), max: Duration::from_secs(1) };
        assert_eq!(p.cap(1), Duration::from_millis(100));
        assert_eq!(p.cap(3), Duration::from_millis(400));
        assert_eq!(p.cap(5), Duration::from_secs(1));
        assert_eq!(p.cap(200), Duration::from_secs(1));
        let delays: Vec<_> = (0..50).map(|_| p.delay(3)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(400)));
        assert!(delays.iter().any(|d| *d != delays[0]), "jitter varies");
    }
}
