use tamarco::amqp::{PublishOutput, PushOutput};
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
    #[output(rabbit, publish = "prices")]
    prices: PublishOutput<Price>,
    #[output(amqp, publish = "orders")]
    orders: PushOutput<Price>,
    #[output(amqp, push = "refunds")]
    refunds: PushOutput<Price>,
    #[output(amqp, push = "refunds")]
    refunds_again: PushOutput<Price>,
}

#[microservice]
impl Prices {
    #[input(amqp, subscribe = "unused")]
    async fn on_price(&self, price: Message<Price>) -> Result<(), BoxError> {
        let _ = price.value().cents;
        Ok(())
    }
}

fn main() {}
