//! Benchmark of the Kafka resource (run it through `tests/bench/kafka.sh`), first against
//! librdkafka's in-process mock cluster (fast: the clients' own cost shows), then against its
//! own tansu broker on a free loopback port (a real Kafka-protocol broker, SQLite storage):
//!
//! - produce throughput of 200-byte JSON messages through a tamarco `Output` and through a
//!   plain rdkafka `FutureProducer`, with the same number of messages in flight;
//! - consume throughput of the same messages through a tamarco handler input and through a
//!   plain rdkafka `StreamConsumer` loop doing the same work (decode the JSON, store the offset
//!   for an at-least-once commit);
//! - end-to-end latency from `push` to the handler at a low rate (median and 99th percentile).
//!
//! Each throughput pair runs ROUNDS times, alternating which side goes first; the median of
//! each side is reported with the ratio tamarco / plain (the goal is 0.9 or better).
//!
//! Usage: `bench_kafka [MESSAGES] [ROUNDS]` (defaults 50000 and 5).
//!
//! The parts: `setup` (the two clusters, the payload, the resource's settings), `throughput`
//! (its rounds of `produce` and `consume`, each through tamarco and plain rdkafka) and
//! `latency`.

mod consume;
mod latency;
mod produce;
mod setup;
mod throughput;

use rdkafka::mocking::MockCluster;
use tamarco::tokio;
use tamarco_tests::kafka::Broker;

use setup::{Cluster, payload};

fn main() {
    let mut args = std::env::args().skip(1);
    let messages: u64 = args.next().map_or(50_000, |n| n.parse().expect("MESSAGES"));
    let rounds: usize = args.next().map_or(5, |n| n.parse().expect("ROUNDS"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(messages, rounds));
}

async fn bench(messages: u64, rounds: usize) {
    assert_eq!(
        tamarco::serde_json::to_vec(&payload(123_456, 987_654_321))
            .unwrap()
            .len(),
        200
    );
    // The mock cluster stalls with more than about 10000 records in a topic; more rounds
    // make up for the shorter runs.
    let mock = Cluster::Mock(MockCluster::new(1).expect("a mock cluster"));
    throughput::throughput(&mock, messages.min(10_000), rounds * 2).await;
    drop(mock);
    let tansu = Cluster::Tansu(Broker::start());
    throughput::throughput(&tansu, messages, rounds).await;
    latency::latencies(&tansu).await;
}
