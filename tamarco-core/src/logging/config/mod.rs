//! `system.logging`, read into a typed configuration. A bad or missing value becomes a problem
//! that names the key, and the default (or "sink off") is used instead.

mod keys;
mod profile;
mod reader;

use std::path::PathBuf;
use std::time::Duration;

use tracing_subscriber::filter::{LevelFilter, Targets};

use super::document::Version;
use crate::secret::Secret;
use crate::settings::Settings;

use keys::ROOT;
use reader::Reader;

pub(crate) use keys::{KNOWN_KEYS, LEGACY_KEYS};
pub use profile::Profile;

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

impl Format {
    /// The format at `key`; an unknown one is a noted problem, and text.
    fn read(r: &mut Reader<'_>, key: &str) -> Format {
        let text: String = r.or(key, "text".to_owned());
        match text.to_ascii_lowercase().as_str() {
            "text" => Format::Text,
            "json" => Format::Json,
            _ => {
                r.problems.push(format!(
                    "logging: setting `{key}`: unknown format {text:?} (expected text or json); using text"
                ));
                Format::Text
            }
        }
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
            .then(|| Format::read(&mut r, &format!("{ROOT}.stdout_format")));
        let file = r
            .opt::<String>(&format!("{ROOT}.file_path"))
            .filter(|p| !p.is_empty())
            .map(|path| FileConfig {
                path: PathBuf::from(path),
                max_bytes: r
                    .or(&format!("{ROOT}.file_max_bytes"), 10 * 1024 * 1024u64)
                    .max(1),
                max_files: r.or(&format!("{ROOT}.file_max_files"), 100u64).max(1),
                format: Format::read(&mut r, &format!("{ROOT}.file_format")),
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
