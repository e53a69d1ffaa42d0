use tamarco::http::HttpServer;
use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Shop {
    #[resource]
    http_server: HttpServer,
    hits: u64,
}

#[microservice]
impl Shop {
    #[route(http, GET "/")]
    async fn hello(&self) -> &'static str {
        "Hello world!"
    }

    #[route(hits, GET "/hits")]
    async fn hits(&self) -> String {
        self.hits.to_string()
    }
}

fn main() {}
