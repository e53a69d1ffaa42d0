//! The resource's settings (`system.resources.<name>`) and the librdkafka configurations built
//! from them.

use std::collections::BTreeMap;
use std::fmt;

use rdkafka::ClientConfig;
use serde::Deserialize;
use serde_json::Value;

use tamarco_core::settings::Duration;
use tamarco_core::{ResourceContext, SettingsError};

use super::spec::OffsetReset;

/// `bootstrap_servers`: a list of `host:port`, or one comma-separated string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Servers {
    List(Vec<String>),
    Joined(String),
}

impl Servers {
    fn into_list(self) -> Vec<String> {
        match self {
            Servers::List(list) => list,
            Servers::Joined(joined) => joined
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }
}

/// The settings tree as written at `system.resources.<name>`; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Written {
    bootstrap_servers: Option<Servers>,
    group_id: Option<String>,
    auto_offset_reset: Option<OffsetReset>,
    retries: Option<u32>,
    retry_backoff: Option<Duration>,
    dead_letter_topic: Option<String>,
    create_dead_letter_topics: Option<bool>,
    dead_letter_partitions: Option<i32>,
    commit_interval: Option<Duration>,
    connect_timeout: Option<Duration>,
    stop_timeout: Option<Duration>,
    client: Value,
    consumer: Value,
    producer: Value,
    /// Per-input options (`inputs.<name>.retries`, `.group`...), read by the message engine.
    #[allow(dead_code)]
    inputs: Value,
}

/// The resource's configuration, read in `configure`.
pub(crate) struct Config {
    pub(crate) bootstrap_servers: Vec<String>,
    pub(crate) group_id: String,
    pub(crate) auto_offset_reset: OffsetReset,
    pub(crate) retries: u32,
    pub(crate) retry_backoff: std::time::Duration,
    pub(crate) dead_letter_topic: String,
    pub(crate) create_dead_letter_topics: bool,
    pub(crate) dead_letter_partitions: i32,
    pub(crate) commit_interval: std::time::Duration,
    pub(crate) connect_timeout: std::time::Duration,
    pub(crate) stop_timeout: std::time::Duration,
    /// Pass-through librdkafka options for every client, then per kind. May hold secrets:
    /// never logged, never shown in `/status`.
    client: BTreeMap<String, String>,
    consumer: BTreeMap<String, String>,
    producer: BTreeMap<String, String>,
    service: String,
    resource: String,
}

/// Defaults, documented on the module.
pub(crate) const DEFAULT_SERVERS: &str = "127.0.0.1:9092";
pub(crate) const DEFAULT_RETRIES: u32 = 3;
pub(crate) const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(100);
pub(crate) const DEFAULT_DEAD_LETTER_TOPIC: &str = "{topic}.dead_letter";
pub(crate) const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Options the resource owns: setting them in the pass-through maps would break at-least-once
/// delivery, so they are refused.
const RESERVED: &[&str] = &[
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "bootstrap.servers",
];

impl Config {
    /// Reads `system.resources.<name>`; errors name the full key.
    pub(crate) fn load(cx: &ResourceContext) -> Result<Config, SettingsError> {
        let view = cx.settings();
        let written: Written = view.load_checked(&[])?;
        let invalid = |key: &str, message: String| SettingsError::Invalid {
            key: view.full_key(key),
            message,
        };
        let bootstrap_servers = written
            .bootstrap_servers
            .map(Servers::into_list)
            .unwrap_or_else(|| vec![DEFAULT_SERVERS.to_owned()]);
        if bootstrap_servers.is_empty() {
            return Err(invalid(
                "bootstrap_servers",
                "needs at least one host:port".into(),
            ));
        }
        // In-flight handlers get half the service's grace period by default, so that the
        // commit, the producer flush and the other resources fit in the rest.
        let grace: Duration = view.settings().get_or(
            "system.shutdown.grace_period_seconds",
            Duration::from_secs(30),
        )?;
        let stop_timeout = written.stop_timeout.map_or(*grace / 2, Duration::get);
        let mut maps = Vec::new();
        for (key, value) in [
            ("client", written.client),
            ("consumer", written.consumer),
            ("producer", written.producer),
        ] {
            let mut flat = BTreeMap::new();
            flatten(&view.full_key(key), "", value, &mut flat)?;
            if let Some(reserved) = flat.keys().find(|k| RESERVED.contains(&k.as_str())) {
                return Err(invalid(
                    &format!("{key}.{reserved}"),
                    "is set by the kafka resource; use its own setting (bootstrap_servers, group_id) instead".into(),
                ));
            }
            maps.push(flat);
        }
        let producer = maps.pop().unwrap_or_default();
        let consumer = maps.pop().unwrap_or_default();
        let client = maps.pop().unwrap_or_default();
        let dead_letter_topic = written
            .dead_letter_topic
            .unwrap_or_else(|| DEFAULT_DEAD_LETTER_TOPIC.to_owned());
        if written.dead_letter_partitions.is_some_and(|p| p < 1) {
            return Err(invalid(
                "dead_letter_partitions",
                "must be at least 1".into(),
            ));
        }
        if dead_letter_topic.is_empty() {
            return Err(invalid(
                "dead_letter_topic",
                "must not be empty (use `{topic}` for the source topic)".into(),
            ));
        }
        let commit_interval = written.commit_interval.unwrap_or(DEFAULT_COMMIT_INTERVAL);
        if commit_interval.is_zero() {
            return Err(invalid("commit_interval", "must be more than zero".into()));
        }
        Ok(Config {
            bootstrap_servers,
            group_id: written.group_id.unwrap_or_else(|| cx.service().to_owned()),
            auto_offset_reset: written.auto_offset_reset.unwrap_or_default(),
            retries: written.retries.unwrap_or(DEFAULT_RETRIES),
            retry_backoff: *written.retry_backoff.unwrap_or(DEFAULT_RETRY_BACKOFF),
            dead_letter_topic,
            create_dead_letter_topics: written.create_dead_letter_topics.unwrap_or(true),
            dead_letter_partitions: written.dead_letter_partitions.unwrap_or(1),
            commit_interval: *commit_interval,
            connect_timeout: *written.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            stop_timeout,
            client,
            consumer,
            producer,
            service: cx.service().to_owned(),
            resource: cx.name().to_owned(),
        })
    }

    fn base(&self, client_id: String, specific: &BTreeMap<String, String>) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.bootstrap_servers.join(","))
            .set("client.id", client_id);
        for (key, value) in self.client.iter().chain(specific) {
            config.set(key, value);
        }
        config
    }

    /// The producer's configuration: outputs and dead letters of the resource share it.
    pub(crate) fn producer(&self) -> ClientConfig {
        let id = format!("{}.{}", self.service, self.resource);
        self.base(id, &self.producer)
    }

    /// The configuration of the consumer of the input `input`, in `group`. Offsets are
    /// stored by the input once handled, and committed from the store (periodically, on
    /// rebalance and on stop).
    pub(crate) fn consumer(
        &self,
        input: &str,
        group: &str,
        offset_reset: Option<OffsetReset>,
    ) -> ClientConfig {
        let id = format!("{}.{}.{}", self.service, self.resource, input);
        let mut config = self.base(id, &self.consumer);
        config
            .set("group.id", group)
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set(
                "auto.commit.interval.ms",
                self.commit_interval.as_millis().max(1).to_string(),
            );
        let passed_through = self.consumer.contains_key("auto.offset.reset")
            || self.client.contains_key("auto.offset.reset");
        if offset_reset.is_some() || !passed_through {
            let reset = offset_reset.unwrap_or(self.auto_offset_reset);
            config.set("auto.offset.reset", reset.as_str());
        }
        config
    }
}

impl fmt::Debug for Config {
    /// Names the pass-through options but never their values: they may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("group_id", &self.group_id)
            .field("auto_offset_reset", &self.auto_offset_reset)
            .field("retries", &self.retries)
            .field("retry_backoff", &self.retry_backoff)
            .field("dead_letter_topic", &self.dead_letter_topic)
            .field("client_options", &self.client.keys().collect::<Vec<_>>())
            .field(
                "consumer_options",
                &self.consumer.keys().collect::<Vec<_>>(),
            )
            .field(
                "producer_options",
                &self.producer.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Flattens a settings subtree into librdkafka's dotted keys: `{sasl: {mechanism: PLAIN}}`
/// and `{"sasl.mechanism": PLAIN}` both give `sasl.mechanism=PLAIN`.
fn flatten(
    root: &str,
    prefix: &str,
    value: Value,
    out: &mut BTreeMap<String, String>,
) -> Result<(), SettingsError> {
    let invalid = |message: String| SettingsError::Invalid {
        key: if prefix.is_empty() {
            root.to_owned()
        } else {
            format!("{root}.{prefix}")
        },
        message,
    };
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, value) in map {
                let key = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(root, &key, value, out)?;
            }
        }
        Value::String(s) if !prefix.is_empty() => {
            out.insert(prefix.to_owned(), s);
        }
        Value::Bool(b) if !prefix.is_empty() => {
            out.insert(prefix.to_owned(), b.to_string());
        }
        Value::Number(n) if !prefix.is_empty() => {
            out.insert(prefix.to_owned(), n.to_string());
        }
        Value::Array(items) if !prefix.is_empty() => {
            let mut joined = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => joined.push(s),
                    Value::Number(n) => joined.push(n.to_string()),
                    other => return Err(invalid(format!("unsupported list item {other}"))),
                }
            }
            out.insert(prefix.to_owned(), joined.join(","));
        }
        _ => {
            return Err(invalid(
                "must be a map of librdkafka options (`security.protocol: SASL_SSL`...)".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_and_dotted_options_flatten_alike() {
        let mut out = BTreeMap::new();
        let value = json!({
            "sasl": {"mechanism": "PLAIN", "username": "u"},
            "sasl.password": "p",
            "socket.timeout.ms": 1000,
            "ssl": {"endpoint": {"identification": {"algorithm": "none"}}},
            "debug": ["broker", "cgrp"],
            "enable.ssl.certificate.verification": false,
        });
        flatten("system.resources.kafka.client", "", value, &mut out).unwrap();
        let expected: BTreeMap<String, String> = [
            ("debug", "broker,cgrp"),
            ("enable.ssl.certificate.verification", "false"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.password", "p"),
            ("sasl.username", "u"),
            ("socket.timeout.ms", "1000"),
            ("ssl.endpoint.identification.algorithm", "none"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn a_scalar_where_a_map_belongs_names_the_key() {
        let mut out = BTreeMap::new();
        let error = flatten("system.resources.kafka.client", "", json!("oops"), &mut out)
            .unwrap_err()
            .to_string();
        assert!(error.contains("system.resources.kafka.client"), "{error}");
    }

    #[test]
    fn servers_accept_a_list_or_a_joined_string() {
        let list: Servers = serde_json::from_value(json!(["a:1", "b:2"])).unwrap();
        let joined: Servers = serde_json::from_value(json!("a:1, b:2")).unwrap();
        assert_eq!(list.into_list(), joined.into_list());
    }
}
