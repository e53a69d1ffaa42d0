//! 10 — AMQP push/pull: a task pushes orders to the durable queue `push_pull.orders`, and a
//! handler method of the same service pulls them. Each order is acked once its handler
//! returned `Ok`; a failing handler would be retried, then dead-lettered. The service stops by
//! itself once every order came back. Needs the cargo feature `amqp` of `tamarco` and a
//! RabbitMQ on 127.0.0.1:5672 (guest/guest, the resource's defaults).
//!
//! ```text
//! cargo run --example amqp_push_pull --features amqp
//! ```
//!
//! Another broker: `system.resources.amqp.{host, port, vhost, user, password}` in the settings
//! file named by `TAMARCO_YML_FILE`.

use std::sync::atomic::{AtomicU64, Ordering};

use tamarco::amqp::{Amqp, Message, PushOutput};
use tamarco::prelude::*;
use tamarco::tracing::info;

const ORDERS: u64 = 5;

/// `#[message]` derives serde's traits through tamarco, so the JSON codec carries it.
#[message]
#[derive(Debug)]
struct Order {
    id: u64,
    item: String,
}

#[microservice(name = "amqp_push_pull", main)]
#[derive(Default)]
struct Warehouse {
    #[resource]
    amqp: Amqp,
    /// Bound to the queue `orders` of `amqp` before the resource starts (JSON by default).
    #[output(amqp, push = "orders")]
    orders: PushOutput<Order>,
    pulled: AtomicU64,
    cx: ServiceContext,
}

#[microservice]
impl Warehouse {
    /// Pushes the orders; each push resolves once the broker confirmed it.
    #[task]
    async fn push_orders(&self) -> Result<(), BoxError> {
        for id in 1..=ORDERS {
            let item = format!("crate #{id}");
            self.orders.push(&Order { id, item }).await?;
        }
        info!(orders = ORDERS, "pushed and confirmed");
        Ok(())
    }

    /// The handler of the queue `orders`: the order arrives decoded; returning `Ok` acks it.
    /// After the last one it stops the service, which lets the handler finish and ack first.
    #[input(amqp, pull = "orders")]
    async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> {
        info!(id = order.value().id, item = %order.value().item, "pulled");
        if self.pulled.fetch_add(1, Ordering::Relaxed) + 1 == ORDERS {
            self.cx.stop_gracefully();
        }
        Ok(())
    }
}
