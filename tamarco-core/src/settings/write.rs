//! Writing settings: the in-code layer ([`Settings::update_internal`] and the like), the
//! central store that [`Settings::set`] writes through, and whole layers from sources.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use super::snapshot::Snapshot;
use super::{Layer, Settings, SettingsError, tree};

/// A store that [`Settings::set`] and [`Settings::delete`] write through (etcd). The store
/// feeds its changes back into its own [`Layer`].
pub trait SettingsBackend: Send + Sync + 'static {
    /// A description for errors and `/status`, without secrets (`etcd at 127.0.0.1:2379`).
    fn describe(&self) -> String;
    /// Whether the store is reachable right now.
    fn is_connected(&self) -> bool;
    /// The layer the store's values live in.
    fn layer(&self) -> Layer;
    /// Stores `value` at the dotted `key`.
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a Value,
    ) -> BoxFuture<'a, Result<(), SettingsError>>;
    /// Removes the dotted `key` and everything under it.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SettingsError>>;
}

impl Settings {
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

    /// Merges a YAML document into the in-code layer (cargo feature `yaml`).
    #[cfg(feature = "yaml")]
    pub fn update_internal_yaml(&self, yaml: &str) -> Result<(), SettingsError> {
        let value: Value = serde_yaml_ng::from_str(yaml).map_err(|e| SettingsError::Source {
            source_name: "in-code YAML settings".into(),
            message: e.to_string(),
        })?;
        self.merge_into_layer(Layer::InCode, "in-code YAML settings", value)
    }

    /// Merges a settings document embedded in the program (`#[microservice(settings = "...")]`)
    /// into the in-code layer: YAML, or JSON without the cargo feature `yaml` (see
    /// [`parse_document`](super::sources::parse_document)); errors name `file`.
    pub fn update_internal_yaml_file(&self, file: &str, yaml: &str) -> Result<(), SettingsError> {
        let source = format!("in-code settings file `{file}`");
        let value = super::document::parse_document(&source, yaml)?;
        self.merge_into_layer(Layer::InCode, &source, value)
    }

    /// Sets one key in the in-code layer.
    pub fn set_internal(&self, key: &str, value: impl Serialize) -> Result<(), SettingsError> {
        tree::check_key(key)?;
        let value = to_value(key, value)?;
        self.edit_layer(Layer::InCode, |layer| tree::insert(layer, key, value));
        Ok(())
    }

    /// Removes one key (and its subtree) from the in-code layer.
    pub fn delete_internal(&self, key: &str) -> Result<(), SettingsError> {
        tree::check_key(key)?;
        self.edit_layer(Layer::InCode, |layer| tree::remove(layer, key));
        Ok(())
    }

    /// Stores `value` at `key` in the central store (etcd) when there is one, otherwise in the
    /// in-code layer. The new value is visible to `get` as soon as this returns.
    pub async fn set(&self, key: &str, value: impl Serialize) -> Result<(), SettingsError> {
        tree::check_key(key)?;
        let value = to_value(key, value)?;
        match self.backend() {
            Some(backend) => {
                backend.put(key, &value).await?;
                self.apply(backend.layer(), [(key.to_owned(), Some(value))]);
                Ok(())
            }
            None => {
                self.edit_layer(Layer::InCode, |layer| tree::insert(layer, key, value));
                Ok(())
            }
        }
    }

    /// Removes `key` and its subtree from the central store when there is one, otherwise from
    /// the in-code layer.
    pub async fn delete(&self, key: &str) -> Result<(), SettingsError> {
        tree::check_key(key)?;
        match self.backend() {
            Some(backend) => {
                backend.delete(key).await?;
                self.apply(backend.layer(), [(key.to_owned(), None)]);
                Ok(())
            }
            None => self.delete_internal(key),
        }
    }

    /// Replaces a whole layer, for settings sources. `value` must be a map.
    pub fn replace_layer(&self, layer: Layer, value: Value) {
        self.edit_layer(layer, |slot| *slot = value);
    }

    /// Sets (`Some`) or removes (`None`) dotted keys in one layer, as one change: watchers see
    /// the result once. For settings sources that receive changes key by key: a removal also
    /// removes the maps it leaves empty, as such sources have no empty folders.
    pub fn apply(&self, layer: Layer, changes: impl IntoIterator<Item = (String, Option<Value>)>) {
        self.edit_layer(layer, |slot| {
            for (key, value) in changes {
                match value {
                    Some(value) => tree::insert(slot, &key, value),
                    None => tree::remove_pruning(slot, &key),
                }
            }
        });
    }

    /// Names where `layer`'s values come from, for errors about them: the file's path for
    /// [`Layer::File`], the key prefix for [`Layer::Etcd`]. Takes effect with the layer's next
    /// change.
    pub fn name_source(&self, layer: Layer, source: impl Into<String>) {
        self.inner
            .sources
            .lock()
            .expect("settings lock")
            .insert(layer, source.into());
    }

    /// Makes [`set`](Settings::set) and [`delete`](Settings::delete) write through `backend`.
    pub fn attach_backend(&self, backend: Arc<dyn SettingsBackend>) {
        *self.inner.backend.lock().expect("settings lock") = Some(backend);
    }

    /// The central store, if one is attached.
    pub fn backend(&self) -> Option<Arc<dyn SettingsBackend>> {
        self.inner.backend.lock().expect("settings lock").clone()
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
        let merged = {
            let mut layers = self.inner.layers.write().expect("settings lock");
            let slot = layers
                .entry(layer)
                .or_insert_with(|| Value::Object(Default::default()));
            edit(slot);
            let sources = self.inner.sources.lock().expect("settings lock").clone();
            let merged = Arc::new(Snapshot::build(
                &self.inner.service,
                layers.clone(),
                sources,
            ));
            *self.inner.merged.write().expect("settings lock") = Arc::clone(&merged);
            merged
        };
        // Callbacks run without any settings lock held, so they may read settings.
        self.inner.watchers.notify(|key| merged.value(key));
    }
}

fn to_value(key: &str, value: impl Serialize) -> Result<Value, SettingsError> {
    serde_json::to_value(value).map_err(|e| SettingsError::Invalid {
        key: key.to_owned(),
        message: e.to_string(),
    })
}
