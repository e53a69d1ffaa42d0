//! `system.logging`, read into a typed configuration. A bad or missing value becomes a problem
//! that names the key, and the default (or "sink off") is used instead.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};

use super::document::Version;
use crate::secret::Secret;
use crate::settings::Settings;

const ROOT: &str = "system.logging";

/// Every key read under `system.logging`, for the unknown-key check (`settings::check_known`).
pub(crate) const KNOWN_KEYS: &[&str] = &[
    "profile",
    "default_level",
    "extra_loggers_names",
    "levels.*",
    "stdout",
    "stdout_format",
    "file_path",
    "file_max_bytes",
    "file_max_files",
    "file_format",
    "queue_size",
    "secret_fields",
    "drop_warning_seconds",
    "flush_timeout_seconds",
    "version",
    "logstash.enabled",
    "logstash.host",
    "logstash.port",
    "logstash.fqdn",
    "logstash.version",
    "logstash.queue_size",
    "redis.enabled",
    "redis.host",
    "redis.port",
    "redis.db",
    "redis.username",
    "redis.password",
    "redis.ssl",
    "redis.version",
    "redis.queue_size",
    "http.enabled",
    "http.url",
    "http.user",
    "http.password",
    "http.max_records",
    "http.max_time_seconds",
    "http.timeout_seconds",
    "http.version",
    "http.queue_size",
];

/// Logging keys of the Python original's docs and code that tamarco does not read.
pub(crate) const LEGACY_KEYS: &[crate::settings::LegacyKey] = &[
    crate::settings::LegacyKey::no_effect(
        "file",
        "the file sink is on when `system.logging.file_path` is set, as in the original's code",
    ),
    crate::settings::LegacyKey::no_effect(
        "elasticsearch",
        "tamarco has no Elasticsearch sink; ship through Logstash (`logstash`, `redis` or `http`)",
    ),
];

/// A logging profile: the level of the service's own records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Profile {
    /// `DEVELOP`: debug and above.
    Develop,
    /// `PRODUCTION`: info and above (the default).
    Production,
    /// `TESTING`: debug and above.
    Testing,
}

impl Profile {
    /// The level of records the profile lets through.
    pub fn level(self) -> Level {
        match self {
            Profile::Develop | Profile::Testing => Level::DEBUG,
            Profile::Production => Level::INFO,
        }
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "DEVELOP" => Ok(Profile::Develop),
            "PRODUCTION" => Ok(Profile::Production),
            "TESTING" => Ok(Profile::Testing),
            _ => Err(format!(
                "unknown profile {s:?} (expected DEVELOP, PRODUCTION or TESTING)"
            )),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Develop => "DEVELOP",
            Profile::Production => "PRODUCTION",
            Profile::Testing => "TESTING",
        })
    }
}

/// How stdout and the file write records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// One readable line per record.
    Text,
    /// One Logstash JSON document per line.
    Json,
}

#[derive(Debug, Clone)]
pub(crate) struct FileConfig {
    pub(crate) path: PathBuf,
    pub(crate) max_bytes: u64,
    pub(crate) max_files: u64,
    pub(crate) format: Format,
}

#[derive(Debug, Clone)]
pub(crate) struct LogstashConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) fqdn: bool,
    pub(crate) version: Version,
    pub(crate) queue_size: usize,
}

// Read in every build, so that the keys are checked alike; only the sink (feature `log-redis`)
// uses the values.
#[cfg_attr(not(feature = "log-redis"), allow(dead_code))]
#[derive(Debug, Clone)]
pub(crate) struct RedisConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) db: i64,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret<String>>,
    pub(crate) ssl: bool,
    pub(crate) version: Version,
    pub(crate) queue_size: usize,
}

// As `RedisConfig`: only the sink (feature `log-http`) uses the values.
#[cfg_attr(not(feature = "log-http"), allow(dead_code))]
#[derive(Debug, Clone)]
pub(crate) struct HttpConfig {
    pub(crate) url: String,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Secret<String>>,
    pub(crate) max_records: usize,
    pub(crate) max_time: Duration,
    pub(crate) timeout: Duration,
    pub(crate) version: Version,
    pub(crate) queue_size: usize,
}

/// Everything under `system.logging`.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) profile: Profile,
    pub(crate) default_level: Option<LevelFilter>,
    pub(crate) extra_loggers: Vec<String>,
    pub(crate) levels: Vec<(String, LevelFilter)>,
    pub(crate) stdout: Option<Format>,
    pub(crate) file: Option<FileConfig>,
    pub(crate) logstash: Option<LogstashConfig>,
    #[cfg_attr(not(feature = "log-redis"), allow(dead_code))]
    pub(crate) redis: Option<RedisConfig>,
    #[cfg_attr(not(feature = "log-http"), allow(dead_code))]
    pub(crate) http: Option<HttpConfig>,
    pub(crate) secret_fields: Vec<String>,
    pub(crate) deploy_name: String,
    pub(crate) drop_warning: Duration,
    pub(crate) flush_timeout: Duration,
}

/// Reads keys, remembering the problems.
struct Reader<'a> {
    settings: &'a Settings,
    problems: Vec<String>,
}

impl Reader<'_> {
    /// The value at `key`; on a wrong type the problem is noted and `None` returned.
    fn opt<T: DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        match self.settings.get_opt(key) {
            Ok(value) => value,
            Err(error) => {
                self.problems
                    .push(format!("logging: {error}; using the default"));
                None
            }
        }
    }

    fn or<T: DeserializeOwned>(&mut self, key: &str, default: T) -> T {
        self.opt(key).unwrap_or(default)
    }

    /// A [settings duration](crate::settings::Duration); a bad one is a noted problem.
    fn duration(&mut self, key: &str, default: Duration) -> Duration {
        self.or(key, crate::settings::Duration::from(default)).get()
    }

    /// A key that an enabled sink needs; the problem says the sink stays off.
    fn required<T: DeserializeOwned>(&mut self, key: &str, sink: &str) -> Option<T> {
        let value = self.opt::<T>(key);
        if value.is_none() && self.settings.value(key).is_none() {
            self.problems.push(format!(
                "logging: setting `{key}` is missing; it is required when `{ROOT}.{sink}.enabled` is true, so the {sink} sink is off"
            ));
        }
        value
    }

    fn level(&mut self, key: &str, text: &str) -> Option<LevelFilter> {
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

    fn format(&mut self, key: &str) -> Format {
        let text: String = self.or(key, "text".to_owned());
        match text.to_ascii_lowercase().as_str() {
            "text" => Format::Text,
            "json" => Format::Json,
            _ => {
                self.problems.push(format!(
                    "logging: setting `{key}`: unknown format {text:?} (expected text or json); using text"
                ));
                Format::Text
            }
        }
    }

    fn enabled(&mut self, sink: &str) -> bool {
        self.or(&format!("{ROOT}.{sink}.enabled"), false)
    }

    fn queue_size(&mut self, sink: &str) -> usize {
        let default = self.or(&format!("{ROOT}.queue_size"), 10_000usize);
        self.or(&format!("{ROOT}.{sink}.queue_size"), default)
            .max(1)
    }

    /// The document format of `sink`: `system.logging.<sink>.version`, then (UDP only, as the
    /// original's code read it) `system.logging.version`, then the original's default.
    fn version(&mut self, sink: &str, fallback: Option<&str>, default: Version) -> Version {
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
    fn password(&mut self, key: &str) -> Option<Secret<String>> {
        self.opt::<Secret<String>>(key)
            .filter(|p| !p.expose().is_empty())
    }
}

impl Config {
    /// The whole configuration, and the problems found in it.
    pub(crate) fn read(settings: &Settings) -> (Config, Vec<String>) {
        let mut r = Reader {
            settings,
            problems: Vec::new(),
        };
        let (profile, default_level, extra_loggers, levels) = read_levels(&mut r);
        let stdout = r
            .or(&format!("{ROOT}.stdout"), true)
            .then(|| r.format(&format!("{ROOT}.stdout_format")));
        let file = r
            .opt::<String>(&format!("{ROOT}.file_path"))
            .filter(|p| !p.is_empty())
            .map(|path| FileConfig {
                path: PathBuf::from(path),
                max_bytes: r
                    .or(&format!("{ROOT}.file_max_bytes"), 10 * 1024 * 1024u64)
                    .max(1),
                max_files: r.or(&format!("{ROOT}.file_max_files"), 100u64).max(1),
                format: r.format(&format!("{ROOT}.file_format")),
            });
        let logstash = r.enabled("logstash").then(|| LogstashConfig {
            host: r.or(&format!("{ROOT}.logstash.host"), "127.0.0.1".to_owned()),
            port: r.or(&format!("{ROOT}.logstash.port"), 5959),
            fqdn: r.or(&format!("{ROOT}.logstash.fqdn"), false),
            version: r.version("logstash", Some(&format!("{ROOT}.version")), Version::V1),
            queue_size: r.queue_size("logstash"),
        });
        let redis = match r.enabled("redis") {
            false => None,
            true => r
                .required::<String>(&format!("{ROOT}.redis.host"), "redis")
                .map(|host| RedisConfig {
                    host,
                    port: r.or(&format!("{ROOT}.redis.port"), 6379),
                    db: r.or(&format!("{ROOT}.redis.db"), 0),
                    username: r.opt(&format!("{ROOT}.redis.username")),
                    password: r.password(&format!("{ROOT}.redis.password")),
                    ssl: r.or(&format!("{ROOT}.redis.ssl"), false),
                    version: r.version("redis", None, Version::V0),
                    queue_size: r.queue_size("redis"),
                }),
        };
        let http = match r.enabled("http") {
            false => None,
            true => r
                .required::<String>(&format!("{ROOT}.http.url"), "http")
                .map(|url| HttpConfig {
                    url,
                    user: r.opt(&format!("{ROOT}.http.user")),
                    password: r.password(&format!("{ROOT}.http.password")),
                    max_records: r.or(&format!("{ROOT}.http.max_records"), 10usize).max(1),
                    max_time: r.duration(
                        &format!("{ROOT}.http.max_time_seconds"),
                        Duration::from_secs(1),
                    ),
                    timeout: r.duration(
                        &format!("{ROOT}.http.timeout_seconds"),
                        Duration::from_secs(5),
                    ),
                    version: r.version("http", None, Version::V0),
                    queue_size: r.queue_size("http"),
                }),
        };
        // Beside the names every part of tamarco treats as secret (`crate::secret`).
        let secret_fields = r.or::<Vec<String>>(&format!("{ROOT}.secret_fields"), Vec::new());
        let config = Config {
            profile,
            default_level,
            extra_loggers,
            levels,
            stdout,
            file,
            logstash,
            redis,
            http,
            secret_fields,
            deploy_name: r.or(
                "system.deploy_name",
                crate::settings::DEFAULT_DEPLOY_NAME.to_owned(),
            ),
            drop_warning: r.duration(
                &format!("{ROOT}.drop_warning_seconds"),
                Duration::from_secs(10),
            ),
            flush_timeout: r.duration(
                &format!("{ROOT}.flush_timeout_seconds"),
                Duration::from_secs(5),
            ),
        };
        (config, r.problems)
    }

    /// Only the keys that set levels, for a change at run time.
    pub(crate) fn read_levels(settings: &Settings) -> (Config, Vec<String>) {
        // Reading everything is cheap, and the sink keys are not acted upon.
        let (mut config, _) = Config::read(settings);
        let mut r = Reader {
            settings,
            problems: Vec::new(),
        };
        (
            config.profile,
            config.default_level,
            config.extra_loggers,
            config.levels,
        ) = read_levels(&mut r);
        (config, r.problems)
    }

    /// The level filter: the service's logger (the target named after the service), tamarco
    /// and the extra loggers at the profile's level; other targets at `default_level` (the
    /// profile's level unless set); `levels` overrides single targets.
    pub(crate) fn targets(&self, service: &str) -> Targets {
        let level = LevelFilter::from_level(self.profile.level());
        let mut targets = Targets::new()
            .with_default(self.default_level.unwrap_or(level))
            .with_target("tamarco", level);
        if !service.is_empty() {
            targets = targets.with_target(service, level);
        }
        for name in &self.extra_loggers {
            targets = targets.with_target(name.clone(), level);
        }
        for (name, level) in &self.levels {
            targets = targets.with_target(name.clone(), *level);
        }
        targets
    }
}

type Levels = (
    Profile,
    Option<LevelFilter>,
    Vec<String>,
    Vec<(String, LevelFilter)>,
);

fn read_levels(r: &mut Reader<'_>) -> Levels {
    let key = format!("{ROOT}.profile");
    let text: String = r.or(&key, "PRODUCTION".to_owned());
    let profile = text.parse().unwrap_or_else(|error| {
        r.problems.push(format!(
            "logging: setting `{key}`: {error}; using PRODUCTION"
        ));
        Profile::Production
    });
    let key = format!("{ROOT}.default_level");
    let default_level = r.opt::<String>(&key).and_then(|text| r.level(&key, &text));
    let extra_loggers = r.or(&format!("{ROOT}.extra_loggers_names"), Vec::<String>::new());
    let key = format!("{ROOT}.levels");
    let map: serde_json::Map<String, serde_json::Value> = r.or(&key, Default::default());
    let mut levels = Vec::new();
    for (target, value) in map {
        let key = format!("{key}.{target}");
        match value.as_str() {
            Some(text) => levels.extend(r.level(&key, text).map(|l| (target, l))),
            None => r.problems.push(format!(
                "logging: setting `{key}`: expected a level name, found {value}"
            )),
        }
    }
    (profile, default_level, extra_loggers, levels)
}
