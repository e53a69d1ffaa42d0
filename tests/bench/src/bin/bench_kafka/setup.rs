//! What every measurement shares: the cluster the messages go to, the 200-byte payload, and
//! the resource's settings.

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::json;
use tamarco_tests::kafka::Broker;

/// Where the messages go: tansu (a real Kafka-protocol broker, with SQLite storage) or
/// librdkafka's in-process mock cluster (fast, so that the clients' own cost shows).
pub(crate) enum Cluster {
    Tansu(Broker),
    Mock(MockCluster<'static, DefaultProducerContext>),
}

impl Cluster {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Cluster::Tansu(_) => "tansu (sqlite) on loopback",
            Cluster::Mock(_) => "librdkafka mock cluster, in process",
        }
    }

    pub(crate) fn bootstrap(&self) -> String {
        match self {
            Cluster::Tansu(broker) => broker.bootstrap(),
            Cluster::Mock(mock) => mock.bootstrap_servers(),
        }
    }

    pub(crate) fn create_topic(&self, topic: &str, partitions: u32) {
        match self {
            Cluster::Tansu(broker) => broker.create_topic(topic, partitions),
            Cluster::Mock(mock) => mock
                .create_topic(topic, i32::try_from(partitions).unwrap(), 1)
                .unwrap(),
        }
    }
}

/// Messages in flight while producing.
pub(crate) const WINDOW: usize = 1000;
/// Partitions of each throughput topic.
pub(crate) const PARTITIONS: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
pub(crate) struct Payload {
    pub(crate) id: u64,
    /// Microseconds since the benchmark's epoch, for latency.
    pub(crate) sent_us: u64,
    body: String,
}

/// A payload whose JSON is exactly 200 bytes (ids and times up to 12 digits).
pub(crate) fn payload(id: u64, sent_us: u64) -> Payload {
    let mut p = Payload {
        id,
        sent_us,
        body: String::new(),
    };
    let base = tamarco::serde_json::to_vec(&p).unwrap().len();
    p.body = "x".repeat(200 - base);
    p
}

/// The resource's settings against `broker`, with `extra` keys beside `bootstrap_servers`.
pub(crate) fn settings(
    broker: &Cluster,
    extra: tamarco::serde_json::Value,
) -> tamarco::serde_json::Value {
    let mut kafka = json!({"bootstrap_servers": [broker.bootstrap()]});
    if let (Some(kafka), Some(extra)) = (kafka.as_object_mut(), extra.as_object()) {
        kafka.extend(extra.clone());
    }
    json!({"system": {"resources": {"kafka": kafka}}})
}
