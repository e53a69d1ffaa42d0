//! 11 — AMQP publish/subscribe: events published to the fanout exchange
//! `publish_subscribe.prices` reach every subscriber. Two resources of the same service
//! subscribe, each with its own exclusive queue: one through a handler method, the other read
//! as a stream by a task. The service stops by itself once both saw every event. Needs the
//! cargo feature `amqp` of `tamarco` and a RabbitMQ on 127.0.0.1:5672 (guest/guest).
//!
//! ```text
//! cargo run --example amqp_publish_subscribe --features amqp
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tamarco::amqp::{Amqp, InputStream, Message, PublishOutput};
use tamarco::codec::Json;
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::tokio::sync::{Mutex, Notify};
use tamarco::tracing::info;

const EVENTS: u64 = 3;

#[derive(Debug, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct PriceChanged {
    item: String,
    cents: u64,
}

#[microservice(name = "amqp_publish_subscribe")]
struct Prices {
    /// Publishes, and subscribes with a handler.
    #[resource]
    amqp: Amqp,
    /// A second connection that subscribes too (settings at `system.resources.audit`).
    #[resource]
    audit: Amqp,
    prices: PublishOutput<PriceChanged>,
    audit_stream: Mutex<Option<InputStream<PriceChanged>>>,
    handled: AtomicU64,
    handler_done: Notify,
}

#[microservice]
impl Prices {
    /// Both subscriptions are declared before the resources start; once started, their queues
    /// are bound and see every event published from then on.
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        self.amqp
            .subscription_input("prices", Json)
            .handle_with(&self, Self::on_price)?;
        let stream = self.audit.subscription_input("prices", Json).stream()?;
        *self.audit_stream.lock().await = Some(stream);
        stage.run().await?;
        Ok(())
    }

    #[task]
    async fn publish_and_audit(&self, cx: TaskContext) -> Result<(), BoxError> {
        for (n, item) in ["tea", "coffee", "cocoa"].into_iter().enumerate() {
            let event = PriceChanged {
                item: item.to_owned(),
                cents: 100 + 10 * n as u64,
            };
            self.prices.publish(&event).await?;
        }
        info!(events = EVENTS, "published");
        let mut stream = self.audit_stream.lock().await.take().ok_or("no stream")?;
        for _ in 0..EVENTS {
            let delivery = tamarco::tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await?
                .ok_or("the stream ended")?;
            info!(item = %delivery.value().item, "audit subscriber saw it");
            delivery.ack().await?;
        }
        tamarco::tokio::time::timeout(Duration::from_secs(10), self.handler_done.notified())
            .await?;
        cx.shutdown().stop_gracefully();
        Ok(())
    }

    async fn on_price(self: Arc<Self>, event: Message<PriceChanged>) -> Result<(), BoxError> {
        let event = event.value();
        info!(item = %event.item, cents = event.cents, "handler subscriber saw it");
        if self.handled.fetch_add(1, Ordering::Relaxed) + 1 == EVENTS {
            self.handler_done.notify_one();
        }
        Ok(())
    }
}

fn main() -> ExitStatus {
    let amqp = Amqp::new();
    let prices = amqp.publish_output("prices", Json);
    Prices {
        amqp,
        audit: Amqp::new(),
        prices,
        audit_stream: Mutex::new(None),
        handled: AtomicU64::new(0),
        handler_done: Notify::new(),
    }
    .run()
}
