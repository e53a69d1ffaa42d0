//! Operations on the JSON trees of the layers behind [`Settings`](super::Settings): dotted-key
//! lookup, insert, remove and deep merge (of in-code documents).

use serde_json::{Map, Value};

use super::SettingsError;

/// Rejects keys that cannot address the tree: empty, or with an empty segment.
pub(super) fn check_key(key: &str) -> Result<(), SettingsError> {
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(SettingsError::BadKey {
            key: key.to_owned(),
            reason: "empty segment",
        });
    }
    Ok(())
}

/// The value at a dotted key, if every segment exists.
pub(super) fn lookup<'a>(tree: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.')
        .try_fold(tree, |node, segment| node.as_object()?.get(segment))
}

/// Every leaf (a value that is not a non-empty map) under `node`, with its dotted key.
pub(super) fn leaves(node: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    match node.as_object() {
        Some(map) if !map.is_empty() => {
            for (name, value) in map {
                let key = match prefix {
                    "" => name.clone(),
                    _ => format!("{prefix}.{name}"),
                };
                leaves(value, &key, out);
            }
        }
        _ if prefix.is_empty() => {}
        _ => out.push((prefix.to_owned(), node.clone())),
    }
}

/// Merges `from` into `into`: maps merge key by key, anything else is replaced.
pub(super) fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        into.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

/// Sets the value at a dotted key, creating maps on the way and replacing non-map nodes.
pub(super) fn insert(tree: &mut Value, key: &str, value: Value) {
    let mut node = tree;
    for segment in key.split('.') {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        node = node
            .as_object_mut()
            .expect("just made a map")
            .entry(segment)
            .or_insert(Value::Null);
    }
    *node = value;
}

/// Removes the value at a dotted key; a missing key is not an error.
pub(super) fn remove(tree: &mut Value, key: &str) {
    let (parent, last) = match key.rsplit_once('.') {
        Some((parent, last)) => (parent, last),
        None => ("", key),
    };
    let node = if parent.is_empty() {
        Some(tree)
    } else {
        parent
            .split('.')
            .try_fold(tree, |node, segment| node.as_object_mut()?.get_mut(segment))
    };
    if let Some(map) = node.and_then(Value::as_object_mut) {
        map.remove(last);
    }
}

/// Removes the value at a dotted key, then the maps that the removal left empty, as a store
/// without folders (etcd) sees it. A missing key is not an error and prunes nothing.
pub(super) fn remove_pruning(tree: &mut Value, key: &str) {
    if lookup(tree, key).is_none() {
        return;
    }
    remove(tree, key);
    let mut child = key;
    while let Some((parent, _)) = child.rsplit_once('.') {
        if !lookup(tree, parent)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            break;
        }
        remove(tree, parent);
        child = parent;
    }
}
