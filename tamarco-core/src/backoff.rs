//! Exponential backoff: the one rule every retry and reconnect loop of tamarco follows (log
//! sinks, etcd, restart policies, the messaging resources).
//!
//! ```
//! use std::time::Duration;
//! use tamarco_core::backoff::Backoff;
//!
//! let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
//! let waits: Vec<_> = (0..6).map(|_| backoff.next_delay().as_millis()).collect();
//! assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
//! backoff.reset(); // after a success
//! assert_eq!(backoff.next_delay(), Duration::from_millis(100));
//! ```

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Waits that grow by a factor after each failure, up to a maximum, optionally spread by a
/// random jitter so that many clients do not retry in step.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    jitter: f64,
    next: Duration,
}

impl Backoff {
    /// Waits of `initial`, then twice as long each time, never longer than `max` (raised to
    /// `initial` if smaller). No jitter.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            multiplier: 2.0,
            jitter: 0.0,
            next: initial,
        }
    }

    /// Multiplies each wait by `multiplier` (at least 1; 2 by default).
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier.is_finite() {
            multiplier.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// Shortens each wait by a random part of at most `fraction` of it (0 to 1; 0 by
    /// default): with 0.5, a wait of 1 s becomes between 0.5 s and 1 s.
    pub fn with_jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// The first wait.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The longest wait.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The wait before the next attempt; the one after it grows.
    pub fn next_delay(&mut self) -> Duration {
        let wait = self.next;
        self.next = Duration::try_from_secs_f64(self.next.as_secs_f64() * self.multiplier)
            .map_or(self.max, |grown| grown.min(self.max));
        if self.jitter == 0.0 {
            return wait;
        }
        wait.mul_f64(1.0 - self.jitter * random_unit())
    }

    /// Starts again from the first wait, after a success.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }

    /// Sleeps for [`next_delay`](Self::next_delay).
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }
}

/// A number in [0, 1) from the standard library's randomly keyed hasher: jitter needs no
/// quality randomness, only different values per process and call.
fn random_unit() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_up_to_the_maximum_and_resets() {
        let mut backoff = Backoff::new(100 * MS, 350 * MS);
        let waits: Vec<_> = (0..5).map(|_| backoff.next_delay()).collect();
        assert_eq!(waits, [100 * MS, 200 * MS, 350 * MS, 350 * MS, 350 * MS]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), 100 * MS);
    }

    #[test]
    fn a_maximum_below_the_first_wait_is_raised_to_it() {
        let mut backoff = Backoff::new(500 * MS, 100 * MS);
        assert_eq!(backoff.max(), 500 * MS);
        assert_eq!(backoff.next_delay(), 500 * MS);
        assert_eq!(backoff.next_delay(), 500 * MS);
    }

    #[test]
    fn multiplier_is_applied_and_never_shrinks_waits() {
        let mut backoff = Backoff::new(100 * MS, Duration::from_secs(10)).with_multiplier(3.0);
        assert_eq!(backoff.next_delay(), 100 * MS);
        assert_eq!(backoff.next_delay(), 300 * MS);
        let mut flat = Backoff::new(100 * MS, Duration::from_secs(10)).with_multiplier(0.5);
        assert_eq!(flat.next_delay(), 100 * MS);
        assert_eq!(flat.next_delay(), 100 * MS);
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_varies() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let mut backoff =
                Backoff::new(Duration::from_secs(1), Duration::from_secs(1)).with_jitter(0.5);
            let wait = backoff.next_delay();
            assert!((500 * MS..=1000 * MS).contains(&wait), "{wait:?}");
            seen.insert(wait);
        }
        assert!(seen.len() > 1, "jitter gave the same wait 50 times");
    }

    #[test]
    fn large_waits_saturate_at_the_maximum() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::MAX);
        for _ in 0..200 {
            backoff.next_delay();
        }
        assert_eq!(backoff.next_delay(), Duration::MAX);
    }
}
