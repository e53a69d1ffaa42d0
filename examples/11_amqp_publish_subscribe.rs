//! 11 — AMQP publish/subscribe: events published to the fanout exchange
//! `publish_subscribe.prices` reach every subscriber. Two resources of the same service
//! subscribe, each with its own exclusive queue and its own handler method. The service stops
//! by itself once both saw every event. (A task can read a subscription as a stream instead:
//! `amqp.subscription_input("prices", Json).stream()` in a `pre_start` hook.) Needs the
//! cargo feature `amqp` of `tamarco` and a RabbitMQ on 127.0.0.1:5672 (guest/guest).
//!
//! ```text
//! cargo run --example amqp_publish_subscribe --features amqp
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tamarco::amqp::{Amqp, Message, PublishOutput};
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::tokio::sync::Notify;
use tamarco::tracing::info;

const EVENTS: u64 = 3;

#[derive(Debug, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct PriceChanged {
    item: String,
    cents: u64,
}

#[microservice(name = "amqp_publish_subscribe")]
#[derive(Default)]
struct Prices {
    /// Publishes, and subscribes.
    #[resource]
    amqp: Amqp,
    /// A second connection that subscribes too (settings at `system.resources.audit`).
    #[resource]
    audit: Amqp,
    #[output(amqp, publish = "prices")]
    prices: PublishOutput<PriceChanged>,
    /// How many events each subscriber saw; both reach `EVENTS`.
    seen: [AtomicU64; 2],
    all_seen: Notify,
    cx: ServiceContext,
}

#[microservice]
impl Prices {
    #[task]
    async fn publish(&self) -> Result<(), BoxError> {
        for (n, item) in ["tea", "coffee", "cocoa"].into_iter().enumerate() {
            let event = PriceChanged {
                item: item.to_owned(),
                cents: 100 + 10 * n as u64,
            };
            self.prices.publish(&event).await?;
        }
        info!(events = EVENTS, "published");
        tamarco::tokio::time::timeout(Duration::from_secs(10), self.all_seen.notified()).await?;
        self.cx.stop_gracefully();
        Ok(())
    }

    #[input(amqp, subscribe = "prices")]
    async fn on_price(&self, event: Message<PriceChanged>) -> Result<(), BoxError> {
        let event = event.value();
        info!(item = %event.item, cents = event.cents, "the price subscriber saw it");
        self.saw(0);
        Ok(())
    }

    #[input(audit, subscribe = "prices")]
    async fn on_audit(&self, event: Message<PriceChanged>) -> Result<(), BoxError> {
        info!(item = %event.value().item, "the audit subscriber saw it");
        self.saw(1);
        Ok(())
    }

    fn saw(&self, subscriber: usize) {
        self.seen[subscriber].fetch_add(1, Ordering::Relaxed);
        if self
            .seen
            .iter()
            .all(|n| n.load(Ordering::Relaxed) == EVENTS)
        {
            self.all_seen.notify_one();
        }
    }
}

fn main() -> ExitStatus {
    Prices::default().run()
}
