use tamarco::amqp::{Amqp, Message};
use tamarco::prelude::*;

/// Not `Deserialize`: JSON cannot decode it.
struct Price {
    cents: u64,
}

#[microservice]
#[derive(Default)]
struct Prices {
    #[resource]
    amqp: Amqp,
}

#[microservice]
impl Prices {
    #[input(amqp, subscribe = "prices")]
    async fn on_price(&self, price: Message<Price>) -> Result<(), BoxError> {
        let _ = price.value().cents;
        Ok(())
    }
}

fn main() {}
