//! Settings documents read into a settings tree: JSON through `serde_json`; YAML (JSON is
//! YAML too) through the maintained `serde_yaml_ng` (cargo feature `yaml`, on by default in
//! `tamarco`); TOML (cargo feature `toml`). A service that reads no YAML or TOML builds no parser
//! for them. Errors name the document and, for a malformed one, the line; never a value, which
//! may be a secret.

use std::path::Path;

use serde_json::Value;

use super::SettingsError;

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
        toml_document(&source_name, &text)
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
    return parse_json(source_name, text).map_err(|error| match error {
        SettingsError::Source {
            source_name,
            message,
        } => SettingsError::Source {
            source_name,
            message: format!(
                "this build reads settings documents as JSON only (YAML needs the cargo \
                 feature `yaml` of tamarco), and this one is not JSON: {message}"
            ),
        },
        other => other,
    });
}

/// Parses a JSON document whose root is a map into a settings tree (an empty document is an
/// empty tree). Errors name `source_name` and, for a malformed document, the line and column.
pub(super) fn parse_json(source_name: &str, text: &str) -> Result<Value, SettingsError> {
    let error = |message: String| SettingsError::Source {
        source_name: source_name.to_owned(),
        message,
    };
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    // serde_json's message names the line and column, never the text there.
    let value: Value = serde_json::from_str(text).map_err(|e| error(e.to_string()))?;
    if !value.is_object() {
        return Err(error("the document's root must be a map of keys".into()));
    }
    Ok(value)
}

#[cfg(feature = "yaml")]
fn parse_yaml(source_name: &str, text: &str) -> Result<Value, SettingsError> {
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

#[cfg(feature = "yaml")]
/// Converts a YAML value to JSON; an error names the dotted key of the value at fault.
fn yaml_to_json(key: &str, yaml: serde_yaml_ng::Value) -> Result<Value, Fault> {
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
                float(key, n.as_f64().unwrap_or(f64::NAN))?
            }
        }
        Yaml::Sequence(items) => list(key, items, yaml_to_json)?,
        Yaml::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (name, item) in map {
                let name = match name {
                    Yaml::String(s) => s,
                    Yaml::Bool(b) => b.to_string(),
                    Yaml::Number(n) => n.to_string(),
                    _ => return fail("a map key must be a string, a number or a boolean"),
                };
                out.insert(name.clone(), yaml_to_json(&child(key, &name), item)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(_) => return fail("tagged values (`!tag`) are not supported"),
    })
}

#[cfg(feature = "toml")]
fn toml_document(source_name: &str, text: &str) -> Result<Value, SettingsError> {
    parse_toml(source_name, text)
}

#[cfg(not(feature = "toml"))]
fn toml_document(source_name: &str, _text: &str) -> Result<Value, SettingsError> {
    Err(SettingsError::Source {
        source_name: source_name.to_owned(),
        message: "TOML settings need the cargo feature `toml` of tamarco, which this build does \
                  not have (or give the settings as YAML or JSON)"
            .to_owned(),
    })
}

/// Parses a TOML document into a settings tree; dates and times become strings. Errors name
/// `source_name` and, for a malformed document, the line (without the line's text, which may
/// hold a secret).
#[cfg(feature = "toml")]
pub fn parse_toml(source_name: &str, text: &str) -> Result<Value, SettingsError> {
    let error = |message: String| SettingsError::Source {
        source_name: source_name.to_owned(),
        message,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let message = e.message().trim_end().to_owned();
        error(match line {
            Some(line) => format!("{message} at line {line}"),
            None => message,
        })
    })?;
    toml_to_json("", toml::Value::Table(table))
        .map_err(|(key, message)| error(format!("key `{key}`: {message}")))
}

#[cfg(feature = "toml")]
/// Converts a TOML value to JSON; an error names the dotted key of the value at fault.
fn toml_to_json(key: &str, value: toml::Value) -> Result<Value, Fault> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => float(key, f)?,
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => list(key, items, toml_to_json)?,
        toml::Value::Table(table) => {
            let mut out = serde_json::Map::new();
            for (name, item) in table {
                out.insert(name.clone(), toml_to_json(&child(key, &name), item)?);
            }
            Value::Object(out)
        }
    })
}

#[cfg(any(feature = "yaml", feature = "toml"))]
/// A conversion's error: the dotted key of the value at fault, and what is wrong.
type Fault = (String, String);

#[cfg(any(feature = "yaml", feature = "toml"))]
fn float(key: &str, f: f64) -> Result<Value, Fault> {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| {
            (
                key.to_owned(),
                "infinite and NaN numbers cannot be stored (JSON has none)".to_owned(),
            )
        })
}

#[cfg(any(feature = "yaml", feature = "toml"))]
fn list<T>(
    key: &str,
    items: Vec<T>,
    convert: fn(&str, T) -> Result<Value, Fault>,
) -> Result<Value, Fault> {
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| convert(&format!("{key}[{index}]"), item))
        .collect::<Result<_, _>>()
        .map(Value::Array)
}

#[cfg(any(feature = "yaml", feature = "toml"))]
fn child(key: &str, name: &str) -> String {
    if key.is_empty() {
        name.to_owned()
    } else {
        format!("{key}.{name}")
    }
}
