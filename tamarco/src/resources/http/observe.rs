//! Request metrics and logs: the layer every [`HttpServer`](super::HttpServer) puts around
//! each route. Per request it takes the request id from its header (or makes one), opens a
//! `request` span carrying it, echoes the id in the response, and records, through the
//! [`metrics`] facade:
//!
//! - `http_server_requests_total` (counter) and
//! - `http_server_request_duration_seconds` (histogram, seconds),
//!
//! both labelled `server` (the resource name), `route` (the route template, such as
//! `/users/{id}`, or `unmatched`), `method` and `status`. The span and a log line closing each
//! request are at the level of the setting `request_log_level` (`debug` by default; `info`;
//! `off`); a 5xx is always logged at warn level.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use ::metrics::{Counter, Histogram, Label};
use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::header::{CONNECTION, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, Request, Response};
use tower::{Layer, Service};
use tracing::Span;

/// The id of the request being served: from the request's id header (`x-request-id` by
/// default) when it has a usable one, otherwise generated. The server echoes it in the
/// response and puts it on the request's span; handlers extract it as an argument.
///
/// ```
/// use tamarco::http::RequestId;
/// use tamarco::http::axum::{Router, routing::get};
///
/// async fn handler(id: RequestId) -> String {
///     format!("your request is {id}")
/// }
///
/// let router: Router = Router::new().route("/", get(handler));
/// # drop(router);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only visible ASCII gets in: see `usable`.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    /// The id the server assigned; outside a tamarco server, an empty id.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or(RequestId(HeaderValue::from_static(""))))
    }
}

/// A request id from a client is used when it is 1 to 128 visible ASCII characters.
fn usable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// What every request of one server shares.
pub(crate) struct Shared {
    server: String,
    header: HeaderName,
    keep_alive: bool,
    span_level: SpanLevel,
    /// Random per server, so that ids from different processes differ.
    id_prefix: u64,
    next_id: AtomicU64,
    /// Meter handles per route, then per method and status: registered once, then reused.
    meters: RwLock<HashMap<String, MetersByKey, Fx>>,
}

/// The meters of one route, by method and status.
type MetersByKey = HashMap<(Method, u16), Meters, Fx>;

struct Meters {
    requests: Counter,
    latency: Histogram,
}

/// The layer; see the module docs.
#[derive(Clone)]
pub(crate) struct ObserveLayer {
    shared: Arc<Shared>,
}

impl ObserveLayer {
    pub(crate) fn new(
        server: &str,
        header: HeaderName,
        keep_alive: bool,
        span_level: SpanLevel,
    ) -> Self {
        let id_prefix = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        ObserveLayer {
            shared: Arc::new(Shared {
                server: server.to_owned(),
                header,
                keep_alive,
                span_level,
                id_prefix,
                next_id: AtomicU64::new(0),
                meters: RwLock::new(HashMap::default()),
            }),
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service the layer makes.
#[derive(Clone)]
pub(crate) struct Observe<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Observe<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let started = Instant::now();
        let shared = &self.shared;
        let id = match request.headers().get(&shared.header) {
            Some(value) if usable(value) => value.clone(),
            _ => shared.new_id(),
        };
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        let route_name = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
        let id_text = id.to_str().unwrap_or_default();
        let span = match shared.span_level {
            SpanLevel::Info => {
                tracing::info_span!(
                    "request",
                    method = method.as_str(),
                    route = route_name,
                    request_id = id_text
                )
            }
            SpanLevel::Debug => {
                tracing::debug_span!(
                    "request",
                    method = method.as_str(),
                    route = route_name,
                    request_id = id_text
                )
            }
            SpanLevel::Off => Span::none(),
        };
        #[cfg(feature = "tracing-otel")]
        let span = match tamarco_core::otel::enabled() {
            true => traced_span(&request, route.as_ref(), id_text),
            false => span,
        };
        request.extensions_mut().insert(RequestId(id.clone()));
        let inner = span.in_scope(|| self.inner.call(request));
        ObserveFuture {
            inner,
            span,
            pending: Some(Pending {
                started,
                id,
                route,
                method,
                shared: Arc::clone(&self.shared),
            }),
        }
    }
}

/// The server span of an exported request (OpenTelemetry HTTP semantic conventions), named
/// after the matched route, the child of the caller's span when the request carries one.
#[cfg(feature = "tracing-otel")]
fn traced_span<B>(request: &Request<B>, route: Option<&MatchedPath>, id: &str) -> Span {
    let method = request.method().as_str();
    let name = match route {
        Some(route) => format!("{method} {}", route.as_str()),
        None => method.to_owned(),
    };
    let span = tracing::info_span!(
        "request",
        otel.name = name,
        otel.kind = "server",
        http.request.method = method,
        http.route = route.map(MatchedPath::as_str),
        url.path = request.uri().path(),
        request_id = id,
        http.response.status_code = tracing::field::Empty,
    );
    tamarco_core::otel::set_parent_http(&span, request.headers());
    span
}

/// The route label of requests that matched no route (the fallback).
const UNMATCHED: &str = "unmatched";

struct Pending {
    started: Instant,
    id: HeaderValue,
    route: Option<MatchedPath>,
    method: Method,
    shared: Arc<Shared>,
}

pin_project_lite::pin_project! {
    /// The response future of [`Observe`].
    pub(crate) struct ObserveFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        pending: Option<Pending>,
    }
}

impl<F, ResBody, E> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut response = ready!(this.inner.poll(cx))?;
        let Some(pending) = this.pending.take() else {
            return Poll::Ready(Ok(response));
        };
        let latency = pending.started.elapsed();
        let status = response.status();
        let shared = &pending.shared;
        let route = pending
            .route
            .as_ref()
            .map_or(UNMATCHED, MatchedPath::as_str);
        shared.record(
            route,
            &pending.method,
            status.as_u16(),
            latency.as_secs_f64(),
        );
        let latency_us = latency.as_micros() as u64;
        this.span
            .record("http.response.status_code", status.as_u16());
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), latency_us, "request failed");
        } else if shared.span_level == SpanLevel::Info {
            tracing::info!(status = status.as_u16(), latency_us, "request");
        } else if shared.span_level == SpanLevel::Debug {
            tracing::debug!(status = status.as_u16(), latency_us, "request");
        }
        let headers = response.headers_mut();
        headers.insert(shared.header.clone(), pending.id);
        if !shared.keep_alive {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Poll::Ready(Ok(response))
    }
}

/// The level of the per-request span and its closing log line (`request_log_level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpanLevel {
    Info,
    Debug,
    Off,
}

impl SpanLevel {
    pub(crate) fn parse(level: &str) -> Option<SpanLevel> {
        match level.to_ascii_lowercase().as_str() {
            "info" => Some(SpanLevel::Info),
            "debug" => Some(SpanLevel::Debug),
            "off" => Some(SpanLevel::Off),
            _ => None,
        }
    }
}

impl Shared {
    /// A new request id: the server's random prefix and a counter, 32 hex digits.
    fn new_id(&self) -> HeaderValue {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut id = [0u8; 32];
        for (i, byte) in id.iter_mut().enumerate() {
            let word = if i < 16 { self.id_prefix } else { n };
            let shift = 4 * (15 - (i % 16));
            *byte = HEX[((word >> shift) & 0xf) as usize];
        }
        HeaderValue::from_bytes(&id).expect("hex digits are a valid header value")
    }

    /// Counts one request of a route, method and status, and records its latency. The meters
    /// are registered with the recorder on first use, then reused.
    fn record(&self, route: &str, method: &Method, status: u16, seconds: f64) {
        let method = known_method(method);
        let key = (method.clone(), status);
        {
            let meters = self.meters.read().expect("meters lock");
            if let Some(meters) = meters.get(route).and_then(|by_key| by_key.get(&key)) {
                meters.requests.increment(1);
                meters.latency.record(seconds);
                return;
            }
        }
        let labels = [
            Label::new("server", self.server.clone()),
            Label::new("route", route.to_owned()),
            Label::new("method", method.as_str().to_owned()),
            Label::new("status", status.to_string()),
        ];
        let meters = Meters {
            requests: ::metrics::counter!("http_server_requests_total", labels.iter()),
            latency: ::metrics::histogram!("http_server_request_duration_seconds", labels.iter()),
        };
        meters.requests.increment(1);
        meters.latency.record(seconds);
        self.meters
            .write()
            .expect("meters lock")
            .entry(route.to_owned())
            .or_default()
            .insert(key, meters);
    }
}

/// A fast hasher for the meters' keys: short strings and small numbers from the router and
/// hyper, not from clients (the route is a template, the method is one of ten).
#[derive(Clone, Copy, Default)]
struct Fx;

impl BuildHasher for Fx {
    type Hasher = FxHasher;

    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// The method as a label: the standard ones by name, any other as `OTHER`, so that clients
/// cannot make up new label values.
fn known_method(method: &Method) -> Method {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    if KNOWN.contains(method) {
        method.clone()
    } else {
        Method::from_bytes(b"OTHER").expect("a valid method")
    }
}
