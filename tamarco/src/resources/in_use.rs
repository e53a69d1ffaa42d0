//! [`InUse`]: how much work a resource has in flight, for its `/status` and for its stop, which
//! waits until none is left.
//!
//! Every query or command enters and leaves it, so both are one atomic add on the hot path; the
//! stop path is the only waiter, and a leaving caller wakes it only while it waits and only when
//! the count reaches zero.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

/// A count of work in flight that a stop can wait to reach zero.
#[derive(Debug, Default)]
pub(crate) struct InUse {
    count: AtomicUsize,
    /// Set while a stop waits, so that callers leaving at other times skip the wake-up.
    watched: AtomicBool,
    idle: Notify,
}

impl InUse {
    /// The work in flight now.
    pub(crate) fn get(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Counts one more piece of work in flight until [`leave`](Self::leave).
    pub(crate) fn enter(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// One piece of work is done.
    pub(crate) fn leave(&self) {
        // SeqCst on both sides (here and in `wait_idle`): either this sees the waiter's flag or
        // the waiter sees the count at zero, so no wake-up is lost.
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 && self.watched.load(Ordering::SeqCst) {
            self.idle.notify_waiters();
        }
    }

    /// Counts one piece of work for as long as the guard lives (Redis commands; Postgres
    /// counts a pooled connection's life instead).
    #[cfg(feature = "redis")]
    pub(crate) fn guard(&self) -> InUseGuard<'_> {
        self.enter();
        InUseGuard(self)
    }

    /// Waits until nothing is in flight; bound it with a timeout.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let idle = self.idle.notified();
            let mut idle = std::pin::pin!(idle);
            // Registered before the count is read: a wake-up in between is not missed.
            idle.as_mut().enable();
            self.watched.store(true, Ordering::SeqCst);
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// One piece of work counted in an [`InUse`] until dropped.
#[cfg(feature = "redis")]
pub(crate) struct InUseGuard<'a>(&'a InUse);

#[cfg(feature = "redis")]
impl Drop for InUseGuard<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::InUse;

    #[tokio::test]
    async fn a_stop_waits_until_the_last_piece_of_work_leaves() {
        let in_use = Arc::new(InUse::default());
        in_use.enter();
        in_use.enter();
        let waiter = tokio::spawn({
            let in_use = Arc::clone(&in_use);
            async move { in_use.wait_idle().await }
        });
        tokio::task::yield_now().await;
        in_use.leave();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "one piece of work is still in flight"
        );
        in_use.leave();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken when the count reaches zero")
            .expect("the waiter");
        assert_eq!(in_use.get(), 0);
        // Nothing in flight: the wait returns at once.
        tokio::time::timeout(Duration::from_secs(5), in_use.wait_idle())
            .await
            .expect("idle already");
    }
}
