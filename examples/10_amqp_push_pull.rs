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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tamarco::amqp::{Amqp, Message, PushOutput};
use tamarco::codec::Json;
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
struct Warehouse {
    #[resource]
    amqp: Amqp,
    orders: PushOutput<Order>,
    pulled: AtomicU64,
    all_pulled: Notify,
}

#[microservice]
impl Warehouse {
    /// Declares the input before the resource starts; it consumes once the resource started.
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        self.amqp
            .pull_input("orders", Json)
            .handle_with(&self, Self::on_order)?;
        stage.run().await?;
        Ok(())
    }

    /// Pushes the orders (each resolves once the broker confirmed it), waits until they were
    /// all pulled, and stops the service.
    #[task]
    async fn push_orders(&self, cx: TaskContext) -> Result<(), BoxError> {
        for id in 1..=ORDERS {
            let item = format!("crate #{id}");
            self.orders.push(&Order { id, item }).await?;
        }
        info!(orders = ORDERS, "pushed and confirmed");
        tamarco::tokio::time::timeout(Duration::from_secs(10), self.all_pulled.notified()).await?;
        cx.shutdown().stop_gracefully();
        Ok(())
    }

    /// A handler method: the order arrives decoded; returning `Ok` acks it.
    async fn on_order(self: Arc<Self>, order: Message<Order>) -> Result<(), BoxError> {
        let order = order.value();
        info!(id = order.id, item = %order.item, "pulled");
        if self.pulled.fetch_add(1, Ordering::Relaxed) + 1 == ORDERS {
            self.all_pulled.notify_one();
        }
        Ok(())
    }
}

fn main() -> ExitStatus {
    let amqp = Amqp::new();
    let orders = amqp.push_output("orders", Json);
    Warehouse {
        amqp,
        orders,
        pulled: AtomicU64::new(0),
        all_pulled: Notify::new(),
    }
    .run()
}
