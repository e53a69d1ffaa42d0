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

use tamarco::amqp::{Amqp, Message, PublishOutput};
use tamarco::prelude::*;
use tamarco::tracing::info;

const EVENTS: u64 = 3;

#[message]
#[derive(Debug)]
struct PriceChanged {
    item: String,
    cents: u64,
}

#[microservice(name = "amqp_publish_subscribe", main)]
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
    /// How many events the two subscribers saw together.
    seen: AtomicU64,
    cx: ServiceContext,
}

#[microservice]
impl Prices {
    #[task]
    async fn publish(&self) -> Result<(), BoxError> {
        for (item, cents) in [("tea", 100), ("coffee", 110), ("cocoa", 120)] {
            let item = item.to_owned();
            self.prices.publish(&PriceChanged { item, cents }).await?;
        }
        info!(events = EVENTS, "published");
        Ok(())
    }

    #[input(amqp, subscribe = "prices")]
    async fn on_price(&self, event: Message<PriceChanged>) -> Result<(), BoxError> {
        let event = event.value();
        info!(item = %event.item, cents = event.cents, "the price subscriber saw it");
        self.saw();
        Ok(())
    }

    #[input(audit, subscribe = "prices")]
    async fn on_audit(&self, event: Message<PriceChanged>) -> Result<(), BoxError> {
        info!(item = %event.value().item, "the audit subscriber saw it");
        self.saw();
        Ok(())
    }

    /// Each subscriber gets every event: once both saw them all, the service stops.
    fn saw(&self) {
        if self.seen.fetch_add(1, Ordering::Relaxed) + 1 == 2 * EVENTS {
            self.cx.stop_gracefully();
        }
    }
}
