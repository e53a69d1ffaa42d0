//! Settings sources besides code: a YAML, JSON or TOML file, etcd, and environment variables.
//!
//! | source | enabled by | layer |
//! |---|---|---|
//! | file | `TAMARCO_YML_FILE=/path/settings.yml` (JSON is YAML too; `.toml` is TOML, with the cargo feature `toml`) | [`Layer::File`] |
//! | etcd | `TAMARCO_ETCD_HOST` (+ `TAMARCO_ETCD_PORT`, 2379) or `TAMARCO_ETCD_ENDPOINTS` | [`Layer::Etcd`] |
//! | environment | any `TAMARCO__<SEGMENT>__<SEGMENT>...=value` | [`Layer::Environment`] |
//!
//! An environment variable sets one key: segments are separated by a double underscore and
//! lower-cased, so `TAMARCO__SYSTEM__LOGGING__PROFILE=DEVELOP` sets `system.logging.profile`.
//! Its value is text, kept exactly (`0123`, `p@ss #1`); a typed read turns it into a number or
//! a boolean when the target type asks for one (`5432` read as `u16`, `true` or `yes` as
//! `bool`). Lists and maps cannot come from the environment.
use std::path::Path;

use serde_json::Value;

use super::{Layer, Settings, SettingsError, tree};

#[cfg(feature = "toml")]
pub use super::document::parse_toml;
pub use super::document::{parse_document, read_document};
pub use super::layer::ENV_PREFIX;
pub use super::running::Sources;

/// The environment variable naming the settings file.
pub const FILE_VAR: &str = "TAMARCO_YML_FILE";

/// Loads every source the process environment names: file, environment, and the central store.
pub async fn load_all(settings: &Settings) -> Result<Sources, SettingsError> {
    #[cfg(feature = "etcd")]
    return load_all_with(settings, None).await;
    #[cfg(not(feature = "etcd"))]
    load_all_from_env(settings).await
}

/// [`load_all`], with etcd configured in code (`Some`) rather than by the environment.
#[cfg(feature = "etcd")]
pub async fn load_all_with(
    settings: &Settings,
    etcd: Option<super::etcd::EtcdConfig>,
) -> Result<Sources, SettingsError> {
    match etcd {
        Some(config) => {
            load_file_and_env(settings)?;
            super::etcd::connect(settings, config).await
        }
        None => load_all_from_env(settings).await,
    }
}

async fn load_all_from_env(settings: &Settings) -> Result<Sources, SettingsError> {
    load_file_and_env(settings)?;
    #[cfg(feature = "etcd")]
    if let Some(config) = super::etcd::EtcdConfig::from_env()? {
        let sources = super::etcd::connect(settings, config).await?;
        if std::env::var_os(FILE_VAR).is_some() {
            tracing::warn!(
                target: "tamarco::settings",
                "{FILE_VAR} and etcd are both loaded, etcd winning key by key; the Python original read only etcd when TAMARCO_ETCD_HOST was set: unset {FILE_VAR} to match it"
            );
        }
        warn_overridden_in_code(settings);
        return Ok(sources);
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
    warn_overridden_in_code(settings);
    Ok(Sources::default())
}

/// Warns about each in-code setting that a file, etcd or the environment overrides with another
/// value: the Python original gave in-code settings (`update_internal`) the last word, tamarco
/// gives it to the sources an operator controls.
fn warn_overridden_in_code(settings: &Settings) {
    for (key, layer) in overridden_in_code(settings) {
        tracing::warn!(
            target: "tamarco::settings",
            "in-code setting `{key}` is overridden by the {} layer; the Python original let in-code settings win (tamarco: defaults < in-code < file < etcd < environment)",
            layer.name()
        );
    }
}

/// The in-code keys whose value a later layer replaces, with that layer.
pub(super) fn overridden_in_code(settings: &Settings) -> Vec<(String, Layer)> {
    let in_code = {
        let layers = settings.inner.layers.read().expect("settings lock");
        match layers.get(&Layer::InCode) {
            Some(tree) => tree.clone(),
            None => return Vec::new(),
        }
    };
    let mut leaves = Vec::new();
    tree::leaves(&in_code, "", &mut leaves);
    let merged = settings.merged_tree();
    leaves
        .into_iter()
        .filter(|(key, value)| tree::lookup(&merged, key) != Some(value))
        .filter_map(|(key, _)| {
            let layer = settings.source_of(&key).filter(|l| *l > Layer::InCode)?;
            Some((key, layer))
        })
        .collect()
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

/// Replaces the file layer with the YAML, JSON or TOML document at `path` (see
/// [`read_document`]). Errors name the file and, for a malformed document, the line.
pub fn load_file(settings: &Settings, path: &Path) -> Result<(), SettingsError> {
    let document = read_document(path)?;
    settings.name_source(Layer::File, path.display().to_string());
    settings.replace_layer(Layer::File, document);
    Ok(())
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
        tree::insert(&mut layer, &key, Value::String(raw));
    }
    settings.replace_layer(Layer::Environment, layer);
    Ok(())
}
