//! The WebSocket server over real loopback sockets: echo, the connection gauge, a close frame to
//! every open connection on stop, and handlers that ignore the socket are dropped in time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tamarco::http::axum::Router;
use tamarco::http::axum::response::Response;
use tamarco::http::axum::routing::get;
use tamarco::prelude::*;
use tamarco::testing::{TestService, TestServiceBuilder};
use tamarco::websocket::{Message, WebSocket, WebSocketServer, WebSocketUpgrade};
use tokio_tungstenite::tungstenite::Message as ClientMessage;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[microservice(name = "ws_echo")]
#[derive(Default)]
struct Echo {
    #[resource]
    websocket: WebSocketServer,
}

#[microservice]
impl Echo {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        let routes = Router::new()
            .route("/echo", get(echo))
            .route("/plain", get(|| async { "plain http" }));
        self.websocket.set_router(routes);
        stage.run().await?;
        Ok(())
    }
}

async fn echo(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|mut socket: WebSocket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Text(_)) && socket.send(message).await.is_err() {
                break;
            }
        }
    })
}

/// A second service, so that the gauge of the first one counts its own connections only.
#[microservice(name = "ws_deaf")]
#[derive(Default)]
struct Deaf {
    #[resource]
    deaf_ws: WebSocketServer,
}

#[microservice]
impl Deaf {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        self.deaf_ws
            .set_router(Router::new().route("/deaf", get(deaf)));
        stage.run().await?;
        Ok(())
    }
}

/// Never reads nor ends by itself: only the close timeout ends it.
async fn deaf(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(|_socket: WebSocket| std::future::pending())
}

/// The service on free loopback ports, its server `name` closing within `close_timeout` s.
fn start<S: tamarco::TaskSet>(service: S, name: &str, close_timeout: f64) -> TestServiceBuilder<S> {
    TestService::builder(service).free_port(name).setting(
        &format!("system.resources.{name}.close_timeout_seconds"),
        close_timeout,
    )
}

/// The gauge of open connections of the server `websocket`, as exported.
fn gauge() -> Option<f64> {
    let text = tamarco::metrics::exposition("ws_echo")?;
    let line = text
        .lines()
        .find(|l| l.starts_with("ws_echo_websocket_connections{server=\"websocket\"}"))?;
    line.rsplit(' ').next()?.parse().ok()
}

/// Waits (at most 5 s) until `check` holds.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn every_open_connection_gets_a_close_frame_on_stop() {
    tamarco::metrics::install().expect("tamarco's recorder");
    let running = start(Echo::default(), "websocket", 5.0)
        .start()
        .await
        .unwrap();
    let service = Arc::clone(running.service());
    let addr = service.websocket.local_addr().unwrap();
    let url = format!("ws://{addr}/echo");
    let (mut first, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (mut second, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    first.send(ClientMessage::text("hello")).await.unwrap();
    assert_eq!(
        first.next().await.unwrap().unwrap(),
        ClientMessage::text("hello")
    );
    eventually("two open websockets", || {
        service.websocket.open_websockets() == 2
    })
    .await;
    assert_eq!(gauge(), Some(2.0));

    // Plain HTTP routes live on the same server.
    let (code, body) = tokio::task::spawn_blocking(move || tamarco_tests::http_get(addr, "/plain"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((code, body.as_str()), (200, "plain http"));

    let started = Instant::now();
    let stop = tokio::spawn(running.stop());
    for client in [&mut first, &mut second] {
        let frame = tokio::time::timeout(Duration::from_secs(5), client.next())
            .await
            .expect("a frame in time");
        match frame {
            Some(Ok(ClientMessage::Close(Some(close)))) => {
                assert_eq!(close.code, CloseCode::Away);
                assert_eq!(close.reason.as_str(), "server stopping");
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
        // tungstenite answers the close; then the stream ends.
        let end = tokio::time::timeout(Duration::from_secs(5), client.next())
            .await
            .expect("the end in time");
        assert!(end.is_none() || matches!(end, Some(Err(_))), "{end:?}");
    }
    tokio::time::timeout(Duration::from_secs(5), stop)
        .await
        .expect("the stop finishes")
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stopped in {:?}",
        started.elapsed()
    );
    assert_eq!(service.websocket.open_websockets(), 0);
    assert_eq!(gauge(), Some(0.0));
    assert!(
        tokio_tungstenite::connect_async(&url).await.is_err(),
        "no new connections after the stop"
    );
}

#[tokio::test]
async fn a_handler_that_ignores_its_socket_is_dropped_after_the_close_timeout() {
    let running = start(Deaf::default(), "deaf_ws", 0.3)
        .start()
        .await
        .unwrap();
    let service = Arc::clone(running.service());
    let addr = service.deaf_ws.local_addr().unwrap();
    let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/deaf"))
        .await
        .unwrap();
    eventually("an open websocket", || {
        service.deaf_ws.open_websockets() == 1
    })
    .await;

    let started = Instant::now();
    let stop = tokio::spawn(running.stop());
    let frame = tokio::time::timeout(Duration::from_secs(5), client.next())
        .await
        .expect("a frame in time");
    assert!(
        matches!(frame, Some(Ok(ClientMessage::Close(Some(_))))),
        "the writer sends the close frame: {frame:?}"
    );
    tokio::time::timeout(Duration::from_secs(5), stop)
        .await
        .expect("the stop finishes")
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "took {took:?}"
    );
    assert_eq!(service.deaf_ws.open_websockets(), 0);
}

#[tokio::test]
async fn the_extractor_outside_a_websocket_server_says_so() {
    let mut cx = MicroserviceContext::new("misused");
    cx.settings()
        .set_internal("system.resources.api.port", 0)
        .unwrap();
    let api = cx.add("api", tamarco::http::HttpServer::new());
    api.set_router(Router::new().route("/echo", get(echo)));
    cx.start().await.unwrap();
    let addr = api.local_addr().unwrap();
    let (code, body) = tokio::task::spawn_blocking(move || tamarco_tests::http_get(addr, "/echo"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code, 500);
    assert!(body.contains("WebSocketServer"), "{body}");
    cx.stop().await.unwrap();
}
