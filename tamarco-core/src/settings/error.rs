use thiserror::Error;

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
