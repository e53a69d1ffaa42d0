//! What converting a YAML or TOML document into a settings tree shares: errors that name the
//! dotted key at fault, numbers JSON can hold, lists and child keys.

use serde_json::Value;

/// A conversion's error: the dotted key of the value at fault, and what is wrong.
pub(super) type Fault = (String, String);

pub(super) fn float(key: &str, f: f64) -> Result<Value, Fault> {
    serde_json::Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| {
            (
                key.to_owned(),
                "infinite and NaN numbers cannot be stored (JSON has none)".to_owned(),
            )
        })
}

pub(super) fn list<T>(
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

pub(super) fn child(key: &str, name: &str) -> String {
    if key.is_empty() {
        name.to_owned()
    } else {
        format!("{key}.{name}")
    }
}
