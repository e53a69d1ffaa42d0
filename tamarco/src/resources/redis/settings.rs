//! The resource's settings (`system.resources.<name>`), checked.

use std::fmt;
use std::time::Duration;

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};
use serde::Deserialize;
use tamarco_core::secret::Secret;
use tamarco_core::settings::Duration as SettingDuration;
use tamarco_core::{ResourceContext, SettingsError};

/// The settings of a [`Redis`](super::Redis) resource, at `system.resources.<name>`, with the
/// Python original's key names. Every key has a default.
/// Durations are seconds (`10`, `0.5`) or text with a unit (`250ms`, `1m`).
///
/// ```yaml
/// system:
///   resources:
///     redis:
///       url: null                 # redis://[user[:password]@]host:port/db, or
///       host: 127.0.0.1           # these keys (they override the URL's parts)
///       port: 6379
///       ssl: false                # rediss
///       user: null                # an ACL user
///       password: null            # never logged, never in /status nor in errors
///       db: 0
///       connection_timeout: 5     # seconds per connection attempt; the start waits this long
///       response_timeout: 5       # seconds a command may take
///       retries: 3                # tries again of an idempotent command after a lost connection
///       stop_timeout: 10          # seconds stop waits for commands in flight
///       inputs:                   # options of `subscribe` and `stream` inputs, by name
///         events: { concurrency: 4, retries: 3, dead_letter: events.failed }
///       streams:                  # how `stream` inputs and outputs work
///         group: null             # the consumer group; the service's name by default
///         consumer: null          # this instance in the group; <service>-<host>-<pid> by default
///         start: first            # where a new group starts: `first` entry or `new` ones
///         claim_idle: 30          # an entry pending this long in a consumer's hands is claimed
///         block: 2                # the longest a read waits for new entries
///         field: body             # the entry field that holds the message
///         max_len: null           # outputs trim the stream to about this many entries
/// ```
#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RedisSettings {
    /// A connection URL; the other keys, when given, override its parts.
    pub url: Option<Secret<String>>,
    /// The server's host name or address.
    pub host: Option<String>,
    /// The server's port.
    pub port: Option<u16>,
    /// Whether to use TLS (`rediss`).
    pub ssl: bool,
    /// An ACL user name.
    pub user: Option<String>,
    /// The password; a number is read as text. Never logged, shown in `/status` nor in errors.
    pub password: Option<Secret<String>>,
    /// The database number.
    pub db: Option<i64>,
    /// The time each connection attempt may take; the start fails after this long.
    pub connection_timeout: SettingDuration,
    /// The time a command may take.
    pub response_timeout: SettingDuration,
    /// How many times an idempotent command is sent again after a lost connection.
    pub retries: u32,
    /// The time `stop` waits for commands in flight.
    pub stop_timeout: SettingDuration,
    /// Per-input options of the `subscribe` and `stream` inputs, by channel or stream
    /// (`concurrency`, `retries`, `retry_backoff`, `dead_letter`...), read by the message
    /// engine.
    pub inputs: serde_json::Map<String, serde_json::Value>,
    /// How `stream` inputs and outputs work.
    pub streams: StreamSettings,
}

/// The `streams` key of [`RedisSettings`]: the consumer group of the `stream` inputs.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StreamSettings {
    /// The consumer group the inputs read in; the service's name when unset.
    pub group: Option<String>,
    /// This instance's name in the group; `<service>-<host>-<pid>` when unset. Two live
    /// instances must not share one.
    pub consumer: Option<String>,
    /// Where a group that does not exist yet starts reading a stream. A group that exists
    /// goes on after the last entry it delivered, whatever this says.
    pub start: StreamStart,
    /// How long an entry may stay pending (read, not acked) in a consumer's hands before a
    /// live consumer claims it: longer than the slowest handler.
    pub claim_idle: SettingDuration,
    /// The longest one read waits for new entries.
    pub block: SettingDuration,
    /// The entry field holding the message.
    pub field: String,
    /// When set, outputs trim the stream to about this many entries (`MAXLEN ~`).
    pub max_len: Option<u64>,
}

/// Where a new consumer group starts: the `start` key of [`StreamSettings`].
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StreamStart {
    /// At the stream's first entry: what was added before the group existed (by a producer
    /// that started first) is handled too, as at-least-once asks.
    #[default]
    First,
    /// At the entries added after the group was created: for a group joining a long stream
    /// whose history it must not handle.
    New,
}

impl StreamStart {
    /// The id `XGROUP CREATE` takes for this start.
    pub(crate) fn group_id(self) -> &'static str {
        match self {
            StreamStart::First => "0",
            StreamStart::New => "$",
        }
    }
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            group: None,
            consumer: None,
            start: StreamStart::First,
            claim_idle: SettingDuration::from_secs(30),
            block: SettingDuration::from_secs(2),
            field: String::from("body"),
            max_len: None,
        }
    }
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: None,
            host: None,
            port: None,
            ssl: false,
            user: None,
            password: None,
            db: None,
            connection_timeout: SettingDuration::from_secs(5),
            response_timeout: SettingDuration::from_secs(5),
            retries: 3,
            stop_timeout: SettingDuration::from_secs(10),
            inputs: serde_json::Map::new(),
            streams: StreamSettings::default(),
        }
    }
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &self.url)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("ssl", &self.ssl)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("db", &self.db)
            .field("connection_timeout", &self.connection_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("retries", &self.retries)
            .field("stop_timeout", &self.stop_timeout)
            .field("inputs", &self.inputs)
            .field("streams", &self.streams)
            .finish()
    }
}

/// The settings, checked, with the connection info built from them.
pub(crate) struct Config {
    pub(crate) info: ConnectionInfo,
    pub(crate) connection_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) stop_timeout: Duration,
    pub(crate) streams: StreamSettings,
    host: String,
    port: u16,
    db: i64,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.describe())
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads and checks the resource's settings; errors name the full key, never a value.
    pub(crate) fn load(cx: &ResourceContext) -> Result<Config, SettingsError> {
        let view = cx.settings();
        let settings: RedisSettings = view.load_checked(&[])?;
        let invalid = |key: &str, message: String| SettingsError::Invalid {
            key: view.full_key(key),
            message,
        };
        let base = match &settings.url {
            // The client's parse errors describe the fault, not the URL.
            Some(url) => url
                .expose()
                .as_str()
                .into_connection_info()
                .map_err(|e| invalid("url", format!("not a Redis URL ({:?})", e.kind())))?,
            None => "redis://127.0.0.1:6379"
                .into_connection_info()
                .map_err(|e| invalid("url", e.to_string()))?,
        };
        let (url_host, url_port, url_tls) = match base.addr() {
            ConnectionAddr::Tcp(host, port) => (host.clone(), *port, false),
            ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port, true),
            _ => {
                return Err(invalid(
                    "url",
                    "only TCP addresses are supported".to_owned(),
                ));
            }
        };
        let streams = &settings.streams;
        if streams.field.is_empty() {
            return Err(invalid("streams.field", "must not be empty".to_owned()));
        }
        for (key, value) in [
            ("streams.claim_idle", streams.claim_idle),
            ("streams.block", streams.block),
        ] {
            if value.get().is_zero() {
                return Err(invalid(key, "must be more than zero".to_owned()));
            }
        }
        let host = settings.host.clone().unwrap_or(url_host);
        let port = settings.port.unwrap_or(url_port);
        let tls = settings.ssl || url_tls;
        let addr = if tls {
            ConnectionAddr::TcpTls {
                host: host.clone(),
                port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(host.clone(), port)
        };
        let mut redis: RedisConnectionInfo = base.redis_settings().clone();
        if let Some(user) = &settings.user {
            redis = redis.set_username(user);
        }
        if let Some(password) = &settings.password {
            redis = redis.set_password(password.expose());
        }
        let db = settings.db.unwrap_or(redis.db());
        redis = redis.set_db(db);
        Ok(Config {
            info: base.set_addr(addr).set_redis_settings(redis),
            connection_timeout: settings.connection_timeout.get(),
            response_timeout: settings.response_timeout.get(),
            retries: settings.retries,
            stop_timeout: settings.stop_timeout.get(),
            streams: settings.streams.clone(),
            host,
            port,
            db,
        })
    }

    /// Where the server is, without credentials.
    pub(crate) fn describe(&self) -> String {
        format!("redis://{}:{}/{}", self.host, self.port, self.db)
    }

    /// `host:port`, for the error of a failed start.
    pub(crate) fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}
