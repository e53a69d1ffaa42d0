//! The settings model: one tree of values addressed by dotted keys (`system.resources.db.host`).
//!
//! The tree is the merge of layers, lowest precedence first: the framework's defaults, then the
//! service's in-code settings ([`Settings::update_internal`]); later sources (file, etcd,
//! environment) add layers above those. Reads under `system.` see the per-service override:
//! `system.microservices.<service>.<path>` wins over `system.<path>` for that service only, and
//! for a subtree the two are merged key by key.
//!
//! Typed reads go through serde; a failure names the full key and the expected type.

mod error;
mod tree;
mod view;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use error::SettingsError;
pub use view::SettingsView;

/// Where a layer of settings comes from. Later variants take precedence over earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Layer {
    /// The framework's defaults, so that a service with no settings runs.
    Defaults,
    /// Settings the service sets in code.
    InCode,
    /// A YAML or JSON file.
    File,
    /// The central etcd store.
    Etcd,
    /// Single keys from environment variables.
    Environment,
}

/// The settings of one service: cheap to clone, shared by every resource and task.
#[derive(Clone)]
pub struct Settings {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    layers: RwLock<BTreeMap<Layer, Value>>,
    merged: RwLock<Arc<Value>>,
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
        let settings = Settings {
            inner: Arc::new(Inner {
                service: service.into(),
                layers: RwLock::new(BTreeMap::new()),
                merged: RwLock::new(Arc::new(Value::Object(Default::default()))),
            }),
        };
        settings.replace_layer(Layer::Defaults, defaults());
        settings
    }

    /// The name of the service whose per-service override applies.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// Merges `value` (any serde value whose root is a map) into the in-code layer, like the
    /// original's `update_internal`.
    pub fn update_internal(&self, value: impl Serialize) -> Result<(), SettingsError> {
        let value = serde_json::to_value(value).map_err(|e| SettingsError::Source {
            source_name: "in-code settings".into(),
            message: e.to_string(),
        })?;
        self.merge_into_layer(Layer::InCode, "in-code settings", value)
    }

    /// Merges a JSON document into the in-code layer.
    pub fn update_internal_json(&self, json: &str) -> Result<(), SettingsError> {
        let value: Value = serde_json::from_str(json).map_err(|e| SettingsError::Source {
            source_name: "in-code JSON settings".into(),
            message: e.to_string(),
        })?;
        self.merge_into_layer(Layer::InCode, "in-code JSON settings", value)
    }

    /// Merges a YAML document into the in-code layer.
    pub fn update_internal_yaml(&self, yaml: &str) -> Result<(), SettingsError> {
        let value: Value = serde_yaml_ng::from_str(yaml).map_err(|e| SettingsError::Source {
            source_name: "in-code YAML settings".into(),
            message: e.to_string(),
        })?;
        self.merge_into_layer(Layer::InCode, "in-code YAML settings", value)
    }

    /// Sets one key in the in-code layer.
    pub fn set(&self, key: &str, value: impl Serialize) -> Result<(), SettingsError> {
        tree::check_key(key)?;
        let value = serde_json::to_value(value).map_err(|e| SettingsError::Invalid {
            key: key.to_owned(),
            message: e.to_string(),
        })?;
        self.edit_layer(Layer::InCode, |layer| tree::insert(layer, key, value));
        Ok(())
    }

    /// Removes one key (and its subtree) from the in-code layer.
    pub fn delete(&self, key: &str) -> Result<(), SettingsError> {
        tree::check_key(key)?;
        self.edit_layer(Layer::InCode, |layer| tree::remove(layer, key));
        Ok(())
    }

    /// Replaces a whole layer, for settings sources. `value` must be a map.
    pub fn replace_layer(&self, layer: Layer, value: Value) {
        self.edit_layer(layer, |slot| *slot = value);
    }

    /// The typed value at `key`; an error names the key when it is missing or of the wrong type.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<T, SettingsError> {
        match self.value(key) {
            Some(value) => tree::decode(key, value),
            None => Err(SettingsError::Missing {
                key: key.to_owned(),
            }),
        }
    }

    /// The typed value at `key`, or `None` when it is missing; a wrong type is still an error.
    pub fn get_opt<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SettingsError> {
        self.value(key)
            .map(|value| tree::decode(key, value))
            .transpose()
    }

    /// The typed value at `key`, or `default` when it is missing; a wrong type is still an error.
    pub fn get_or<T: DeserializeOwned>(&self, key: &str, default: T) -> Result<T, SettingsError> {
        Ok(self.get_opt(key)?.unwrap_or(default))
    }

    /// The raw value at `key`, with the per-service override applied.
    pub fn value(&self, key: &str) -> Option<Value> {
        let merged = self.inner.merged.read().expect("settings lock").clone();
        tree::resolve(&merged, &self.inner.service, key)
    }

    /// A view rooted at `root`: keys read through it are relative to the root.
    pub fn view(&self, root: impl Into<String>) -> SettingsView {
        SettingsView::new(self.clone(), root.into())
    }

    /// The view of the resource named `name`: `system.resources.<name>`.
    pub fn resource_view(&self, name: &str) -> SettingsView {
        self.view(format!("system.resources.{name}"))
    }

    fn merge_into_layer(
        &self,
        layer: Layer,
        source: &str,
        value: Value,
    ) -> Result<(), SettingsError> {
        if !value.is_object() {
            return Err(SettingsError::Source {
                source_name: source.to_owned(),
                message: "the document's root must be a map of keys".into(),
            });
        }
        self.edit_layer(layer, |slot| tree::merge(slot, value));
        Ok(())
    }

    fn edit_layer(&self, layer: Layer, edit: impl FnOnce(&mut Value)) {
        let mut layers = self.inner.layers.write().expect("settings lock");
        let slot = layers
            .entry(layer)
            .or_insert_with(|| Value::Object(Default::default()));
        edit(slot);
        let mut merged = Value::Object(Default::default());
        for value in layers.values() {
            tree::merge(&mut merged, value.clone());
        }
        *self.inner.merged.write().expect("settings lock") = Arc::new(merged);
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
