//! The AMQP resource against the machine's RabbitMQ (127.0.0.1:5672, guest/guest). Each test
//! uses its own `queues_prefix`, so they run in parallel, and deletes what it declared.
//! Services run in this process, without signal handling or report server.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tamarco::amqp::{Amqp, Error as AmqpError, Message, Pattern, Request, dead_letter_headers};
use tamarco::codec::{Json, Raw};
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::{Value, json};
use tamarco::tokio::sync::mpsc;
use tamarco::tokio::time::{Instant, sleep, timeout};
use tamarco::{Running, TaskSet, error_chain, tokio};
use tamarco_tests::amqp::{BROKER, Cleanup, connect, full_name, settings, take_all, unique_prefix};
use tamarco_tests::proxy::TcpProxy;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Order {
    id: u64,
    item: String,
}

fn order(id: u64) -> Order {
    Order {
        id,
        item: format!("item {id}"),
    }
}

/// A service with one AMQP resource, `amqp`.
#[microservice(name = "amqp_test")]
struct Svc {
    #[resource]
    amqp: Amqp,
}

#[microservice]
impl Svc {}

/// A service with two AMQP resources, each with its own connection and settings.
#[microservice(name = "amqp_test_two")]
struct TwoSvc {
    #[resource]
    amqp: Amqp,
    #[resource]
    audit: Amqp,
}

#[microservice]
impl TwoSvc {}

async fn start<S: TaskSet>(service: S, settings: Value) -> Running<S> {
    timeout(
        Duration::from_secs(20),
        service
            .runtime()
            .handle_signals(false)
            .with_settings(settings)
            .expect("valid settings")
            .start(),
    )
    .await
    .expect("the service starts in time")
    .expect("the service starts")
}

async fn stop<S: TaskSet>(running: Running<S>) {
    timeout(Duration::from_secs(20), running.stop())
        .await
        .expect("the service stops in time")
        .expect("the service stops cleanly");
}

/// Receives `n` items from `receiver`, failing after `wait`.
async fn receive<T>(receiver: &mut mpsc::UnboundedReceiver<T>, n: usize, wait: Duration) -> Vec<T> {
    let deadline = Instant::now() + wait;
    let mut items = Vec::with_capacity(n);
    while items.len() < n {
        match tokio::time::timeout_at(deadline, receiver.recv()).await {
            Ok(Some(item)) => items.push(item),
            _ => panic!("received {} of {n} within {wait:?}", items.len()),
        }
    }
    items
}

fn status_of<S: TaskSet>(running: &Running<S>, name: &str) -> ResourceStatus {
    running
        .statuses()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .expect("a resource of that name")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pull_between_two_services_with_status_listing_inputs_and_outputs() {
    let prefix = unique_prefix("push_pull");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let (sender, mut received) = mpsc::unbounded_channel();
    let consumer_amqp = Amqp::new();
    consumer_amqp
        .pull_input("orders", Json)
        .handle(move |order: Message<Order>| {
            let sender = sender.clone();
            async move {
                assert_eq!(order.input(), "orders");
                assert_eq!(order.content_type(), Some("application/json"));
                sender.send(order.into_value())?;
                Ok::<_, BoxError>(())
            }
        })
        .unwrap();
    // The consumer runs with its report server on a free port, to read /status.
    let mut consumer_settings = settings(&prefix, json!({}));
    consumer_settings["system"]["resources"]["tamarco_http_report_server"] =
        json!({"enabled": true, "port": 0});
    let consumer = start(
        Svc {
            amqp: consumer_amqp,
        },
        consumer_settings,
    )
    .await;

    let producer_amqp = Amqp::new();
    let orders = producer_amqp.push_output("orders", Json);
    let producer = start(
        Svc {
            amqp: producer_amqp,
        },
        settings(&prefix, json!({})),
    )
    .await;
    for id in 0..20 {
        orders.push(&order(id)).await.expect("confirmed");
    }
    let mut got = receive(&mut received, 20, Duration::from_secs(10)).await;
    got.sort_by_key(|o| o.id);
    assert_eq!(got, (0..20).map(order).collect::<Vec<_>>());

    // The handler saw the last one just before its ack: wait for the count to settle.
    let addr = consumer.report_addr().expect("a report server");
    let deadline = Instant::now() + Duration::from_secs(5);
    let (body, status) = loop {
        let (code, body) = tamarco_tests::http_get(addr, "/status").unwrap();
        assert_eq!(code, 200, "{body}");
        let status: Value = tamarco::serde_json::from_str(&body).unwrap();
        if status["amqp"]["inputs"][0]["handled"] == 20 || Instant::now() > deadline {
            break (body, status);
        }
        sleep(Duration::from_millis(20)).await;
    };
    let amqp = &status["amqp"];
    assert_eq!(amqp["status_str"], "STARTED", "{amqp}");
    assert_eq!(amqp["connection"], "connected", "{amqp}");
    let input = &amqp["inputs"][0];
    assert_eq!(input["name"], "orders");
    assert_eq!(input["pattern"], "push_pull");
    assert_eq!(
        input["queue"],
        full_name(&prefix, Pattern::PushPull, "orders")
    );
    assert_eq!(input["codec"], "json");
    assert_eq!(input["mode"], "handler");
    assert_eq!(input["handled"], 20);
    assert!(!body.to_lowercase().contains("password"), "{body}");
    assert!(!body.contains("guest:guest"), "{body}");

    let sent = producer.service().amqp.reconnects();
    assert_eq!(sent, 0);
    stop(producer).await;
    stop(consumer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_subscribe_reaches_every_subscriber_as_handler_and_as_stream() {
    let prefix = unique_prefix("pubsub");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PublishSubscribe, "prices")]);
    let (sender, mut handled) = mpsc::unbounded_channel();
    let subscribers = TwoSvc {
        amqp: Amqp::new(),
        audit: Amqp::new(),
    };
    subscribers
        .amqp
        .subscription_input("prices", Json)
        .handle(move |event: Message<Order>| {
            let sender = sender.clone();
            async move { sender.send(event.into_value()).map_err(BoxError::from) }
        })
        .unwrap();
    let mut stream = subscribers
        .audit
        .subscription_input::<Order>("prices", Json)
        .stream()
        .unwrap();
    let subscribers = start(
        subscribers,
        settings(&prefix, json!({"amqp": {}, "audit": {}})),
    )
    .await;

    let publisher_amqp = Amqp::new();
    let prices = publisher_amqp.publish_output("prices", Json);
    let publisher = start(
        Svc {
            amqp: publisher_amqp,
        },
        settings(&prefix, json!({})),
    )
    .await;
    for id in 0..10 {
        prices.publish(&order(id)).await.expect("confirmed");
    }
    let mut by_handler = receive(&mut handled, 10, Duration::from_secs(10)).await;
    by_handler.sort_by_key(|o| o.id);
    assert_eq!(by_handler, (0..10).map(order).collect::<Vec<_>>());
    let mut by_stream = Vec::new();
    for _ in 0..10 {
        let delivery = timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a delivery in time")
            .expect("the stream goes on");
        by_stream.push(delivery.value().clone());
        delivery.ack().await.expect("acked");
    }
    by_stream.sort_by_key(|o| o.id);
    assert_eq!(by_stream, (0..10).map(order).collect::<Vec<_>>());

    // The stream ends once the service stops.
    stop(subscribers).await;
    let end = timeout(Duration::from_secs(5), stream.next()).await;
    assert!(matches!(end, Ok(None)), "the stream ended");
    stop(publisher).await;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Quote {
    id: u64,
    cents: u64,
}

/// Answers quote requests through a handler method.
#[microservice(name = "amqp_quotes")]
struct Quotes {
    #[resource]
    amqp: Amqp,
}

#[microservice]
impl Quotes {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        self.amqp
            .request_input("quotes", Json)
            .retries(1)
            .retry_backoff(Duration::from_millis(10))
            .handle_with(&self, Self::on_quote)?;
        stage.run().await?;
        Ok(())
    }

    async fn on_quote(self: Arc<Self>, request: Request<Order, Quote>) -> Result<(), BoxError> {
        if request.value().item == "explode" {
            return Err("the quote engine exploded".into());
        }
        let quote = Quote {
            id: request.value().id,
            cents: request.value().id * 100,
        };
        request.respond(&quote).await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_response_round_trips_typed_replies_and_times_out() {
    let prefix = unique_prefix("reqresp");
    let _cleanup = Cleanup::new(
        &prefix,
        &[
            (Pattern::RequestResponse, "quotes"),
            (Pattern::RequestResponse, "nobody"),
        ],
    );
    let server = start(Quotes { amqp: Amqp::new() }, settings(&prefix, json!({}))).await;
    let client_amqp = Amqp::new();
    let quotes = client_amqp.request_output::<Order, Quote, _>("quotes", Json);
    let nobody = client_amqp
        .request_output::<Order, Quote, _>("nobody", Json)
        .with_timeout(Duration::from_millis(500));
    let client = start(Svc { amqp: client_amqp }, settings(&prefix, json!({}))).await;

    // Concurrent requests, each gets its own reply.
    let asks: Vec<_> = (1..=16)
        .map(|id| tokio::spawn(quotes.request(&order(id))))
        .collect();
    for (id, ask) in (1..=16).zip(asks) {
        let quote = ask.await.unwrap().expect("a reply");
        assert_eq!(
            quote,
            Quote {
                id,
                cents: id * 100
            }
        );
    }

    // Nobody serves `nobody`: a timeout, after the timeout and not much later.
    let started = Instant::now();
    let error = nobody.request(&order(1)).await.expect_err("no reply");
    let took = started.elapsed();
    assert!(matches!(error, AmqpError::Timeout { .. }), "{error}");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(
        error.to_string(),
        "amqp: no reply from `nobody` within 500ms"
    );

    // A handler that keeps failing: the requester learns it at once instead of timing out.
    let started = Instant::now();
    let mut exploding = order(7);
    exploding.item = "explode".into();
    let error = quotes
        .request(&exploding)
        .await
        .expect_err("an error reply");
    assert!(matches!(error, AmqpError::Remote { .. }), "{error}");
    assert!(
        error_chain(&error).contains("the quote engine exploded"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    stop(client).await;
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_errors_and_undecodable_messages_reach_the_dead_letter_queue_with_their_error() {
    let prefix = unique_prefix("dead_letters");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let (sender, mut handled) = mpsc::unbounded_channel();
    let consumer_amqp = Amqp::new();
    let seen = Arc::clone(&attempts);
    consumer_amqp
        .pull_input("orders", Json)
        .retries(2)
        .retry_backoff(Duration::from_millis(10))
        .handle(move |order: Message<Order>| {
            let sender = sender.clone();
            let seen = Arc::clone(&seen);
            async move {
                if order.value().item == "poison" {
                    seen.lock().unwrap().push(order.attempt());
                    return Err(format!("order {} is poisoned", order.value().id).into());
                }
                sender.send(order.value().id).map_err(BoxError::from)
            }
        })
        .unwrap();
    let consumer = start(
        Svc {
            amqp: consumer_amqp,
        },
        settings(&prefix, json!({})),
    )
    .await;

    let producer_amqp = Amqp::new();
    let orders = producer_amqp.push_output("orders", Json);
    let raw = producer_amqp.generic_output(Raw);
    let producer = start(
        Svc {
            amqp: producer_amqp,
        },
        settings(&prefix, json!({})),
    )
    .await;
    orders.push(&order(1)).await.unwrap();
    orders
        .push(&Order {
            id: 2,
            item: "poison".into(),
        })
        .await
        .unwrap();
    raw.push("orders", &b"{not json".to_vec()).await.unwrap();
    orders.push(&order(3)).await.unwrap();
    let mut good = receive(&mut handled, 2, Duration::from_secs(10)).await;
    good.sort_unstable();
    assert_eq!(good, [1, 3]);

    let broker = connect().await;
    let dead_letter_queue = format!(
        "{}.dead_letter",
        full_name(&prefix, Pattern::PushPull, "orders")
    );
    let mut dead = take_all(&broker, &dead_letter_queue, Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while dead.len() < 2 && Instant::now() < deadline {
        dead.extend(take_all(&broker, &dead_letter_queue, Duration::from_millis(200)).await);
    }
    assert_eq!(dead.len(), 2, "both reached the dead-letter queue");
    let header = |delivery: &lapin::message::Delivery, name: &str| -> String {
        let headers = delivery.properties.headers().as_ref().expect("headers");
        match headers.inner().get(name).expect(name) {
            lapin::types::AMQPValue::LongString(s) => {
                String::from_utf8_lossy(s.as_bytes()).into_owned()
            }
            lapin::types::AMQPValue::LongLongInt(n) => n.to_string(),
            other => format!("{other:?}"),
        }
    };
    let poisoned = dead
        .iter()
        .find(|d| header(d, dead_letter_headers::REASON) == "handler")
        .expect("the handler failure");
    assert_eq!(
        header(poisoned, dead_letter_headers::ERROR),
        "order 2 is poisoned"
    );
    assert_eq!(header(poisoned, dead_letter_headers::ATTEMPTS), "3");
    assert_eq!(header(poisoned, dead_letter_headers::INPUT), "orders");
    assert_eq!(
        header(poisoned, dead_letter_headers::QUEUE),
        full_name(&prefix, Pattern::PushPull, "orders")
    );
    let body: Order = tamarco::serde_json::from_slice(&poisoned.data).unwrap();
    assert_eq!(body.item, "poison");
    assert_eq!(*attempts.lock().unwrap(), [1, 2, 3]);

    let undecodable = dead
        .iter()
        .find(|d| header(d, dead_letter_headers::REASON) == "decode")
        .expect("the decode failure");
    let error = header(undecodable, dead_letter_headers::ERROR);
    assert!(
        error.starts_with("cannot decode a message from `orders` with the json codec: "),
        "{error}"
    );
    assert_eq!(header(undecodable, dead_letter_headers::ATTEMPTS), "1");
    assert_eq!(undecodable.data, b"{not json");
    let _ = broker.close(200, "OK".into()).await;

    stop(producer).await;
    stop(consumer).await;
}

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

/// Pushes `ids` from `workers` concurrent senders; returns once all are confirmed.
async fn push_all(
    orders: &tamarco::amqp::PushOutput<Order>,
    ids: std::ops::Range<u64>,
    workers: u64,
) -> Result<(), AmqpError> {
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let orders = orders.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            for id in ids.filter(|id| id % workers == worker) {
                orders.push(&order(id)).await?;
            }
            Ok::<_, AmqpError>(())
        }));
    }
    for task in tasks {
        task.await.expect("a sender task")?;
    }
    Ok(())
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
    let consumer = start(
        Svc {
            amqp: consumer_amqp,
        },
        settings(&prefix, amqp_settings.clone()),
    )
    .await;
    let producer_amqp = Amqp::new();
    let orders = producer_amqp.push_output("orders", Json);
    let producer = start(
        Svc {
            amqp: producer_amqp,
        },
        settings(&prefix, amqp_settings),
    )
    .await;

    let pushing = tokio::spawn({
        let orders = orders.clone();
        async move { push_all(&orders, 0..N, 64).await }
    });
    // Cut every connection once a third has arrived, and refuse reconnections for a while.
    let deadline = Instant::now() + Duration::from_secs(60);
    while (seen.lock().unwrap().len() as u64) < N / 3 {
        assert!(Instant::now() < deadline, "a third arrived in time");
        sleep(Duration::from_millis(5)).await;
    }
    proxy.block(true);
    let cut = proxy.cut();
    assert!(
        cut >= 2,
        "both services were connected through the proxy ({cut})"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while status_of(&consumer, "amqp") != ResourceStatus::Connecting {
        assert!(Instant::now() < deadline, "the consumer reports CONNECTING");
        sleep(Duration::from_millis(10)).await;
    }
    sleep(Duration::from_millis(300)).await;
    assert_eq!(status_of(&producer, "amqp"), ResourceStatus::Connecting);
    proxy.block(false);

    timeout(Duration::from_secs(120), pushing)
        .await
        .expect("every push confirmed in time")
        .unwrap()
        .expect("every push confirmed");
    let deadline = Instant::now() + Duration::from_secs(60);
    while (seen.lock().unwrap().len() as u64) < N {
        assert!(
            Instant::now() < deadline,
            "all arrived: {} of {N}; consumer: {}; broker: {}",
            seen.lock().unwrap().len(),
            Value::Object(consumer.service().amqp.status_fields()),
            broker_view(&prefix),
        );
        sleep(Duration::from_millis(10)).await;
    }
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
    let publisher = start(
        Svc {
            amqp: publisher_amqp,
        },
        settings(&prefix, json!({})),
    )
    .await;
    let count = |seen: &Mutex<HashSet<u64>>| seen.lock().unwrap().len() as u64;
    let wait_for = |n: u64, what: &'static str| {
        let seen = Arc::clone(&seen);
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while count(&seen) < n {
                assert!(Instant::now() < deadline, "{what}: {} of {n}", count(&seen));
                sleep(Duration::from_millis(10)).await;
            }
        }
    };

    for id in 0..BEFORE {
        prices.publish(&order(id)).await.expect("confirmed");
    }
    wait_for(
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
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_of(&subscriber, "amqp") != ResourceStatus::Connecting {
        assert!(
            Instant::now() < deadline,
            "the subscriber reports CONNECTING"
        );
        sleep(Duration::from_millis(10)).await;
    }
    for id in BEFORE..BEFORE + DURING {
        prices.publish(&order(id)).await.expect("confirmed");
    }
    assert_eq!(
        count(&seen),
        BEFORE,
        "nothing reached the subscriber while it was cut off"
    );
    proxy.block(false);
    wait_for(
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_during_a_stream_of_messages_loses_none() {
    const N: u64 = 2_000;
    let prefix = unique_prefix("graceful");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let handled = Arc::new(Mutex::new(Vec::new()));
    let consumer_amqp = Amqp::new();
    {
        let handled = Arc::clone(&handled);
        consumer_amqp
            .pull_input("orders", Json)
            .concurrency(4)
            .handle(move |order: Message<Order>| {
                let handled = Arc::clone(&handled);
                async move {
                    sleep(Duration::from_millis(2)).await;
                    handled.lock().unwrap().push(order.value().id);
                    Ok::<_, BoxError>(())
                }
            })
            .unwrap();
    }
    let consumer = start(
        Svc {
            amqp: consumer_amqp,
        },
        settings(&prefix, json!({})),
    )
    .await;
    let producer_amqp = Amqp::new();
    let orders = producer_amqp.push_output("orders", Json);
    let producer = start(
        Svc {
            amqp: producer_amqp,
        },
        settings(&prefix, json!({})),
    )
    .await;
    let pushing = tokio::spawn({
        let orders = orders.clone();
        async move { push_all(&orders, 0..N, 16).await }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while handled.lock().unwrap().len() < 200 {
        assert!(Instant::now() < deadline, "handling started");
        sleep(Duration::from_millis(5)).await;
    }
    // Stop the consumer in the middle of the stream.
    stop(consumer).await;
    let handled_at_stop: Vec<u64> = handled.lock().unwrap().clone();
    timeout(Duration::from_secs(60), pushing)
        .await
        .expect("pushed in time")
        .unwrap()
        .expect("every push confirmed");
    stop(producer).await;
    assert!((handled_at_stop.len() as u64) < N, "stopped mid-stream");
    sleep(Duration::from_millis(200)).await;
    assert_eq!(
        handled.lock().unwrap().len(),
        handled_at_stop.len(),
        "nothing handled after stop"
    );

    // Everything is either handled (and acked) or still in the queue, and nothing is both.
    let broker = connect().await;
    let queue = full_name(&prefix, Pattern::PushPull, "orders");
    let left: Vec<u64> = take_all(&broker, &queue, Duration::from_secs(5))
        .await
        .iter()
        .map(|d| {
            tamarco::serde_json::from_slice::<Order>(&d.data)
                .unwrap()
                .id
        })
        .collect();
    let _ = broker.close(200, "OK".into()).await;
    let handled: HashSet<u64> = handled_at_stop.iter().copied().collect();
    let left: HashSet<u64> = left.into_iter().collect();
    assert_eq!(
        handled.len(),
        handled_at_stop.len(),
        "no message handled twice"
    );
    assert!(
        handled.is_disjoint(&left),
        "no handled message is still queued"
    );
    let all: HashSet<u64> = handled.union(&left).copied().collect();
    assert_eq!(
        all.len() as u64,
        N,
        "{} handled + {} left",
        handled.len(),
        left.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_the_start_without_showing_it() {
    let prefix = unique_prefix("password");
    let secret = "not-the-password-5e1f";
    let result = Svc { amqp: Amqp::new() }
        .runtime()
        .handle_signals(false)
        .with_settings(settings(
            &prefix,
            json!({"amqp": {"password": secret, "connection_timeout": 1}}),
        ))
        .unwrap()
        .start()
        .await;
    let error = result.expect_err("the login is refused");
    let chain = error_chain(&error);
    assert!(chain.contains("resource `amqp` failed in start"), "{chain}");
    assert!(
        chain.contains("cannot connect to amqp://guest@127.0.0.1:5672"),
        "{chain}"
    );
    assert!(!chain.contains(secret), "{chain}");
}

async fn next(stream: &mut tamarco::amqp::InputStream<Order>) -> tamarco::amqp::Delivery<Order> {
    timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("in time")
        .expect("a delivery")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_reader_can_reject_to_the_dead_letter_queue_and_requeue() {
    let prefix = unique_prefix("stream_reject");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let amqp = Amqp::new();
    let orders = amqp.push_output("orders", Json);
    let mut stream = amqp.pull_input::<Order>("orders", Json).stream().unwrap();
    let running = start(Svc { amqp }, settings(&prefix, json!({}))).await;
    orders.push(&order(1)).await.unwrap();
    orders.push(&order(2)).await.unwrap();
    let first = next(&mut stream).await;
    assert_eq!(first.value().id, 1);
    first.requeue().await;
    // Requeued: it comes again (maybe after 2), marked redelivered.
    let mut again = next(&mut stream).await;
    if again.value().id == 2 {
        again.reject("two is refused").await.unwrap();
        again = next(&mut stream).await;
    } else {
        let two = next(&mut stream).await;
        two.reject("two is refused").await.unwrap();
    }
    assert_eq!(again.value().id, 1);
    assert!(again.redelivered());
    again.ack().await.unwrap();

    let broker = connect().await;
    let queue = format!(
        "{}.dead_letter",
        full_name(&prefix, Pattern::PushPull, "orders")
    );
    let dead = take_all(&broker, &queue, Duration::from_secs(10)).await;
    assert_eq!(dead.len(), 1);
    let body: Order = tamarco::serde_json::from_slice(&dead[0].data).unwrap();
    assert_eq!(body.id, 2);
    let _ = broker.close(200, "OK".into()).await;
    stop(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_streams_answer_and_reject_with_a_binary_codec_and_generic_outputs_publish() {
    use tamarco::codec::Postcard;
    let prefix = unique_prefix("request_stream");
    let _cleanup = Cleanup::new(
        &prefix,
        &[
            (Pattern::RequestResponse, "quotes"),
            (Pattern::PublishSubscribe, "events"),
        ],
    );
    let server_amqp = Amqp::new();
    let mut requests = server_amqp
        .request_input::<Order, Quote, _>("quotes", Postcard)
        .stream()
        .unwrap();
    let (sender, mut events) = mpsc::unbounded_channel();
    server_amqp
        .subscription_input("events", Json)
        .handle(move |event: Message<Order>| {
            let sender = sender.clone();
            async move { sender.send(event.into_value()).map_err(BoxError::from) }
        })
        .unwrap();
    let server = start(Svc { amqp: server_amqp }, settings(&prefix, json!({}))).await;
    let answering = tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let id = request.value().id;
            if id == 2 {
                request.reject("no quote for 2").await.unwrap();
            } else {
                request.respond(&Quote { id, cents: 42 }).await.unwrap();
            }
        }
    });

    let client_amqp = Amqp::new();
    let quotes = client_amqp.request_output::<Order, Quote, _>("quotes", Postcard);
    let generic = client_amqp.generic_output::<Order>(Json);
    let client = start(Svc { amqp: client_amqp }, settings(&prefix, json!({}))).await;
    assert_eq!(
        quotes.request(&order(1)).await.unwrap(),
        Quote { id: 1, cents: 42 }
    );
    let error = quotes.request(&order(2)).await.expect_err("rejected");
    assert!(error_chain(&error).contains("no quote for 2"), "{error}");
    generic.publish("events", &order(9)).await.unwrap();
    assert_eq!(
        receive(&mut events, 1, Duration::from_secs(10)).await,
        [order(9)]
    );

    let broker = connect().await;
    let queue = format!(
        "{}.dead_letter",
        full_name(&prefix, Pattern::RequestResponse, "quotes")
    );
    let dead = take_all(&broker, &queue, Duration::from_secs(10)).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0]
            .properties
            .content_type()
            .as_ref()
            .map(|c| c.as_str()),
        Some("application/x-postcard")
    );
    let _ = broker.close(200, "OK".into()).await;
    stop(client).await;
    stop(server).await;
    timeout(Duration::from_secs(5), answering)
        .await
        .expect("the request stream ended with the service")
        .unwrap();
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
    let consumer = start(
        Svc {
            amqp: consumer_amqp,
        },
        settings(&prefix, amqp_settings.clone()),
    )
    .await;
    let producer_amqp = Amqp::new();
    let orders = producer_amqp.push_output("orders", Json);
    let producer = start(
        Svc {
            amqp: producer_amqp,
        },
        settings(&prefix, amqp_settings),
    )
    .await;
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
    let deadline = Instant::now() + Duration::from_secs(60);
    while (seen.lock().unwrap().len() as u64) < N / 10 {
        assert!(Instant::now() < deadline, "a third arrived in time");
        sleep(Duration::from_millis(5)).await;
    }
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
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_of(&consumer, "amqp") != ResourceStatus::Connecting {
        assert!(Instant::now() < deadline, "the consumer reports CONNECTING");
        sleep(Duration::from_millis(20)).await;
    }
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
    let deadline = Instant::now() + Duration::from_secs(60);
    while (seen.lock().unwrap().len() as u64) < N {
        assert!(
            Instant::now() < deadline,
            "all arrived: {} of {N}",
            seen.lock().unwrap().len()
        );
        sleep(Duration::from_millis(10)).await;
    }
    assert!(consumer.service().amqp.reconnects() >= 1);
    assert!(producer.service().amqp.reconnects() >= 1);
    stop(producer).await;
    stop(consumer).await;
}

/// A service wired the way the code of `#[input]` and `#[output]` does it: `Default` outputs
/// bound at pre-start, inputs whose handlers take `&self`, a request handler whose result is
/// the reply.
#[microservice(name = "amqp_bound")]
#[derive(Default)]
struct Bound {
    #[resource]
    amqp: Amqp,
    orders: tamarco::amqp::PushOutput<Order>,
    quotes: tamarco::amqp::RequestOutput<Order, Quote>,
    seen: Mutex<Vec<u64>>,
}

#[microservice]
impl Bound {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        use tamarco::__private::{InputSpec, bind_input, bind_output, bind_request_input, kind};
        bind_output(&self.amqp, &self.orders, "orders", Json)?;
        bind_output(&self.amqp, &self.quotes, "quotes", Json)?;
        let service = Arc::clone(&self);
        bind_input::<_, kind::Pull, _, _, _, _, _>(
            &self.amqp,
            InputSpec::new("orders").concurrency(2),
            Json,
            move |m| {
                let service = Arc::clone(&service);
                async move { service.on_order(m).await }
            },
        )?;
        let service = Arc::clone(&self);
        bind_request_input(
            &self.amqp,
            InputSpec::new("quotes").retries(0),
            Json,
            move |m| {
                let service = Arc::clone(&service);
                async move { service.quote(m).await }
            },
        )?;
        stage.run().await?;
        Ok(())
    }

    async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> {
        assert!(
            order.routing_key().ends_with("orders"),
            "AMQP metadata through Deref"
        );
        self.seen.lock().unwrap().push(order.value().id);
        Ok(())
    }

    async fn quote(&self, asked: Message<Order>) -> Result<Quote, BoxError> {
        if asked.value().item == "unicorn" {
            return Err("no unicorns".into());
        }
        Ok(Quote {
            id: asked.value().id,
            cents: 250,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_and_inputs_bound_as_the_attributes_do_round_trip_with_replies_and_errors() {
    let prefix = unique_prefix("bound");
    let _cleanup = Cleanup::new(
        &prefix,
        &[
            (Pattern::PushPull, "orders"),
            (Pattern::RequestResponse, "quotes"),
        ],
    );
    let unbound = Bound::default();
    let error = unbound.orders.push(&order(0)).await.unwrap_err();
    assert!(matches!(error, AmqpError::Unbound(_)), "{error}");
    let running = start(Bound::default(), settings(&prefix, json!({}))).await;
    let service = running.service();
    for id in 1..=5 {
        service.orders.push(&order(id)).await.expect("confirmed");
    }
    let quote = service.quotes.request(&order(7)).await.expect("a reply");
    assert_eq!((quote.id, quote.cents), (7, 250));
    let mut unicorn = order(8);
    unicorn.item = "unicorn".to_owned();
    let error = service.quotes.request(&unicorn).await.expect_err("refused");
    assert!(
        matches!(&error, AmqpError::Remote { message, .. } if message.contains("no unicorns")),
        "{error}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while service.seen.lock().unwrap().len() < 5 {
        assert!(Instant::now() < deadline, "all orders handled in time");
        sleep(Duration::from_millis(10)).await;
    }
    let mut seen = service.seen.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    stop(running).await;
}

/// An input whose attribute says no retries and its own dead-letter queue; settings under the
/// input's own key (`system.resources.amqp.inputs.orders`) override both.
#[microservice(name = "amqp_overrides")]
#[derive(Default)]
struct Overridden {
    #[resource]
    amqp: Amqp,
    #[output(amqp, push = "orders")]
    orders: tamarco::amqp::PushOutput<Order>,
    attempts: Mutex<Vec<u32>>,
}

#[microservice]
impl Overridden {
    #[input(
        amqp,
        pull = "orders",
        retries = 0,
        dead_letter = "in_code.dead_letter"
    )]
    async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> {
        self.attempts.lock().unwrap().push(order.attempt());
        Err(format!("order {} always fails", order.value().id).into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_under_the_input_key_override_the_attribute_options() {
    let prefix = unique_prefix("overrides");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let dead_letter = format!("{prefix}.overridden.dead_letter");
    let inputs =
        json!({"orders": {"retries": 2, "retry_backoff_ms": 10, "dead_letter": dead_letter}});
    let running = start(
        Overridden::default(),
        settings(&prefix, json!({"amqp": {"inputs": inputs}})),
    )
    .await;
    running.service().orders.push(&order(7)).await.unwrap();
    let broker = connect().await;
    let dead = take_all(&broker, &dead_letter, Duration::from_secs(20)).await;
    assert_eq!(
        dead.len(),
        1,
        "the order reached the dead-letter queue the settings name"
    );
    assert_eq!(
        *running.service().attempts.lock().unwrap(),
        [1, 2, 3],
        "the handler ran 1 + the 2 retries the settings ask for"
    );
    stop(running).await;
    let channel = broker.create_channel().await.unwrap();
    let _ = channel
        .queue_delete(dead_letter.as_str().into(), Default::default())
        .await;
    let _ = broker.close(200, "OK".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_durations_and_input_options_in_settings_stop_the_start_naming_their_key() {
    let prefix = unique_prefix("bad_option");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    for (amqp, key, value) in [
        (
            json!({"inputs": {"orders": {"concurrency": "plenty-7c1e"}}}),
            "system.resources.amqp.inputs.orders.concurrency",
            "plenty-7c1e",
        ),
        (
            json!({"retry_backoff": "soon-9f2a"}),
            "system.resources.amqp.retry_backoff",
            "soon-9f2a",
        ),
    ] {
        let result = Overridden::default()
            .runtime()
            .handle_signals(false)
            .with_settings(settings(&prefix, json!({ "amqp": amqp })))
            .unwrap()
            .start()
            .await;
        let chain = error_chain(&result.expect_err("the start fails"));
        println!("{chain}");
        assert!(chain.contains(key), "{chain}");
        assert!(!chain.contains(value), "the value stays out: {chain}");
    }
}
