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
    let sources = Sources::default();
    if std::env::var_os("TAMARCO_ETCD_HOST").is_some() || std::env::var_os("TAMARCO_ETCD_ENDPOINTS").is_some() {
        return Err(SettingsError::Source {
            source_name: "etcd".into(),
            message: "TAMARCO_ETCD_HOST is set, but tamarco was built without its `etcd` feature".into(),
        });
    }
    Ok(sources)
}

/// Loads the file and environment sources named by the process environment.
pub fn load_file_and_env(settings: &Settings) -> Result<(), SettingsError> {
    if let Some(path) = std::env::var_os(FILE_VAR) {
        load_file(settings, Path::new(&path))?;
    }
    load_env(settings, std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))))
}

/// Replaces the file layer with the YAML or JSON document at `path`. Errors name the file and,
/// for a malformed document, the line.
pub fn load_file(settings: &Settings, path: &Path) -> Result<(), SettingsError> {
    let source_name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| SettingsError::Source { source_name: source_name.clone(), message: e.to_string() })?;
    let value: Value = if text.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| SettingsError::Source { source_name: source_name.clone(), message: e.to_string() })?
    };
    if !value.is_object() {
        return Err(SettingsError::Source { source_name, message: "the document's root must be a map of keys".into() });
    }
    settings.replace_layer(Layer::File, value);
    Ok(())
}

/// Replaces the environment layer with the `TAMARCO__...` variables among `vars`.
pub fn load_env(settings: &Settings, vars: impl IntoIterator<Item = (String, String)>) -> Result<(), SettingsError> {
    let mut layer = Value::Object(Default::default());
    for (name, raw) in vars {
        let Some(key) = name.strip_prefix(ENV_PREFIX) else { continue };
        let key = key.split("__").map(str::to_ascii_lowercase).collect::<Vec<_>>().join(".");
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
