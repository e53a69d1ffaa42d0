//! The patterns: push/pull, publish/subscribe and request/response, and dead letters.

use super::*;

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

    let (producer, orders) = order_pusher(&prefix, json!({})).await;
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
    let publisher = start_svc(publisher_amqp, &prefix, json!({})).await;
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
    let client = start_svc(client_amqp, &prefix, json!({})).await;

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
    let consumer = start_svc(consumer_amqp, &prefix, json!({})).await;

    let producer_amqp = Amqp::new();
    let orders = producer_amqp.push_output("orders", Json);
    let raw = producer_amqp.generic_output(Raw);
    let producer = start_svc(producer_amqp, &prefix, json!({})).await;
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
