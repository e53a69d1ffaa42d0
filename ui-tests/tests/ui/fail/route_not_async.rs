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
    #[route(http_server, GET "/")]
    fn hello(&self) -> &'static str {
        "Hello world!"
    }
}

fn main() {}
