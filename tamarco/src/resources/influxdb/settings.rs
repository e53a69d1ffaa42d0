//! The resource's settings (`system.resources.<name>`), checked.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use tamarco_core::secret::Secret;
use tamarco_core::settings::Duration as SettingDuration;
use tamarco_core::{ResourceContext, SettingsError};

/// The settings of an [`InfluxDb`](super::InfluxDb) resource, at `system.resources.<name>`.
/// Every key has a default but `database`, which defaults to the service's name.
/// Durations are seconds (`10`, `0.5`) or text with a unit (`250ms`, `1m`).
///
/// ```yaml
/// system:
///   resources:
///     influxdb:
///       url: null                 # http://host:port, or
///       host: 127.0.0.1
///       port: 8086
///       ssl: false                # https
///       user: null
///       password: null            # never logged, never in /status nor in errors
///       database: null            # the service's name when not set
///       create_database: true     # CREATE DATABASE at start (a no-op when it exists)
///       batch_size: 1000          # points per write request
///       flush_interval: 1         # seconds: a smaller batch is sent after this
///       queue_size: 100000        # points waiting at most; more are dropped and counted
///       connection_timeout: 5     # seconds, for the first ping at start
///       request_timeout: 10       # seconds per request
///       retry_max_backoff: 5      # seconds between tries while the server is down, at most
///       stop_timeout: 10          # seconds stop spends sending what is queued
///       metrics_enabled: false    # write tamarco's own meters here
///       metrics_interval: 10      # seconds between two metric snapshots
/// ```
#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct InfluxDbSettings {
    /// The server's base URL (`http://host:port`); `host`, `port` and `ssl` when not set.
    pub url: Option<String>,
    /// The server's host name or address.
    pub host: String,
    /// The server's HTTP port.
    pub port: u16,
    /// Whether to use `https`.
    pub ssl: bool,
    /// The user name, for servers with authentication on.
    pub user: Option<String>,
    /// The password; a number is read as text. Never logged, shown in `/status` nor in errors.
    pub password: Option<Secret<String>>,
    /// The database; the service's name when not set.
    pub database: Option<String>,
    /// Whether to create the database at start.
    pub create_database: bool,
    /// Points per write request.
    pub batch_size: usize,
    /// The time after which a batch smaller than `batch_size` is sent.
    pub flush_interval: SettingDuration,
    /// Points that may wait to be sent; a write beyond that is dropped and counted.
    pub queue_size: usize,
    /// The time the first ping at start may take.
    pub connection_timeout: SettingDuration,
    /// The time one request may take.
    pub request_timeout: SettingDuration,
    /// The longest wait between two tries of a batch while the server is down, in seconds.
    pub retry_max_backoff: SettingDuration,
    /// The time `stop` spends sending what is queued before it drops (and counts) the rest.
    pub stop_timeout: SettingDuration,
    /// Whether to write tamarco's own meters (the ones `/metrics` shows) to this database.
    pub metrics_enabled: bool,
    /// The time between two snapshots of the meters.
    pub metrics_interval: SettingDuration,
}

impl Default for InfluxDbSettings {
    fn default() -> Self {
        InfluxDbSettings {
            url: None,
            host: "127.0.0.1".to_owned(),
            port: 8086,
            ssl: false,
            user: None,
            password: None,
            database: None,
            create_database: true,
            batch_size: 1000,
            flush_interval: SettingDuration::from_secs(1),
            queue_size: 100_000,
            connection_timeout: SettingDuration::from_secs(5),
            request_timeout: SettingDuration::from_secs(10),
            retry_max_backoff: SettingDuration::from_secs(5),
            stop_timeout: SettingDuration::from_secs(10),
            metrics_enabled: false,
            metrics_interval: SettingDuration::from_secs(10),
        }
    }
}

impl fmt::Debug for InfluxDbSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InfluxDbSettings")
            .field("url", &self.url)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("database", &self.database)
            .field("batch_size", &self.batch_size)
            .field("queue_size", &self.queue_size)
            .finish_non_exhaustive()
    }
}

/// The settings, checked, with durations.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) base: String,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Secret<String>>,
    pub(crate) database: String,
    pub(crate) create_database: bool,
    pub(crate) batch_size: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) queue_size: usize,
    pub(crate) connection_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) retry_max_backoff: Duration,
    pub(crate) stop_timeout: Duration,
    pub(crate) metrics_interval: Option<Duration>,
}

impl Config {
    /// Reads and checks the resource's settings; errors name the full key, never a value.
    pub(crate) fn load(cx: &ResourceContext) -> Result<Config, SettingsError> {
        let view = cx.settings();
        let settings: InfluxDbSettings = view.load_checked(&[])?;
        let invalid = |key: &str, message: &str| SettingsError::Invalid {
            key: view.full_key(key),
            message: message.to_owned(),
        };
        let base = match &settings.url {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(_) => return Err(invalid("url", "must start with http:// or https://")),
            None => {
                let scheme = if settings.ssl { "https" } else { "http" };
                format!("{scheme}://{}:{}", settings.host, settings.port)
            }
        };
        if base.contains('@') {
            return Err(invalid(
                "url",
                "must not hold credentials: use the `user` and `password` keys",
            ));
        }
        if settings.batch_size == 0 {
            return Err(invalid("batch_size", "must be at least 1"));
        }
        if settings.queue_size < settings.batch_size {
            return Err(invalid("queue_size", "must be at least `batch_size`"));
        }
        let database = settings
            .database
            .clone()
            .unwrap_or_else(|| cx.service().to_owned());
        let flush_interval = settings.flush_interval.get();
        if flush_interval.is_zero() {
            return Err(invalid("flush_interval", "must be more than 0"));
        }
        let metrics_interval = settings.metrics_interval.get();
        Ok(Config {
            base,
            user: settings.user.clone(),
            password: settings.password.clone(),
            database,
            create_database: settings.create_database,
            batch_size: settings.batch_size,
            flush_interval,
            queue_size: settings.queue_size,
            connection_timeout: settings.connection_timeout.get(),
            request_timeout: settings.request_timeout.get(),
            retry_max_backoff: settings.retry_max_backoff.get(),
            stop_timeout: settings.stop_timeout.get(),
            metrics_interval: (settings.metrics_enabled && !metrics_interval.is_zero())
                .then_some(metrics_interval),
        })
    }

    /// The server and database, for logs, errors and `/status`.
    pub(crate) fn describe(&self) -> String {
        format!("{} (database `{}`)", self.base, self.database)
    }
}
