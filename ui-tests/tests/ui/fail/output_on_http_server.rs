use tamarco::amqp::PublishOutput;
use tamarco::http::HttpServer;
use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Prices {
    #[resource]
    http_server: HttpServer,
    #[output(http_server, publish = "prices")]
    prices: PublishOutput<u64>,
}

#[microservice]
impl Prices {}

fn main() {}
