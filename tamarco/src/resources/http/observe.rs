//! Request metrics and logs: the layer every [`HttpServer`](super::HttpServer) puts around
//! each route. Per request it takes the request id from its header (or makes one), opens a
//! `request` span carrying it, echoes the id in the response, and records, through the
//! [`metrics`] facade:
//!
//! - `http_server_requests_total` (counter) and
//! - `http_server_request_duration_seconds` (histogram, seconds),
//!
//! both labelled `server` (the resource name), `route` (the route template, such as
//! `/users/{id}`, or `unmatched`), `method` and `status`. A log line at debug level closes each
//! request, at warn level for a 5xx.

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
    /// Random per server, so that ids from different processes differ.
    id_prefix: u64,
    next_id: AtomicU64,
    /// Meter handles per route, then per method and status: registered once, then reused.
    meters: RwLock<HashMap<String, MetersByKey>>,
}

/// The meters of one route, by method and status.
type MetersByKey = HashMap<(Method, u16), Meters>;

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
    pub(crate) fn new(server: &str, header: HeaderName, keep_alive: bool) -> Self {
        let id_prefix = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        ObserveLayer {
            shared: Arc::new(Shared {
                server: server.to_owned(),
                header,
                keep_alive,
                id_prefix,
                next_id: AtomicU64::new(0),
                meters: RwLock::new(HashMap::new()),
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
            _ => {
                let n = shared.next_id.fetch_add(1, Ordering::Relaxed);
                let id = format!("{:016x}{n:016x}", shared.id_prefix);
                HeaderValue::try_from(id).expect("hex digits are a valid header value")
            }
        };
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        let span = tracing::info_span!(
            "request",
            method = method.as_str(),
            route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
            request_id = id.to_str().unwrap_or_default(),
        );
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
        if status.is_server_error() {
            tracing::warn!(
                status = status.as_u16(),
                latency_us = latency.as_micros() as u64,
                "request failed"
            );
        } else {
            tracing::debug!(
                status = status.as_u16(),
                latency_us = latency.as_micros() as u64,
                "request"
            );
        }
        let headers = response.headers_mut();
        headers.insert(shared.header.clone(), pending.id);
        if !shared.keep_alive {
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Poll::Ready(Ok(response))
    }
}

impl Shared {
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
