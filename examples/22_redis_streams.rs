//! 22 — Redis Streams, at least once: a task adds orders to the stream `example:orders`
//! through an `#[output]` field, and a handler method reads them as a consumer of the group
//! `redis_streams` (the service's name). Each entry is acked once its handler returned `Ok`;
//! one whose handler keeps failing is retried, then added to `example:orders.dead_letter`.
//! Entries a consumer read but never acked (it was killed) are claimed by a live consumer of
//! the group after `streams.claim_idle`. The service stops by itself once every order came
//! back. Needs the cargo feature `redis` of `tamarco` and a Redis on 127.0.0.1:6379 (the
//! resource's default).
//!
//! ```text
//! cargo run --example redis_streams --features redis
//! ```
//!
//! Run it again: the group goes on after the entries it already handled.

use std::sync::atomic::{AtomicU64, Ordering};

use tamarco::messaging::Message;
use tamarco::prelude::*;
use tamarco::redis::{Redis, StreamMeta, StreamOutput};
use tamarco::tracing::info;

const ORDERS: u64 = 5;

/// `#[message]` derives serde's traits through tamarco, so the JSON codec carries it.
#[message]
#[derive(Debug)]
struct Order {
    id: u64,
    item: String,
}

#[microservice(name = "redis_streams", main)]
#[derive(Default)]
struct Warehouse {
    #[resource]
    redis: Redis,
    /// Adds entries (`XADD`) to the stream, each order JSON in the field `body`.
    #[output(redis, stream = "example:orders")]
    orders: StreamOutput<Order>,
    handled: AtomicU64,
    cx: ServiceContext,
}

#[microservice]
impl Warehouse {
    /// Adds the orders to the stream.
    #[task]
    async fn add_orders(&self) -> Result<(), BoxError> {
        for id in 1..=ORDERS {
            let item = format!("crate #{id}");
            self.orders.push(&Order { id, item }).await?;
        }
        info!(orders = ORDERS, "added to the stream");
        Ok(())
    }

    /// The group's handler of the stream: returning `Ok` acks the entry (`XACK`); an `Err`
    /// is retried twice, then dead-lettered. After the last order it stops the service,
    /// which lets the handler finish and ack first.
    #[input(redis, stream = "example:orders", retries = 2)]
    async fn on_order(&self, order: Message<Order, StreamMeta>) -> Result<(), BoxError> {
        let entry = order.meta();
        info!(
            id = order.value().id,
            item = %order.value().item,
            entry = entry.id(),
            deliveries = ?entry.deliveries(),
            "handled"
        );
        if self.handled.fetch_add(1, Ordering::Relaxed) + 1 == ORDERS {
            self.cx.stop_gracefully();
        }
        Ok(())
    }
}
