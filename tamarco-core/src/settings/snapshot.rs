//! [`Snapshot`]: the layers merged by figment, each layer a provider in precedence order, with
//! the per-service override applied; rebuilt on every change (an etcd event included), so that
//! reads, watches and live handles always see one consistent tree. The override (which figment
//! has no notion of) is applied to the JSON tree for reads, and to figment's tagged values only
//! when a typed read fails, with the same rule: maps merge key by key, anything else replaces.
//!
//! figment tags every value with the provider it came from, which is how a bad value's error
//! names its source (the file, the environment variable, the etcd key). Typed reads decode the
//! JSON tree ([`super::read`]).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use figment::value::{Dict, Map, Value as Figured};
use figment::{Figment, Metadata, Profile, Provider};
use serde_json::Value;

use super::error::{SettingsError, describe};
use super::layer::Layer;
use super::read::{Decode, Failure};
use super::tree;

/// The figment provider of one layer: its JSON tree, named for the layer.
struct LayerProvider<'a> {
    layer: Layer,
    tree: &'a Value,
}

impl Provider for LayerProvider<'_> {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.layer.name())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = match Figured::serialize(self.tree)? {
            Figured::Dict(_, dict) => dict,
            _ => Dict::new(),
        };
        Ok(Profile::Default.collect(dict))
    }
}

/// The `system` subtree with the per-service override merged in. Its values keep the tags of
/// the layers they came from.
struct OverrideProvider(Dict);

impl Provider for OverrideProvider {
    fn metadata(&self) -> Metadata {
        Metadata::named("the per-service override")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

/// The merged settings at one moment.
pub(super) struct Snapshot {
    service: String,
    layers: BTreeMap<Layer, Value>,
    /// What [`Layer::place_of`] needs beyond the layer: a file's path, etcd's prefix.
    sources: BTreeMap<Layer, String>,
    /// The layers merged by figment.
    merged: Figment,
    /// `merged` with the override applied, built when an error first names the place of a value
    /// (the JSON tree serves every read), so that a change costs one merge.
    resolved: OnceLock<Figment>,
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
        let mut merged = Figment::new();
        for (&layer, tree) in &layers {
            merged = merged.merge(LayerProvider { layer, tree });
        }
        let stored = Arc::new(merged.extract::<Value>().unwrap_or_else(|error| {
            // Each provider gives a map of JSON values, which always merge and extract.
            tracing::error!("settings could not be merged: {error}");
            Value::Object(Default::default())
        }));
        let tree = overridden(&stored, service).map_or_else(|| Arc::clone(&stored), Arc::new);
        Snapshot {
            service: service.to_owned(),
            layers,
            sources,
            merged,
            resolved: OnceLock::new(),
            tree,
            stored,
        }
    }

    /// The merged figment with the per-service override applied; its values keep their tags.
    fn resolved(&self) -> &Figment {
        self.resolved.get_or_init(|| {
            let figment = self.merged.clone();
            match with_override(&figment, &self.service) {
                Some(system) => {
                    let mut root = Dict::new();
                    root.insert("system".to_owned(), system);
                    figment.merge(OverrideProvider(root))
                }
                None => figment,
            }
        })
    }

    /// The layers merged without the per-service override, as stored.
    pub(super) fn stored(&self) -> Arc<Value> {
        Arc::clone(&self.stored)
    }

    /// The raw value at `key`, with the per-service override applied.
    pub(super) fn value(&self, key: &str) -> Option<Value> {
        tree::lookup(&self.tree, key).cloned()
    }

    /// Decodes the value at `key`; `false` when it is missing, unless `missing_as_empty`, which
    /// decodes an empty map instead (a struct whose fields have defaults gets them).
    pub(super) fn decode(
        &self,
        key: &str,
        missing_as_empty: bool,
        decode: &mut Decode<'_>,
    ) -> Result<bool, SettingsError> {
        let empty = Value::Object(Default::default());
        let value = match tree::lookup(&self.tree, key) {
            Some(value) => value,
            None if missing_as_empty => &empty,
            None => return Ok(false),
        };
        decode(value).map_err(|failure| self.invalid(key, &failure))?;
        Ok(true)
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
        let layer = Layer::named(&self.resolved().find_metadata(key)?.name)?;
        let stored = self.stored_key(layer, key);
        Some(layer.place_of(&stored, self.sources.get(&layer).map(String::as_str)))
    }

    /// The key under which `layer` holds the value read at `key`: the per-service override's
    /// when the layer has one there.
    fn stored_key(&self, layer: Layer, key: &str) -> String {
        let rest = key
            .strip_prefix("system.")
            .filter(|rest| !rest.starts_with("microservices"));
        if let (Some(rest), Some(tree)) = (rest, self.layers.get(&layer)) {
            let over = format!("system.microservices.{}.{rest}", self.service);
            if tree::lookup(tree, &over).is_some() {
                return over;
            }
        }
        key.to_owned()
    }
}

/// `stored` with `system.microservices.<service>` merged over `system`, or `None` when there
/// is no override: the same rule as [`with_override`], on the JSON tree.
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

/// `system` with `system.microservices.<service>` merged over it (map by map; anything else is
/// replaced), or `None` when there is no override. The override's own `microservices` key is
/// left out: overrides do not nest.
fn with_override(figment: &Figment, service: &str) -> Option<Figured> {
    let Ok(Figured::Dict(tag, mut system)) = figment.find_value("system") else {
        return None;
    };
    let over = system.get("microservices")?.as_dict()?.get(service)?;
    let mut over = over.as_dict()?.clone();
    over.remove("microservices");
    merge(&mut system, over);
    Some(Figured::Dict(tag, system))
}

fn merge(into: &mut Dict, from: Dict) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Figured::Dict(_, into)), Figured::Dict(_, from)) => merge(into, from),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}
