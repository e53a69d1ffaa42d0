//! Kafka on the in-memory broker: an input and an output without a cluster.

use super::*;

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
