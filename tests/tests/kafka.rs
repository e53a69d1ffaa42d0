//! The Kafka resource against a real Kafka-protocol broker (tansu, installed by
//! `.ci/services`): each test starts its own broker on a free loopback port, with its own
//! topics, and every wait is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tamarco::TaskSet;
use tamarco::codec::{Codec, Json, Postcard, Raw, Text, Yaml};
use tamarco::prelude::*;
use tamarco::resources::kafka::{Headers, Kafka, Message, TopicOutput, dead_letter_headers};
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::{Value, json};
use tamarco::testing::TestService;
use tamarco_tests::kafka::{Broker, unique_topic};

const WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Order {
    id: u64,
    item: String,
}

fn order(id: u64) -> Order {
    Order {
        id,
        item: format!("item-{id}"),
    }
}

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

/// Polls `done` every 20 ms; panics with `what` after `timeout`.
async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn produce_and_consume_between_two_services() {
    let broker = Broker::start();
    let topic = ORDERS.to_owned();
    broker.create_topic(&topic, 3);
    let consumer = start(OrderConsumer::default(), &broker).await;
    joined(&consumer.service().kafka).await;
    let producer = start(OrderProducer::default(), &broker).await;

    for id in 0..30 {
        let receipt = producer
            .service()
            .orders
            .message(&order(id))
            .key(format!("customer-{}", id % 5))
            .push()
            .await
            .expect("the broker acknowledges");
        assert!((0..3).contains(&receipt.partition));
    }
    let service = consumer.service().clone();
    wait_until("30 orders handled", WAIT, || service.seen().len() >= 30).await;

    let seen = service.seen();
    let ids: BTreeSet<u64> = seen.iter().map(|s| s.order.id).collect();
    assert_eq!(ids, (0..30).collect(), "every order arrives once");
    assert_eq!(seen.len(), 30, "no duplicates");
    // Same key, same partition, and in order within it.
    let mut by_key: BTreeMap<String, Vec<&Seen>> = BTreeMap::new();
    for s in &seen {
        by_key.entry(s.key.clone().unwrap()).or_default().push(s);
    }
    for (key, messages) in by_key {
        let partitions: BTreeSet<i32> = messages.iter().map(|s| s.partition).collect();
        assert_eq!(partitions.len(), 1, "key {key} stays on one partition");
        let ids: Vec<u64> = messages.iter().map(|s| s.order.id).collect();
        assert!(ids.is_sorted(), "key {key} in order: {ids:?}");
    }

    producer.stop().await.unwrap();
    consumer.stop().await.unwrap();
    let committed: i64 = broker
        .committed("order_consumer", &topic)
        .iter()
        .flatten()
        .sum();
    assert_eq!(committed, 30, "all 30 committed across the partitions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handler_sees_value_key_headers_partition_offset_and_timestamp() {
    let broker = Broker::start();
    let topic = ORDERS.to_owned();
    broker.create_topic(&topic, 2);
    let consumer = start(OrderConsumer::default(), &broker).await;
    joined(&consumer.service().kafka).await;
    let producer = start(OrderProducer::default(), &broker).await;
    let orders = &producer.service().orders;

    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut receipts = Vec::new();
    for id in 0..4 {
        let receipt = orders
            .message(&order(id))
            .key(format!("k{id}"))
            .header("trace-id", format!("trace-{id}"))
            .header("source", "test")
            .partition(i32::try_from(id % 2).unwrap())
            .push()
            .await
            .unwrap();
        receipts.push(receipt);
    }
    let service = consumer.service().clone();
    wait_until("4 orders handled", WAIT, || service.seen().len() >= 4).await;

    for (id, receipt) in (0..4).zip(&receipts) {
        let seen = service
            .seen()
            .into_iter()
            .find(|s| s.order.id == id)
            .unwrap();
        assert_eq!(seen.order, order(id));
        assert_eq!(seen.key.as_deref(), Some(format!("k{id}").as_str()));
        assert_eq!(
            seen.headers.get_str("trace-id"),
            Some(format!("trace-{id}").as_str())
        );
        assert_eq!(seen.headers.get_str("source"), Some("test"));
        assert_eq!(seen.partition, receipt.partition);
        assert_eq!(seen.partition, i32::try_from(id % 2).unwrap());
        assert_eq!(
            seen.offset, receipt.offset,
            "the offset the broker acknowledged"
        );
        assert_eq!(seen.attempt, 1);
        let timestamp = seen.timestamp.expect("a timestamp");
        assert!(
            (before - 5_000..before + 60_000).contains(&timestamp),
            "timestamp {timestamp} near {before}"
        );
    }
    producer.stop().await.unwrap();
    consumer.stop().await.unwrap();
}

/// Pushes `values` through an output and reads them back from a stream input, with `codec`.
async fn round_trip<T, C>(broker: &Broker, codec: C, values: Vec<T>)
where
    T: Clone + PartialEq + std::fmt::Debug + Send + 'static,
    C: Codec<T> + Clone,
{
    let topic = unique_topic(codec.name());
    broker.create_topic(&topic, 1);
    let mut cx = MicroserviceContext::new("codecs");
    cx.settings().update_internal(settings(broker)).unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    let mut stream = kafka.input(&topic, codec.clone()).stream().unwrap();
    let output = kafka.output(&topic, codec.clone());
    cx.start().await.unwrap();
    for value in &values {
        output.push(value).await.unwrap();
    }
    let mut received = Vec::new();
    while received.len() < values.len() {
        let delivery = tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap_or_else(|_| panic!("{} messages in time", codec.name()))
            .expect("the stream is open");
        received.push(delivery.value().clone());
        delivery.ack().await.expect("acked");
    }
    assert_eq!(received, values, "through the {} codec", codec.name());
    // The body on the wire is the codec's encoding.
    let records = broker.read_topic(&topic, values.len(), WAIT);
    assert_eq!(records[0].payload, codec.encode(&values[0]).unwrap());
    cx.stop().await.unwrap();
    assert_eq!(
        broker.committed("codecs", &topic),
        vec![Some(values.len() as i64)],
        "acked deliveries are committed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typed_payloads_through_each_codec() {
    let broker = Broker::start();
    let orders: Vec<Order> = (0..3).map(order).collect();
    round_trip(&broker, Json, orders.clone()).await;
    round_trip(&broker, Yaml, orders.clone()).await;
    round_trip(&broker, Postcard, orders).await;
    round_trip(
        &broker,
        Text,
        vec![
            "plain text".to_owned(),
            "ünïcödé ✓".to_owned(),
            String::new(),
        ],
    )
    .await;
    round_trip(
        &broker,
        Raw,
        vec![vec![0u8, 159, 146, 150], b"bytes".to_vec()],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_delivery_dropped_unacked_comes_again_and_its_partition_moves_on() {
    let broker = Broker::start();
    let topic = unique_topic("dropped");
    broker.create_topic(&topic, 1);
    let mut cx = MicroserviceContext::new("dropper");
    cx.settings().update_internal(settings(&broker)).unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    let mut stream = kafka.input::<Order>(&topic, Json).stream().unwrap();
    let output = kafka.output(&topic, Json);
    cx.start().await.unwrap();
    for id in 0..5 {
        output.push(&order(id)).await.unwrap();
    }
    let mut seen: Vec<u64> = Vec::new();
    let mut acked = BTreeSet::new();
    // Read until every order was acked once, then what still comes (the records after the
    // dropped one are read again), acking all.
    loop {
        let wait = if acked.len() == 5 {
            Duration::from_secs(3)
        } else {
            WAIT
        };
        let Ok(next) = tokio::time::timeout(wait, stream.next()).await else {
            break;
        };
        let delivery = next.expect("the stream is open");
        let id = delivery.value().id;
        seen.push(id);
        if id == 1 && !seen[..seen.len() - 1].contains(&1) {
            // Dropped unacked: its partition is sought back to it.
            drop(delivery);
            continue;
        }
        delivery.ack().await.expect("acked");
        acked.insert(id);
    }
    assert_eq!(acked, (0..5).collect(), "every order acked: seen {seen:?}");
    assert!(
        seen.iter().filter(|id| **id == 1).count() >= 2,
        "the dropped order came again: {seen:?}"
    );
    drop(stream);
    cx.stop().await.unwrap();
    assert_eq!(
        broker.committed("dropper", &topic),
        vec![Some(5)],
        "the partition is not pinned by the dropped delivery"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_consumer_resumes_after_the_last_commit_and_loses_nothing() {
    let broker = Broker::start();
    let topic = ORDERS.to_owned();
    broker.create_topic(&topic, 1);
    let producer = start(OrderProducer::default(), &broker).await;
    for id in 0..40 {
        producer.service().orders.push(&order(id)).await.unwrap();
    }

    let first = OrderConsumer {
        work: Duration::from_millis(20),
        ..OrderConsumer::default()
    };
    let first = start(first, &broker).await;
    let service = first.service().clone();
    wait_until("the first consumer handled 10", WAIT, || {
        service.seen().len() >= 10
    })
    .await;
    first.stop().await.unwrap();
    let first_ids = service.ids();
    assert!(first_ids.len() < 40, "it stopped halfway");
    assert_eq!(first_ids, (0..first_ids.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        broker.committed("order_consumer", &topic),
        vec![Some(first_ids.len() as i64)],
        "the stop committed everything handled"
    );

    let second = start(OrderConsumer::default(), &broker).await;
    let next = second.service().clone();
    let remaining = 40 - first_ids.len();
    wait_until("the second consumer handled the rest", WAIT, || {
        next.seen().len() >= remaining
    })
    .await;
    let second_ids = next.ids();
    assert_eq!(
        second_ids,
        (first_ids.len() as u64..40).collect::<Vec<_>>(),
        "it resumes right after the last committed message"
    );
    assert_eq!(
        next.seen()[0].offset,
        first_ids.len() as i64,
        "first offset read"
    );
    second.stop().await.unwrap();
    producer.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handler_errors_and_undecodable_messages_go_to_the_dead_letter_topic() {
    let broker = Broker::start();
    let topic = ORDERS.to_owned();
    broker.create_topic(&topic, 1);
    let consumer = OrderConsumer {
        poison: Some("poison".into()),
        ..OrderConsumer::default()
    };
    let consumer = start(consumer, &broker).await;
    joined(&consumer.service().kafka).await;

    let mut cx = MicroserviceContext::new("raw_producer");
    cx.settings().update_internal(settings(&broker)).unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    let orders = kafka.output(&topic, Json);
    let raw = kafka.output::<Vec<u8>>(&topic, Raw);
    cx.start().await.unwrap();
    orders.push(&order(1)).await.unwrap();
    orders
        .message(&Order {
            id: 2,
            item: "poison".into(),
        })
        .key("bad-key")
        .header("origin", "test")
        .push()
        .await
        .unwrap();
    raw.message(&b"{not json".to_vec())
        .key("garbled")
        .push()
        .await
        .unwrap();
    orders.push(&order(3)).await.unwrap();

    let service = consumer.service().clone();
    wait_until("the good orders are handled", WAIT, || {
        service.seen().len() >= 2
    })
    .await;
    assert_eq!(
        service.ids(),
        vec![1, 3],
        "the input moves on past both bad messages"
    );
    assert_eq!(
        service.started.load(Ordering::SeqCst),
        2 + 3,
        "the poisoned order ran 1 + 2 retries"
    );

    let dead = broker.read_topic(&format!("{topic}.dead_letter"), 2, WAIT);
    assert_eq!(dead.len(), 2, "{dead:#?}");
    let handler = &dead[0];
    assert_eq!(handler.key.as_deref(), Some(&b"bad-key"[..]));
    assert_eq!(handler.header("origin").as_deref(), Some("test"));
    assert_eq!(
        handler.header(dead_letter_headers::REASON).as_deref(),
        Some("handler")
    );
    assert_eq!(
        handler.header(dead_letter_headers::ATTEMPTS).as_deref(),
        Some("3")
    );
    assert!(
        handler
            .header(dead_letter_headers::ERROR)
            .unwrap()
            .contains("order 2 is poisoned")
    );
    assert_eq!(
        handler.header(dead_letter_headers::TOPIC),
        Some(topic.clone())
    );
    assert_eq!(
        handler.header(dead_letter_headers::OFFSET).as_deref(),
        Some("1")
    );
    assert_eq!(
        handler.header(dead_letter_headers::GROUP).as_deref(),
        Some("order_consumer")
    );
    assert_eq!(
        serde_json_order(&handler.payload).item,
        "poison",
        "the original body"
    );
    let decode = &dead[1];
    assert_eq!(decode.payload, b"{not json");
    assert_eq!(
        decode.header(dead_letter_headers::REASON).as_deref(),
        Some("decode")
    );
    assert!(
        decode
            .header(dead_letter_headers::ERROR)
            .unwrap()
            .contains("json codec"),
        "{:?}",
        decode.header(dead_letter_headers::ERROR)
    );
    assert_eq!(
        decode.header(dead_letter_headers::OFFSET).as_deref(),
        Some("2")
    );

    consumer.stop().await.unwrap();
    cx.stop().await.unwrap();
    assert_eq!(
        broker.committed("order_consumer", &topic),
        vec![Some(4)],
        "committed past the dead-lettered messages"
    );
}

fn serde_json_order(bytes: &[u8]) -> Order {
    tamarco::serde_json::from_slice(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_consumers_in_one_group_split_the_partitions() {
    let broker = Broker::start();
    let topic = ORDERS.to_owned();
    broker.create_topic(&topic, 4);
    let a = start(OrderConsumer::default(), &broker).await;
    joined(&a.service().kafka).await;
    let b = start(OrderConsumer::default(), &broker).await;
    joined(&b.service().kafka).await;

    let (sa, sb) = (a.service().clone(), b.service().clone());
    let assigned = |s: &OrderConsumer| s.kafka.assignment(&topic).unwrap_or_default();
    wait_until("both members hold partitions", WAIT, || {
        let (pa, pb) = (assigned(&sa), assigned(&sb));
        !pa.is_empty() && !pb.is_empty() && pa.len() + pb.len() == 4
    })
    .await;
    let (pa, pb) = (assigned(&sa), assigned(&sb));
    let all: BTreeSet<i32> = pa.iter().chain(&pb).map(|(_, p)| *p).collect();
    assert_eq!(
        all,
        (0..4).collect(),
        "together they hold every partition: {pa:?} {pb:?}"
    );

    let producer = start(OrderProducer::default(), &broker).await;
    for id in 0..40 {
        producer
            .service()
            .orders
            .message(&order(id))
            .partition(i32::try_from(id % 4).unwrap())
            .push()
            .await
            .unwrap();
    }
    wait_until("40 orders handled between them", WAIT, || {
        sa.seen().len() + sb.seen().len() >= 40
    })
    .await;
    let mine = |s: &OrderConsumer, held: &[(String, i32)]| {
        s.seen()
            .iter()
            .all(|seen| held.iter().any(|(_, p)| *p == seen.partition))
    };
    assert!(
        mine(&sa, &pa) && mine(&sb, &pb),
        "each sees only its partitions"
    );
    let mut ids: Vec<u64> = sa.ids().into_iter().chain(sb.ids()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..40).collect::<Vec<_>>(), "each order handled once");

    // The status lists the input, its group and its assignment.
    let status = sa.kafka.status_fields();
    let input = &status["inputs"][0];
    assert_eq!(input["name"], json!(topic));
    assert_eq!(input["group"], json!("order_consumer"));
    assert_eq!(input["joined"], json!(true));
    assert_eq!(input["assignment"].as_array().unwrap().len(), pa.len());

    producer.stop().await.unwrap();
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_stop_in_the_middle_of_a_stream_loses_nothing() {
    const TOTAL: u64 = 300;
    let broker = Broker::start();
    let topic = ORDERS.to_owned();
    broker.create_topic(&topic, 2);
    let producer = start(OrderProducer::default(), &broker).await;
    let orders = producer.service().orders.clone();
    let pushed = Arc::new(AtomicU64::new(0));
    let pushing = tokio::spawn({
        let pushed = Arc::clone(&pushed);
        async move {
            for id in 0..TOTAL {
                orders.push(&order(id)).await.unwrap();
                pushed.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });

    let first = OrderConsumer {
        work: Duration::from_millis(5),
        ..OrderConsumer::default()
    };
    let first = start(first, &broker).await;
    let service = first.service().clone();
    wait_until("the first consumer is mid-stream", WAIT, || {
        service.seen().len() >= 60
    })
    .await;
    first.stop().await.unwrap();
    assert_eq!(
        service.started.load(Ordering::SeqCst),
        service.finished.load(Ordering::SeqCst),
        "the in-flight handler finished before the stop"
    );
    let first_ids = service.ids();
    assert!((first_ids.len() as u64) < TOTAL, "stopped in the middle");

    let second = start(OrderConsumer::default(), &broker).await;
    let next = second.service().clone();
    tokio::time::timeout(WAIT, pushing).await.unwrap().unwrap();
    let expected = TOTAL as usize - first_ids.len();
    wait_until("the second consumer handled the rest", WAIT, || {
        next.seen().len() >= expected
    })
    .await;
    let mut all: Vec<u64> = first_ids.iter().copied().chain(next.ids()).collect();
    all.sort_unstable();
    assert_eq!(all, (0..TOTAL).collect::<Vec<_>>(), "none lost, none twice");
    second.stop().await.unwrap();
    producer.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_fails_when_no_broker_answers() {
    let port = tamarco_tests::kafka::free_port();
    let mut cx = MicroserviceContext::new("nobody_home");
    cx.settings()
        .update_internal(json!({"system": {"resources": {"kafka": {
            "bootstrap_servers": format!("127.0.0.1:{port}"),
            "connect_timeout": 1,
        }}}}))
        .unwrap();
    cx.add("kafka", Kafka::new());
    let began = Instant::now();
    let error = cx.start().await.unwrap_err();
    let message = tamarco::error_chain(&error);
    assert!(
        message.contains("`kafka`") && message.contains("start"),
        "{message}"
    );
    assert!(message.contains("answered"), "{message}");
    assert!(began.elapsed() < Duration::from_secs(10), "bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_options_that_break_delivery_are_refused() {
    let mut cx = MicroserviceContext::new("misconfigured");
    cx.settings()
        .update_internal(json!({"system": {"resources": {"kafka": {
            "consumer": {"enable": {"auto": {"offset": {"store": true}}}},
        }}}}))
        .unwrap();
    cx.add("kafka", Kafka::new());
    let message = tamarco::error_chain(&cx.start().await.unwrap_err());
    assert!(
        message.contains("system.resources.kafka.consumer.enable.auto.offset.store"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_outage_is_transient_and_nothing_is_lost() {
    let mut broker = Broker::start();
    let topic = ORDERS.to_owned();
    broker.create_topic(&topic, 1);
    // Reconnect quickly once the broker is back (librdkafka backs off up to 10 s by default).
    let mut quick = settings(&broker);
    quick["system"]["resources"]["kafka"]["client"] = json!({"reconnect.backoff.max.ms": 500});
    let consumer = start_with(OrderConsumer::default(), quick.clone()).await;
    joined(&consumer.service().kafka).await;
    let producer = start_with(OrderProducer::default(), quick).await;
    for id in 0..5 {
        producer.service().orders.push(&order(id)).await.unwrap();
    }
    let service = consumer.service().clone();
    wait_until("5 orders before the outage", WAIT, || {
        service.seen().len() >= 5
    })
    .await;

    broker.kill();
    // A push during the outage waits for the broker (librdkafka retries) instead of failing.
    let orders = producer.service().orders.clone();
    let during = tokio::spawn(async move { orders.push(&order(5)).await });
    let outage = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let failed = |running: &TestService<OrderConsumer>| {
        running
            .handle()
            .statuses()
            .into_iter()
            .any(|(_, status)| status == ResourceStatus::Failed)
    };
    assert!(!failed(&consumer), "an outage is not fatal");
    // Restarting waits for the broker (blocking): off the test's runtime.
    let broker = tokio::task::spawn_blocking(move || {
        broker.restart();
        broker
    })
    .await
    .unwrap();

    tokio::time::timeout(WAIT, during)
        .await
        .expect("the push made during the outage resolves")
        .unwrap()
        .expect("and the broker acknowledged it");
    for id in 6..10 {
        producer.service().orders.push(&order(id)).await.unwrap();
    }
    wait_until("all 10 orders after the outage", WAIT, || {
        service.seen().len() >= 10
    })
    .await;
    eprintln!("recovered {:?} after the outage began", outage.elapsed());
    let mut ids = service.ids();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, (0..10).collect::<Vec<_>>(), "none lost");
    assert!(!failed(&consumer));
    producer.stop().await.unwrap();
    consumer.stop().await.unwrap();
    drop(broker);
}
