use tamarco::http::HttpServer;
use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Shop {
    #[resource]
    http_server: HttpServer,
}

#[microservice]
impl Shop {
    #[route(http_server, FETCH "/")]
    async fn fetch(&self) -> &'static str {
        "fetched"
    }

    #[route(http_server, GET "orders/{id")]
    async fn order(&self) -> &'static str {
        "order"
    }
}

fn main() {}
