//! YAML settings documents, through `serde_yaml_ng` (cargo feature `yaml`).

use serde_json::Value;

use super::super::SettingsError;
use super::tree::{Fault, child, float, list};

pub(super) fn parse_yaml(source_name: &str, text: &str) -> Result<Value, SettingsError> {
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
