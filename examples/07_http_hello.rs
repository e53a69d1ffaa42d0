//! 07 — the service the Python original's docs start with: an HTTP server resource named
//! `http_server` answering `GET /` with `Hello world!` on 127.0.0.1:8080 (its settings are
//! `system.resources.http_server.{host, port}`), with the default report server beside it.
//! Needs the cargo feature `http`, which the examples turn on by default.
//!
//! ```text
//! cargo run --example http_hello
//! curl -s 127.0.0.1:8080/
//! curl -s 127.0.0.1:5747/status
//! ```

use tamarco::http::HttpServer;
use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct HttpHello {
    #[resource]
    http_server: HttpServer,
}

#[microservice]
impl HttpHello {
    /// A route handler: `&self`, then any axum extractors; returns any response.
    #[route(http_server, GET "/")]
    async fn hello(&self) -> &'static str {
        "Hello world!"
    }
}

fn main() -> ExitStatus {
    HttpHello::default().run()
}
