use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Live, Settings, SettingsError, WatchId};

/// Settings seen from a root key, usually `system.resources.<name>`: each resource reads its
/// own subtree through one. The per-service override applies as for [`Settings`].
#[derive(Clone, Debug)]
pub struct SettingsView {
    settings: Settings,
    root: String,
}

impl SettingsView {
    pub(super) fn new(settings: Settings, root: String) -> Self {
        SettingsView { settings, root }
    }

    /// The root key of this view.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The whole settings tree this view reads from.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The full dotted key for `key` relative to the root.
    pub fn full_key(&self, key: &str) -> String {
        if key.is_empty() {
            self.root.clone()
        } else {
            format!("{}.{key}", self.root)
        }
    }

    /// The typed value at `root.key`; errors name the full key.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T, SettingsError> {
        self.settings.get(&self.full_key(key))
    }

    /// The typed value at `root.key`, or `None` when missing.
    pub fn get_opt<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SettingsError> {
        self.settings.get_opt(&self.full_key(key))
    }

    /// The typed value at `root.key`, or `default` when missing.
    pub fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, SettingsError> {
        self.settings.get_or(&self.full_key(key), default)
    }

    /// Stores `value` at `root.key` (in etcd when there is one); see [`Settings::set`].
    pub async fn set(&self, key: &str, value: impl serde::Serialize) -> Result<(), SettingsError> {
        self.settings.set(&self.full_key(key), value).await
    }

    /// Removes `root.key`; see [`Settings::delete`].
    pub async fn delete(&self, key: &str) -> Result<(), SettingsError> {
        self.settings.delete(&self.full_key(key)).await
    }

    /// Watches `root.key`; the callback gets the full key. See [`Settings::watch`].
    pub fn watch(
        &self,
        key: &str,
        callback: impl Fn(&str, Option<&Value>) + Send + Sync + 'static,
    ) -> WatchId {
        self.settings.watch(&self.full_key(key), callback)
    }

    /// A live handle on `root.key`; see [`Settings::live`].
    pub fn live<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        key: &str,
    ) -> Result<Live<T>, SettingsError> {
        self.settings.live(&self.full_key(key))
    }

    /// A live handle on `root.key`, holding `default` while it is missing.
    pub fn live_or<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        key: &str,
        default: T,
    ) -> Result<Live<T>, SettingsError> {
        self.settings.live_or(&self.full_key(key), default)
    }

    /// The whole subtree as one typed value. A missing subtree reads as an empty map, so a
    /// struct with `#[serde(default)]` gets its defaults.
    pub fn load<T: DeserializeOwned>(&self) -> Result<T, SettingsError> {
        self.settings.load(&self.root)
    }
}
