//! `#[route]` handlers with `&self` and `self: Arc<Self>`, extractors, several routes on one
//! method, an HTTP and a WebSocket server, and a `ServiceContext` field.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tamarco::http::HttpServer;
use tamarco::http::axum::extract::{Path, Query};
use tamarco::http::axum::http::StatusCode;
use tamarco::http::axum::response::{IntoResponse, Response};
use tamarco::prelude::*;
use tamarco::websocket::{WebSocketServer, WebSocketUpgrade};

#[microservice]
#[derive(Default)]
struct Shop {
    #[resource]
    http_server: HttpServer,
    #[resource]
    websocket: WebSocketServer,
    hits: AtomicU64,
    cx: ServiceContext,
}

#[derive(tamarco::serde::Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Page {
    size: Option<u32>,
}

#[microservice]
impl Shop {
    #[route(http_server, GET "/")]
    async fn hello(&self) -> &'static str {
        self.hits.fetch_add(1, Ordering::Relaxed);
        "Hello world!"
    }

    #[route(http_server, GET "/orders/{id}")]
    #[route(http_server, DELETE "/orders/{id}")]
    async fn order(self: Arc<Self>, Path(id): Path<u64>, Query(page): Query<Page>) -> String {
        format!("{} {id} {:?}", self.cx.name(), page.size)
    }

    #[route(http_server, POST "/stop")]
    async fn stop(&self) -> StatusCode {
        self.cx.stop_gracefully();
        StatusCode::ACCEPTED
    }

    #[route(websocket, GET "/echo")]
    async fn echo(&self, upgrade: WebSocketUpgrade) -> Response {
        upgrade.on_upgrade(|_socket| async {}).into_response()
    }
}

fn main() {
    let _ = Shop::default();
}
