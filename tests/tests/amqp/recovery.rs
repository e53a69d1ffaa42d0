//! Recovery: connections cut and restored, and a broker restart, with nothing lost.

use super::*;

/// What `rabbitmqctl` says about the queues and connections of `prefix`, for failure messages.
fn broker_view(prefix: &str) -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("rabbitmqctl")
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| format!("rabbitmqctl: {e}"))
    };
    let queues = run(&[
        "list_queues",
        "-q",
        "name",
        "messages_ready",
        "messages_unacknowledged",
        "consumers",
    ]);
    let queues: Vec<&str> = queues.lines().filter(|l| l.contains(prefix)).collect();
    let connections = run(&["list_connections", "-q", "name", "state", "channels"]);
    format!("queues {queues:?}; connections {connections:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_survive_a_dropped_connection_with_none_lost() {
    const N: u64 = 10_000;
    let prefix = unique_prefix("dropped");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let proxy = TcpProxy::start(BROKER).await;
    let amqp_settings = json!({"amqp": {
        "port": proxy.port(),
        "prefetch": 200,
        "reconnect_backoff": "50ms",
        "reconnect_max_backoff": "500ms",
    }});
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let deliveries = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let consumer_amqp = Amqp::new();
    {
        let seen = Arc::clone(&seen);
        let deliveries = Arc::clone(&deliveries);
        consumer_amqp
            .pull_input("orders", Json)
            .handle(move |order: Message<Order>| {
                seen.lock().unwrap().insert(order.value().id);
                deliveries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                async { Ok::<_, BoxError>(()) }
            })
            .unwrap();
    }
    let consumer = start_svc(consumer_amqp, &prefix, amqp_settings.clone()).await;
    let (producer, orders) = order_pusher(&prefix, amqp_settings).await;

    let pushing = tokio::spawn({
        let orders = orders.clone();
        async move { push_all(&orders, 0..N, 64).await }
    });
    // Cut every connection once a third has arrived, and refuse reconnections for a while.
    wait_until(
        Duration::from_secs(60),
        || seen.lock().unwrap().len() as u64 >= N / 3,
        || "a third arrived in time".to_owned(),
    )
    .await;
    proxy.block(true);
    let cut = proxy.cut();
    assert!(
        cut >= 2,
        "both services were connected through the proxy ({cut})"
    );
    wait_until(
        Duration::from_secs(5),
        || status_of(&consumer, "amqp") == ResourceStatus::Connecting,
        || "the consumer reports CONNECTING".to_owned(),
    )
    .await;
    sleep(Duration::from_millis(300)).await;
    assert_eq!(status_of(&producer, "amqp"), ResourceStatus::Connecting);
    proxy.block(false);

    timeout(Duration::from_secs(120), pushing)
        .await
        .expect("every push confirmed in time")
        .unwrap()
        .expect("every push confirmed");
    wait_until(
        Duration::from_secs(60),
        || seen.lock().unwrap().len() as u64 >= N,
        || {
            format!(
                "all arrived: {} of {N}; consumer: {}; broker: {}",
                seen.lock().unwrap().len(),
                Value::Object(consumer.service().amqp.status_fields()),
                broker_view(&prefix),
            )
        },
    )
    .await;
    assert_eq!(status_of(&consumer, "amqp"), ResourceStatus::Started);
    assert_eq!(status_of(&producer, "amqp"), ResourceStatus::Started);
    assert!(consumer.service().amqp.reconnects() >= 1);
    assert!(producer.service().amqp.reconnects() >= 1);
    let duplicates = deliveries.load(std::sync::atomic::Ordering::Relaxed) - N;
    println!(
        "10000 distinct messages arrived; {duplicates} deliveries were repeats (at least once)"
    );

    stop(producer).await;
    stop(consumer).await;
}

/// Handles `input` by recording each order's id; returns the ids seen so far.
fn record_ids(input: tamarco::amqp::InputBuilder<Order>) -> Arc<Mutex<HashSet<u64>>> {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let recording = Arc::clone(&seen);
    input
        .handle(move |order: Message<Order>| {
            recording.lock().unwrap().insert(order.value().id);
            async { Ok::<_, BoxError>(()) }
        })
        .unwrap();
    seen
}

/// Issue 14 finding 11: with `durable_subscriptions`, a subscriber that loses its connection
/// still gets what was published while it was away (its queue outlives the connection), so
/// publish/subscribe is at least once too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_subscriptions_keep_what_was_published_while_the_subscriber_reconnected() {
    const BEFORE: u64 = 50;
    const DURING: u64 = 200;
    let prefix = unique_prefix("durable");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PublishSubscribe, "prices")]);
    let proxy = TcpProxy::start(BROKER).await;
    let subscriber_amqp = Amqp::new();
    let seen = record_ids(subscriber_amqp.subscription_input("prices", Json));
    let subscriber = start(
        Svc {
            amqp: subscriber_amqp,
        },
        settings(
            &prefix,
            json!({"amqp": {
                "port": proxy.port(),
                "durable_subscriptions": true,
                "reconnect_backoff": "50ms",
                "reconnect_max_backoff": "200ms",
            }}),
        ),
    )
    .await;
    let publisher_amqp = Amqp::new();
    let prices = publisher_amqp.publish_output("prices", Json);
    let publisher = start_svc(publisher_amqp, &prefix, json!({})).await;
    let count = |seen: &Mutex<HashSet<u64>>| seen.lock().unwrap().len() as u64;
    let wait_seen = |n: u64, what: &'static str| {
        let seen = Arc::clone(&seen);
        async move {
            wait_until(
                Duration::from_secs(30),
                || count(&seen) >= n,
                || format!("{what}: {} of {n}", count(&seen)),
            )
            .await;
        }
    };

    for id in 0..BEFORE {
        prices.publish(&order(id)).await.expect("confirmed");
    }
    wait_seen(
        BEFORE,
        "the subscriber got what was published before the cut",
    )
    .await;
    // Cut the subscriber off and keep it off while more is published (and confirmed).
    proxy.block(true);
    assert!(
        proxy.cut() >= 1,
        "the subscriber was connected through the proxy"
    );
    wait_until(
        Duration::from_secs(10),
        || status_of(&subscriber, "amqp") == ResourceStatus::Connecting,
        || "the subscriber reports CONNECTING".to_owned(),
    )
    .await;
    for id in BEFORE..BEFORE + DURING {
        prices.publish(&order(id)).await.expect("confirmed");
    }
    assert_eq!(
        count(&seen),
        BEFORE,
        "nothing reached the subscriber while it was cut off"
    );
    proxy.block(false);
    wait_seen(
        BEFORE + DURING,
        "after reconnecting, the subscriber got what was published while it was away",
    )
    .await;
    assert_eq!(status_of(&subscriber, "amqp"), ResourceStatus::Started);
    assert!(subscriber.service().amqp.reconnects() >= 1);

    stop(subscriber).await;
    stop(publisher).await;
    // The durable subscriber queue stays on the broker until deleted.
    let queue = format!(
        "{}.amqp_test.amqp",
        full_name(&prefix, Pattern::PublishSubscribe, "prices")
    );
    let connection = connect().await;
    let channel = connection.create_channel().await.unwrap();
    let deleted = channel
        .queue_delete(queue.as_str().into(), Default::default())
        .await;
    assert!(
        deleted.is_ok(),
        "the durable queue {queue} existed: {deleted:?}"
    );
    let _ = connection.close(200, "OK".into()).await;
}

/// Restarts the machine's RabbitMQ application (`rabbitmqctl stop_app` / `start_app`) in the
/// middle of a stream: ignored by default, since it disturbs every other user of the broker.
/// Run it with `cargo test -p tamarco-tests --test amqp -- --ignored broker_restart`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts the shared RabbitMQ"]
async fn consumers_and_outputs_recover_after_a_broker_restart() {
    const N: u64 = 20_000;
    let prefix = unique_prefix("broker_restart");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let amqp_settings = json!({"amqp": {"reconnect_backoff": "100ms", "reconnect_max_backoff": "1s", "publish_timeout": 60}});
    let consumer_amqp = Amqp::new();
    let seen = record_ids(consumer_amqp.pull_input("orders", Json));
    let consumer = start_svc(consumer_amqp, &prefix, amqp_settings.clone()).await;
    let (producer, orders) = order_pusher(&prefix, amqp_settings).await;
    // Paced, so that the restart falls in the middle of the stream.
    let mut pushing = Vec::new();
    for worker in 0..4 {
        let orders = orders.clone();
        pushing.push(tokio::spawn(async move {
            for id in (worker..N).step_by(4) {
                orders.push(&order(id)).await?;
                sleep(Duration::from_millis(1)).await;
            }
            Ok::<_, AmqpError>(())
        }));
    }
    wait_until(
        Duration::from_secs(60),
        || seen.lock().unwrap().len() as u64 >= N / 10,
        || "a tenth arrived in time".to_owned(),
    )
    .await;
    let rabbitmqctl = |command: &str| {
        let status = std::process::Command::new("rabbitmqctl")
            .arg(command)
            .status()
            .expect("rabbitmqctl runs");
        assert!(status.success(), "rabbitmqctl {command}");
    };
    tokio::task::spawn_blocking(move || rabbitmqctl("stop_app"))
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(10),
        || status_of(&consumer, "amqp") == ResourceStatus::Connecting,
        || "the consumer reports CONNECTING".to_owned(),
    )
    .await;
    tokio::task::spawn_blocking(move || rabbitmqctl("start_app"))
        .await
        .unwrap();
    for pusher in pushing {
        timeout(Duration::from_secs(120), pusher)
            .await
            .expect("pushed in time")
            .unwrap()
            .expect("every push confirmed");
    }
    wait_until(
        Duration::from_secs(60),
        || seen.lock().unwrap().len() as u64 >= N,
        || format!("all arrived: {} of {N}", seen.lock().unwrap().len()),
    )
    .await;
    assert!(consumer.service().amqp.reconnects() >= 1);
    assert!(producer.service().amqp.reconnects() >= 1);
    stop(producer).await;
    stop(consumer).await;
}
