//! The Kafka resource against a real Kafka-protocol broker (tansu, installed by
//! `.ci/services`): each test starts its own broker on a free loopback port, with its own
//! topics, and every wait is bounded.
//!
//! The tests by concept: `delivery` (between two services, what a handler sees, each codec),
//! `commits` (what is committed across a dropped delivery, a new consumer and a graceful stop),
//! `dead_letters`, `groups` (two consumers sharing the partitions), `subscriptions` (inputs that
//! name their group, offset reset and topics) and `failures` (no broker, refused options, a
//! broker outage). The services and helpers they share are below.

mod commits;
mod dead_letters;
mod delivery;
mod failures;
mod groups;
mod subscriptions;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tamarco::TaskSet;
use tamarco::codec::{Codec, Json, Postcard, Raw, Text, Yaml};
use tamarco::prelude::*;
use tamarco::resources::kafka::{Headers, Kafka, Message, TopicOutput, dead_letter_headers};
use tamarco::serde_json::{Value, json};
use tamarco::testing::TestService;
use tamarco_tests::kafka::{Broker, unique_topic};
use tamarco_tests::{Order, order, wait_until};

const WAIT: Duration = Duration::from_secs(60);

/// What a handler saw of one message.
#[derive(Debug, Clone)]
struct Seen {
    order: Order,
    key: Option<String>,
    headers: Headers,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    attempt: u32,
}

impl Seen {
    fn of(message: &Message<Order>) -> Seen {
        Seen {
            order: message.value().clone(),
            key: message.key_str().map(str::to_owned),
            headers: message.headers().clone(),
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp_millis(),
            attempt: message.attempt(),
        }
    }
}

/// In-code settings: no report server, this test's broker, quick retries and commits.
fn settings(broker: &Broker) -> Value {
    json!({"system": {"resources": {
        "tamarco_http_report_server": {"enabled": false},
        "kafka": {
            "bootstrap_servers": [broker.bootstrap()],
            "retry_backoff": "10ms",
            "commit_interval": "200ms",
        },
    }}})
}

/// Starts `service` in-process against this test's broker.
async fn start<S: TaskSet>(service: S, broker: &Broker) -> TestService<S> {
    start_with(service, settings(broker)).await
}

async fn start_with<S: TaskSet>(service: S, settings: Value) -> TestService<S> {
    TestService::builder(service)
        .settings(settings)
        .start()
        .await
        .expect("the service starts")
}

/// Waits (bounded) until every input of `kafka` joined its group.
async fn joined(kafka: &Kafka) {
    tokio::time::timeout(WAIT, kafka.joined())
        .await
        .expect("the inputs join their group in time");
}

/// The topic the declarative services below read and write: each test has a broker of its
/// own, so the name needs no suffix.
const ORDERS: &str = "orders";

/// A service that pushes orders, through an `#[output]` field.
#[microservice(name = "order_producer")]
#[derive(Default)]
struct OrderProducer {
    #[resource]
    kafka: Kafka,
    #[output(kafka, topic = "orders")]
    orders: TopicOutput<Order>,
}

#[microservice]
impl OrderProducer {}

/// A service that consumes orders with an `#[input]` handler method.
#[microservice(name = "order_consumer")]
#[derive(Default)]
struct OrderConsumer {
    #[resource]
    kafka: Kafka,
    seen: Mutex<Vec<Seen>>,
    /// Orders with this item fail in the handler.
    poison: Option<String>,
    /// How long each handler runs.
    work: Duration,
    started: AtomicUsize,
    finished: AtomicUsize,
}

#[microservice]
impl OrderConsumer {
    #[input(kafka, topic = "orders", retries = 2)]
    async fn on_order(&self, message: Message<Order>) -> Result<(), BoxError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        if !self.work.is_zero() {
            tokio::time::sleep(self.work).await;
        }
        if self.poison.as_deref() == Some(message.value().item.as_str()) {
            self.finished.fetch_add(1, Ordering::SeqCst);
            return Err(format!("order {} is poisoned", message.value().id).into());
        }
        self.seen.lock().unwrap().push(Seen::of(&message));
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl OrderConsumer {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn ids(&self) -> Vec<u64> {
        self.seen().iter().map(|s| s.order.id).collect()
    }
}
