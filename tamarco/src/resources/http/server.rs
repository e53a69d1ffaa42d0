//! [`HttpServer`]: an HTTP/1.1 server resource on axum and hyper, with request metrics and
//! logs, CORS, a response cache and a graceful drain.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{Map, Value, json};
use tamarco_core::serve::{Listener, ServeOptions};
use tamarco_core::settings::Duration as SettingsDuration;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, Any, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use super::cache::ResponseCacheLayer;
use super::observe::{DeclaredRoute, ObserveLayer, SpanLevel};
use super::settings::{CorsSettings, ServerSettings};
use crate::{BoxError, Resource, ResourceContext};

/// An HTTP/1.1 server: a resource that serves an axum [`Router`] on
/// `system.resources.<name>.{host, port}` (127.0.0.1:8080 by default; see
/// [`ServerSettings`] for every key).
///
/// The service gives it its routes before the start stage, usually in its `pre_start` hook
/// taking `self: Arc<Self>`, so that handlers get the service, and through it every other
/// resource, as their state:
///
/// ```no_run
/// use std::sync::Arc;
/// use tamarco::http::HttpServer;
/// use tamarco::http::axum::{Router, extract::State, routing::get};
/// use tamarco::prelude::*;
///
/// #[microservice]
/// #[derive(Default)]
/// struct Hello {
///     #[resource]
///     http_server: HttpServer,
/// }
///
/// #[microservice]
/// impl Hello {
///     async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
///         let routes = Router::new().route("/", get(hello)).with_state(Arc::clone(&self));
///         self.http_server.set_router(routes);
///         stage.run().await?;
///         Ok(())
///     }
/// }
///
/// async fn hello(State(_service): State<Arc<Hello>>) -> &'static str {
///     "Hello world!"
/// }
/// # fn main() { let _ = Hello::default().run(); }
/// ```
///
/// A service may hold several servers; each reads the settings of its own name.
///
/// **Start** binds the address: a port in use or an address that cannot be bound fails the
/// start, naming the address, and the service stops with exit code 1. **Every request** goes
/// through the request-id, span, metrics and log layer (see [`RequestId`](super::RequestId)
/// and the [module docs](super)), then CORS, the request timeout, the body limit and the
/// response cache, as set. A handler that panics answers 500 (counted and logged like any
/// 500, plus `http_server_panics_total{server}`) and the connection lives on. **Stop**
/// drains: the server keeps accepting for `drain_delay_seconds` (the service's readiness is
/// already 503), then closes its listener, closes the connections that never sent a whole
/// request, lets every request in flight finish (at most `drain_timeout_seconds`: half the
/// grace period unless set), and closes the connections. Resources that handlers use must stop
/// after the server: declare them before it, or name them in its `depends_on`.
#[derive(Debug, Default)]
pub struct HttpServer {
    router: Mutex<Option<Router>>,
    /// The service's `#[route]`s, observed around each handler (see [`DeclaredRoute`]), and
    /// the observation of each.
    declared: Mutex<Declared>,
    config: Mutex<Option<Arc<Config>>>,
    local_addr: Mutex<Option<SocketAddr>>,
    running: Mutex<Option<Listener>>,
    connections: Arc<AtomicUsize>,
}

/// The `#[route]`s handed over so far.
#[derive(Debug, Default)]
struct Declared {
    router: Option<Router>,
    handlers: Vec<DeclaredRoute>,
}

/// The settings, checked and turned into what the server uses.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) settings: ServerSettings,
    serve: ServeOptions,
    request_timeout: Option<Duration>,
    request_id_header: HeaderName,
    span_level: SpanLevel,
    cors: Option<CorsLayer>,
    cache: Option<ResponseCacheLayer>,
}

impl HttpServer {
    /// A server that reads its settings from `system.resources.<its name>`.
    pub fn new() -> Self {
        HttpServer::default()
    }

    /// Sets the routes to serve, replacing any set before. Call it before the start stage
    /// (in the service's `pre_start` hook, or its `start` hook before `stage.run()`); a
    /// running server keeps the routes it started with until its next start.
    pub fn set_router(&self, router: Router) {
        *self.router.lock().expect("router lock") = Some(router);
    }

    /// Adds routes to the ones set so far (see [`Router::merge`]).
    pub fn add_routes(&self, router: Router) {
        let mut slot = self.router.lock().expect("router lock");
        let merged = match slot.take() {
            Some(routes) => routes.merge(router),
            None => router,
        };
        *slot = Some(merged);
    }

    /// Adds the service's `#[route]`s, whose handlers observe their requests themselves.
    pub(crate) fn add_declared(&self, router: Router) {
        let mut declared = self.declared.lock().expect("routes lock");
        declared.router = Some(match declared.router.take() {
            Some(routes) => routes.merge(router),
            None => router,
        });
    }

    /// The observation of the `#[route]` handler of `route`, bound at each start.
    pub(crate) fn declare(&self, route: &'static str) -> DeclaredRoute {
        let handler = DeclaredRoute::unbound(route);
        let mut declared = self.declared.lock().expect("routes lock");
        declared.handlers.push(handler.clone());
        handler
    }

    /// The address the server listens on, once started: with port 0 in the settings, the
    /// port the system picked.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        *self.local_addr.lock().expect("address lock")
    }

    /// The settings read in the configure phase.
    pub fn settings(&self) -> Option<ServerSettings> {
        let config = self.config.lock().expect("config lock");
        config.as_ref().map(|config| config.settings.clone())
    }

    /// How many client connections are open now.
    pub fn open_connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Reads and checks the settings.
    /// `beside`: keys of the same subtree that the caller reads itself (a WebSocket server's).
    pub(crate) fn configure_from(
        &self,
        cx: &ResourceContext,
        beside: &[&str],
    ) -> Result<Arc<Config>, BoxError> {
        let settings: ServerSettings = cx
            .settings()
            .load_checked_beside(super::settings::LEGACY_SERVER_KEYS, beside)?;
        let grace: SettingsDuration = cx
            .settings()
            .settings()
            .get_or(GRACE_PERIOD_KEY, DEFAULT_GRACE)?;
        let config = Arc::new(Config::new(cx.settings().root(), settings, grace.get())?);
        *self.config.lock().expect("config lock") = Some(Arc::clone(&config));
        Ok(config)
    }

    /// Binds the address and serves `router` with the layers of `config`.
    pub(crate) async fn start_with(
        &self,
        cx: &ResourceContext,
        router: Router,
    ) -> Result<(), BoxError> {
        let config = self
            .config
            .lock()
            .expect("config lock")
            .clone()
            .ok_or("the server was not configured")?;
        let settings = &config.settings;
        let address = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|e| format!("cannot listen on {address}: {e}"))?;
        let local = listener.local_addr()?;
        *self.local_addr.lock().expect("address lock") = Some(local);
        let router = {
            let declared = self.declared.lock().expect("routes lock");
            config.layered(
                cx.name(),
                router,
                declared.router.clone(),
                &declared.handlers,
            )
        };
        let serving = Listener::spawn(
            listener,
            router,
            config.serve.clone(),
            cx.name(),
            Arc::clone(&self.connections),
        );
        *self.running.lock().expect("running lock") = Some(serving);
        tracing::info!(
            resource = cx.name(),
            "http server listening on http://{local}"
        );
        Ok(())
    }

    /// Drains and stops the server, if it runs.
    pub(crate) async fn stop_serving(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let running = self.running.lock().expect("running lock").take();
        if let Some(serving) = running {
            serving.stop(cx.stop_deadline()).await?;
        }
        Ok(())
    }

    /// The `/status` fields: the address and the open connections.
    pub(crate) fn fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        if let Some(addr) = self.local_addr() {
            fields.insert("address".into(), json!(addr.to_string()));
        }
        fields.insert("connections".into(), json!(self.open_connections()));
        fields
    }

    /// The routes set so far (besides the `#[route]`s); an empty router (every path 404)
    /// with a warning if there are none of either.
    pub(crate) fn routes(&self, cx: &ResourceContext) -> Router {
        let routes = self.router.lock().expect("router lock").clone();
        routes.unwrap_or_else(|| {
            if self.declared.lock().expect("routes lock").router.is_some() {
                return Router::new();
            }
            tracing::warn!(
                resource = cx.name(),
                "no routes: call `set_router` before the start stage; every request gets 404"
            );
            Router::new()
        })
    }

    /// Forgets the routes; they may hold the service, which holds this server.
    pub(crate) fn forget_routes(&self) {
        self.router.lock().expect("router lock").take();
        let mut declared = self.declared.lock().expect("routes lock");
        for handler in &declared.handlers {
            handler.unbind();
        }
        *declared = Declared::default();
    }
}

impl Resource for HttpServer {
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.configure_from(cx, &[])?;
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let routes = self.routes(cx);
        self.start_with(cx, routes).await
    }

    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.stop_serving(cx).await
    }

    async fn post_stop(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        self.forget_routes();
        Ok(())
    }

    fn status_fields(&self) -> Map<String, Value> {
        self.fields()
    }
}

/// Where the runtime reads the grace period, and its default.
const GRACE_PERIOD_KEY: &str = "system.shutdown.grace_period_seconds";
const DEFAULT_GRACE: SettingsDuration = SettingsDuration::from_secs(30);

impl Config {
    /// Checks `settings`; `grace` is the service's grace period, which the default drain
    /// timeout is half of.
    fn new(root: &str, settings: ServerSettings, grace: Duration) -> Result<Config, String> {
        let request_id_header = match settings.request_id_header.as_str() {
            // A static name clones for free.
            "x-request-id" => Ok(HeaderName::from_static("x-request-id")),
            name => HeaderName::try_from(name),
        }
        .map_err(|_| {
            format!(
                "setting `{root}.request_id_header`: {:?} is not a header name",
                settings.request_id_header
            )
        })?;
        let span_level = SpanLevel::parse(&settings.request_log_level).ok_or_else(|| {
            format!(
                "setting `{root}.request_log_level`: {:?} is not one of info, debug, off",
                settings.request_log_level
            )
        })?;
        let cors = match settings.cors.is_enabled() {
            true => Some(cors_layer(root, &settings.cors)?),
            false => None,
        };
        let cache = match settings.cache.enabled {
            true => Some(ResponseCacheLayer::from_settings(root, &settings.cache)?),
            false => None,
        };
        let mut serve = ServeOptions::default();
        serve.keep_alive = settings.keep_alive;
        serve.max_connections = settings.max_connections;
        serve.header_read_timeout = settings.header_read_timeout_seconds.non_zero();
        serve.drain_delay = settings.drain_delay_seconds.non_zero();
        serve.drain_timeout = match settings.drain_timeout_seconds {
            Some(limit) => limit.get(),
            None => grace / 2,
        };
        Ok(Config {
            serve,
            request_timeout: settings.request_timeout_seconds.non_zero(),
            request_id_header,
            span_level,
            cors,
            cache,
            settings,
        })
    }

    /// `router` and the `#[route]`s (`declared`, whose handlers are `handlers`) with the
    /// server's layers around every route, outermost first: request id, span, metrics and
    /// logs, and a panic turned into a 500; CORS; the request timeout; the body limit; the
    /// cache.
    ///
    /// Without any of the last four, the first alone, and the `#[route]` handlers observe
    /// their requests themselves: each request then goes through one boxed service, the one
    /// axum makes of the handler, instead of a second one for the router layer (an absent
    /// optional layer would also be an `Either` around each request and its future). With
    /// any of them, every route gets the whole stack as a router layer.
    fn layered(
        &self,
        name: &str,
        router: Router,
        declared: Option<Router>,
        handlers: &[DeclaredRoute],
    ) -> Router {
        let observe = ObserveLayer::new(
            name,
            self.request_id_header.clone(),
            self.settings.keep_alive,
            self.span_level,
        );
        let timeout = self
            .request_timeout
            .map(|t| TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, t));
        let limit = self.body_limit();
        if self.cors.is_none() && timeout.is_none() && limit.is_none() && self.cache.is_none() {
            for handler in handlers {
                handler.bind(&observe);
            }
            let router = router.layer(observe.clone());
            return match declared {
                // A declared path asked with another method is answered 405 by axum's method
                // router, outside the handlers: observed here. Merged into `router`, whose
                // fallback (404, observed) is the one kept.
                Some(declared) => declared
                    .method_not_allowed_fallback(method_not_allowed.layer(observe))
                    .merge(router),
                None => router,
            };
        }
        for handler in handlers {
            handler.unbind();
        }
        let router = match declared {
            Some(declared) => declared.merge(router),
            None => router,
        };
        let stack = ServiceBuilder::new()
            .layer(observe)
            .option_layer(self.cors.clone())
            .option_layer(timeout)
            .option_layer(limit)
            .option_layer(self.cache.clone());
        router.layer(stack)
    }
}

/// The answer to a request for a route's path with a method it does not serve (axum adds
/// the `Allow` header).
async fn method_not_allowed() -> StatusCode {
    StatusCode::METHOD_NOT_ALLOWED
}

impl Config {
    /// The body limit, unless it is axum's own default (2 MiB), which needs no layer.
    fn body_limit(&self) -> Option<DefaultBodyLimit> {
        let limit = self.settings.request_body_limit_bytes;
        (limit != ServerSettings::default().request_body_limit_bytes)
            .then(|| DefaultBodyLimit::max(limit))
    }
}

/// The CORS layer of the settings; errors name the key.
fn cors_layer(root: &str, cors: &CorsSettings) -> Result<CorsLayer, String> {
    if cors.permissive {
        return Ok(CorsLayer::permissive());
    }
    let any = |list: &[String]| list.iter().any(|item| item == "*");
    let bad = |key: &str, item: &str| format!("setting `{root}.cors.{key}`: {item:?} is not valid");
    let mut layer = CorsLayer::new().allow_credentials(cors.allow_credentials);
    if any(&cors.allow_origins) {
        layer = layer.allow_origin(Any);
    } else if !cors.allow_origins.is_empty() {
        let origins = cors
            .allow_origins
            .iter()
            .map(|o| HeaderValue::try_from(o.as_str()).map_err(|_| bad("allow_origins", o)))
            .collect::<Result<Vec<_>, _>>()?;
        layer = layer.allow_origin(AllowOrigin::list(origins));
    }
    if any(&cors.allow_methods) {
        layer = layer.allow_methods(Any);
    } else if !cors.allow_methods.is_empty() {
        let methods = cors
            .allow_methods
            .iter()
            .map(|m| {
                Method::try_from(m.to_ascii_uppercase().as_str())
                    .map_err(|_| bad("allow_methods", m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        layer = layer.allow_methods(AllowMethods::list(methods));
    }
    let names = |key: &str, list: &[String]| {
        list.iter()
            .map(|h| HeaderName::try_from(h.as_str()).map_err(|_| bad(key, h)))
            .collect::<Result<Vec<_>, _>>()
    };
    if any(&cors.allow_headers) {
        layer = layer.allow_headers(Any);
    } else if !cors.allow_headers.is_empty() {
        layer = layer.allow_headers(AllowHeaders::list(names(
            "allow_headers",
            &cors.allow_headers,
        )?));
    }
    if any(&cors.expose_headers) {
        layer = layer.expose_headers(Any);
    } else if !cors.expose_headers.is_empty() {
        layer = layer.expose_headers(names("expose_headers", &cors.expose_headers)?);
    }
    if let Some(max_age) = cors.max_age_seconds {
        layer = layer.max_age(max_age.get());
    }
    Ok(layer)
}
