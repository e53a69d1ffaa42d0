//! The three services of the distributed tracing test (`tests/tests/tracing_otel/`), one per
//! process, chosen by `PROBE_MODE`; each exports its spans over OTLP to the test's receiver:
//!
//! - `front`: `POST /orders/{id}` pushes the order to the AMQP queue `orders`;
//! - `relay`: takes `orders` from AMQP and pushes each to the Kafka topic `orders`;
//! - `sink`: takes `orders` from Kafka and logs `order finished`, shipped to Logstash (v0 over
//!   UDP) as well as to stdout.
//!
//! Settings come from the environment: `HOP_COLLECTOR` (the receiver's base URL), `HOP_PREFIX`
//! (the AMQP queue prefix), `HOP_BOOTSTRAP` (the Kafka broker), `HOP_HTTP_PORT` (front's port),
//! `HOP_LOGSTASH_PORT` (sink's Logstash port on 127.0.0.1).

use tamarco::amqp::{Amqp, Message as AmqpMessage, PushOutput};
use tamarco::http::HttpServer;
use tamarco::http::axum::extract::Path;
use tamarco::http::axum::http::StatusCode;
use tamarco::kafka::{Kafka, Message as KafkaMessage, TopicOutput};
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::{Value, json};

#[derive(Debug, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Order {
    id: u64,
}

#[microservice(name = "hop_front")]
#[derive(Default)]
struct Front {
    #[resource]
    http_server: HttpServer,
    #[resource]
    amqp: Amqp,
    #[output(amqp, push = "orders")]
    orders: PushOutput<Order>,
}

#[microservice]
impl Front {
    #[route(http_server, POST "/orders/{id}")]
    async fn order(&self, Path(id): Path<u64>) -> Result<&'static str, StatusCode> {
        self.orders
            .push(&Order { id })
            .await
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok("queued")
    }
}

#[microservice(name = "hop_relay")]
#[derive(Default)]
struct Relay {
    #[resource]
    amqp: Amqp,
    #[resource]
    kafka: Kafka,
    #[output(kafka, topic = "orders")]
    orders: TopicOutput<Order>,
}

#[microservice]
impl Relay {
    #[input(amqp, pull = "orders")]
    async fn on_order(&self, order: AmqpMessage<Order>) -> Result<(), BoxError> {
        self.orders.push(order.value()).await?;
        Ok(())
    }
}

#[microservice(name = "hop_sink")]
#[derive(Default)]
struct Sink {
    #[resource]
    kafka: Kafka,
}

#[microservice]
impl Sink {
    #[input(kafka, topic = "orders")]
    async fn on_order(&self, order: KafkaMessage<Order>) -> Result<(), BoxError> {
        tamarco::tracing::info!(order = order.value().id, "order finished");
        Ok(())
    }
}

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("{key} is set"))
}

/// Settings every hop shares: no report server, spans to the test's receiver, every root
/// span sampled.
fn settings(resources: Value, logging: Value) -> Value {
    let mut settings = tamarco_tests::quiet_settings();
    let system = &mut settings["system"];
    for (name, value) in resources.as_object().expect("resources are a map") {
        system["resources"][name] = value.clone();
    }
    system["logging"] = logging;
    system["tracing"] = tamarco_tests::sampled_tracing(&env("HOP_COLLECTOR"));
    settings
}

fn main() -> ExitStatus {
    let amqp = || json!({"queues_prefix": env("HOP_PREFIX")});
    let kafka = || json!({"bootstrap_servers": env("HOP_BOOTSTRAP"), "commit_interval": "200ms"});
    match env("PROBE_MODE").as_str() {
        "front" => {
            let port: u16 = env("HOP_HTTP_PORT").parse().expect("a port");
            let resources = json!({"http_server": {"port": port}, "amqp": amqp()});
            Front::default()
                .runtime()
                .with_settings(settings(resources, json!({})))
                .expect("valid settings")
                .run()
        }
        "relay" => Relay::default()
            .runtime()
            .with_settings(settings(
                json!({"amqp": amqp(), "kafka": kafka()}),
                json!({}),
            ))
            .expect("valid settings")
            .run(),
        "sink" => {
            let port: u16 = env("HOP_LOGSTASH_PORT").parse().expect("a port");
            let logging = json!({"logstash": {
                "enabled": true, "host": "127.0.0.1", "port": port, "version": 0,
            }});
            Sink::default()
                .runtime()
                .with_settings(settings(json!({"kafka": kafka()}), logging))
                .expect("valid settings")
                .run()
        }
        other => panic!("unknown PROBE_MODE {other}"),
    }
}
