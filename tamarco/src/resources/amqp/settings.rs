//! The resource's settings (`system.resources.<name>`) and the names of queues and exchanges.

use std::fmt;
use std::time::Duration;

use lapin::types::ShortString;
use lapin::uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo};
use serde::Deserialize;

use tamarco_core::backoff::Backoff;
use tamarco_core::settings::Duration as SettingsDuration;
use tamarco_core::{ResourceContext, Secret, SettingsError};

/// The three messaging patterns, named as the Python original names its queues and exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// A durable queue `P + "push_pull." + queue`, persistent messages, competing consumers.
    PushPull,
    /// A fanout exchange `P + "publish_subscribe." + queue`; each subscriber binds its own
    /// exclusive queue.
    PublishSubscribe,
    /// A queue `P + "request_response." + queue`; requests carry `reply_to` and
    /// `correlation_id`.
    RequestResponse,
}

impl Pattern {
    /// `push_pull`, `publish_subscribe` or `request_response`: the middle part of the names.
    pub const fn as_str(self) -> &'static str {
        match self {
            Pattern::PushPull => "push_pull",
            Pattern::PublishSubscribe => "publish_subscribe",
            Pattern::RequestResponse => "request_response",
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The settings of an [`Amqp`](super::Amqp) resource, at `system.resources.<name>`. Every key
/// has a default, so a resource runs against a local RabbitMQ with no settings at all.
///
/// ```yaml
/// system:
///   resources:
///     amqp:
///       host: 127.0.0.1
///       port: 5672
///       vhost: /
///       user: guest
///       password: guest           # never logged, never in /status nor in errors
///       connection_timeout: 10     # for each connection attempt (seconds, or "500ms", "1m"...)
///       queues_prefix: ""          # "shop" names queues "shop.push_pull.orders"...
///       tls: false                 # amqps (needs the `amqp-tls` feature)
///       tls_ca_file: null          # a PEM file of extra trusted CAs
///       heartbeat: 30              # whole seconds; 0 turns heartbeats off
///       prefetch: 32               # unacknowledged messages per input
///       concurrency: 1             # handlers running at once per input
///       retries: 3                 # handler retries before the dead-letter queue
///       retry_backoff: 100ms       # before the first retry; doubles, up to 30 s
///       dead_letter_queue: "{queue}.dead_letter"
///       request_timeout: 100       # how long a request waits for its reply
///       publish_timeout: 30        # how long a send waits for a lost connection and its confirm
///       reconnect_backoff: 100ms   # first wait before reconnecting; doubles
///       reconnect_max_backoff: 10s
///       stop_timeout: 10           # how long stop waits for in-flight handlers
///       durable_subscriptions: false  # subscription queues that outlive a reconnection
///       inputs:                    # per-input options, by the input's queue name
///         orders: { concurrency: 8, prefetch: 64, retries: 5, dead_letter: orders.failed }
/// ```
///
/// A duration is a number of seconds or text with units (`250ms`, `1s`, `5m`); an error names
/// the key, never the value.
#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AmqpSettings {
    /// The broker's host name or address.
    pub host: String,
    /// The broker's port.
    pub port: u16,
    /// The virtual host.
    pub vhost: String,
    /// The user name.
    pub user: String,
    /// The password. Never logged, shown in `/status` nor put in an error; a number
    /// (`password: 1234`) reads as text.
    pub password: Secret,
    /// The time each connection attempt may take (TCP, TLS and the AMQP handshake).
    pub connection_timeout: SettingsDuration,
    /// The prefix of every queue and exchange name: `"shop"` gives `shop.push_pull.orders`.
    pub queues_prefix: String,
    /// Connect with TLS (`amqps`); needs the `amqp-tls` feature.
    pub tls: bool,
    /// A PEM file with certificates to trust besides the system's, for `tls`.
    pub tls_ca_file: Option<String>,
    /// The heartbeat interval asked of the broker, in whole seconds; 0 turns heartbeats off.
    pub heartbeat: SettingsDuration,
    /// How many unacknowledged messages the broker sends each input ahead (0: no limit).
    pub prefetch: u16,
    /// How many messages of one input are handled at once.
    pub concurrency: usize,
    /// How many times a failing handler is retried before its message is dead-lettered.
    pub retries: u32,
    /// The wait before the first retry; it doubles each time, up to 30 s.
    pub retry_backoff: SettingsDuration,
    /// The dead-letter queue of each input; `{queue}` is the input's full queue name.
    pub dead_letter_queue: String,
    /// How long a request waits for its reply (the original's 100 s).
    pub request_timeout: SettingsDuration,
    /// How long a send waits for the connection to come back and for the broker's confirm.
    pub publish_timeout: SettingsDuration,
    /// The first wait before reconnecting; it doubles after each failure.
    pub reconnect_backoff: SettingsDuration,
    /// The longest wait between two reconnection attempts.
    pub reconnect_max_backoff: SettingsDuration,
    /// How long `stop` waits for in-flight handlers before it closes the connection.
    pub stop_timeout: SettingsDuration,
    /// Give each publish/subscribe input a durable queue named for the service and the
    /// resource (`P + "publish_subscribe." + queue + "." + service + "." + resource`) instead
    /// of an exclusive one that dies with the connection: messages published while it
    /// reconnects (or while the service is down) wait there, so subscriptions become at least
    /// once too. Instances of one service then share the queue (they compete for its
    /// messages), and the queue stays on the broker until deleted.
    pub durable_subscriptions: bool,
    /// Per-input options by the input's queue name (`concurrency`, `prefetch`, `retries`,
    /// `retry_backoff`, `dead_letter`, `max_deliveries`), read by the message engine; they
    /// override the attribute's options and the defaults above.
    pub inputs: serde_json::Map<String, serde_json::Value>,
}

impl Default for AmqpSettings {
    fn default() -> Self {
        AmqpSettings {
            host: "127.0.0.1".to_owned(),
            port: 5672,
            vhost: "/".to_owned(),
            user: "guest".to_owned(),
            password: Secret::new("guest".to_owned()),
            connection_timeout: SettingsDuration::from_secs(10),
            queues_prefix: String::new(),
            tls: false,
            tls_ca_file: None,
            heartbeat: SettingsDuration::from_secs(30),
            prefetch: 32,
            concurrency: 1,
            retries: 3,
            retry_backoff: SettingsDuration::from_millis(100),
            dead_letter_queue: "{queue}.dead_letter".to_owned(),
            request_timeout: SettingsDuration::from_secs(100),
            publish_timeout: SettingsDuration::from_secs(30),
            reconnect_backoff: SettingsDuration::from_millis(100),
            reconnect_max_backoff: SettingsDuration::from_secs(10),
            stop_timeout: SettingsDuration::from_secs(10),
            durable_subscriptions: false,
            inputs: serde_json::Map::new(),
        }
    }
}

impl fmt::Debug for AmqpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("vhost", &self.vhost)
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .field("connection_timeout", &self.connection_timeout)
            .field("queues_prefix", &self.queues_prefix)
            .field("tls", &self.tls)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("heartbeat", &self.heartbeat)
            .field("prefetch", &self.prefetch)
            .field("concurrency", &self.concurrency)
            .field("retries", &self.retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("dead_letter_queue", &self.dead_letter_queue)
            .field("request_timeout", &self.request_timeout)
            .field("publish_timeout", &self.publish_timeout)
            .field("reconnect_backoff", &self.reconnect_backoff)
            .field("reconnect_max_backoff", &self.reconnect_max_backoff)
            .field("stop_timeout", &self.stop_timeout)
            .field("durable_subscriptions", &self.durable_subscriptions)
            .field("inputs", &self.inputs)
            .finish()
    }
}

/// The settings, checked, with durations.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) settings: AmqpSettings,
    pub(crate) connection_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) publish_timeout: Duration,
    /// The waits between connection attempts (fresh for each outage).
    pub(crate) reconnect: Backoff,
    pub(crate) stop_timeout: Duration,
    pub(crate) heartbeat: u16,
    pub(crate) tls_ca: Option<String>,
}

impl Config {
    /// Reads and checks the resource's settings; errors name the full key.
    pub(crate) fn load(cx: &ResourceContext) -> Result<Config, SettingsError> {
        let view = cx.settings();
        let settings: AmqpSettings = view.load_checked_beside(&[], &["inputs"])?;
        let invalid = |key: &str, message: String| SettingsError::Invalid {
            key: view.full_key(key),
            message,
        };
        if settings.concurrency == 0 {
            return Err(invalid("concurrency", "must be at least 1".to_owned()));
        }
        if settings.dead_letter_queue.is_empty() {
            return Err(invalid("dead_letter_queue", "must not be empty".to_owned()));
        }
        let tls_ca = match &settings.tls_ca_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| invalid("tls_ca_file", format!("cannot read {path:?}: {e}")))?,
            ),
            None => None,
        };
        if settings.tls && !cfg!(feature = "amqp-tls") {
            return Err(invalid(
                "tls",
                "TLS needs tamarco's `amqp-tls` cargo feature".to_owned(),
            ));
        }
        if settings.queues_prefix.len() > 100 {
            return Err(invalid("queues_prefix", "longer than 100 bytes".to_owned()));
        }
        let heartbeat = u16::try_from(settings.heartbeat.as_secs())
            .map_err(|_| invalid("heartbeat", "longer than 65535 seconds".to_owned()))?;
        let config = Config {
            connection_timeout: settings.connection_timeout.get(),
            request_timeout: settings.request_timeout.get(),
            publish_timeout: settings.publish_timeout.get(),
            reconnect: Backoff::new(
                settings
                    .reconnect_backoff
                    .get()
                    .max(Duration::from_millis(1)),
                settings.reconnect_max_backoff.get(),
            ),
            stop_timeout: settings.stop_timeout.get(),
            heartbeat,
            tls_ca,
            settings,
        };
        Ok(config)
    }

    /// The URI lapin connects to, without the password (it goes through an auth provider).
    pub(crate) fn uri(&self) -> AMQPUri {
        let s = &self.settings;
        AMQPUri {
            scheme: if s.tls {
                AMQPScheme::AMQPS
            } else {
                AMQPScheme::AMQP
            },
            authority: AMQPAuthority {
                userinfo: AMQPUserInfo {
                    username: s.user.clone(),
                    password: String::new(),
                },
                host: s.host.clone(),
                port: s.port,
            },
            vhost: s.vhost.clone(),
            query: AMQPQueryString {
                heartbeat: Some(self.heartbeat),
                connection_timeout: Some(
                    u64::try_from(self.connection_timeout.as_millis()).unwrap_or(u64::MAX),
                ),
                ..AMQPQueryString::default()
            },
        }
    }

    /// Where the broker is, without the password: for logs and errors.
    pub(crate) fn describe(&self) -> String {
        let s = &self.settings;
        let scheme = if s.tls { "amqps" } else { "amqp" };
        format!(
            "{scheme}://{}@{}:{} (vhost `{}`)",
            s.user, s.host, s.port, s.vhost
        )
    }

    /// The full name of a queue or exchange: `P + pattern + "." + queue`.
    pub(crate) fn full_name(&self, pattern: Pattern, queue: &str) -> Result<ShortString, String> {
        let prefix = &self.settings.queues_prefix;
        let name = if prefix.is_empty() {
            format!("{pattern}.{queue}")
        } else {
            format!("{prefix}.{pattern}.{queue}")
        };
        short(name)
    }

    /// The dead-letter queue for the input reading `queue` (its full name).
    pub(crate) fn dead_letter_queue(
        &self,
        template: Option<&str>,
        queue: &str,
    ) -> Result<ShortString, String> {
        let template = template.unwrap_or(&self.settings.dead_letter_queue);
        short(template.replace("{queue}", queue))
    }
}

/// A queue or exchange name, which AMQP limits to 255 bytes.
pub(crate) fn short(name: String) -> Result<ShortString, String> {
    let len = name.len();
    ShortString::try_new(name).map_err(|_| format!("a name of {len} bytes (AMQP allows 255)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(prefix: &str) -> Config {
        let settings = AmqpSettings {
            queues_prefix: prefix.to_owned(),
            ..AmqpSettings::default()
        };
        Config {
            connection_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(100),
            publish_timeout: Duration::from_secs(30),
            reconnect: Backoff::new(Duration::from_millis(100), Duration::from_secs(10)),
            stop_timeout: Duration::from_secs(10),
            heartbeat: 30,
            tls_ca: None,
            settings,
        }
    }

    #[test]
    fn names_follow_the_original() {
        let plain = config("");
        assert_eq!(
            plain
                .full_name(Pattern::PushPull, "orders")
                .unwrap()
                .as_str(),
            "push_pull.orders"
        );
        let shop = config("shop");
        assert_eq!(
            shop.full_name(Pattern::PublishSubscribe, "events")
                .unwrap()
                .as_str(),
            "shop.publish_subscribe.events"
        );
        assert_eq!(
            shop.full_name(Pattern::RequestResponse, "prices")
                .unwrap()
                .as_str(),
            "shop.request_response.prices"
        );
        assert_eq!(
            shop.dead_letter_queue(None, "shop.push_pull.orders")
                .unwrap()
                .as_str(),
            "shop.push_pull.orders.dead_letter"
        );
        assert_eq!(
            shop.dead_letter_queue(Some("dlq"), "x").unwrap().as_str(),
            "dlq"
        );
        assert!(shop.full_name(Pattern::PushPull, &"x".repeat(300)).is_err());
    }

    #[test]
    fn the_password_stays_out_of_debug_and_descriptions() {
        let mut config = config("");
        config.settings.password = Secret::new("hunter2".to_owned());
        assert!(!format!("{:?}", config.settings).contains("hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(config.describe(), "amqp://guest@127.0.0.1:5672 (vhost `/`)");
        assert!(!format!("{:?}", config.uri()).contains("hunter2"));
    }

    #[test]
    fn a_password_of_digits_reads_as_text() {
        let settings: AmqpSettings = serde_json::from_value(serde_json::json!({"password": 1234}))
            .expect("the seed's `password: 1234`");
        assert_eq!(settings.password.expose(), "1234");
    }
}
