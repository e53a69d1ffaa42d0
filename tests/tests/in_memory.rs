//! `tamarco::testing` with the AMQP, Kafka and Redis resources on an in-memory broker:
//! `#[input]` handlers fed with messages, `#[output]`s captured, AMQP requests answered, while
//! the settings point each resource at a port where no broker listens (so nothing here can
//! have reached a broker). Also: each service's captured log records. (Over 400 lines: the
//! three resources' cases share the message types and the dead-port settings.)

use std::net::TcpListener;
use std::time::{Duration, Instant};

use tamarco::amqp::{Amqp, Message, PushOutput, RequestOutput};
use tamarco::kafka::{Kafka, TopicOutput};
use tamarco::prelude::*;
use tamarco::redis::{PubSubMeta, PublishOutput, Redis, StreamMeta, StreamOutput};
use tamarco::serde::{Deserialize, Serialize};
use tamarco::testing::{DeadReason, Envelope, Outcome, TestService};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Order {
    item: String,
    quantity: u32,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Quote {
    item: String,
    total_cents: u64,
}

#[microservice(name = "shop")]
#[derive(Default)]
struct Shop {
    #[resource]
    amqp: Amqp,
    #[output(amqp, push = "shipments")]
    shipments: PushOutput<Order>,
    /// Answered by the service's own `quotes` input.
    #[output(amqp, request = "quotes")]
    quote: RequestOutput<Order, Quote>,
    /// Answered by whatever the test registers.
    #[output(amqp, request = "stock")]
    stock: RequestOutput<String, u32>,
}

#[microservice]
impl Shop {
    /// Ships an order; refuses an empty one.
    #[input(amqp, pull = "orders", retries = 1, retry_backoff = "1ms")]
    async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> {
        if order.value().quantity == 0 {
            return Err(format!("empty order for {}", order.value().item).into());
        }
        tamarco::tracing::info!(item = %order.value().item, password = "hunter2", "shipping");
        self.shipments.push(order.value()).await?;
        Ok(())
    }

    /// Prices an order; the reply carries the routing key's last part as a proof that the
    /// handler saw the message's metadata.
    #[input(amqp, request = "quotes")]
    async fn on_quote(&self, order: Message<Order>) -> Result<Quote, BoxError> {
        let item = format!("{}@{}", order.value().item, order.routing_key());
        Ok(Quote {
            item,
            total_cents: 250 * u64::from(order.value().quantity),
        })
    }
}

/// A loopback port where nothing listens.
fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn shop() -> tamarco::testing::TestServiceBuilder<Shop> {
    TestService::builder(Shop::default())
        .setting("system.resources.amqp.host", "127.0.0.1")
        .setting("system.resources.amqp.port", dead_port())
        .setting("system.resources.amqp.connection_timeout", 1)
        .in_memory("amqp")
}

#[tokio::test]
async fn an_input_handler_is_fed_and_its_output_captured_without_a_broker() {
    let shop = shop().start().await.unwrap();
    let amqp = shop.broker("amqp").unwrap();
    let order = Order {
        item: "tea".to_owned(),
        quantity: 2,
    };

    let outcome = amqp.send_json("orders", &order).await.unwrap();
    assert_eq!(outcome, Outcome::Acked);
    let shipped = amqp.wait_sent("shipments", 1).await.unwrap();
    let shipped: Order = tamarco::serde_json::from_slice(&shipped[0].body).unwrap();
    assert_eq!(shipped, order);

    // A failing handler is retried (1 retry), then dead-lettered with its error; nothing ships.
    let empty = Order {
        item: "air".to_owned(),
        quantity: 0,
    };
    match amqp.send_json("orders", &empty).await.unwrap() {
        Outcome::DeadLettered {
            reason,
            error,
            attempts,
        } => {
            assert_eq!(reason, DeadReason::Handler);
            assert!(error.contains("empty order for air"), "{error}");
            assert_eq!(attempts, 2);
        }
        other => panic!("expected a dead letter, got {other:?}"),
    }
    // A body the codec refuses is dead-lettered at once.
    match amqp.send("orders", b"not json".to_vec()).await.unwrap() {
        Outcome::DeadLettered { reason, .. } => assert_eq!(reason, DeadReason::Decode),
        other => panic!("expected a dead letter, got {other:?}"),
    }
    assert_eq!(amqp.sent("shipments").len(), 1);

    // The counts in /status are the engine's, as with RabbitMQ (counted just after the
    // settlement: polled, bounded).
    let report = shop.report().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status: tamarco::serde_json::Value =
            report.get("/status").await.unwrap().json().unwrap();
        let orders = status["amqp"]["inputs"]
            .as_array()
            .and_then(|inputs| inputs.iter().find(|i| i["name"] == "orders").cloned())
            .unwrap_or_else(|| panic!("no orders input in {status}"));
        if orders["handled"] == 1 && orders["dead_lettered"] == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "counts in /status: {orders}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shop.stop().await.unwrap();
}

#[tokio::test]
async fn a_request_input_answers_on_the_in_memory_broker() {
    let shop = shop().start().await.unwrap();
    let amqp = shop.broker("amqp").unwrap();
    let order = Order {
        item: "coffee".to_owned(),
        quantity: 4,
    };
    let mut envelope = Envelope::new("quotes", tamarco::serde_json::to_vec(&order).unwrap());
    envelope.key = Some("eu".to_owned());
    let Outcome::Replied(body) = amqp.send_envelope(envelope).await.unwrap() else {
        panic!("no reply");
    };
    let quote: Quote = tamarco::serde_json::from_slice(&body).unwrap();
    assert_eq!(
        quote,
        Quote {
            item: "coffee@eu".to_owned(),
            total_cents: 1000
        }
    );
    shop.stop().await.unwrap();
}

#[tokio::test]
async fn request_outputs_are_answered_by_a_responder_or_the_services_own_input() {
    let shop = shop().start().await.unwrap();
    let amqp = shop.broker("amqp").unwrap();
    let order = Order {
        item: "tea".to_owned(),
        quantity: 3,
    };
    // The service's own request input answers (the routing key is the queue's name).
    let quote = shop.service().quote.request(&order).await.unwrap();
    assert_eq!(quote.item, "tea@quotes");
    assert_eq!(quote.total_cents, 750);

    // Nothing answers `stock` yet: it fails at once, saying what to do.
    let started = Instant::now();
    let error = shop
        .service()
        .stock
        .request(&"tea".to_owned())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("nothing answers requests to `stock`"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "not at once");

    amqp.respond_json("stock", |item: String| match item.as_str() {
        "tea" => Ok(12_u32),
        other => Err(format!("no {other} in stock")),
    });
    let stock = shop.service().stock.request(&"tea".to_owned()).await;
    assert_eq!(stock.unwrap(), 12);
    let refused = shop.service().stock.request(&"gold".to_owned()).await;
    let refused = refused.unwrap_err().to_string();
    assert!(refused.contains("no gold in stock"), "{refused}");
    // Each request is recorded as sent.
    assert_eq!(amqp.sent("stock").len(), 3);
    shop.stop().await.unwrap();
}

#[microservice(name = "ticker")]
#[derive(Default)]
struct Ticker {
    #[resource]
    kafka: Kafka,
    #[output(kafka, topic = "prices")]
    prices: TopicOutput<Order>,
}

#[microservice]
impl Ticker {
    /// Topics are made before the start, as against a real cluster (nothing to do in memory).
    async fn pre_start(&self, stage: Stage) -> Result<(), BoxError> {
        self.kafka.create_topics(&[("orders", 1)]).await?;
        stage.run().await?;
        Ok(())
    }

    /// Prices an order under its key, with the topic it came from as a header.
    #[input(kafka, topic = "orders", retries = 0)]
    async fn on_order(&self, order: tamarco::kafka::Message<Order>) -> Result<(), BoxError> {
        if order.value().quantity == 0 {
            return Err("an empty order".into());
        }
        let key = order.key_str().unwrap_or("none").to_owned();
        let sent = self.prices.message(order.value()).key(key);
        sent.header("from", order.topic()).push().await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_kafka_input_and_output_run_without_a_cluster() {
    let ticker = TestService::builder(Ticker::default())
        .setting(
            "system.resources.kafka.bootstrap_servers",
            format!("127.0.0.1:{}", dead_port()),
        )
        .setting("system.resources.kafka.connect_timeout", 1)
        .in_memory("kafka")
        .start()
        .await
        .unwrap();
    let kafka = ticker.broker("kafka").unwrap();
    let order = Order {
        item: "tea".to_owned(),
        quantity: 1,
    };
    let mut envelope = Envelope::new("orders", tamarco::serde_json::to_vec(&order).unwrap());
    envelope.key = Some("eu".to_owned());
    assert_eq!(kafka.send_envelope(envelope).await.unwrap(), Outcome::Acked);
    let priced = kafka.wait_sent("prices", 1).await.unwrap();
    assert_eq!(
        (priced[0].key.as_deref(), priced[0].header("from")),
        (Some("eu"), Some("orders"))
    );
    let priced: Order = tamarco::serde_json::from_slice(&priced[0].body).unwrap();
    assert_eq!(priced, order);
    // A push is acknowledged at once, offsets counted per topic.
    let receipt = ticker.service().prices.push(&order).await.unwrap();
    assert_eq!((receipt.partition, receipt.offset), (0, 1));

    let empty = Order {
        item: "air".to_owned(),
        quantity: 0,
    };
    let outcome = kafka.send_json("orders", &empty).await.unwrap();
    assert!(
        matches!(outcome, Outcome::DeadLettered { ref error, .. } if error.contains("an empty order")),
        "{outcome:?}"
    );
    ticker.stop().await.unwrap();
}

#[microservice(name = "alerts")]
#[derive(Default)]
struct Alerts {
    #[resource]
    redis: Redis,
    #[output(redis, publish = "alerts")]
    alerts: PublishOutput<String>,
    #[output(redis, stream = "audit")]
    audit: StreamOutput<String>,
}

#[microservice]
impl Alerts {
    /// Alerts on each order published on `orders`, naming the channel.
    #[input(redis, subscribe = "orders")]
    async fn on_order(
        &self,
        order: tamarco::messaging::Message<Order, PubSubMeta>,
    ) -> Result<(), BoxError> {
        let alert = format!("{} on {}", order.value().item, order.channel());
        self.alerts.publish(&alert).await?;
        Ok(())
    }

    /// Audits each entry of the stream `payments`, naming its id.
    #[input(redis, stream = "payments")]
    async fn on_payment(
        &self,
        payment: tamarco::messaging::Message<String, StreamMeta>,
    ) -> Result<(), BoxError> {
        let line = format!("{} as {}", payment.value(), payment.id());
        self.audit.push(&line).await?;
        Ok(())
    }
}

#[tokio::test]
async fn redis_subscribe_and_stream_inputs_and_outputs_run_without_a_server() {
    let alerts = TestService::builder(Alerts::default())
        .setting("system.resources.redis.host", "127.0.0.1")
        .setting("system.resources.redis.port", dead_port())
        .in_memory("redis")
        .start()
        .await
        .unwrap();
    let redis = alerts.broker("redis").unwrap();
    let order = Order {
        item: "tea".to_owned(),
        quantity: 1,
    };
    assert_eq!(
        redis.send_json("orders", &order).await.unwrap(),
        Outcome::Acked
    );
    let sent = redis.wait_sent("alerts", 1).await.unwrap();
    assert_eq!(sent[0].body, br#""tea on orders""#);

    assert_eq!(
        redis.send_json("payments", &"5 EUR").await.unwrap(),
        Outcome::Acked
    );
    assert_eq!(
        redis.send_json("payments", &"7 EUR").await.unwrap(),
        Outcome::Acked
    );
    let audit = redis.wait_sent("audit", 2).await.unwrap();
    let lines: Vec<&[u8]> = audit.iter().map(|e| e.body.as_slice()).collect();
    assert_eq!(
        lines,
        [&br#""5 EUR as 0-1""#[..], &br#""7 EUR as 0-2""#[..]]
    );
    // The key-value commands need a server: they fail as before a start.
    assert!(
        alerts
            .service()
            .redis
            .get::<Option<String>>("k")
            .await
            .is_err()
    );
    alerts.stop().await.unwrap();
}

#[tokio::test]
async fn each_service_captures_its_own_log_records() {
    // Two services of one type, in one test binary, at the same time.
    let (tea, coffee) = tokio::join!(shop().capture_logs().start(), shop().capture_logs().start());
    let (tea, coffee) = (tea.unwrap(), coffee.unwrap());
    for (shop, item) in [(&tea, "tea"), (&coffee, "coffee")] {
        let order = Order {
            item: item.to_owned(),
            quantity: 1,
        };
        let amqp = shop.broker("amqp").unwrap();
        assert_eq!(
            amqp.send_json("orders", &order).await.unwrap(),
            Outcome::Acked
        );
    }
    for (shop, item) in [(&tea, "tea"), (&coffee, "coffee")] {
        let logs = shop.logs().unwrap();
        // Made in the handler, on a task the engine spawned.
        let shipping = logs.containing("shipping");
        let items: Vec<_> = shipping.iter().map(|r| r.field("item")).collect();
        assert_eq!(items, [Some(item)], "{shipping:?}");
        assert_eq!(shipping[0].level, tamarco::tracing::Level::INFO);
        assert_eq!(shipping[0].field("password"), Some("[redacted]"));
        // The framework's own records, from the start on.
        assert!(!logs.containing("on an in-memory broker").is_empty());
    }
    tea.stop().await.unwrap();
    coffee.stop().await.unwrap();

    let plain = shop().start().await.unwrap();
    let error = plain.logs().unwrap_err().to_string();
    assert!(error.contains("call `.capture_logs()`"), "{error}");
    plain.stop().await.unwrap();
}

#[tokio::test]
async fn errors_name_the_service_and_the_resource() {
    // A name that no resource takes is refused at the start, not left to hang a send.
    let error = shop()
        .in_memory("ledger")
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(
            "service `shop`, resource `ledger`: the resource does not run on an in-memory broker"
        ),
        "{error}"
    );

    let shop = shop()
        .timeout(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let error = shop.broker("kafka").unwrap_err().to_string();
    assert!(
        error.contains("service `shop`, resource `kafka`")
            && error.contains(".in_memory(\"kafka\")"),
        "{error}"
    );
    // Nobody reads `refunds`: the wait is bounded and says what is missing.
    let amqp = shop.broker("amqp").unwrap();
    let error = amqp
        .send("refunds", b"{}".to_vec())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "service `shop`, resource `amqp`: the message sent to `refunds` was not settled"
        ) && error.contains("1 still waiting"),
        "{error}"
    );
    shop.stop().await.unwrap();
}
