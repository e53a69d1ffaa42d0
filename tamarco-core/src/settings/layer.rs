//! [`Layer`]: the kinds of settings sources, in precedence order, and how each names the place
//! a value came from.

/// The prefix of environment variables that set single keys.
pub const ENV_PREFIX: &str = "TAMARCO__";

/// Where a layer of settings comes from. Later variants take precedence over earlier ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Layer {
    /// The framework's defaults, so that a service with no settings runs.
    Defaults,
    /// Settings the service sets in code.
    InCode,
    /// A YAML, JSON or TOML file.
    File,
    /// The central etcd store.
    Etcd,
    /// Single keys from environment variables.
    Environment,
}

impl Layer {
    /// Every layer, lowest precedence first.
    pub const ALL: [Layer; 5] = [
        Layer::Defaults,
        Layer::InCode,
        Layer::File,
        Layer::Etcd,
        Layer::Environment,
    ];

    /// The layer's name in lower case (`etcd`), for logs and `/status`.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Defaults => "defaults",
            Layer::InCode => "in-code",
            Layer::File => "file",
            Layer::Etcd => "etcd",
            Layer::Environment => "environment",
        }
    }

    /// The layer called `name` by [`name`](Layer::name).
    pub(super) fn named(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|layer| layer.name() == name)
    }

    /// Where this layer keeps the dotted `key`, for errors: the environment variable, the etcd
    /// key, the file. `source` is what [`Settings::name_source`](super::Settings::name_source)
    /// recorded: the file's path, etcd's key prefix.
    pub(super) fn place_of(self, key: &str, source: Option<&str>) -> String {
        match self {
            Layer::Defaults => "tamarco's defaults".to_owned(),
            Layer::InCode => "the in-code settings".to_owned(),
            Layer::File => match source {
                Some(path) => format!("file `{path}`"),
                None => "the settings file".to_owned(),
            },
            Layer::Etcd => format!(
                "etcd key `{}{}`",
                source.unwrap_or_default(),
                key.replace('.', "/")
            ),
            Layer::Environment => format!(
                "environment variable `{ENV_PREFIX}{}`",
                key.to_ascii_uppercase().replace('.', "__")
            ),
        }
    }
}
