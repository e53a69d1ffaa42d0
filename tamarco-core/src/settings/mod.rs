//! The settings model: one tree of values addressed by dotted keys (`system.resources.db.host`).
//!
//! The tree is the merge of layers, each a [figment](https://docs.rs/figment) provider.
//! Precedence, lowest first (a later layer wins key by key):
//!
//! 1. the framework's defaults ([`Layer::Defaults`]);
//! 2. the service's in-code settings ([`Settings::update_internal`], [`Settings::set_internal`]);
//! 3. a YAML, JSON or TOML file named by `TAMARCO_YML_FILE` ([`Layer::File`]);
//! 4. etcd, when `TAMARCO_ETCD_HOST` is set ([`Layer::Etcd`]);
//! 5. single keys from environment variables `TAMARCO__<KEY>` ([`Layer::Environment`]; see
//!    [`sources`]).
//!
//! Reads under `system.` see the per-service override: `system.microservices.<service>.<path>`
//! wins over `system.<path>` for that service only, and for a subtree the two merge key by key.
//! Typed reads go through serde; a failure names the full key, the expected type and where the
//! bad value came from (the file, the environment variable, the etcd key), never the value.
//!
//! Changes are pushed, not polled: [`Settings::watch`] calls back when the value a key resolves
//! to changes (from any layer, the override included), and [`Settings::live`] gives a typed handle
//! that always holds the latest value, read without a lookup.

mod document;
mod duration;
mod error;
#[cfg(feature = "etcd")]
pub mod etcd;
mod keys;
mod layer;
mod live;
mod read;
mod running;
mod snapshot;
pub mod sources;
mod tree;
mod unknown;
mod view;
mod watch;
mod write;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, RwLock, Weak};

use serde::de::DeserializeOwned;
use serde_json::Value;

use snapshot::Snapshot;

pub use duration::Duration;
pub use error::SettingsError;
pub(crate) use keys::check_known;
pub use keys::{KeyNote, KeyNoteKind, LegacyKey, UNKNOWN_KEYS_POLICY};
pub use layer::Layer;
pub use live::Live;
pub use view::SettingsView;
pub use watch::WatchId;
pub use write::SettingsBackend;

/// The settings of one service: cheap to clone, shared by every resource and task.
#[derive(Clone)]
pub struct Settings {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    layers: RwLock<BTreeMap<Layer, Value>>,
    /// Where layers come from, for errors: see [`Settings::name_source`].
    sources: Mutex<BTreeMap<Layer, String>>,
    merged: RwLock<Arc<Snapshot>>,
    watchers: watch::Watchers,
    backend: Mutex<Option<Arc<dyn SettingsBackend>>>,
    /// Keyed hashes of the values read as [`Secret`](crate::secret::Secret)s, so that
    /// `/settings` masks them whatever their key.
    secret_values: Mutex<HashSet<u64>>,
    hasher: RandomState,
    /// Warnings given about legacy and unknown keys (`keys`), each key once.
    notes: Mutex<Vec<KeyNote>>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tree may hold secrets: never print it.
        f.debug_struct("Settings")
            .field("service", &self.inner.service)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Settings for the service `service`, holding only the framework's defaults.
    pub fn new(service: impl Into<String>) -> Self {
        let service = service.into();
        let empty = Snapshot::build(&service, BTreeMap::new(), BTreeMap::new());
        let settings = Settings {
            inner: Arc::new(Inner {
                service,
                layers: RwLock::new(BTreeMap::new()),
                sources: Mutex::new(BTreeMap::new()),
                merged: RwLock::new(Arc::new(empty)),
                watchers: watch::Watchers::default(),
                backend: Mutex::new(None),
                secret_values: Mutex::default(),
                hasher: RandomState::new(),
                notes: Mutex::new(Vec::new()),
            }),
        };
        settings.replace_layer(Layer::Defaults, defaults());
        settings
    }

    /// The name of the service whose per-service override applies.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The typed value at `key`; an error names the key when it is missing or of the wrong type.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T, SettingsError> {
        self.get_opt(key)?.ok_or_else(|| SettingsError::Missing {
            key: key.to_owned(),
        })
    }

    /// The typed value at `key`, or `None` when it is missing; a wrong type is still an error.
    pub fn get_opt<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SettingsError> {
        let mut typed = None;
        self.decode(key, false, &mut read::read_into(&mut typed))?;
        Ok(typed)
    }

    /// Decodes the value at `key` (see [`Snapshot::decode`]) and remembers the secrets it read.
    fn decode(
        &self,
        key: &str,
        missing_as_empty: bool,
        decode: &mut read::Decode<'_>,
    ) -> Result<bool, SettingsError> {
        let snapshot = self.snapshot();
        let (read, secrets) =
            crate::secret::collect_read(|| snapshot.decode(key, missing_as_empty, decode));
        self.note_secrets(secrets);
        read
    }

    /// Remembers values read as secrets (their keyed hashes only).
    fn note_secrets(&self, secrets: Vec<String>) {
        if secrets.is_empty() {
            return;
        }
        let mut known = self.inner.secret_values.lock().expect("settings lock");
        known.extend(secrets.iter().map(|text| self.inner.hasher.hash_one(text)));
    }

    /// Whether `value` (a leaf: text, number or boolean) was read as a
    /// [`Secret`](crate::secret::Secret) by some typed read of these settings, under any key.
    pub fn is_secret_value(&self, value: &Value) -> bool {
        let Some(text) = crate::secret::leaf_text(value) else {
            return false;
        };
        let hash = self.inner.hasher.hash_one(&text);
        let known = self.inner.secret_values.lock().expect("settings lock");
        known.contains(&hash)
    }

    /// The typed value at `key`, or `default` when it is missing; a wrong type is still an error.
    pub fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, SettingsError> {
        Ok(self.get_opt(key)?.unwrap_or(default))
    }

    /// The raw value at `key`, with the per-service override applied.
    pub fn value(&self, key: &str) -> Option<Value> {
        self.snapshot().value(key)
    }

    /// Calls `callback(key, value)` whenever the value `key` resolves to changes (the override
    /// included): with the new value, or `None` when the key was deleted. Calls come in change
    /// order, on the thread that made the change (or on the one already delivering an earlier
    /// change). A callback must not block (spawn a task for async work); it may read and write
    /// settings, and a panic in it is logged and goes no further.
    pub fn watch(
        &self,
        key: &str,
        callback: impl Fn(&str, Option<&Value>) + Send + Sync + 'static,
    ) -> WatchId {
        let current = self.value(key);
        self.inner.watchers.add(key, current, Arc::new(callback))
    }

    /// Stops a watch.
    pub fn unwatch(&self, id: WatchId) {
        self.inner.watchers.remove(id);
    }

    /// A typed handle that always holds the latest value at `key`. Fails, naming the key, if
    /// the key is missing or has the wrong type now; later bad values are logged and skipped.
    pub fn live<T>(&self, key: &str) -> Result<Live<T>, SettingsError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        Live::new(self, key, None)
    }

    /// Like [`live`](Settings::live), holding `default` while the key is missing.
    pub fn live_or<T>(&self, key: &str, default: T) -> Result<Live<T>, SettingsError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        Live::new(self, key, Some(default))
    }

    /// The original's `watch_and_update`: every key is already kept up to date from every
    /// source, so this is a live handle on the raw value at `key` (`None` while missing).
    pub fn watch_and_update(&self, key: &str) -> Live<Option<Value>> {
        Live::new(self, key, Some(None)).expect("an optional raw value always decodes")
    }

    /// A view rooted at `root`: keys read through it are relative to the root.
    pub fn view(&self, root: impl Into<String>) -> SettingsView {
        SettingsView::new(self.clone(), root.into())
    }

    /// The view of the resource named `name`: `system.resources.<name>`.
    pub fn resource_view(&self, name: &str) -> SettingsView {
        self.view(format!("system.resources.{name}"))
    }

    /// The merged tree of every layer, as stored: the per-service overrides are not applied
    /// (they stay under `system.microservices`). It may hold secrets: mask before showing it.
    pub fn merged_tree(&self) -> Arc<Value> {
        self.snapshot().stored()
    }

    /// The layer the stored value at `key` comes from: the highest layer that holds the key.
    /// For a map, the highest layer that holds any part of it.
    pub fn source_of(&self, key: &str) -> Option<Layer> {
        let layers = self.inner.layers.read().expect("settings lock");
        layers
            .iter()
            .rev()
            .find(|(_, value)| tree::lookup(value, key).is_some())
            .map(|(layer, _)| *layer)
    }

    /// The subtree at `root` as one typed value; a missing subtree reads as an empty map.
    fn load<T: DeserializeOwned>(&self, root: &str) -> Result<T, SettingsError> {
        let mut typed = None;
        self.decode(root, true, &mut read::read_into(&mut typed))?;
        Ok(typed.expect("a missing subtree decodes as an empty map"))
    }

    /// The merged settings now.
    fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.merged.read().expect("settings lock").clone()
    }

    /// A handle that does not keep the settings alive, for callbacks the settings hold.
    fn downgrade(&self) -> Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    fn upgrade(weak: &Weak<Inner>) -> Option<Settings> {
        weak.upgrade().map(|inner| Settings { inner })
    }
}

/// The framework's defaults: enough for a service with no settings at all to run.
fn defaults() -> Value {
    serde_json::json!({
        "system": {
            "deploy_name": DEFAULT_DEPLOY_NAME,
            "logging": { "profile": "PRODUCTION", "stdout": true },
            "shutdown": { "grace_period_seconds": 30.0, "thread_join_timeout_seconds": 3.0 },
            "resources": {
                "tamarco_http_report_server": { "enabled": true, "host": "127.0.0.1", "port": 5747 }
            }
        }
    })
}

/// `system.deploy_name` when no source sets it.
pub const DEFAULT_DEPLOY_NAME: &str = "local";
