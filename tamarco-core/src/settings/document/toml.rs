//! TOML settings documents, through the `toml` crate (cargo feature `toml`).

use serde_json::Value;

use super::super::SettingsError;
use super::tree::{Fault, child, float, list};

/// Parses a TOML document into a settings tree; dates and times become strings. Errors name
/// `source_name` and, for a malformed document, the line (without the line's text, which may
/// hold a secret).
pub fn parse_toml(source_name: &str, text: &str) -> Result<Value, SettingsError> {
    let error = |message: String| SettingsError::Source {
        source_name: source_name.to_owned(),
        message,
    };
    let table: ::toml::Table = ::toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let message = e.message().trim_end().to_owned();
        error(match line {
            Some(line) => format!("{message} at line {line}"),
            None => message,
        })
    })?;
    toml_to_json("", ::toml::Value::Table(table))
        .map_err(|(key, message)| error(format!("key `{key}`: {message}")))
}

/// Converts a TOML value to JSON; an error names the dotted key of the value at fault.
fn toml_to_json(key: &str, value: ::toml::Value) -> Result<Value, Fault> {
    Ok(match value {
        ::toml::Value::String(s) => Value::String(s),
        ::toml::Value::Integer(i) => Value::from(i),
        ::toml::Value::Float(f) => float(key, f)?,
        ::toml::Value::Boolean(b) => Value::Bool(b),
        ::toml::Value::Datetime(d) => Value::String(d.to_string()),
        ::toml::Value::Array(items) => list(key, items, toml_to_json)?,
        ::toml::Value::Table(table) => {
            let mut out = serde_json::Map::new();
            for (name, item) in table {
                out.insert(name.clone(), toml_to_json(&child(key, &name), item)?);
            }
            Value::Object(out)
        }
    })
}
