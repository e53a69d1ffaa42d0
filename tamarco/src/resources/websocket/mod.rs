//! The WebSocket server resource (cargo feature `websocket`): [`WebSocketServer`].
//!
//! A `WebSocketServer` is an [`HttpServer`] of its own (its own address, the same settings,
//! request metrics and drain) whose WebSocket connections it tracks, so that its stop can close
//! them properly. Its routes are a plain axum router whose WebSocket handlers take this
//! module's [`WebSocketUpgrade`] instead of axum's:
//!
//! ```no_run
//! use std::sync::Arc;
//! use tamarco::http::axum::{Router, response::Response, routing::get};
//! use tamarco::prelude::*;
//! use tamarco::websocket::{WebSocket, WebSocketServer, WebSocketUpgrade};
//!
//! #[microservice]
//! #[derive(Default)]
//! struct Echo {
//!     #[resource]
//!     websocket: WebSocketServer,
//! }
//!
//! #[microservice]
//! impl Echo {
//!     async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
//!         self.websocket.set_router(Router::new().route("/echo", get(echo)));
//!         stage.run().await?;
//!         Ok(())
//!     }
//! }
//!
//! async fn echo(upgrade: WebSocketUpgrade) -> Response {
//!     upgrade.on_upgrade(|mut socket: WebSocket| async move {
//!         while let Some(Ok(message)) = socket.recv().await {
//!             if socket.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     })
//! }
//! # fn main() { let _ = Echo::default().run(); }
//! ```
//!
//! **Why a server of its own** rather than routes on an [`HttpServer`]: upgraded connections
//! leave hyper's graceful shutdown, so whoever stops the listener must also close them; one
//! resource doing both needs no ordering between two resources. Its router may hold plain HTTP
//! routes too, when one port should serve both.
//!
//! **On stop**, every open connection gets a close frame (code 1001, "going away", reason
//! `server stopping`) after the messages already queued for it. Its handler sees the client's
//! answering close and then the end of the stream; handlers that wait on something else can
//! select on [`WebSocket::closing`]. Connections still open `close_timeout_seconds` (default
//! 5) later are dropped. Then the listener drains like an [`HttpServer`]'s.
//!
//! **Limits** (settings beside the server's, defaults in parentheses): a message or frame
//! larger than `max_message_bytes` (1 MiB) is an error from `recv`, read no further, and ends
//! the connection;
//! `max_websockets` (1024) caps the open connections, beyond which an upgrade is answered 503;
//! every `ping_interval_seconds` (30; 0 turns it off) the server pings each connection, which
//! keeps proxies from closing quiet ones and finds dead peers (a failed send ends the
//! connection). A handler may raise its own message limit with
//! [`WebSocketUpgrade::max_message_size`].
//!
//! **Metric:** the gauge `websocket_connections{server}` counts the open connections.
//!
//! [`HttpServer`]: crate::http::HttpServer

mod socket;

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tamarco_core::settings::Duration as SettingsDuration;
use tokio::sync::watch;

use crate::http::HttpServer;
use crate::http::axum::Router;
use crate::{BoxError, Resource, ResourceContext};

pub use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
pub use socket::{WebSocket, WebSocketClosed, WebSocketSender};

/// A WebSocket server: an [`HttpServer`] that tracks its WebSocket
/// connections and closes them with a close frame on stop. See the [module docs](self).
///
/// Settings: those of [`ServerSettings`](crate::http::ServerSettings) at
/// `system.resources.<name>`, plus `close_timeout_seconds` (5 by default): how long connections
/// have to close after their close frame before they are dropped, and the limits of the
/// [module docs](self): `max_message_bytes`, `max_websockets`, `ping_interval_seconds`.
#[derive(Debug, Default)]
pub struct WebSocketServer {
    server: HttpServer,
    hub: Hub,
}

impl WebSocketServer {
    /// A server that reads its settings from `system.resources.<its name>`.
    pub fn new() -> Self {
        WebSocketServer::default()
    }

    /// Sets the routes to serve; see [`HttpServer::set_router`](crate::http::HttpServer::set_router).
    pub fn set_router(&self, router: Router) {
        self.server.set_router(router);
    }

    /// Adds routes to the ones set so far.
    pub fn add_routes(&self, router: Router) {
        self.server.add_routes(router);
    }

    /// The address the server listens on, once started.
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.server.local_addr()
    }

    /// How many WebSocket connections are open now.
    pub fn open_websockets(&self) -> usize {
        *self.hub.inner.open.borrow()
    }
}

impl crate::http::ServesRoutes for WebSocketServer {
    fn add_declared_routes(&self, routes: Router) {
        self.add_routes(routes);
    }
}

impl Resource for WebSocketServer {
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.server.configure_from(
            cx,
            &[
                "close_timeout_seconds",
                "ping_interval_seconds",
                "max_message_bytes",
                "max_websockets",
            ],
        )?;
        let seconds = |key: &str, default: u64| -> Result<Duration, BoxError> {
            let value: SettingsDuration = cx
                .settings()
                .get_or(key, SettingsDuration::from_secs(default))?;
            Ok(value.get())
        };
        let limits = Limits {
            name: cx.name().to_owned(),
            close_timeout: seconds("close_timeout_seconds", 5)?,
            ping_interval: Some(seconds("ping_interval_seconds", 30)?).filter(|p| !p.is_zero()),
            max_message_bytes: cx.settings().get_or("max_message_bytes", 1024 * 1024)?,
            max_websockets: cx.settings().get_or("max_websockets", 1024)?,
        };
        self.hub.configure(limits);
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.hub.reopen();
        let routes = self.server.routes(cx).layer(Extension(self.hub.clone()));
        self.server.start_with(cx, routes).await
    }

    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.hub.close_all(cx.name()).await;
        self.server.stop_serving(cx).await
    }

    async fn post_stop(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        self.server.forget_routes();
        Ok(())
    }

    fn status_fields(&self) -> Map<String, Value> {
        let mut fields = self.server.fields();
        fields.insert("websockets".into(), json!(self.open_websockets()));
        fields
    }
}

/// The open connections of one server, and the signals that close them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Hub {
    inner: Arc<HubInner>,
}

#[derive(Debug)]
struct HubInner {
    /// Set in configure.
    limits: std::sync::Mutex<Limits>,
    /// True once the server stops: connections send their close frame.
    closing: watch::Sender<bool>,
    /// True once the close timeout passed: connections are dropped.
    dropping: watch::Sender<bool>,
    /// The number of open connections.
    open: watch::Sender<usize>,
}

/// The server's name and the limits of its connections (see the module docs).
#[derive(Clone, Debug)]
struct Limits {
    name: String,
    close_timeout: Duration,
    ping_interval: Option<Duration>,
    max_message_bytes: usize,
    max_websockets: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            name: String::new(),
            close_timeout: Duration::from_secs(5),
            ping_interval: Some(Duration::from_secs(30)),
            max_message_bytes: 1024 * 1024,
            max_websockets: 1024,
        }
    }
}

impl Default for HubInner {
    fn default() -> Self {
        HubInner {
            limits: std::sync::Mutex::new(Limits::default()),
            closing: watch::Sender::new(false),
            dropping: watch::Sender::new(false),
            open: watch::Sender::new(0),
        }
    }
}

impl Hub {
    fn configure(&self, limits: Limits) {
        *self.inner.limits.lock().expect("hub lock") = limits;
    }

    fn limits(&self) -> Limits {
        self.inner.limits.lock().expect("hub lock").clone()
    }

    /// Clears the signals of a previous stop, for a restart.
    fn reopen(&self) {
        self.inner.closing.send_replace(false);
        self.inner.dropping.send_replace(false);
    }

    /// Sends every connection its close frame, waits for them to end, drops the stragglers.
    async fn close_all(&self, name: &str) {
        let timeout = self.limits().close_timeout;
        let open = *self.inner.open.borrow();
        if open > 0 {
            tracing::info!(resource = name, connections = open, "closing websockets");
        }
        self.inner.closing.send_replace(true);
        let mut count = self.inner.open.subscribe();
        let closed = tokio::time::timeout(timeout, count.wait_for(|open| *open == 0))
            .await
            .is_ok();
        if !closed {
            tracing::warn!(
                resource = name,
                connections = *self.inner.open.borrow(),
                "websockets still open after {timeout:?}: dropping them"
            );
            self.inner.dropping.send_replace(true);
            let _ = count.wait_for(|open| *open == 0).await;
        }
    }

    /// Counts a connection in; the guard counts it out.
    fn enter(&self, name: &str) -> OpenGuard {
        self.inner.open.send_modify(|open| *open += 1);
        let gauge = ::metrics::gauge!("websocket_connections", "server" => name.to_owned());
        gauge.increment(1.0);
        OpenGuard {
            hub: self.clone(),
            gauge,
        }
    }
}

struct OpenGuard {
    hub: Hub,
    gauge: ::metrics::Gauge,
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
        self.hub.inner.open.send_modify(|open| *open -= 1);
    }
}

/// The extractor for WebSocket handlers of a [`WebSocketServer`]: axum's
/// [`WebSocketUpgrade`](axum::extract::ws::WebSocketUpgrade), tracked by the server.
///
/// Outside a `WebSocketServer`'s routes it answers 500, saying so.
#[derive(Debug)]
pub struct WebSocketUpgrade {
    upgrade: axum::extract::ws::WebSocketUpgrade,
    hub: Hub,
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Some(hub) = parts.extensions.get::<Hub>().cloned() else {
            return Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                "tamarco's WebSocketUpgrade works in the routes of a WebSocketServer only",
            )
                .into_response());
        };
        let limits = hub.limits();
        if *hub.inner.open.borrow() >= limits.max_websockets {
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "too many websockets are open; try again later",
            )
                .into_response());
        }
        let upgrade = axum::extract::ws::WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?
            .max_message_size(limits.max_message_bytes)
            .max_frame_size(limits.max_message_bytes);
        Ok(WebSocketUpgrade { upgrade, hub })
    }
}

impl WebSocketUpgrade {
    /// The subprotocols the server supports, in order of preference (see axum's
    /// [`protocols`](axum::extract::ws::WebSocketUpgrade::protocols)).
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<std::borrow::Cow<'static, str>>,
    {
        self.upgrade = self.upgrade.protocols(protocols);
        self
    }

    /// The largest message (and frame) accepted on this connection, instead of the server's
    /// `max_message_bytes` (1 MiB by default).
    pub fn max_message_size(mut self, max: usize) -> Self {
        self.upgrade = self.upgrade.max_message_size(max).max_frame_size(max);
        self
    }

    /// Completes the handshake and runs `callback` with the connection. The connection counts
    /// as open until the callback returns; then it is closed (code 1000 if nothing was sent).
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hub = self.hub;
        self.upgrade.on_upgrade(move |socket| async move {
            let limits = hub.limits();
            let _open = hub.enter(&limits.name);
            let mut dropping = hub.inner.dropping.subscribe();
            let closing = hub.inner.closing.subscribe();
            let (socket, writer) = WebSocket::new(socket, closing, limits.ping_interval);
            let session = async move {
                tokio::join!(callback(socket), writer);
            };
            tokio::select! {
                () = session => {}
                () = socket::raised(&mut dropping) => {}
            }
        })
    }
}
