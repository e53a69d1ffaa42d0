//! `tamarco::testing` with the AMQP, Kafka and Redis resources on an in-memory broker:
//! `#[input]` handlers fed with messages, `#[output]`s captured, AMQP requests answered, while
//! the settings point each resource at a port where no broker listens (so nothing here can
//! have reached a broker). Also: each service's captured log records.
//!
//! The tests by concept: `amqp`, `kafka` and `redis` (each resource on the in-memory broker)
//! and `services` (captured log records, errors naming the service). The AMQP `shop` service
//! and the dead-port settings they share are below.

mod amqp;
mod kafka;
mod redis;
mod services;

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
