//! 08 — an HTTP client resource calling an HTTP server resource. The server `greeter` answers
//! `GET /greet/{name}` using the service's state; the client `backend` (base URL, timeout and
//! default headers from its settings) calls it every second from a timer. Needs the cargo
//! feature `http-client` (reqwest with rustls).
//!
//! ```text
//! cargo run --example http_client --features http-client
//! curl -s 127.0.0.1:8080/greet/you
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

use tamarco::http::axum::extract::Path;
use tamarco::http::axum::http::HeaderMap;
use tamarco::http::{HttpClient, HttpServer};
use tamarco::prelude::*;
use tamarco::serde_json::json;

#[microservice]
#[derive(Default)]
struct Greetings {
    #[resource]
    greeter: HttpServer,
    #[resource]
    backend: HttpClient,
    greeted: AtomicU64,
    calls: AtomicU64,
}

#[microservice]
impl Greetings {
    /// A route handler: `&self`, then axum extractors.
    #[route(greeter, GET "/greet/{name}")]
    async fn greet(&self, Path(name): Path<String>, headers: HeaderMap) -> String {
        let count = self.greeted.fetch_add(1, Ordering::Relaxed) + 1;
        let from = headers
            .get("x-caller")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("a stranger");
        format!("Hello, {name} (greeting #{count}, asked by {from})")
    }

    /// Calls the server through the client; a failed call is logged and the timer goes on.
    #[task_timer(interval = "1s")]
    async fn call(&self) -> Result<(), BoxError> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let response = self
            .backend
            .get(&format!("greet/caller-{n}"))
            .send()
            .await?;
        let answer = response.error_for_status()?.text().await?;
        tamarco::tracing::info!(%answer, "the server answered");
        Ok(())
    }
}

fn main() -> ExitStatus {
    let settings = json!({"system": {"resources": {
        "greeter": {"port": 8080},
        "backend": {
            "base_url": "http://127.0.0.1:8080",
            "timeout_seconds": 2,
            "default_headers": {"x-caller": "the backend client"},
        },
    }}});
    let runtime = Greetings::default().runtime().with_settings(settings);
    runtime.expect("valid settings").run()
}
