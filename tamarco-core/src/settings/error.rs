use figment::error::{Actual, Kind};
use thiserror::Error;

use crate::secret::is_secret_name;

/// A setting could not be read. Every variant names the full dotted key or the source at fault.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingsError {
    /// A required key has no value in any source.
    #[error("setting `{key}` is missing")]
    Missing {
        /// The full dotted key.
        key: String,
    },
    /// The value at `key` does not have the expected type; `message` says which was expected.
    #[error("setting `{key}`: {message}")]
    Invalid {
        /// The full dotted key, down to the offending leaf.
        key: String,
        /// serde's description: what was found and what was expected.
        message: String,
    },
    /// A key is not a valid dotted path.
    #[error("`{key}` is not a valid settings key: {reason}")]
    BadKey {
        /// The key as given.
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A source (document, file, store) could not be read or parsed.
    #[error("settings from {source_name}: {message}")]
    Source {
        /// The source: a file path, `in-code YAML settings`, an etcd endpoint...
        source_name: String,
        /// What went wrong, with the line when the parser knows it.
        message: String,
    },
}

/// serde's description of a bad value with the value itself left out, so that a setting's
/// error never shows it (it may be a secret): ``invalid type: integer `1234`, expected a
/// string`` becomes `invalid type: integer, expected a string`. A message in another form is
/// kept, unless `key` names a secret ([`is_secret_name`]): only serde's own forms are known.
pub(crate) fn without_value(key: &str, message: &str) -> String {
    // The value may itself hold ", expected ": the last one starts what was expected.
    let expected = message
        .rsplit_once(", expected ")
        .map_or(String::new(), |(_, e)| format!(", expected {e}"));
    if message.starts_with("unknown variant ") {
        return format!("unknown variant{expected}");
    }
    for lead in ["invalid type: ", "invalid value: "] {
        if let Some(found) = message.strip_prefix(lead) {
            // The kind comes before the quoted value: `string "x"`, ``integer `5` ``.
            let kind = found.split(['`', '"', ',']).next().unwrap_or("").trim();
            return format!("{lead}{kind}{expected}");
        }
    }
    if is_secret_name(key) {
        "invalid value (not shown: the key holds a secret)".to_owned()
    } else {
        message.to_owned()
    }
}

/// What is wrong with a value, from figment's description, without the value: the kind found
/// and what was expected (`invalid type: found a string, expected u16`).
pub(crate) fn describe(key: &str, kind: &Kind) -> String {
    match kind {
        Kind::Message(message) => without_value(key, message),
        Kind::InvalidType(found, expected) => {
            format!(
                "invalid type: found {}, expected {expected}",
                found_kind(found)
            )
        }
        Kind::InvalidValue(found, expected) => {
            format!(
                "invalid value: found {}, expected {expected}",
                found_kind(found)
            )
        }
        Kind::InvalidLength(length, expected) => {
            format!("invalid length {length}, expected {expected}")
        }
        Kind::UnknownVariant(_, expected) => {
            format!("unknown variant, expected one of {}", quoted(expected))
        }
        Kind::UnknownField(field, expected) => {
            format!(
                "unknown field `{field}`, expected one of {}",
                quoted(expected)
            )
        }
        Kind::MissingField(field) => format!("missing field `{field}`"),
        Kind::DuplicateField(field) => format!("duplicate field `{field}`"),
        Kind::ISizeOutOfRange(_) | Kind::USizeOutOfRange(_) => "number out of range".to_owned(),
        Kind::Unsupported(found) => format!("unsupported: {}", found_kind(found)),
        Kind::UnsupportedKey(found, expected) => {
            format!(
                "unsupported key: found {}, expected {expected}",
                found_kind(found)
            )
        }
    }
}

fn found_kind(found: &Actual) -> String {
    match found {
        Actual::Bool(_) => "a boolean".to_owned(),
        Actual::Unsigned(_) | Actual::Signed(_) | Actual::Float(_) => "a number".to_owned(),
        Actual::Char(_) => "a character".to_owned(),
        Actual::Str(_) => "a string".to_owned(),
        Actual::Bytes(_) => "bytes".to_owned(),
        Actual::Unit => "null".to_owned(),
        Actual::Seq => "a list".to_owned(),
        Actual::Map => "a map".to_owned(),
        Actual::Other(_) => "a value".to_owned(),
        // The remaining kinds carry no value.
        other => other.to_string(),
    }
}

fn quoted(names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    names.join(", ")
}
