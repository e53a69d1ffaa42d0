//! `tamarco::testing` with the AMQP resource on an in-memory broker: `#[input]` handlers fed
//! with messages and `#[output]`s captured, while the settings point the resource at a port
//! where no broker listens (so nothing here can have reached RabbitMQ).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use tamarco::amqp::{Amqp, Message, PushOutput};
use tamarco::prelude::*;
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
}

#[microservice]
impl Shop {
    /// Ships an order; refuses an empty one.
    #[input(amqp, pull = "orders", retries = 1, retry_backoff = "1ms")]
    async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> {
        if order.value().quantity == 0 {
            return Err(format!("empty order for {}", order.value().item).into());
        }
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
