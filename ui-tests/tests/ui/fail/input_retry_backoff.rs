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
    /// Not a duration.
    #[input(amqp, pull = "orders", retry_backoff = "soon")]
    async fn orders(&self, order: Message<String>) -> Result<(), BoxError> {
        drop(order);
        Ok(())
    }

    /// The former key, in milliseconds.
    #[input(amqp, pull = "refunds", retry_backoff_ms = 250)]
    async fn refunds(&self, refund: Message<String>) -> Result<(), BoxError> {
        drop(refund);
        Ok(())
    }
}

fn main() {}
