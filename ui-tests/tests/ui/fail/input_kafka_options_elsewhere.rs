use tamarco::amqp::{Amqp, Message};
use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Orders {
    #[resource]
    amqp: Amqp,
}

#[microservice]
impl Orders {
    /// Consumer groups are Kafka's.
    #[input(amqp, pull = "orders", group = "billing", offset_reset = "latest")]
    async fn on_order(&self, order: Message<String>) -> Result<(), BoxError> {
        drop(order);
        Ok(())
    }

    /// A `topic` input is named by its topic.
    #[input(amqp, topic = "refunds", name = "money_back")]
    async fn on_refund(&self, refund: Message<String>) -> Result<(), BoxError> {
        drop(refund);
        Ok(())
    }
}

fn main() {}
