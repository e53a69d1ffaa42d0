//! Kafka consume on the client alone: librdkafka's in-process mock cluster, the topic filled
//! beforehand by a plain producer, each consumer paused after its first record until the rest
//! is fetched; then the clock and the process's CPU time run to the last record. Both sides do
//! the same work per record: decode 200 bytes of JSON, mark the record done for an
//! at-least-once commit (tamarco: a handler input; plain: a `StreamConsumer` loop storing the
//! offset). Run through `tests/bench/kafka.sh`.
//!
//! - `bench_kafka_client [MESSAGES] [ROUNDS]`: both sides ROUNDS times, alternating which goes
//!   first; the median msg/s and CPU ns per record of each, and the ratios (defaults 8000, 10).
//! - `bench_kafka_client one <tamarco|plain> CONSUMED PRODUCED`: one side once, without the
//!   pause, for `valgrind --tool=callgrind`: instructions per record are the difference of a
//!   run with 2N and one with N records consumed (of the same PRODUCED), divided by N.
//!
//! The mock cluster stalls with more than about 10000 records in a topic: keep MESSAGES and
//! PRODUCED under it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message as _};
use tamarco::MicroserviceContext;
use tamarco::codec::Json;
use tamarco::resources::kafka::{Kafka, Message};
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::json;
use tamarco::tokio;
use tamarco_tests::kafka::unique_topic;

type Mock = MockCluster<'static, DefaultProducerContext>;

/// Consumer options both sides use: fetch everything in one go.
const FETCH: [(&str, &str); 2] = [
    ("max.partition.fetch.bytes", "67108864"),
    ("fetch.max.bytes", "134217728"),
];

/// How long a consumer waits after its first record, so that the rest is fetched before the
/// clock starts.
const PREFETCH: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Payload {
    id: u64,
    sent_us: u64,
    body: String,
}

/// The JSON of a 200-byte payload.
fn body(id: u64) -> Vec<u8> {
    let mut p = Payload {
        id,
        sent_us: 0,
        body: String::new(),
    };
    let base = tamarco::serde_json::to_vec(&p).unwrap().len();
    p.body = "x".repeat(200 - base);
    tamarco::serde_json::to_vec(&p).unwrap()
}

/// This process's CPU time so far, all threads, in nanoseconds (the scheduler's per-thread
/// run time, `/proc/self/task/*/schedstat`; threads that ended are not counted).
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// What one side measured: records per second and CPU nanoseconds per record.
#[derive(Debug, Clone, Copy)]
struct Measured {
    rate: f64,
    cpu_ns: f64,
}

/// A moment: wall clock and CPU time.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    cpu: u64,
}

impl Mark {
    fn now() -> Mark {
        Mark {
            at: Instant::now(),
            cpu: cpu_ns(),
        }
    }

    fn to(self, end: Mark, records: u64) -> Measured {
        Measured {
            rate: records as f64 / end.at.duration_since(self.at).as_secs_f64(),
            cpu_ns: end.cpu.saturating_sub(self.cpu) as f64 / records as f64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Tamarco,
    Plain,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if args.first().map(String::as_str) == Some("one") {
        let side = match args.get(1).map(String::as_str) {
            Some("tamarco") => Side::Tamarco,
            Some("plain") => Side::Plain,
            _ => panic!("usage: bench_kafka_client one <tamarco|plain> CONSUMED PRODUCED"),
        };
        let consumed: u64 = args[2].parse().expect("CONSUMED");
        let produced: u64 = args[3].parse().expect("PRODUCED");
        assert!(consumed <= produced, "CONSUMED <= PRODUCED");
        runtime.block_on(async {
            let mock = MockCluster::new(1).expect("a mock cluster");
            let topic = filled(&mock, produced).await;
            consume(&mock, &topic, side, consumed, false).await;
            println!("{side:?}: consumed {consumed} of {produced}");
        });
        return;
    }
    let messages: u64 = args.first().map_or(8_000, |n| n.parse().expect("MESSAGES"));
    let rounds: usize = args.get(1).map_or(10, |n| n.parse().expect("ROUNDS"));
    runtime.block_on(rounds_of(messages, rounds));
}

async fn rounds_of(messages: u64, rounds: usize) {
    println!(
        "kafka consume, client alone: {messages} records of 200 bytes of JSON, {rounds} rounds, \
         librdkafka mock cluster in process, 1 partition, all fetched before the clock starts"
    );
    let mock = MockCluster::new(1).expect("a mock cluster");
    let (mut tamarco, mut plain) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let topic = filled(&mock, messages).await;
        let order = match round % 2 {
            0 => [Side::Tamarco, Side::Plain],
            _ => [Side::Plain, Side::Tamarco],
        };
        for side in order {
            let measured = consume(&mock, &topic, side, messages, true).await;
            match side {
                Side::Tamarco => tamarco.push(measured),
                Side::Plain => plain.push(measured),
            }
        }
        let (t, p) = (tamarco[round], plain[round]);
        println!(
            "  round {}: tamarco {:.0} msg/s, {:.0} ns CPU/record; plain {:.0} msg/s, {:.0} ns \
             CPU/record",
            round + 1,
            t.rate,
            t.cpu_ns,
            p.rate,
            p.cpu_ns
        );
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (mut tr, mut pr): (Vec<f64>, Vec<f64>) = (
        tamarco.iter().map(|m| m.rate).collect(),
        plain.iter().map(|m| m.rate).collect(),
    );
    let (mut tc, mut pc): (Vec<f64>, Vec<f64>) = (
        tamarco.iter().map(|m| m.cpu_ns).collect(),
        plain.iter().map(|m| m.cpu_ns).collect(),
    );
    let (tr, pr, tc, pc) = (
        median(&mut tr),
        median(&mut pr),
        median(&mut tc),
        median(&mut pc),
    );
    println!(
        "throughput: tamarco {tr:.0} msg/s, plain rdkafka {pr:.0} msg/s, ratio {:.3} (goal >= 0.9)",
        tr / pr
    );
    println!(
        "CPU per record: tamarco {tc:.0} ns, plain rdkafka {pc:.0} ns, ratio plain/tamarco {:.3}",
        pc / tc
    );
}

/// A new topic of `messages` records, produced by a plain producer.
async fn filled(mock: &Mock, messages: u64) -> String {
    let topic = unique_topic("bench");
    mock.create_topic(&topic, 1, 1).unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", mock.bootstrap_servers())
        .create()
        .unwrap();
    let mut in_flight = Vec::with_capacity(messages as usize);
    for id in 0..messages {
        let body = body(id);
        let record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&topic).payload(&body);
        in_flight.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    for delivery in in_flight {
        delivery.await.unwrap().unwrap();
    }
    tokio::task::spawn_blocking(move || drop(producer))
        .await
        .unwrap();
    topic
}

/// Consumes `messages` records of `topic` on `side`, in a new group. With `pause`, measures
/// from the end of a pause after the first record to the last.
async fn consume(mock: &Mock, topic: &str, side: Side, messages: u64, pause: bool) -> Measured {
    match side {
        Side::Tamarco => consume_tamarco(mock, topic, messages, pause).await,
        Side::Plain => consume_plain(mock, topic, messages, pause).await,
    }
}

async fn consume_tamarco(mock: &Mock, topic: &str, messages: u64, pause: bool) -> Measured {
    let mut cx = MicroserviceContext::new("bench_consumer");
    let fetch: tamarco::serde_json::Map<String, tamarco::serde_json::Value> = FETCH
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let settings = json!({"system": {"resources": {"kafka": {
        "bootstrap_servers": [mock.bootstrap_servers()],
        "group_id": unique_topic("group"),
        "consumer": fetch,
    }}}});
    cx.settings().update_internal(settings).unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    let count = Arc::new(AtomicU64::new(0));
    let first: Arc<Mutex<Option<Mark>>> = Arc::default();
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
                    let _ = tx.send(Mark::now());
                }
                let first = (n == 1).then(|| Arc::clone(&first));
                async move {
                    if let Some(first) = first {
                        if pause {
                            tokio::time::sleep(PREFETCH).await;
                        }
                        *first.lock().unwrap() = Some(Mark::now());
                    }
                    Ok::<_, std::convert::Infallible>(())
                }
            })
            .unwrap();
    }
    cx.start().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(600), done_rx)
        .await
        .expect("all consumed in time")
        .unwrap();
    let began = first.lock().unwrap().unwrap();
    cx.stop().await.unwrap();
    began.to(ended, messages - 1)
}

async fn consume_plain(mock: &Mock, topic: &str, messages: u64, pause: bool) -> Measured {
    let mut config = ClientConfig::new();
    for (key, value) in FETCH {
        config.set(key, value);
    }
    let consumer: StreamConsumer = config
        .set("bootstrap.servers", mock.bootstrap_servers())
        .set("group.id", unique_topic("group"))
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut began = None;
    let ended = tokio::time::timeout(Duration::from_secs(600), async {
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
                began = Some(Mark::now());
            }
        }
        Mark::now()
    })
    .await
    .expect("all consumed in time");
    tokio::task::spawn_blocking(move || drop(consumer))
        .await
        .unwrap();
    began.unwrap().to(ended, messages - 1)
}
