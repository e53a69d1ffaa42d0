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
    fn not_async(&self, price: Message<Price>) -> Result<(), BoxError> {
        let _ = price.value().cents;
        Ok(())
    }

    #[input(amqp, pull = "orders")]
    async fn no_message(&self) -> Result<(), BoxError> {
        Ok(())
    }

    #[input(amqp, pull = "refunds")]
    async fn two_messages(&self, a: Message<Price>, b: Message<Price>) -> Result<(), BoxError> {
        let _ = (a, b);
        Ok(())
    }
}

fn main() {}
