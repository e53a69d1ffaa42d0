//! Settings sources besides code: a YAML or JSON file, etcd, and environment variables.
//!
//! | source | enabled by | layer |
//! |---|---|---|
//! | file | `TAMARCO_YML_FILE=/path/settings.yml` (JSON is YAML too) | [`Layer::File`] |
//! | etcd | `TAMARCO_ETCD_HOST` (+ `TAMARCO_ETCD_PORT`, 2379) or `TAMARCO_ETCD_ENDPOINTS` | [`Layer::Etcd`] |
//! | environment | any `TAMARCO__<SEGMENT>__<SEGMENT>...=value` | [`Layer::Environment`] |
//!
//! An environment variable sets one key: segments are separated by a double underscore and
//! lower-cased, so `TAMARCO__SYSTEM__LOGGING__PROFILE=DEVELOP` sets `system.logging.profile`.
//! Its value is read as a YAML scalar or flow collection: `5432` is a number, `true` a
//! boolean, `"5432"` a string, `[a, b]` a list.

use std::path::Path;

use serde_json::Value;

use super::{Layer, Settings, SettingsError, tree};

/// The environment variable naming the settings file.
pub const FILE_VAR: &str = "TAMARCO_YML_FILE";
/// The prefix of environment variables that set single keys.
pub const ENV_PREFIX: &str = "TAMARCO__";

/// The sources of a running service; background work (an etcd watch) stops when this drops.
#[derive(Debug, Default)]
pub struct Sources {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sources {
    /// Keeps `task` running for as long as the sources live.
    pub fn keep(&mut self, task: tokio::task::JoinHandle<()>) {
        self.tasks.push(task);
    }
}

impl Drop for Sources {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Loads every source the process environment names: file, environment, and the central store.
pub async fn load_all(settings: &Settings) -> Result<Sources, SettingsError> {
    load_file_and_env(settings)?;
    #[cfg(feature = "etcd")]
    if let Some(config) = super::etcd::EtcdConfig::from_env()? {
        return super::etcd::connect(settings, config).await;
    }
    #[cfg(not(feature = "etcd"))]
    if std::env::var_os("TAMARCO_ETCD_HOST").is_some()
        || std::env::var_os("TAMARCO_ETCD_ENDPOINTS").is_some()
    {
        return Err(SettingsError::Source {
            source_name: "etcd".into(),
            message: "TAMARCO_ETCD_HOST is set, but tamarco was built without its `etcd` feature"
                .into(),
        });
    }
    Ok(Sources::default())
}

/// Loads the file and environment sources named by the process environment.
pub fn load_file_and_env(settings: &Settings) -> Result<(), SettingsError> {
    if let Some(path) = std::env::var_os(FILE_VAR) {
        load_file(settings, Path::new(&path))?;
    }
    load_env(
        settings,
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    )
}

/// Replaces the file layer with the YAML or JSON document at `path`. Errors name the file and,
/// for a malformed document, the line.
pub fn load_file(settings: &Settings, path: &Path) -> Result<(), SettingsError> {
    settings.replace_layer(Layer::File, read_document(path)?);
    Ok(())
}

/// Reads the YAML or JSON document at `path` as a settings tree (an empty file is an empty
/// tree); see [`parse_document`]. Errors name the file.
pub fn read_document(path: &Path) -> Result<Value, SettingsError> {
    let source_name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SettingsError::Source {
        source_name: source_name.clone(),
        message: e.to_string(),
    })?;
    parse_document(&source_name, &text)
}

/// Parses a YAML (or JSON) document whose root is a map into a settings tree. YAML merge keys
/// (`<<: *anchor`) are applied; number and boolean map keys become strings. Errors name
/// `source_name`, and the line for a malformed document, or the key for a value that JSON
/// cannot hold (`.inf`, `.nan`, a tagged value, a list as a map key).
pub fn parse_document(source_name: &str, text: &str) -> Result<Value, SettingsError> {
    let error = |message: String| SettingsError::Source {
        source_name: source_name.to_owned(),
        message,
    };
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    let mut yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| error(e.to_string()))?;
    yaml.apply_merge().map_err(|e| error(e.to_string()))?;
    let value = yaml_to_json("", yaml)
        .map_err(|(key, message)| error(format!("key `{key}`: {message}")))?;
    if !value.is_object() {
        return Err(error("the document's root must be a map of keys".into()));
    }
    Ok(value)
}

/// Converts a YAML value to JSON; an error names the dotted key of the value at fault.
fn yaml_to_json(key: &str, yaml: serde_yaml_ng::Value) -> Result<Value, (String, String)> {
    use serde_yaml_ng::Value as Yaml;
    let fail = |message: &str| Err((key.to_owned(), message.to_owned()));
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::String(s) => Value::String(s),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                match n.as_f64().and_then(serde_json::Number::from_f64) {
                    Some(f) => Value::Number(f),
                    None => {
                        return fail("infinite and NaN numbers cannot be stored (JSON has none)");
                    }
                }
            }
        }
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(index, item)| yaml_to_json(&format!("{key}[{index}]"), item))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (name, item) in map {
                let name = match name {
                    Yaml::String(s) => s,
                    Yaml::Bool(b) => b.to_string(),
                    Yaml::Number(n) => n.to_string(),
                    _ => return fail("a map key must be a string, a number or a boolean"),
                };
                let child = if key.is_empty() {
                    name.clone()
                } else {
                    format!("{key}.{name}")
                };
                out.insert(name, yaml_to_json(&child, item)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(_) => return fail("tagged values (`!tag`) are not supported"),
    })
}

/// Replaces the environment layer with the `TAMARCO__...` variables among `vars`.
pub fn load_env(
    settings: &Settings,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), SettingsError> {
    let mut layer = Value::Object(Default::default());
    for (name, raw) in vars {
        let Some(key) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let key = key
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
            .join(".");
        tree::check_key(&key).map_err(|_| SettingsError::Source {
            source_name: format!("environment variable {name}"),
            message: "expected TAMARCO__SEGMENT__SEGMENT... with non-empty segments".into(),
        })?;
        tree::insert(&mut layer, &key, scalar(&raw));
    }
    settings.replace_layer(Layer::Environment, layer);
    Ok(())
}

/// Reads an environment value as a YAML scalar or flow collection; anything that does not
/// parse stays a string.
fn scalar(raw: &str) -> Value {
    match serde_yaml_ng::from_str::<Value>(raw) {
        // An empty value parses as null; keep it as the empty string it is.
        Ok(Value::Null) if raw.trim().is_empty() => Value::String(String::new()),
        Ok(value) => value,
        Err(_) => Value::String(raw.to_owned()),
    }
}
