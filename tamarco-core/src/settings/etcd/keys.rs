//! The mapping between the settings tree and etcd keys: one etcd key per leaf, its value JSON.

use serde_json::{Map, Value};

use crate::settings::{SettingsError, tree};

/// Maps dotted settings keys to etcd keys and back, and leaves to etcd values and back.
///
/// - `system.resources.db.port` ↔ `<prefix>system/resources/db/port`: the prefix
///   (`TAMARCO_ETCD_PREFIX`, empty by default) is prepended as is, so end it with `/` to make
///   it a folder (`apps/`).
/// - Values are JSON: `5432`, `"5432"`, `true`, `null`, `[1, 2]`, `1.5`. A stored value that is
///   not valid JSON reads as a string, so keys written by other tools (`etcdctl put k hello`)
///   still read.
/// - Lists are leaves (one JSON value). An empty map is a leaf `{}`, so that it survives a round
///   trip. Every other map is a folder: a subtree reads back as a nested map.
/// - A segment may not be empty or contain `/` or `.`. etcd keys under the prefix that break
///   this rule are skipped with a warning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyMapping {
    prefix: String,
}

impl KeyMapping {
    /// A mapping whose etcd keys all start with `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        KeyMapping {
            prefix: prefix.into(),
        }
    }

    /// The prefix of every etcd key.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The etcd key of a dotted key: `system.db.port` → `<prefix>system/db/port`.
    pub fn etcd_key(&self, dotted: &str) -> Result<String, SettingsError> {
        check_dotted(dotted)?;
        Ok(format!("{}{}", self.prefix, dotted.replace('.', "/")))
    }

    /// The etcd key prefix under which the subtree at a dotted key lives: `<prefix>system/db/`.
    pub fn subtree_prefix(&self, dotted: &str) -> Result<String, SettingsError> {
        Ok(format!("{}/", self.etcd_key(dotted)?))
    }

    /// The dotted key of an etcd key, or `None` when it is outside the prefix or not a valid
    /// dotted path.
    pub fn dotted_key(&self, etcd_key: &[u8]) -> Option<String> {
        let rest = std::str::from_utf8(etcd_key.strip_prefix(self.prefix.as_bytes())?).ok()?;
        let valid = !rest.is_empty() && rest.split('/').all(|s| !s.is_empty() && !s.contains('.'));
        valid.then(|| rest.replace('/', "."))
    }

    /// The etcd value of a leaf: its JSON text.
    pub fn encode(value: &Value) -> Vec<u8> {
        serde_json::to_vec(value).expect("a JSON value always serializes")
    }

    /// The leaf that an etcd value stores: its JSON, or the text itself when it is not JSON.
    pub fn decode(raw: &[u8]) -> Value {
        serde_json::from_slice(raw)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(raw).into_owned()))
    }

    /// The leaves of `value` stored at the dotted key `root` (empty for the root of the tree):
    /// `(dotted key, leaf)` pairs, in the map's order. Errors name the offending key.
    pub fn leaves(root: &str, value: &Value) -> Result<Vec<(String, Value)>, SettingsError> {
        if !root.is_empty() {
            check_dotted(root)?;
        }
        let mut out = Vec::new();
        collect(root, value, &mut out)?;
        Ok(out)
    }

    /// Rebuilds the tree from etcd key/value pairs (in etcd's key order), skipping the keys
    /// outside the prefix or not valid, with a warning. When a key is both a leaf and a folder,
    /// the folder wins.
    pub fn tree<'a>(&self, kvs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Value {
        let mut root = Value::Object(Map::new());
        for (key, value) in kvs {
            match self.dotted_key(key) {
                Some(dotted) => insert_leaf(&mut root, &dotted, Self::decode(value)),
                None => skip_warning(key),
            }
        }
        root
    }
}

/// Logs an etcd key that cannot be a settings key.
pub(super) fn skip_warning(key: &[u8]) {
    tracing::warn!(
        key = %String::from_utf8_lossy(key),
        "etcd key skipped: not a settings key (empty segment, `.` in a segment, or outside the prefix)"
    );
}

/// Inserts a leaf without replacing a folder that is already there (the folder wins).
fn insert_leaf(root: &mut Value, dotted: &str, value: Value) {
    if tree::lookup(root, dotted)
        .is_some_and(|node| node.as_object().is_some_and(|m| !m.is_empty()))
    {
        return;
    }
    tree::insert(root, dotted, value);
}

fn collect(key: &str, value: &Value, out: &mut Vec<(String, Value)>) -> Result<(), SettingsError> {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (segment, child) in map {
                if segment.is_empty() || segment.contains(['.', '/']) {
                    let shown = if key.is_empty() {
                        segment.clone()
                    } else {
                        format!("{key}.{segment}")
                    };
                    return Err(SettingsError::BadKey {
                        key: shown,
                        reason: "a segment is empty or contains `.` or `/`, which settings and etcd keys use as separators",
                    });
                }
                let child_key = if key.is_empty() {
                    segment.clone()
                } else {
                    format!("{key}.{segment}")
                };
                collect(&child_key, child, out)?;
            }
            Ok(())
        }
        _ if key.is_empty() => Err(SettingsError::BadKey {
            key: String::new(),
            reason: "only a map can be stored at the root",
        }),
        leaf => {
            out.push((key.to_owned(), leaf.clone()));
            Ok(())
        }
    }
}

/// Rejects dotted keys that have no etcd key: empty segments, or `/` in a segment.
fn check_dotted(dotted: &str) -> Result<(), SettingsError> {
    tree::check_key(dotted)?;
    if dotted.contains('/') {
        return Err(SettingsError::BadKey {
            key: dotted.to_owned(),
            reason: "a segment contains `/`, which etcd keys use as separator",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dotted_keys_map_to_slash_keys_under_the_prefix() {
        let mapping = KeyMapping::new("apps/");
        assert_eq!(
            mapping.etcd_key("system.resources.db.port").unwrap(),
            "apps/system/resources/db/port"
        );
        assert_eq!(
            mapping.subtree_prefix("system.db").unwrap(),
            "apps/system/db/"
        );
        assert_eq!(
            mapping
                .dotted_key(b"apps/system/resources/db/port")
                .as_deref(),
            Some("system.resources.db.port")
        );
        assert_eq!(mapping.dotted_key(b"other/system/x"), None);
        assert_eq!(mapping.dotted_key(b"apps/system//x"), None);
        assert_eq!(mapping.dotted_key(b"apps/system/a.b"), None);
        assert!(
            mapping
                .etcd_key("system.a/b")
                .unwrap_err()
                .to_string()
                .contains("system.a/b")
        );
        assert!(mapping.etcd_key("system..b").is_err());
    }

    #[test]
    fn values_are_json_and_other_text_reads_as_a_string() {
        for value in [
            json!(5432),
            json!("5432"),
            json!(true),
            json!("true"),
            json!(null),
            json!(1.5),
            json!([1, "a"]),
        ] {
            assert_eq!(KeyMapping::decode(&KeyMapping::encode(&value)), value);
        }
        assert_eq!(KeyMapping::decode(b"hello world"), json!("hello world"));
    }

    #[test]
    fn a_tree_flattens_to_leaves_and_back() {
        let doc = json!({"system": {"db": {"host": "h", "port": 1, "tags": ["a", "b"], "extra": {}}, "on": false}});
        let leaves = KeyMapping::leaves("", &doc).unwrap();
        assert_eq!(leaves.len(), 5);
        assert!(leaves.contains(&("system.db.tags".into(), json!(["a", "b"]))));
        let mapping = KeyMapping::new("");
        let stored: Vec<(Vec<u8>, Vec<u8>)> = leaves
            .iter()
            .map(|(k, v)| {
                (
                    mapping.etcd_key(k).unwrap().into_bytes(),
                    KeyMapping::encode(v),
                )
            })
            .collect();
        let back = mapping.tree(stored.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
        assert_eq!(back, doc);
    }

    #[test]
    fn bad_segments_name_the_key() {
        let err = KeyMapping::leaves("system", &json!({"a": {"b.c": 1}})).unwrap_err();
        assert!(err.to_string().contains("system.a.b.c"), "{err}");
        assert!(KeyMapping::leaves("", &json!(3)).is_err());
    }

    #[test]
    fn a_folder_wins_over_a_leaf_of_the_same_name() {
        let mapping = KeyMapping::default();
        let kvs: [(&[u8], &[u8]); 2] = [(b"system/a", b"1"), (b"system/a/b", b"2")];
        assert_eq!(mapping.tree(kvs), json!({"system": {"a": {"b": 2}}}));
    }
}
