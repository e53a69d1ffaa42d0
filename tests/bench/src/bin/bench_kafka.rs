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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message as _};
use tamarco::MicroserviceContext;
use tamarco::codec::Json;
use tamarco::resources::kafka::{Kafka, Message};
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::json;
use tamarco::tokio;
use tamarco_tests::kafka::{Broker, unique_topic};

/// Where the messages go: tansu (a real Kafka-protocol broker, with SQLite storage) or
/// librdkafka's in-process mock cluster (fast, so that the clients' own cost shows).
enum Cluster {
    Tansu(Broker),
    Mock(MockCluster<'static, DefaultProducerContext>),
}

impl Cluster {
    fn name(&self) -> &'static str {
        match self {
            Cluster::Tansu(_) => "tansu (sqlite) on loopback",
            Cluster::Mock(_) => "librdkafka mock cluster, in process",
        }
    }

    fn bootstrap(&self) -> String {
        match self {
            Cluster::Tansu(broker) => broker.bootstrap(),
            Cluster::Mock(mock) => mock.bootstrap_servers(),
        }
    }

    fn create_topic(&self, topic: &str, partitions: u32) {
        match self {
            Cluster::Tansu(broker) => broker.create_topic(topic, partitions),
            Cluster::Mock(mock) => mock
                .create_topic(topic, i32::try_from(partitions).unwrap(), 1)
                .unwrap(),
        }
    }
}

/// Messages in flight while producing.
const WINDOW: usize = 1000;
const PARTITIONS: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Payload {
    id: u64,
    /// Microseconds since the benchmark's epoch, for latency.
    sent_us: u64,
    body: String,
}

/// A payload whose JSON is exactly 200 bytes (ids and times up to 12 digits).
fn payload(id: u64, sent_us: u64) -> Payload {
    let mut p = Payload {
        id,
        sent_us,
        body: String::new(),
    };
    let base = tamarco::serde_json::to_vec(&p).unwrap().len();
    p.body = "x".repeat(200 - base);
    p
}

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
    throughput(&mock, messages.min(10_000), rounds * 2).await;
    drop(mock);
    let tansu = Cluster::Tansu(Broker::start());
    throughput(&tansu, messages, rounds).await;
    latencies(&tansu).await;
}

async fn throughput(broker: &Cluster, messages: u64, rounds: usize) {
    println!(
        "kafka: {messages} messages of 200 bytes of JSON, {rounds} rounds, {WINDOW} in flight, \
         {PARTITIONS} partition, {}",
        broker.name()
    );
    let (mut produce_t, mut produce_p) = (Vec::new(), Vec::new());
    let (mut consume_t, mut consume_p) = (Vec::new(), Vec::new());
    let (mut whole_t, mut whole_p) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let topic = unique_topic("bench");
        broker.create_topic(&topic, PARTITIONS);
        let other = unique_topic("bench");
        broker.create_topic(&other, PARTITIONS);
        // Alternate which side runs first, so that neither always gets the warmer broker.
        if round % 2 == 0 {
            produce_t.push(produce_tamarco(broker, &topic, messages).await);
            produce_p.push(produce_plain(broker, &other, messages).await);
        } else {
            produce_p.push(produce_plain(broker, &other, messages).await);
            produce_t.push(produce_tamarco(broker, &topic, messages).await);
        }
        // Both topics now hold `messages` records; each side consumes one of them.
        // Each consumer is in a new group, so each reads the whole topic.
        let mut t = [0.0; 2];
        let mut p = [0.0; 2];
        for (i, pause) in [true, false].into_iter().enumerate() {
            if round % 2 == 0 {
                t[i] = consume_tamarco(broker, &topic, messages, pause).await;
                p[i] = consume_plain(broker, &other, messages, pause).await;
            } else {
                p[i] = consume_plain(broker, &other, messages, pause).await;
                t[i] = consume_tamarco(broker, &topic, messages, pause).await;
            }
        }
        consume_t.push(t[0]);
        whole_t.push(t[1]);
        consume_p.push(p[0]);
        whole_p.push(p[1]);
        println!(
            "  round {}: produce {:.0} vs {:.0} msg/s; consume, client-side {:.0} vs {:.0} msg/s, \
             from start {:.0} vs {:.0} msg/s (tamarco vs plain)",
            round + 1,
            produce_t[round],
            produce_p[round],
            t[0],
            p[0],
            t[1],
            p[1]
        );
    }
    ratio("produce", &mut produce_t, &mut produce_p);
    ratio(
        "consume, client-side (all fetched before the clock starts)",
        &mut consume_t,
        &mut consume_p,
    );
    ratio(
        "consume, from start (connect, join, fetch, handle)",
        &mut whole_t,
        &mut whole_p,
    );
}

async fn latencies(broker: &Cluster) {
    // tansu answers a fetch only after waiting about half of `fetch.wait.max.ms` (500 by
    // default), even when records are there; a Kafka broker answers as soon as they arrive.
    let tunings = [
        ("default client settings", json!({})),
        (
            "fetch.wait.max.ms 10, linger.ms 0",
            json!({"consumer": {"fetch.wait.max.ms": 10}, "producer": {"linger.ms": 0}}),
        ),
    ];
    for (label, extra) in tunings {
        let rate = 50;
        let mut latencies = latency(broker, rate, Duration::from_secs(10), extra).await;
        latencies.sort_by(f64::total_cmp);
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
        println!(
            "latency push -> handler at {rate} msg/s, {label} ({} samples): median {:.2} ms, \
             p99 {:.2} ms, max {:.2} ms",
            latencies.len(),
            at(0.5),
            at(0.99),
            at(1.0),
        );
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn ratio(what: &str, tamarco: &mut [f64], plain: &mut [f64]) {
    let (t, p) = (median(tamarco), median(plain));
    println!(
        "{what}: tamarco {t:.0} msg/s, plain rdkafka {p:.0} msg/s, ratio {:.3} (goal >= 0.9)",
        t / p
    );
}

fn settings(broker: &Cluster, extra: tamarco::serde_json::Value) -> tamarco::serde_json::Value {
    let mut kafka = json!({"bootstrap_servers": [broker.bootstrap()]});
    if let (Some(kafka), Some(extra)) = (kafka.as_object_mut(), extra.as_object()) {
        kafka.extend(extra.clone());
    }
    json!({"system": {"resources": {"kafka": kafka}}})
}

async fn produce_tamarco(broker: &Cluster, topic: &str, messages: u64) -> f64 {
    let mut cx = MicroserviceContext::new("bench_producer");
    cx.settings()
        .update_internal(settings(broker, json!({})))
        .unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    let output = kafka.output(topic, Json);
    cx.start().await.unwrap();
    let began = Instant::now();
    let mut in_flight = VecDeque::with_capacity(WINDOW);
    for id in 0..messages {
        if in_flight.len() == WINDOW {
            let pending: tamarco::resources::kafka::Pending = in_flight.pop_front().unwrap();
            pending.await.unwrap();
        }
        in_flight.push_back(output.message(&payload(id, 0)).enqueue().unwrap());
    }
    for pending in in_flight {
        pending.await.unwrap();
    }
    let rate = messages as f64 / began.elapsed().as_secs_f64();
    cx.stop().await.unwrap();
    rate
}

async fn produce_plain(broker: &Cluster, topic: &str, messages: u64) -> f64 {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .unwrap();
    // The same first step as the resource's start: a metadata round trip.
    let probe = producer.clone();
    tokio::task::spawn_blocking(move || {
        use rdkafka::producer::Producer as _;
        probe
            .client()
            .fetch_metadata(None, Duration::from_secs(10))
            .map(|_| ())
    })
    .await
    .unwrap()
    .unwrap();
    let began = Instant::now();
    let mut in_flight = VecDeque::with_capacity(WINDOW);
    for id in 0..messages {
        if in_flight.len() == WINDOW {
            let delivery: rdkafka::producer::DeliveryFuture = in_flight.pop_front().unwrap();
            delivery.await.unwrap().unwrap();
        }
        let body = tamarco::serde_json::to_vec(&payload(id, 0)).unwrap();
        let record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).payload(&body);
        in_flight.push_back(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    for delivery in in_flight {
        delivery.await.unwrap().unwrap();
    }
    let rate = messages as f64 / began.elapsed().as_secs_f64();
    tokio::task::spawn_blocking(move || drop(producer))
        .await
        .unwrap();
    rate
}

/// Consumer options both sides use: fetch everything in one go.
const FETCH: [(&str, &str); 2] = [
    ("max.partition.fetch.bytes", "67108864"),
    ("fetch.max.bytes", "134217728"),
];

/// How long the consumers wait after the first message, so that the rest is fetched before
/// the client-side clock starts.
const PREFETCH: Duration = Duration::from_secs(3);

/// Consumes `messages` records with a handler input, and returns messages per second. With
/// `pause`, the clock runs from the end of a pause after the first message (everything
/// fetched by then) to the last: the client's own cost. Without, from the start of the
/// resource to the last message: connect, join, fetch and handle.
async fn consume_tamarco(broker: &Cluster, topic: &str, messages: u64, pause: bool) -> f64 {
    let mut cx = MicroserviceContext::new("bench_consumer");
    let fetch: tamarco::serde_json::Map<String, tamarco::serde_json::Value> = FETCH
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    cx.settings()
        .update_internal(settings(
            broker,
            json!({"group_id": unique_topic("group"), "consumer": fetch}),
        ))
        .unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    let count = Arc::new(AtomicU64::new(0));
    let first: Arc<Mutex<Option<Instant>>> = Arc::default();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let done_tx = Arc::new(Mutex::new(Some(done_tx)));
    {
        let (count, first) = (Arc::clone(&count), Arc::clone(&first));
        kafka
            .input(topic, Json)
            .handle(move |message: Message<Payload>| {
                let n = count.fetch_add(1, Ordering::Relaxed) + 1;
                std::hint::black_box(message.value().id);
                if n == messages
                    && let Some(tx) = done_tx.lock().unwrap().take()
                {
                    let _ = tx.send(Instant::now());
                }
                let first = (n == 1).then(|| Arc::clone(&first));
                async move {
                    if let Some(first) = first {
                        if pause {
                            tokio::time::sleep(PREFETCH).await;
                        }
                        *first.lock().unwrap() = Some(Instant::now());
                    }
                    Ok::<_, std::convert::Infallible>(())
                }
            })
            .unwrap();
    }
    let started = Instant::now();
    cx.start().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(300), done_rx)
        .await
        .expect("all consumed in time")
        .unwrap();
    let began = first.lock().unwrap().unwrap();
    cx.stop().await.unwrap();
    if pause {
        (messages - 1) as f64 / ended.duration_since(began).as_secs_f64()
    } else {
        messages as f64 / ended.duration_since(started).as_secs_f64()
    }
}

/// The same work with plain rdkafka: decode, store the offset, auto-commit the store; the
/// clocks as for [`consume_tamarco`].
async fn consume_plain(broker: &Cluster, topic: &str, messages: u64, pause: bool) -> f64 {
    let started = Instant::now();
    let mut config = ClientConfig::new();
    for (key, value) in FETCH {
        config.set(key, value);
    }
    let consumer: StreamConsumer = config
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", unique_topic("group"))
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut began = None;
    let consumed = tokio::time::timeout(Duration::from_secs(300), async {
        for n in 1..=messages {
            let message = consumer.recv().await.unwrap();
            let payload: Payload =
                tamarco::serde_json::from_slice(message.payload().unwrap()).unwrap();
            std::hint::black_box(payload.id);
            consumer.store_offset_from_message(&message).unwrap();
            drop(message);
            if n == 1 {
                if pause {
                    tokio::time::sleep(PREFETCH).await;
                }
                began = Some(Instant::now());
            }
        }
        Instant::now()
    })
    .await
    .expect("all consumed in time");
    let rate = if pause {
        (messages - 1) as f64 / consumed.duration_since(began.unwrap()).as_secs_f64()
    } else {
        messages as f64 / consumed.duration_since(started).as_secs_f64()
    };
    tokio::task::spawn_blocking(move || drop(consumer))
        .await
        .unwrap();
    rate
}

/// Pushes at `rate` per second for `length` through one service's output to its own input;
/// returns each message's push-to-handler time in milliseconds.
async fn latency(
    broker: &Cluster,
    rate: u32,
    length: Duration,
    extra: tamarco::serde_json::Value,
) -> Vec<f64> {
    let topic = unique_topic("latency");
    broker.create_topic(&topic, 1);
    let mut cx = MicroserviceContext::new("bench_latency");
    cx.settings()
        .update_internal(settings(broker, extra))
        .unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    let epoch = Instant::now();
    let samples: Arc<Mutex<Vec<f64>>> = Arc::default();
    {
        let samples = Arc::clone(&samples);
        kafka
            .input(&topic, Json)
            .handle(move |message: Message<Payload>| {
                let now = epoch.elapsed().as_micros() as u64;
                let took = now.saturating_sub(message.value().sent_us);
                samples.lock().unwrap().push(took as f64 / 1000.0);
                async { Ok::<_, std::convert::Infallible>(()) }
            })
            .unwrap();
    }
    let output = kafka.output(&topic, Json);
    cx.start().await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), kafka.joined())
        .await
        .expect("joined");
    let total = (rate as u64) * length.as_secs();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    for id in 0..total {
        tick.tick().await;
        let sent_us = epoch.elapsed().as_micros() as u64;
        output.push(&payload(id, sent_us)).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while (samples.lock().unwrap().len() as u64) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cx.stop().await.unwrap();
    samples.lock().unwrap().clone()
}
