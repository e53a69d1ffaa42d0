//! Consume throughput: a tamarco handler input against a plain rdkafka `StreamConsumer` loop
//! doing the same work.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Message as _};
use tamarco::MicroserviceContext;
use tamarco::codec::Json;
use tamarco::resources::kafka::{Kafka, Message};
use tamarco::serde_json::json;
use tamarco::tokio;
use tamarco_tests::kafka::unique_topic;

use crate::setup::{Cluster, Payload, settings};

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
pub(crate) async fn consume_tamarco(
    broker: &Cluster,
    topic: &str,
    messages: u64,
    pause: bool,
) -> f64 {
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
pub(crate) async fn consume_plain(
    broker: &Cluster,
    topic: &str,
    messages: u64,
    pause: bool,
) -> f64 {
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
