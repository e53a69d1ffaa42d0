//! Watchers of keys: each remembers the value its key resolved to, and is called when a change
//! of the tree changes it.

use std::sync::{Arc, Mutex};

use serde_json::Value;

/// Identifies a watch, to stop it with [`Settings::unwatch`](super::Settings::unwatch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WatchId(u64);

pub(super) type Callback = Arc<dyn Fn(&str, Option<&Value>) + Send + Sync>;

#[derive(Default)]
pub(super) struct Watchers {
    state: Mutex<State>,
    /// Held while callbacks run, so that two changes never call back out of order.
    delivery: Mutex<()>,
}

#[derive(Default)]
struct State {
    next: u64,
    watchers: Vec<Watcher>,
}

struct Watcher {
    id: WatchId,
    key: String,
    last: Option<Value>,
    callback: Callback,
}

impl Watchers {
    pub(super) fn add(&self, key: &str, current: Option<Value>, callback: Callback) -> WatchId {
        let mut state = self.state.lock().expect("watchers lock");
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
        self.state
            .lock()
            .expect("watchers lock")
            .watchers
            .retain(|w| w.id != id);
    }

    /// Calls back every watcher whose key now resolves to something else.
    pub(super) fn notify(&self, resolve: impl Fn(&str) -> Option<Value>) {
        let _delivery = self.delivery.lock().expect("watchers delivery lock");
        let due: Vec<(String, Option<Value>, Callback)> = {
            let mut state = self.state.lock().expect("watchers lock");
            state
                .watchers
                .iter_mut()
                .filter_map(|watcher| {
                    let now = resolve(&watcher.key);
                    (now != watcher.last).then(|| {
                        watcher.last.clone_from(&now);
                        (watcher.key.clone(), now, Arc::clone(&watcher.callback))
                    })
                })
                .collect()
        };
        for (key, value, callback) in due {
            callback(&key, value.as_ref());
        }
    }
}
