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
    /// Not an offset reset, and an empty group: both reported.
    #[input(kafka, topic = "orders", offset_reset = "oldest", group = "")]
    async fn on_order(&self, order: Message<String>) -> Result<(), BoxError> {
        drop(order);
        Ok(())
    }

    /// The Python original's spelling.
    #[input(kafka, topic = "refunds", offset_reset = "smallest")]
    async fn on_refund(&self, refund: Message<String>) -> Result<(), BoxError> {
        drop(refund);
        Ok(())
    }
}

fn main() {}
