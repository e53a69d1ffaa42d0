//! Watchers of keys: each remembers the value its key resolved to, and is called when a change
//! of the tree changes it.
//!
//! Callbacks are delivered in change order by one thread at a time, from a queue: a change made
//! while another is being delivered (by a callback itself, or by another thread) is queued and
//! delivered by the thread already delivering, so a callback may write settings without
//! deadlocking. A callback that panics is logged and skipped: no lock is poisoned and the other
//! watchers still get every change.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::Value;

/// Identifies a watch, to stop it with [`Settings::unwatch`](super::Settings::unwatch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WatchId(u64);

pub(super) type Callback = Arc<dyn Fn(&str, Option<&Value>) + Send + Sync>;

#[derive(Default)]
pub(super) struct Watchers {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next: u64,
    watchers: Vec<Watcher>,
    /// Calls due, in change order.
    pending: VecDeque<Due>,
    /// Whether a thread is draining `pending`.
    delivering: bool,
}

type Due = (String, Option<Value>, Callback);

struct Watcher {
    id: WatchId,
    key: String,
    last: Option<Value>,
    callback: Callback,
}

impl Watchers {
    /// The state; a panic never happens while it is held, but a poisoned lock is still usable.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn add(&self, key: &str, current: Option<Value>, callback: Callback) -> WatchId {
        let mut state = self.state();
        state.next += 1;
        let id = WatchId(state.next);
        state.watchers.push(Watcher {
            id,
            key: key.to_owned(),
            last: current,
            callback,
        });
        id
    }

    pub(super) fn remove(&self, id: WatchId) {
        self.state().watchers.retain(|w| w.id != id);
    }

    /// Calls back every watcher whose key now resolves to something else, unless another
    /// delivery is under way: then that one makes these calls too, after its own.
    pub(super) fn notify(&self, resolve: impl Fn(&str) -> Option<Value>) {
        {
            let mut state = self.state();
            let State {
                watchers, pending, ..
            } = &mut *state;
            for watcher in watchers.iter_mut() {
                let now = resolve(&watcher.key);
                if now != watcher.last {
                    watcher.last.clone_from(&now);
                    pending.push_back((watcher.key.clone(), now, Arc::clone(&watcher.callback)));
                }
            }
            if state.delivering {
                return;
            }
            state.delivering = true;
        }
        loop {
            let next = {
                let mut state = self.state();
                let next = state.pending.pop_front();
                state.delivering = next.is_some();
                next
            };
            let Some((key, value, callback)) = next else {
                return;
            };
            if catch_unwind(AssertUnwindSafe(|| callback(&key, value.as_ref()))).is_err() {
                tracing::error!(
                    key,
                    "a settings watch callback panicked; the change was skipped for it"
                );
            }
        }
    }
}
