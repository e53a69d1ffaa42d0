//! Handler errors and undecodable messages go to the dead-letter topic, and the input moves on.

use super::*;

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
    wait_until(
        WAIT,
        || service.seen().len() >= 2,
        || "the good orders are handled",
    )
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
