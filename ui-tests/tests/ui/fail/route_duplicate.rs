use tamarco::http::HttpServer;
use tamarco::http::axum::extract::Path;
use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct Shop {
    #[resource]
    http_server: HttpServer,
}

#[microservice]
impl Shop {
    #[route(http_server, GET "/orders/{id}")]
    async fn order(&self, Path(id): Path<u64>) -> String {
        id.to_string()
    }

    #[route(http_server, GET "/orders/{name}")]
    async fn order_by_name(&self, Path(name): Path<String>) -> String {
        name
    }
}

fn main() {}
