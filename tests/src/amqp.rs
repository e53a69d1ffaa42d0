//! Support for the AMQP tests and benchmark: unique queue prefixes, settings, and plain lapin
//! helpers to look into queues and clean up. (The TCP proxy is in [`crate::proxy`].)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};
use tamarco::amqp::Pattern;
use tamarco::serde_json::{Value, json};
use tamarco::tokio;

/// The machine's RabbitMQ.
pub const BROKER: &str = "127.0.0.1:5672";

/// The broker's URI for plain lapin (guest/guest, vhost `/`).
pub const BROKER_URI: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A queue prefix no other test (or run) uses: `t.<test>.<pid>.<n>`.
pub fn unique_prefix(test: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "t.{test}.{}.{nanos:x}{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// In-code settings for a test service: no report server, and the resources in `amqp`
/// (`{"amqp": {...}}` by resource name) merged over `queues_prefix = prefix`.
pub fn settings(prefix: &str, resources: Value) -> Value {
    let mut settings = crate::quiet_settings();
    let all = settings["system"]["resources"]
        .as_object_mut()
        .expect("resources is a map");
    let mut resources = match resources {
        Value::Object(map) => map,
        _ => Default::default(),
    };
    if resources.is_empty() {
        resources.insert("amqp".into(), json!({}));
    }
    for (name, mut extra) in resources {
        let entry = extra.as_object_mut().expect("resource settings are a map");
        entry
            .entry("queues_prefix")
            .or_insert_with(|| json!(prefix));
        all.insert(name, extra);
    }
    settings
}

/// A plain lapin connection to the machine's broker.
pub async fn connect() -> Connection {
    Connection::connect(BROKER_URI, ConnectionProperties::default())
        .await
        .expect("RabbitMQ on 127.0.0.1:5672 (guest/guest)")
}

/// Takes every message now in `queue` (acked), waiting up to `wait` for the first.
pub async fn take_all(
    connection: &Connection,
    queue: &str,
    wait: Duration,
) -> Vec<lapin::message::Delivery> {
    let channel = connection.create_channel().await.expect("a channel");
    let deadline = tokio::time::Instant::now() + wait;
    let mut taken = Vec::new();
    loop {
        let got = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get");
        match got {
            Some(message) => taken.push(message.delivery),
            None if taken.is_empty() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            None => break,
        }
    }
    let _ = channel.close(200, "OK".into()).await;
    taken
}

/// The bodies of every message now in `queue` (taken and acked), on a connection of its own;
/// waits up to `wait` for the first.
pub async fn take_bodies(queue: &str, wait: Duration) -> Vec<Vec<u8>> {
    let connection = connect().await;
    let taken = take_all(&connection, queue, wait).await;
    let _ = connection.close(200, "OK".into()).await;
    taken.into_iter().map(|delivery| delivery.data).collect()
}

/// The full name of a queue or exchange for `prefix`.
pub fn full_name(prefix: &str, pattern: Pattern, queue: &str) -> String {
    format!("{prefix}.{pattern}.{queue}")
}

/// Deletes what the resource declared for `(pattern, queue)` under `prefix`: the queue or
/// exchange and its dead-letter queue.
pub async fn cleanup(prefix: &str, endpoints: &[(Pattern, &str)]) {
    let connection = connect().await;
    for &(pattern, queue) in endpoints {
        let name = full_name(prefix, pattern, queue);
        let channel = connection.create_channel().await.expect("a channel");
        match pattern {
            Pattern::PublishSubscribe => {
                let _ = channel
                    .exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default())
                    .await;
            }
            _ => {
                let _ = channel
                    .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
        }
        let _ = channel
            .queue_delete(
                format!("{name}.dead_letter").as_str().into(),
                QueueDeleteOptions::default(),
            )
            .await;
        let _ = channel.close(200, "OK".into()).await;
    }
    let _ = connection.close(200, "OK".into()).await;
}

/// Deletes what a test declared when dropped, even when the test panics: the queue or
/// exchange of each `(pattern, queue)` under the prefix, and its dead-letter queue.
#[derive(Debug)]
pub struct Cleanup {
    prefix: String,
    endpoints: Vec<(Pattern, String)>,
}

impl Cleanup {
    /// Cleans up `endpoints` under `prefix` on drop.
    pub fn new(prefix: &str, endpoints: &[(Pattern, &str)]) -> Cleanup {
        Cleanup {
            prefix: prefix.to_owned(),
            endpoints: endpoints
                .iter()
                .map(|&(pattern, queue)| (pattern, queue.to_owned()))
                .collect(),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let prefix = std::mem::take(&mut self.prefix);
        let endpoints = std::mem::take(&mut self.endpoints);
        // A runtime of its own, on a thread of its own: this may run inside the test's runtime.
        let cleaning = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let endpoints: Vec<(Pattern, &str)> =
                    endpoints.iter().map(|(p, q)| (*p, q.as_str())).collect();
                let _ = tokio::time::timeout(Duration::from_secs(10), cleanup(&prefix, &endpoints))
                    .await;
            });
        });
        let _ = cleaning.join();
    }
}
