//! [`Snapshot`]: the layers merged in precedence order (maps key by key, anything else
//! replaced), with the per-service override applied; rebuilt on every change (an etcd event
//! included), so that reads, watches and live handles always see one consistent tree.
//!
//! The layers are kept beside the merge, which is how a bad value's error names its source: the
//! highest layer that holds the key (the override's key first), as the file, the environment
//! variable or the etcd key it came from. Typed reads decode the merged tree
//! ([`super::read`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{SettingsError, describe};
use super::layer::Layer;
use super::read::{Failure, read};
use super::tree;

/// The merged settings at one moment.
pub(super) struct Snapshot {
    service: String,
    layers: BTreeMap<Layer, Value>,
    /// What [`Layer::place_of`] needs beyond the layer: a file's path, etcd's prefix.
    sources: BTreeMap<Layer, String>,
    /// The tree every read sees: `stored` with the override applied.
    tree: Arc<Value>,
    /// The layers merged without the override, as stored.
    stored: Arc<Value>,
}

impl Snapshot {
    /// Merges `layers` (lowest precedence first) and applies `service`'s override.
    pub(super) fn build(
        service: &str,
        layers: BTreeMap<Layer, Value>,
        sources: BTreeMap<Layer, String>,
    ) -> Snapshot {
        let mut stored = Value::Object(Default::default());
        for tree in layers.values().filter(|tree| tree.is_object()) {
            tree::merge(&mut stored, tree.clone());
        }
        // Maps in key order, whatever order the layers gave them in: `/settings` lists them so.
        stored.sort_all_objects();
        let stored = Arc::new(stored);
        let tree = overridden(&stored, service).map_or_else(|| Arc::clone(&stored), Arc::new);
        Snapshot {
            service: service.to_owned(),
            layers,
            sources,
            tree,
            stored,
        }
    }

    /// The layers merged without the per-service override, as stored.
    pub(super) fn stored(&self) -> Arc<Value> {
        Arc::clone(&self.stored)
    }

    /// The raw value at `key`, with the per-service override applied.
    pub(super) fn value(&self, key: &str) -> Option<Value> {
        tree::lookup(&self.tree, key).cloned()
    }

    /// The typed value at `key`, `None` when it is missing.
    pub(super) fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SettingsError> {
        let Some(value) = tree::lookup(&self.tree, key) else {
            return Ok(None);
        };
        read(value)
            .map(Some)
            .map_err(|failure| self.invalid(key, &failure))
    }

    /// The subtree at `root` as one typed value; a missing subtree reads as an empty map.
    pub(super) fn load<T: DeserializeOwned>(&self, root: &str) -> Result<T, SettingsError> {
        match self.get(root)? {
            Some(typed) => Ok(typed),
            None => read(&Value::Object(Default::default()))
                .map_err(|failure| self.invalid(root, &failure)),
        }
    }

    /// An error naming the full key, the place the bad value came from, and never the value.
    pub(super) fn invalid(&self, key: &str, failure: &Failure) -> SettingsError {
        let key = failure.key_under(key);
        let mut message = describe(&key, &failure.message);
        if let Some(place) = self.place(&key) {
            message.push_str(&format!(" (from {place})"));
        }
        SettingsError::Invalid { key, message }
    }

    /// Where the value read at `key` comes from: the file, the etcd key, the environment
    /// variable (the override's own when it holds the value).
    fn place(&self, key: &str) -> Option<String> {
        let (layer, stored) = self.holder(key)?;
        Some(layer.place_of(&stored, self.sources.get(&layer).map(String::as_str)))
    }

    /// The layer that the value read at `key` comes from, and the key it holds it under: the
    /// per-service override's key when a layer holds one (the override wins over every layer),
    /// else `key`; of the layers that hold it, the highest.
    fn holder(&self, key: &str) -> Option<(Layer, String)> {
        let highest = |key: String| {
            let (layer, _) = self
                .layers
                .iter()
                .rev()
                .find(|(_, tree)| tree::lookup(tree, &key).is_some())?;
            Some((*layer, key))
        };
        key.strip_prefix("system.")
            .filter(|rest| !rest.starts_with("microservices"))
            .and_then(|rest| highest(format!("system.microservices.{}.{rest}", self.service)))
            .or_else(|| highest(key.to_owned()))
    }
}

/// `stored` with `system.microservices.<service>` merged over `system` (map by map; anything
/// else is replaced), or `None` when there is no override. The override's own `microservices`
/// key is left out: overrides do not nest.
fn overridden(stored: &Value, service: &str) -> Option<Value> {
    let mut over = stored
        .get("system")?
        .get("microservices")?
        .get(service)?
        .as_object()?
        .clone();
    over.remove("microservices");
    let mut tree = stored.clone();
    tree::merge(tree.get_mut("system")?, Value::Object(over));
    Some(tree)
}
