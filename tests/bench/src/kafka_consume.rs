//! Kafka consume, measured the same way by `bench_kafka` (mock cluster and tansu) and
//! `bench_kafka_client` (mock cluster, with CPU time): the 200-byte JSON payload, and one pass
//! over a filled topic through a tamarco handler input or through a plain rdkafka
//! `StreamConsumer` loop. Both sides do the same work per record: decode the JSON, and mark the
//! record done for an at-least-once commit (tamarco: the handler returns `Ok`; plain: the
//! offset is stored, and auto-commit commits the store).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Message as _};
use tamarco::MicroserviceContext;
use tamarco::codec::Json;
use tamarco::resources::kafka::{Kafka, Message};
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::{Map, Value, json};
use tamarco::tokio;
use tamarco::tokio::sync::Notify;
use tamarco_tests::kafka::unique_topic;

/// Consumer options both sides use: fetch everything in one go.
pub const FETCH: [(&str, &str); 2] = [
    ("max.partition.fetch.bytes", "67108864"),
    ("fetch.max.bytes", "134217728"),
];

/// What every record carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
pub struct Payload {
    /// Its number.
    pub id: u64,
    /// Microseconds since the benchmark's epoch, for latency (0 elsewhere).
    pub sent_us: u64,
    body: String,
}

/// A payload whose JSON is exactly 200 bytes (ids and times up to 12 digits).
pub fn payload(id: u64, sent_us: u64) -> Payload {
    let mut p = Payload {
        id,
        sent_us,
        body: String::new(),
    };
    let base = tamarco::serde_json::to_vec(&p).unwrap().len();
    p.body = "x".repeat(200 - base);
    p
}

/// What a pass does between its first record and the start of its clock.
#[derive(Debug, Clone, Default)]
pub enum Hold {
    /// Nothing: the clock begins at once.
    #[default]
    None,
    /// Waits this long, so that the rest is fetched before the clock begins.
    For(Duration),
    /// Waits for its gate to open; after its last record, waits for the gate to close before
    /// it stops its consumer. Two passes held this way can be run one right after the other,
    /// a few milliseconds apart, with neither consumer's start or stop in the other's clock.
    Gate(Arc<Gate>),
}

impl Hold {
    /// After the first record.
    async fn begin(&self) {
        match self {
            Hold::None => {}
            Hold::For(pause) => tokio::time::sleep(*pause).await,
            Hold::Gate(gate) => {
                gate.held.notify_one();
                gate.open.notified().await;
            }
        }
    }

    /// After the last record, before the consumer stops.
    async fn end(&self) {
        if let Hold::Gate(gate) = self {
            gate.finished.notify_one();
            gate.closed.notified().await;
        }
    }
}

/// Where a [`Hold::Gate`] pass waits, and what it tells its driver.
#[derive(Debug, Default)]
pub struct Gate {
    held: Notify,
    open: Notify,
    finished: Notify,
    closed: Notify,
}

impl Gate {
    /// Waits until the pass holds after its first record.
    pub async fn held(&self) {
        self.held.notified().await;
    }

    /// Lets the pass's clock begin, and waits for its last record.
    pub async fn run(&self) {
        self.open.notify_one();
        self.finished.notified().await;
    }

    /// Lets the pass stop its consumer.
    pub fn close(&self) {
        self.closed.notify_one();
    }
}

/// A moment as a benchmark measures it (a wall clock, or a wall clock with CPU time).
pub trait Clock: Copy + Send + 'static {
    /// Now.
    fn now() -> Self;
}

impl Clock for Instant {
    fn now() -> Self {
        Instant::now()
    }
}

/// The moments of one pass: before the consumer was made, when the clock began (after the
/// first record, and the pause if there was one), after the last record.
#[derive(Debug, Clone, Copy)]
pub struct Pass<K> {
    /// Before the consumer was made.
    pub started: K,
    /// After the first record and the pause.
    pub began: K,
    /// After the last record.
    pub ended: K,
}

/// How a pass runs.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    /// The cluster's bootstrap servers.
    pub bootstrap: &'a str,
    /// The filled topics; each pass reads them whole, in a new consumer group.
    pub topics: &'a [&'a str],
    /// How many records to consume, from all the topics.
    pub messages: u64,
    /// What the pass does after the first record, before its clock begins.
    pub hold: Hold,
    /// The longest a pass may take.
    pub timeout: Duration,
}

/// Consumes with a handler input of a tamarco Kafka resource.
pub async fn consume_tamarco<K: Clock>(run: &Run<'_>) -> Pass<K> {
    let started = K::now();
    let mut cx = MicroserviceContext::new("bench_consumer");
    let fetch: Map<String, Value> = FETCH
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let settings = json!({"system": {"resources": {"kafka": {
        "bootstrap_servers": [run.bootstrap],
        "group_id": unique_topic("group"),
        "consumer": fetch,
    }}}});
    cx.settings().update_internal(settings).unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    let count = Arc::new(AtomicU64::new(0));
    let first: Arc<Mutex<Option<K>>> = Arc::default();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let done_tx = Arc::new(Mutex::new(Some(done_tx)));
    {
        let (count, first, messages, hold) = (
            Arc::clone(&count),
            Arc::clone(&first),
            run.messages,
            run.hold.clone(),
        );
        let mut input = kafka.input(run.topics[0], Json);
        for topic in &run.topics[1..] {
            input = input.topic(topic);
        }
        input
            .handle(move |message: Message<Payload>| {
                let n = count.fetch_add(1, Ordering::Relaxed) + 1;
                std::hint::black_box(message.value().id);
                if n == messages
                    && let Some(tx) = done_tx.lock().unwrap().take()
                {
                    let _ = tx.send(K::now());
                }
                let first = (n == 1).then(|| (Arc::clone(&first), hold.clone()));
                async move {
                    if let Some((first, hold)) = first {
                        hold.begin().await;
                        *first.lock().unwrap() = Some(K::now());
                    }
                    Ok::<_, std::convert::Infallible>(())
                }
            })
            .unwrap();
    }
    cx.start().await.unwrap();
    let ended = tokio::time::timeout(run.timeout, done_rx)
        .await
        .expect("all consumed in time")
        .unwrap();
    let began = first.lock().unwrap().unwrap();
    run.hold.end().await;
    cx.stop().await.unwrap();
    Pass {
        started,
        began,
        ended,
    }
}

/// Consumes with a plain rdkafka `StreamConsumer` loop: decode, store the offset. The loop runs
/// in a task spawned on the runtime, where a service runs it (and where the tamarco input runs),
/// not on the thread that called this.
pub async fn consume_plain<K: Clock>(run: &Run<'_>) -> Pass<K> {
    let started = K::now();
    let mut config = ClientConfig::new();
    for (key, value) in FETCH {
        config.set(key, value);
    }
    let consumer: StreamConsumer = config
        .set("bootstrap.servers", run.bootstrap)
        .set("group.id", unique_topic("group"))
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(run.topics).unwrap();
    let (messages, hold) = (run.messages, run.hold.clone());
    let consuming = tokio::spawn(async move {
        let mut began = None;
        for n in 1..=messages {
            let message = consumer.recv().await.unwrap();
            let payload: Payload =
                tamarco::serde_json::from_slice(message.payload().unwrap()).unwrap();
            std::hint::black_box(payload.id);
            consumer.store_offset_from_message(&message).unwrap();
            drop(message);
            if n == 1 {
                hold.begin().await;
                began = Some(K::now());
            }
        }
        let ended = K::now();
        hold.end().await;
        (consumer, began, ended)
    });
    let (consumer, began, ended) = tokio::time::timeout(run.timeout, consuming)
        .await
        .expect("all consumed in time")
        .unwrap();
    tokio::task::spawn_blocking(move || drop(consumer))
        .await
        .unwrap();
    Pass {
        started,
        began: began.unwrap(),
        ended,
    }
}
