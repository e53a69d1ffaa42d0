//! `#[input(kafka, ...)]` subscription options are checked by the attribute itself, before any
//! type is: the resource here is AMQP only so that the ui-tests need no librdkafka build
//! (trybuild builds its dependencies apart from the workspace's).

use tamarco::amqp::{Amqp as Kafka, Message};
use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Billing {
    #[resource]
    kafka: Kafka,
}

#[microservice]
impl Billing {
    /// `topic` beside `topics`.
    #[input(kafka, topic = "orders", topics = ["orders", "refunds"])]
    async fn on_order(&self, order: Message<String>) -> Result<(), BoxError> {
        drop(order);
        Ok(())
    }

    /// An empty list.
    #[input(kafka, topics = [], name = "nothing")]
    async fn on_nothing(&self, nothing: Message<String>) -> Result<(), BoxError> {
        drop(nothing);
        Ok(())
    }

    /// A topic listed twice, and an empty one.
    #[input(kafka, topics = ["refunds", "chargebacks", "refunds", ""])]
    async fn on_refund(&self, refund: Message<String>) -> Result<(), BoxError> {
        drop(refund);
        Ok(())
    }

    /// One topic, not a list.
    #[input(kafka, topics = "audit")]
    async fn on_audit(&self, audit: Message<String>) -> Result<(), BoxError> {
        drop(audit);
        Ok(())
    }
}

fn main() {}
