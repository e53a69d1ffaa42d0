//! Delivery between services: every message once and in order per key, what a handler sees of
//! each message, and typed payloads through each codec.

use super::*;

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
    wait_until(WAIT, || service.seen().len() >= 30, || "30 orders handled").await;

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
    wait_until(WAIT, || service.seen().len() >= 4, || "4 orders handled").await;

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

/// Headers are read from the client only when asked: a message a handler keeps, and a
/// delivery buffered for a stream's reader, still show their own headers once the input has
/// moved on to later records.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn headers_of_messages_kept_past_their_turn() {
    let broker = Broker::start();
    let (kept_topic, stream_topic) = (unique_topic("kept"), unique_topic("streamed"));
    broker.create_topic(&kept_topic, 1);
    broker.create_topic(&stream_topic, 1);
    let mut cx = MicroserviceContext::new("late_headers");
    cx.settings().update_internal(settings(&broker)).unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    let kept: Arc<Mutex<Vec<Message<Order>>>> = Arc::default();
    {
        let kept = Arc::clone(&kept);
        kafka
            .input(&kept_topic, Json)
            .handle(move |message: Message<Order>| {
                kept.lock().unwrap().push(message);
                async { Ok::<_, std::convert::Infallible>(()) }
            })
            .unwrap();
    }
    let mut stream = kafka.input::<Order>(&stream_topic, Json).stream().unwrap();
    let (kept_output, stream_output) = (
        kafka.output(&kept_topic, Json),
        kafka.output(&stream_topic, Json),
    );
    cx.start().await.unwrap();
    for id in 0..3 {
        for output in [&kept_output, &stream_output] {
            let mut message = output.message(&order(id));
            if id != 1 {
                message = message.header("n", id.to_string());
            }
            message.push().await.unwrap();
        }
    }
    wait_until(WAIT, || kept.lock().unwrap().len() >= 3, || "3 orders kept").await;
    let header = |headers: &Headers| headers.get_str("n").map(str::to_owned);
    let expected = |id: u64| (id != 1).then(|| id.to_string());
    for message in kept.lock().unwrap().iter() {
        let id = message.value().id;
        assert_eq!(header(message.headers()), expected(id), "kept order {id}");
    }
    let mut deliveries = Vec::new();
    while deliveries.len() < 3 {
        let delivery = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("3 deliveries in time")
            .expect("the stream is open");
        deliveries.push(delivery);
    }
    for delivery in deliveries {
        let id = delivery.value().id;
        assert_eq!(
            header(delivery.headers()),
            expected(id),
            "streamed order {id}"
        );
        delivery.ack().await.unwrap();
    }
    kept.lock().unwrap().clear();
    cx.stop().await.unwrap();
}

/// Creates `topic` (one partition) and writes orders `0..count` to it from a service of their
/// own, stopped before any reader starts; order `id` carries the header `n` = `header(id)`
/// when that is some.
async fn write_beforehand(
    broker: &Broker,
    topic: &str,
    count: u64,
    header: impl Fn(u64) -> Option<String>,
) {
    broker.create_topic(topic, 1);
    let mut writer = MicroserviceContext::new("early_writer");
    writer.settings().update_internal(settings(broker)).unwrap();
    let output = writer.add("kafka", Kafka::new()).output(topic, Json);
    writer.start().await.unwrap();
    for id in 0..count {
        let mut message = output.message(&order(id));
        if let Some(value) = header(id) {
            message = message.header("n", value);
        }
        message.push().await.unwrap();
    }
    writer.stop().await.unwrap();
}

/// Records already waiting when an input starts are taken from the client several at a time,
/// ahead of their turn: each still shows its own headers, to its handler and, for a message
/// the handler keeps, after the input has moved on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn headers_of_records_taken_together() {
    const COUNT: u64 = 40;
    let broker = Broker::start();
    let topic = unique_topic("waiting");
    let header = |headers: &Headers| headers.get_str("n").map(str::to_owned);
    let expected = |id: u64| (id % 3 != 1).then(|| id.to_string());
    write_beforehand(&broker, &topic, COUNT, expected).await;
    let mut cx = MicroserviceContext::new("early_reader");
    cx.settings().update_internal(settings(&broker)).unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    // Each order's id, and its header as its handler read it.
    type Handled = Vec<(u64, Option<String>)>;
    let seen: Arc<Mutex<Handled>> = Arc::default();
    let kept: Arc<Mutex<Vec<Message<Order>>>> = Arc::default();
    {
        let (seen, kept) = (Arc::clone(&seen), Arc::clone(&kept));
        kafka
            .input(&topic, Json)
            .handle(move |message: Message<Order>| {
                let id = message.value().id;
                seen.lock().unwrap().push((id, header(message.headers())));
                if id.is_multiple_of(5) {
                    kept.lock().unwrap().push(message);
                }
                async { Ok::<_, std::convert::Infallible>(()) }
            })
            .unwrap();
    }
    cx.start().await.unwrap();
    wait_until(
        WAIT,
        || seen.lock().unwrap().len() as u64 >= COUNT,
        || format!("{COUNT} orders handled"),
    )
    .await;
    let seen = seen.lock().unwrap().clone();
    let ids: Vec<u64> = seen.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (0..COUNT).collect::<Vec<_>>(), "in order, once each");
    for (id, headers) in seen {
        assert_eq!(headers, expected(id), "order {id} as its handler saw it");
    }
    for message in kept.lock().unwrap().iter() {
        let id = message.value().id;
        assert_eq!(header(message.headers()), expected(id), "kept order {id}");
    }
    kept.lock().unwrap().clear();
    cx.stop().await.unwrap();
}

/// A record requeued from a stream comes again before the records after it, and each of those
/// once more after it: the records the input had taken ahead of it are dropped when its
/// partition is sought back, not handed out first (and then again).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_requeued_record_comes_again_before_those_after_it() {
    const COUNT: i64 = 40;
    let broker = Broker::start();
    let topic = unique_topic("requeued");
    write_beforehand(&broker, &topic, COUNT as u64, |_| None).await;

    let mut cx = MicroserviceContext::new("requeue_reader");
    cx.settings().update_internal(settings(&broker)).unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    // One delivery waits for the reader: few records are handed out ahead of it.
    let mut stream = kafka
        .input::<Order>(&topic, Json)
        .prefetch(1)
        .stream()
        .unwrap();
    cx.start().await.unwrap();
    let first = tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("a delivery in time")
        .expect("the stream is open");
    assert_eq!(first.offset(), 0, "the first record first");
    first.requeue().await;
    let mut offsets = Vec::new();
    while offsets.last() != Some(&(COUNT - 1)) {
        let delivery = tokio::time::timeout(WAIT, stream.next())
            .await
            .unwrap_or_else(|_| panic!("the records again in time; so far {offsets:?}"))
            .expect("the stream is open");
        offsets.push(delivery.offset());
        delivery.ack().await.unwrap();
    }
    // Handed out before the requeue: the one waiting in the stream and the one the input
    // waited to put there.
    let again = offsets
        .iter()
        .position(|&offset| offset == 0)
        .unwrap_or_else(|| panic!("the requeued record comes again: {offsets:?}"));
    assert!(
        again <= 3,
        "records taken ahead of the requeued one came before it: {offsets:?}"
    );
    assert_eq!(
        offsets[again..],
        (0..COUNT).collect::<Vec<_>>(),
        "from the requeued record on: in order, once each"
    );
    cx.stop().await.unwrap();
}
