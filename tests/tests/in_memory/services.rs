//! Per service: each captures its own log records, and errors name the service and the resource.

use super::*;

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
