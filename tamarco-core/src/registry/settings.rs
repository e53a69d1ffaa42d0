//! `system.resources.registry`: what the registry reads, with the original's defaults.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::settings::{self, Settings, SettingsError};

/// Where the registry's settings live.
pub const ROOT: &str = "system.resources.registry";
/// The dotted key under which instances register unless `path` says otherwise: the etcd key
/// stays the original's `system/discovery/<service>/<instance id>`.
pub const DEFAULT_PATH: &str = "system.discovery";

/// The registry's settings:
///
/// ```yaml
/// system:
///   resources:
///     registry:
///       enabled: false          # register this instance in etcd (needs etcd configured)
///       ttl_seconds: 5          # a killed instance is gone within this (from 3 s on)
///       path: system.discovery  # instances at <path>/<service>/<instance id>
///       host: null              # advertised host for servers bound to 0.0.0.0 (default: hostname)
///       static:                 # discovery without etcd: service -> addresses
///         orders: ["127.0.0.1:8080", "127.0.0.1:8081"]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrySettings {
    /// Whether this instance registers itself.
    pub enabled: bool,
    /// How long a killed instance may stay registered, and lead its singletons. The lease
    /// asked of etcd is one second shorter, since etcd expires leases up to half a second
    /// late; as etcd's shortest lease is 2 s by default, values below 3 s cannot be kept.
    pub ttl_seconds: settings::Duration,
    /// The dotted key under which instances register (skipped by the settings loader).
    pub path: String,
    /// The host advertised for servers listening on every interface.
    pub host: Option<String>,
    /// Discovery from settings, for services run without etcd.
    #[serde(rename = "static")]
    pub static_instances: BTreeMap<String, Vec<String>>,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        RegistrySettings {
            enabled: false,
            ttl_seconds: settings::Duration::from_secs(5),
            path: DEFAULT_PATH.to_owned(),
            host: None,
            static_instances: BTreeMap::new(),
        }
    }
}

impl RegistrySettings {
    /// Reads and checks the settings under the settings' key policy (an unknown key is a
    /// warning naming the closest known one, see
    /// [`SettingsView::load_checked`](crate::settings::SettingsView::load_checked)); errors
    /// name the key.
    pub fn read(settings: &Settings) -> Result<Self, SettingsError> {
        let read: RegistrySettings = settings.view(ROOT).load_checked(&[])?;
        if read.ttl_seconds.as_secs() < 1 {
            return Err(SettingsError::Invalid {
                key: format!("{ROOT}.ttl_seconds"),
                message: "must be at least 1 second (etcd leases count whole seconds)".into(),
            });
        }
        if read.path.is_empty() || read.path.split('.').any(str::is_empty) {
            return Err(SettingsError::Invalid {
                key: format!("{ROOT}.path"),
                message: "expected a dotted key such as `system.discovery`".into(),
            });
        }
        Ok(read)
    }

    /// The lease TTL in whole seconds, as etcd counts it.
    pub fn ttl_secs(&self) -> i64 {
        i64::try_from(self.ttl_seconds.as_secs()).unwrap_or(i64::MAX)
    }
}
