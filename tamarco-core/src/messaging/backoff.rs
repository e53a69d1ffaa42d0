//! A doubling wait, capped. Private stand-in until the core's shared `backoff::Backoff` is on
//! main; same constructor and method, so the swap is a `use` line.

use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            max: max.max(initial),
            next: initial,
        }
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let wait = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        wait
    }
}
