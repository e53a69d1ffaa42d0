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
    #[route(http_server, GET "/order")]
    async fn order(&self, id: u64) -> String {
        id.to_string()
    }
}

fn main() {}
