//! Failures: no broker answering, pass-through options that break delivery, a broker outage.

use super::*;

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
    wait_until(
        WAIT,
        || service.seen().len() >= 5,
        || "5 orders before the outage",
    )
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
    wait_until(
        WAIT,
        || service.seen().len() >= 10,
        || "all 10 orders after the outage",
    )
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
