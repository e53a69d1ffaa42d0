//! [`Reader`]: reads logging keys, noting each problem (naming its key) instead of failing.

use std::time::Duration;

use serde::de::DeserializeOwned;
use tracing_subscriber::filter::LevelFilter;

use super::super::document::Version;
use super::keys::ROOT;
use crate::secret::Secret;
use crate::settings::Settings;

/// Reads keys, remembering the problems.
pub(super) struct Reader<'a> {
    pub(super) settings: &'a Settings,
    pub(super) problems: Vec<String>,
}

impl Reader<'_> {
    /// The value at `key`; on a wrong type the problem is noted and `None` returned.
    pub(super) fn opt<T: DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        match self.settings.get_opt(key) {
            Ok(value) => value,
            Err(error) => {
                self.problems
                    .push(format!("logging: {error}; using the default"));
                None
            }
        }
    }

    pub(super) fn or<T: DeserializeOwned>(&mut self, key: &str, default: T) -> T {
        self.opt(key).unwrap_or(default)
    }

    /// A [settings duration](crate::settings::Duration); a bad one is a noted problem.
    pub(super) fn duration(&mut self, key: &str, default: Duration) -> Duration {
        self.or(key, crate::settings::Duration::from(default)).get()
    }

    /// A key that an enabled sink needs; the problem says the sink stays off.
    pub(super) fn required<T: DeserializeOwned>(&mut self, key: &str, sink: &str) -> Option<T> {
        let value = self.opt::<T>(key);
        if value.is_none() && self.settings.value(key).is_none() {
            self.problems.push(format!(
                "logging: setting `{key}` is missing; it is required when `{ROOT}.{sink}.enabled` is true, so the {sink} sink is off"
            ));
        }
        value
    }

    pub(super) fn level(&mut self, key: &str, text: &str) -> Option<LevelFilter> {
        match text.parse::<LevelFilter>() {
            Ok(level) => Some(level),
            Err(_) => {
                self.problems.push(format!(
                    "logging: setting `{key}`: unknown level {text:?} (expected trace, debug, info, warn, error or off)"
                ));
                None
            }
        }
    }

    pub(super) fn enabled(&mut self, sink: &str) -> bool {
        self.or(&format!("{ROOT}.{sink}.enabled"), false)
    }

    pub(super) fn queue_size(&mut self, sink: &str) -> usize {
        let default = self.or(&format!("{ROOT}.queue_size"), 10_000usize);
        self.or(&format!("{ROOT}.{sink}.queue_size"), default)
            .max(1)
    }

    /// The document format of `sink`: `system.logging.<sink>.version`, then (UDP only, as the
    /// original's code read it) `system.logging.version`, then the original's default.
    pub(super) fn version(
        &mut self,
        sink: &str,
        fallback: Option<&str>,
        default: Version,
    ) -> Version {
        let own = format!("{ROOT}.{sink}.version");
        let key = match (self.settings.value(&own), fallback) {
            (None, Some(fallback)) if self.settings.value(fallback).is_some() => {
                fallback.to_owned()
            }
            _ => own,
        };
        let Some(value) = self.opt::<serde_json::Value>(&key) else {
            return default;
        };
        match value
            .as_u64()
            .or_else(|| value.as_str()?.trim().parse().ok())
        {
            Some(0) => Version::V0,
            Some(1) => Version::V1,
            _ => {
                self.problems.push(format!(
                    "logging: setting `{key}`: expected 0 or 1 (the Logstash format version); using the default"
                ));
                default
            }
        }
    }

    /// A password: a number (`password: 1234`) reads as text.
    pub(super) fn password(&mut self, key: &str) -> Option<Secret<String>> {
        self.opt::<Secret<String>>(key)
            .filter(|p| !p.expose().is_empty())
    }
}
