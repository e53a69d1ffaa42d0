//! Levels changed at run time (`POST /loggers/{target}`), laid over the levels that the
//! settings or `RUST_LOG` give. An override stays until it is reset, so it wins over a later
//! profile change in the settings and over `RUST_LOG`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use serde::Serialize;
use tracing_subscriber::filter::{LevelFilter, Targets};

/// The name that stands for the default level (targets that no other entry matches).
pub const ROOT_LOGGER: &str = "root";

/// Where a logger's effective level comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LevelSource {
    /// `system.logging` (profile, `default_level`, `levels`, `extra_loggers_names`).
    Settings,
    /// The `RUST_LOG` environment variable, which replaces the settings' levels.
    RustLog,
    /// A change made at run time, which wins over both until it is reset.
    Runtime,
}

/// One logger (a `tracing` target, or [`ROOT_LOGGER`]) and its effective level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggerLevel {
    /// The target, or `root` for the default level.
    pub target: String,
    /// The effective level (`off`, `error`, `warn`, `info`, `debug`, `trace`).
    pub level: String,
    /// Where the level comes from.
    pub source: LevelSource,
}

/// An error from [`set_level`](super::set_level).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LevelError {
    /// The level is not one of `off, error, warn, info, debug, trace`.
    UnknownLevel(String),
    /// The target is empty or contains characters a target cannot have.
    BadTarget(String),
    /// Logging belongs to a subscriber the program installed itself.
    NotManaged,
}

impl fmt::Display for LevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LevelError::UnknownLevel(level) => write!(
                f,
                "unknown level {level:?} (expected off, error, warn, info, debug or trace)"
            ),
            LevelError::BadTarget(target) => write!(
                f,
                "bad logger name {target:?} (expected a target such as `my_service::db` or `root`)"
            ),
            LevelError::NotManaged => f.write_str(
                "logging is not managed by tamarco (the program installed its own subscriber)",
            ),
        }
    }
}

impl std::error::Error for LevelError {}

/// Parses a level name, case-insensitively.
pub fn parse_level(text: &str) -> Result<LevelFilter, LevelError> {
    text.trim()
        .parse()
        .map_err(|_| LevelError::UnknownLevel(text.to_owned()))
}

/// Checks that `target` can name a logger.
pub(crate) fn check_target(target: &str) -> Result<(), LevelError> {
    let ok = !target.is_empty()
        && target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(LevelError::BadTarget(target.to_owned()))
    }
}

/// The base filter (from the settings or `RUST_LOG`) and the run-time overrides on top.
#[derive(Default)]
pub(crate) struct Levels {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    base: Option<(Targets, LevelSource)>,
    /// `None` key = [`ROOT_LOGGER`].
    overrides: BTreeMap<Option<String>, LevelFilter>,
}

impl Levels {
    /// Replaces the base filter; returns the effective filter.
    pub(crate) fn set_base(&self, base: Targets, source: LevelSource) -> Targets {
        let mut state = self.state.lock().expect("levels lock");
        state.base = Some((base, source));
        state.effective()
    }

    /// Sets (`Some`) or resets (`None`) the override of `target`; returns the effective filter.
    pub(crate) fn set_override(&self, target: &str, level: Option<LevelFilter>) -> Targets {
        let key = (target != ROOT_LOGGER).then(|| target.to_owned());
        let mut state = self.state.lock().expect("levels lock");
        match level {
            Some(level) => state.overrides.insert(key, level),
            None => state.overrides.remove(&key),
        };
        state.effective()
    }

    /// Every logger the filter names, the root first, then the targets in name order.
    pub(crate) fn list(&self) -> Vec<LoggerLevel> {
        let state = self.state.lock().expect("levels lock");
        let (base, base_source) = state.base_map();
        let mut all = base.clone();
        all.extend(state.overrides.clone());
        all.into_iter()
            .map(|(key, level)| {
                let source = match state.overrides.contains_key(&key) {
                    true => LevelSource::Runtime,
                    false => base_source,
                };
                LoggerLevel {
                    target: key.unwrap_or_else(|| ROOT_LOGGER.to_owned()),
                    level: level.to_string().to_ascii_lowercase(),
                    source,
                }
            })
            .collect()
    }
}

impl State {
    /// The base filter as a map (`None` = the default level, `off` when unset).
    fn base_map(&self) -> (BTreeMap<Option<String>, LevelFilter>, LevelSource) {
        let mut map = BTreeMap::new();
        let Some((base, source)) = &self.base else {
            map.insert(None, LevelFilter::INFO);
            return (map, LevelSource::Settings);
        };
        map.insert(None, base.default_level().unwrap_or(LevelFilter::OFF));
        for (target, level) in base.iter() {
            map.insert(Some(target.to_owned()), level);
        }
        (map, *source)
    }

    fn effective(&self) -> Targets {
        let (mut map, _) = self.base_map();
        map.extend(self.overrides.clone());
        let mut targets = Targets::new();
        for (key, level) in map {
            targets = match key {
                Some(target) => targets.with_target(target, level),
                None => targets.with_default(level),
            };
        }
        targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_wins_over_a_later_base_until_reset() {
        let levels = Levels::default();
        let base = Targets::new()
            .with_default(LevelFilter::INFO)
            .with_target("svc", LevelFilter::INFO);
        levels.set_base(base, LevelSource::Settings);
        let filter = levels.set_override("svc", Some(LevelFilter::TRACE));
        assert!(filter.would_enable("svc", &tracing::Level::TRACE));
        // A profile change in the settings replaces the base; the override stays on top.
        let debug = Targets::new()
            .with_default(LevelFilter::DEBUG)
            .with_target("svc", LevelFilter::WARN);
        let filter = levels.set_base(debug, LevelSource::Settings);
        assert!(filter.would_enable("svc", &tracing::Level::TRACE));
        assert!(filter.would_enable("other", &tracing::Level::DEBUG));
        let listed = levels.list();
        assert_eq!(listed[0].target, "root");
        assert_eq!(listed[0].level, "debug");
        let svc = listed.iter().find(|l| l.target == "svc").unwrap();
        assert_eq!(
            (svc.level.as_str(), svc.source),
            ("trace", LevelSource::Runtime)
        );
        let filter = levels.set_override("svc", None);
        assert!(!filter.would_enable("svc", &tracing::Level::INFO));
    }

    #[test]
    fn bad_names_and_levels_are_refused() {
        assert!(parse_level("LOUD").is_err());
        assert_eq!(parse_level("DEBUG").unwrap(), LevelFilter::DEBUG);
        assert!(check_target("a b").is_err());
        assert!(check_target("my_svc::db").is_ok());
    }
}
