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
use tamarco::http::axum::{Router, routing::get};
use tamarco::prelude::*;

#[microservice]
#[derive(Default)]
struct HttpHello {
    #[resource]
    http_server: HttpServer,
}

#[microservice]
impl HttpHello {
    /// Routes are given before the resources start.
    async fn pre_start(&self, stage: Stage) -> Result<(), BoxError> {
        let routes = Router::new().route("/", get(|| async { "Hello world!" }));
        self.http_server.set_router(routes);
        stage.run().await?;
        Ok(())
    }
}

fn main() -> ExitStatus {
    HttpHello::default().run()
}
