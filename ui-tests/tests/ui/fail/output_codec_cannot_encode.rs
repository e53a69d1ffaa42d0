use tamarco::amqp::{Amqp, PublishOutput};
use tamarco::prelude::*;

/// Not `Serialize`: JSON cannot encode it.
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
}

#[microservice]
impl Prices {}

fn main() {
    let _ = Price { cents: 1 }.cents;
}
