//! Declared routes over real loopback sockets: `#[route]` handlers take `&self` and axum
//! extractors, a hand-built router merges in beside them, a WebSocket server takes routes the
//! same way, and a `ServiceContext` field gives handlers the service's name, its business
//! settings and its graceful stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tamarco::http::HttpServer;
use tamarco::http::axum::Router;
use tamarco::http::axum::extract::Path;
use tamarco::http::axum::http::StatusCode;
use tamarco::http::axum::routing::get;
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco_tests::{http_get, quiet_settings};

#[microservice(name = "declared")]
#[derive(Default)]
struct Declared {
    #[resource]
    http_server: HttpServer,
    hits: AtomicU64,
    cx: ServiceContext,
}

#[microservice]
impl Declared {
    /// Routes that attributes cannot say still merge in by hand.
    async fn pre_start(&self, stage: Stage) -> Result<(), BoxError> {
        let extra = Router::new().route("/by-hand", get(|| async { "by hand" }));
        self.http_server.add_routes(extra);
        stage.run().await?;
        Ok(())
    }

    #[route(http_server, GET "/")]
    async fn hello(&self) -> &'static str {
        self.hits.fetch_add(1, Ordering::Relaxed);
        "Hello world!"
    }

    #[route(http_server, GET "/greet/{name}")]
    async fn greet(self: Arc<Self>, Path(name): Path<String>) -> Result<String, StatusCode> {
        let greeting: String = self
            .cx
            .settings()
            .get_or("greeting", "Hello".to_owned())
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok(format!("{greeting}, {name}, from {}", self.cx.name()))
    }

    #[route(http_server, GET "/stop")]
    async fn stop_now(&self) -> StatusCode {
        self.cx.stop_gracefully();
        StatusCode::ACCEPTED
    }
}

#[tokio::test]
async fn declared_routes_serve_with_the_service_and_its_context() {
    let mut settings = quiet_settings();
    settings["system"]["resources"]["http_server"] = json!({"port": 0});
    settings["system"]["microservices"] = json!({"declared": {"greeting": "Hola"}});
    let running = Declared::default()
        .runtime()
        .with_settings(settings)
        .unwrap()
        .handle_signals(false)
        .start()
        .await
        .unwrap();
    let addr = running.service().http_server.local_addr().unwrap();
    let get =
        |path: &'static str| tokio::task::spawn_blocking(move || http_get(addr, path).unwrap());
    assert_eq!(get("/").await.unwrap(), (200, "Hello world!".into()));
    assert_eq!(running.service().hits.load(Ordering::Relaxed), 1);
    assert_eq!(
        get("/greet/Ada").await.unwrap(),
        (200, "Hola, Ada, from declared".into())
    );
    assert_eq!(get("/by-hand").await.unwrap(), (200, "by hand".into()));
    assert_eq!(get("/nothing").await.unwrap().0, 404);
    assert_eq!(get("/stop").await.unwrap().0, 202);
    // The route began the graceful stop: the service ends by itself.
    tokio::time::timeout(Duration::from_secs(10), running.wait())
        .await
        .expect("the service stops within 10 s")
        .unwrap();
}
