//! What every measurement shares: the cluster the messages go to, the 200-byte payload (from
//! `tamarco_bench::kafka_consume`), and the resource's settings.

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use tamarco::serde_json::json;
use tamarco_tests::kafka::Broker;

pub(crate) use tamarco_bench::kafka_consume::{Payload, payload};

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
