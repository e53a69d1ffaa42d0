//! `#[input]` of every AMQP kind with options, `#[output]` fields of every AMQP kind, and a
//! service that derives `Default`.

use std::sync::Arc;

use tamarco::amqp::{Amqp, GenericOutput, Message, PublishOutput, PushOutput, RequestOutput};
use tamarco::codec::{Json, Postcard};
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
    #[output(amqp, publish = "prices")]
    prices: PublishOutput<Price>,
    #[output(amqp, push = "orders", codec = Postcard)]
    orders: PushOutput<Price>,
    #[output(amqp, request = "quotes")]
    quotes: RequestOutput<Price, Price>,
    #[output(amqp, generic = "anything")]
    anything: GenericOutput<Price>,
}

#[microservice]
impl Prices {
    #[input(amqp, subscribe = "prices", concurrency = 4, prefetch = 16, retries = 3, retry_backoff = "100ms", dead_letter = "prices.dead", max_deliveries = 5)]
    async fn on_price(&self, price: Message<Price>) -> Result<(), BoxError> {
        let _ = price.value().cents;
        Ok(())
    }

    #[input(amqp, pull = "orders", codec = Postcard)]
    async fn on_order(self: Arc<Self>, order: Message<Price>) -> Result<(), std::io::Error> {
        let _ = order.value().cents;
        Ok(())
    }

    #[input(amqp, request = "quotes", codec = Json)]
    async fn quote(&self, ask: Message<Price>) -> Result<Price, BoxError> {
        Ok(Price { cents: ask.value().cents * 2 })
    }
}

fn main() {
    let _ = Prices::default();
}
