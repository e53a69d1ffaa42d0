//! [`ShutdownHandle`]: the one way for code to stop the service gracefully, and to learn that
//! a stop has begun, from async code (`stopping().await`) or from a thread (`wait_timeout`).

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// Why a graceful stop began.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// SIGTERM or SIGINT.
    Signal(&'static str),
    /// Code called [`ShutdownHandle::stop_gracefully`].
    Requested,
    /// A FAILED resource is covered by `restart_microservice_on_failure`: the service stops
    /// and exits with code 75 so that its orchestrator restarts it.
    RestartRequested {
        /// The resource that failed.
        resource: String,
    },
    /// A task, timer or thread failed; the service stops and exits non-zero.
    TaskFailed {
        /// The task's name.
        task: String,
        /// The error, with its causes.
        message: String,
    },
}

/// A cloneable handle on the service's graceful stop.
#[derive(Clone)]
pub struct ShutdownHandle {
    inner: Arc<Inner>,
}

struct Inner {
    reason: Mutex<Option<StopReason>>,
    changed: Condvar,
    notify: watch::Sender<bool>,
}

impl Default for ShutdownHandle {
    fn default() -> Self {
        ShutdownHandle::new()
    }
}

impl ShutdownHandle {
    /// A handle on which no stop was requested yet.
    pub fn new() -> Self {
        let inner = Inner {
            reason: Mutex::new(None),
            changed: Condvar::new(),
            notify: watch::Sender::new(false),
        };
        ShutdownHandle {
            inner: Arc::new(inner),
        }
    }

    /// Asks the service to stop gracefully. Calling it again changes nothing.
    pub fn stop_gracefully(&self) {
        self.request(StopReason::Requested);
    }

    /// Begins a stop for `reason`; the first reason given is kept.
    pub fn request(&self, reason: StopReason) {
        let mut slot = self.inner.reason.lock().expect("shutdown lock");
        if slot.is_none() {
            *slot = Some(reason);
            self.inner.changed.notify_all();
            self.inner.notify.send_replace(true);
        }
    }

    /// Whether a stop has begun.
    pub fn is_stopping(&self) -> bool {
        self.inner.reason.lock().expect("shutdown lock").is_some()
    }

    /// Why the stop began, once it has.
    pub fn reason(&self) -> Option<StopReason> {
        self.inner.reason.lock().expect("shutdown lock").clone()
    }

    /// Completes when a stop has begun.
    pub async fn stopping(&self) {
        let mut rx = self.inner.notify.subscribe();
        // The sender lives in `self`, so waiting cannot fail.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }

    /// Blocks the calling thread until a stop begins or `timeout` passes; true if stopping.
    /// For `#[thread]` methods, never for async code.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let slot = self.inner.reason.lock().expect("shutdown lock");
        let (slot, _) = self
            .inner
            .changed
            .wait_timeout_while(slot, timeout, |reason| reason.is_none())
            .expect("shutdown lock");
        slot.is_some()
    }
}

impl fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownHandle")
            .field("reason", &self.reason())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reason_is_kept_and_threads_wake() {
        let handle = ShutdownHandle::new();
        assert!(!handle.wait_timeout(Duration::from_millis(1)));
        let waiter = {
            let handle = handle.clone();
            std::thread::spawn(move || handle.wait_timeout(Duration::from_secs(10)))
        };
        handle.request(StopReason::Signal("SIGTERM"));
        handle.stop_gracefully();
        assert!(waiter.join().unwrap());
        assert_eq!(handle.reason(), Some(StopReason::Signal("SIGTERM")));
    }

    #[tokio::test]
    async fn async_waiters_wake() {
        let handle = ShutdownHandle::new();
        let waiter = tokio::spawn({
            let handle = handle.clone();
            async move { handle.stopping().await }
        });
        handle.stop_gracefully();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
