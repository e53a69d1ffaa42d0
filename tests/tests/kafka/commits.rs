//! What is committed: past a stream delivery dropped unacked, where a new consumer resumes, and
//! across a graceful stop in the middle of a stream.

use super::*;

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
    wait_until(
        WAIT,
        || service.seen().len() >= 10,
        || "the first consumer handled 10",
    )
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
    wait_until(
        WAIT,
        || next.seen().len() >= remaining,
        || "the second consumer handled the rest",
    )
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
    wait_until(
        WAIT,
        || service.seen().len() >= 60,
        || "the first consumer is mid-stream",
    )
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
    wait_until(
        WAIT,
        || next.seen().len() >= expected,
        || "the second consumer handled the rest",
    )
    .await;
    let mut all: Vec<u64> = first_ids.iter().copied().chain(next.ids()).collect();
    all.sort_unstable();
    assert_eq!(all, (0..TOTAL).collect::<Vec<_>>(), "none lost, none twice");
    second.stop().await.unwrap();
    producer.stop().await.unwrap();
}
