use tamarco::amqp::{Amqp, Message};
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
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

    #[input(amqp, subscribe = "prices", concurrency = 4)]
    async fn on_price_again(&self, price: Message<Price>) -> Result<(), BoxError> {
        let _ = price.value().cents;
        Ok(())
    }
}

fn main() {}
