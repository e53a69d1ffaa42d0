//! Redis on the in-memory broker: subscribe and stream inputs and outputs without a server.

use super::*;

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
