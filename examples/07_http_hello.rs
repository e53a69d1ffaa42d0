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

use tamarco::prelude::*;

/// `main` makes the program's `fn main`: it runs `HttpHello::default()`.
#[microservice(main)]
#[derive(Default)]
struct HttpHello {
    #[resource]
    http_server: HttpServer,
}

#[microservice]
impl HttpHello {
    #[route(http_server, GET "/")]
    async fn hello(&self) -> &'static str {
        "Hello world!"
    }
}
