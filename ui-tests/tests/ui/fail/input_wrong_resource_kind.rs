use tamarco::http::HttpServer;
use tamarco::amqp::Message;
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
    http_server: HttpServer,
}

#[microservice]
impl Prices {
    #[input(http_server, subscribe = "prices")]
    async fn on_price(&self, price: Message<Price>) -> Result<(), BoxError> {
        let _ = price.value().cents;
        Ok(())
    }
}

fn main() {}
