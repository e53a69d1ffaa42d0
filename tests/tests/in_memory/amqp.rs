//! AMQP on the in-memory broker: an input fed and its output captured, a request input
//! answering, and request outputs answered by a responder or the service's own input.

use super::*;

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
