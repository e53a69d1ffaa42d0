//! Settings documents read into a settings tree: JSON through `serde_json`; YAML (JSON is
//! YAML too) through the maintained `serde_yaml_ng` (cargo feature `yaml`, on by default in
//! `tamarco`); TOML (cargo feature `toml`). A service that reads no YAML or TOML builds no parser
//! for them. Errors name the document and, for a malformed one, the line; never a value, which
//! may be a secret.

use std::path::Path;

use serde_json::Value;

use super::SettingsError;

#[cfg(feature = "toml")]
mod toml;
#[cfg(any(feature = "yaml", feature = "toml"))]
mod tree;
#[cfg(feature = "yaml")]
mod yaml;

#[cfg(feature = "toml")]
pub use self::toml::parse_toml;
#[cfg(feature = "yaml")]
use self::yaml::parse_yaml;

/// Reads the document at `path` as a settings tree (an empty file is an empty tree): TOML when
/// the name ends in `.toml` (`parse_toml`, cargo feature `toml`; without it such a file is an
/// error naming the file and the feature), JSON when it ends in `.json`, otherwise YAML or JSON
/// ([`parse_document`]). Errors name the file.
pub fn read_document(path: &Path) -> Result<Value, SettingsError> {
    let source_name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SettingsError::Source {
        source_name: source_name.clone(),
        message: e.to_string(),
    })?;
    let extension = |name: &str| {
        path.extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case(name))
    };
    if extension("toml") {
        #[cfg(feature = "toml")]
        return parse_toml(&source_name, &text);
        #[cfg(not(feature = "toml"))]
        return Err(SettingsError::Source {
            source_name,
            message: "TOML settings need the cargo feature `toml` of tamarco, which this build \
                      does not have (or give the settings as YAML or JSON)"
                .to_owned(),
        });
    } else if extension("json") {
        parse_json(&source_name, &text)
    } else {
        parse_document(&source_name, &text)
    }
}

/// Parses a YAML (or JSON) document whose root is a map into a settings tree. YAML merge keys
/// (`<<: *anchor`) are applied; number and boolean map keys become strings. Errors name
/// `source_name`, and the line for a malformed document, or the key for a value that JSON
/// cannot hold (`.inf`, `.nan`, a tagged value, a list as a map key).
///
/// Without the cargo feature `yaml` the document must be JSON; one that is not is an error
/// naming `source_name` and the feature.
pub fn parse_document(source_name: &str, text: &str) -> Result<Value, SettingsError> {
    #[cfg(feature = "yaml")]
    return parse_yaml(source_name, text);
    #[cfg(not(feature = "yaml"))]
    return json(
        source_name,
        text,
        "this build reads settings documents as JSON only (YAML needs the cargo feature `yaml` \
         of tamarco), and this one is not JSON: ",
    );
}

/// Parses a JSON document whose root is a map into a settings tree (an empty document is an
/// empty tree). Errors name `source_name` and, for a malformed document, the line and column.
pub(super) fn parse_json(source_name: &str, text: &str) -> Result<Value, SettingsError> {
    json(source_name, text, "")
}

/// [`parse_json`], with `context` before the parser's message when the text is not JSON.
fn json(source_name: &str, text: &str, context: &str) -> Result<Value, SettingsError> {
    let error = |message: String| SettingsError::Source {
        source_name: source_name.to_owned(),
        message,
    };
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    // serde_json's message names the line and column, never the text there.
    let value: Value = serde_json::from_str(text).map_err(|e| error(format!("{context}{e}")))?;
    if !value.is_object() {
        return Err(error("the document's root must be a map of keys".into()));
    }
    Ok(value)
}
