use tamarco::http::HttpServer;
use tamarco::prelude::*;

struct Order;

#[microservice]
#[derive(Default)]
struct Shop {
    #[resource]
    http_server: HttpServer,
}

#[microservice]
impl Shop {
    #[route(http_server, GET "/order")]
    async fn order(&self) -> Order {
        Order
    }
}

fn main() {}
