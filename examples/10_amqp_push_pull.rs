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
use std::time::Duration;

use tamarco::amqp::{Amqp, Message, PushOutput};
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::tokio::sync::Notify;
use tamarco::tracing::info;

const ORDERS: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Order {
    id: u64,
    item: String,
}

#[microservice(name = "amqp_push_pull")]
#[derive(Default)]
struct Warehouse {
    #[resource]
    amqp: Amqp,
    /// Bound to the queue `orders` of `amqp` before the resource starts (JSON by default).
    #[output(amqp, push = "orders")]
    orders: PushOutput<Order>,
    pulled: AtomicU64,
    all_pulled: Notify,
    cx: ServiceContext,
}

#[microservice]
impl Warehouse {
    /// Pushes the orders (each resolves once the broker confirmed it), waits until they were
    /// all pulled, and stops the service.
    #[task]
    async fn push_orders(&self) -> Result<(), BoxError> {
        for id in 1..=ORDERS {
            let item = format!("crate #{id}");
            self.orders.push(&Order { id, item }).await?;
        }
        info!(orders = ORDERS, "pushed and confirmed");
        tamarco::tokio::time::timeout(Duration::from_secs(10), self.all_pulled.notified()).await?;
        self.cx.stop_gracefully();
        Ok(())
    }

    /// The handler of the queue `orders`: the order arrives decoded; returning `Ok` acks it.
    #[input(amqp, pull = "orders")]
    async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> {
        let order = order.value();
        info!(id = order.id, item = %order.item, "pulled");
        if self.pulled.fetch_add(1, Ordering::Relaxed) + 1 == ORDERS {
            self.all_pulled.notify_one();
        }
        Ok(())
    }
}

fn main() -> ExitStatus {
    Warehouse::default().run()
}
