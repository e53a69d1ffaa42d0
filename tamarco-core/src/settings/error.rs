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
/// error never shows it (it may be a secret): ``invalid type: string "1234x", expected u16``
/// becomes `invalid type: found a string, expected u16`. A message in another form is kept,
/// unless `key` names a secret ([`is_secret_name`]): only serde's own forms are known.
pub(crate) fn describe(key: &str, message: &str) -> String {
    // The value may itself hold ", expected ": the last one starts what was expected.
    let expected = message
        .rsplit_once(", expected ")
        .map_or(String::new(), |(_, e)| format!(", expected {e}"));
    if message.starts_with("unknown variant ") {
        return format!("unknown variant{expected}");
    }
    for lead in ["invalid type: ", "invalid value: "] {
        if let Some(found) = message.strip_prefix(lead) {
            return format!("{lead}found {}{expected}", found_kind(found));
        }
    }
    if is_secret_name(key) {
        "invalid value (not shown: the key holds a secret)".to_owned()
    } else {
        message.to_owned()
    }
}

/// The kind of value that serde's description starts with (``integer `5` ``, `string "x"`,
/// or `found a string` in a message of tamarco's own), in the words of every setting's error.
fn found_kind(found: &str) -> &str {
    // The kind comes before the quoted value.
    let kind = found.split(['`', '"', ',']).next().unwrap_or("").trim();
    match kind {
        "boolean" => "a boolean",
        "integer" | "floating point" => "a number",
        "character" => "a character",
        "string" => "a string",
        "byte array" => "bytes",
        "unit value" => "null",
        "sequence" => "a list",
        "map" => "a map",
        _ => kind.strip_prefix("found ").unwrap_or("a value"),
    }
}
