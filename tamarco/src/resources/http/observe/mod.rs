//! Request metrics and logs: the layer every [`HttpServer`](super::HttpServer) puts around
//! each route (around each `#[route]` handler itself, see [`DeclaredRoute`]). Per request it takes the request id from its header (or makes one), opens a
//! `request` span carrying it, echoes the id in the response, and records, through the
//! [`metrics`] facade:
//!
//! - `http_server_requests_total` (counter) and
//! - `http_server_request_duration_seconds` (histogram, seconds),
//!
//! both labelled `server` (the resource name), `route` (the route template, such as
//! `/users/{id}`, or `unmatched`), `method` and `status`. The span and a log line closing each
//! request are at the level of the setting `request_log_level` (`debug` by default; `info`;
//! `off`); a 5xx is always logged at warn level. A handler that panics (in its call or in any
//! poll of its future) is answered 500 here too: catching it in this layer rather than in one
//! of its own spares every response a boxed body.

mod declared;
mod meters;
mod request_id;

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::header::{CONNECTION, HeaderName, HeaderValue};
use axum::http::{Method, Request, Response};
use tower::{Layer, Service};
use tracing::Span;

#[cfg(feature = "tracing-otel")]
use tamarco_core::otel::Sampling;

use super::panic::panic_response;
pub use declared::DeclaredRoute;
use meters::{FirstMeters, RouteMeters};
pub use request_id::RequestId;
use request_id::{IdSource, Serving};

/// What every request of one server shares.
pub(crate) struct RequestObserver {
    header: HeaderName,
    keep_alive: bool,
    span_level: SpanLevel,
    ids: IdSource,
    meters: RouteMeters,
    /// `http_server_panics_total{server}`.
    panics: ::metrics::Counter,
}

/// The layer; see the module docs.
#[derive(Clone)]
pub(crate) struct ObserveLayer {
    shared: Arc<RequestObserver>,
}

impl ObserveLayer {
    pub(crate) fn new(
        server: &str,
        header: HeaderName,
        keep_alive: bool,
        span_level: SpanLevel,
    ) -> Self {
        ObserveLayer {
            shared: Arc::new(RequestObserver {
                header,
                keep_alive,
                span_level,
                ids: IdSource::new(),
                meters: RouteMeters::new(server),
                panics: ::metrics::counter!("http_server_panics_total", "server" => server.to_owned()),
            }),
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    /// Called once per endpoint: each route's handler per method, and each fallback.
    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            endpoint: Some(self.endpoint(None)),
        }
    }
}

impl ObserveLayer {
    /// A new endpoint of the server: `route` is a declared route's template, or `None` to
    /// take the router's [`MatchedPath`].
    fn endpoint(&self, route: Option<&'static str>) -> Arc<Endpoint> {
        Arc::new(Endpoint {
            server: Arc::clone(&self.shared),
            first: FirstMeters::default(),
            route,
        })
    }
}

/// What the requests of one endpoint share.
pub(crate) struct Endpoint {
    server: Arc<RequestObserver>,
    first: FirstMeters,
    /// A declared route's template; `None` for the router's [`MatchedPath`].
    route: Option<&'static str>,
}

/// The service the layer makes.
#[derive(Clone)]
pub(crate) struct Observe<S> {
    inner: S,
    /// `None`: requests pass through unobserved (a declared route whose server observes its
    /// routes as a whole, or not bound yet).
    endpoint: Option<Arc<Endpoint>>,
}

impl<S> std::fmt::Debug for Observe<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observe")
            .field("observed", &self.endpoint.is_some())
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody> Service<Request<ReqBody>> for Observe<S>
where
    S: Service<Request<ReqBody>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        match &self.endpoint {
            Some(endpoint) => observe(Arc::clone(endpoint), request, |request| {
                self.inner.call(request)
            }),
            None => ObserveFuture::passing(self.inner.call(request)),
        }
    }
}

/// Observes one request of `endpoint`, handed to `call` (see the module docs).
fn observe<B, F>(
    endpoint: Arc<Endpoint>,
    request: Request<B>,
    call: impl FnOnce(Request<B>) -> F,
) -> ObserveFuture<F> {
    let started = Instant::now();
    let shared = &endpoint.server;
    let id = shared
        .ids
        .id_for(request_id::given(request.headers(), &shared.header));
    let route = match endpoint.route {
        Some(declared) => RouteName::Declared(declared),
        None => match request.extensions().get::<MatchedPath>() {
            Some(matched) => RouteName::Matched(matched.clone()),
            None => RouteName::Unmatched,
        },
    };
    let method = request.method().clone();
    let route_name = route.as_str();
    // Only for a span that is made (its text is checked a byte at a time).
    let id_text = || id.to_str().unwrap_or_default();
    #[cfg(feature = "tracing-otel")]
    let sampling = sampling_of(&request);
    #[cfg(not(feature = "tracing-otel"))]
    let sampling = ();
    // Marked before any span is made: an unsampled request's spans are not exported.
    #[cfg(feature = "tracing-otel")]
    let _marked = sampling.enter();
    let span = match shared.span_level {
        #[cfg(feature = "tracing-otel")]
        level if sampling == Sampling::Sampled => {
            traced_span(&request, route.template(), &id, level)
        }
        SpanLevel::Info => {
            tracing::info_span!(
                "request",
                method = method.as_str(),
                route = route_name,
                request_id = id_text()
            )
        }
        SpanLevel::Debug => {
            tracing::debug_span!(
                "request",
                method = method.as_str(),
                route = route_name,
                request_id = id_text()
            )
        }
        SpanLevel::Off => Span::none(),
    };
    let id = Cell::new(Some(id));
    let inner = {
        // No `Serving` here: the id is read by the `RequestId` extractor, which axum runs when
        // the handler's future is polled, never in its call.
        let _entered = span.enter();
        // Borrowed by the closure: the request is moved once, into `call`, rather than into
        // each closure around it and catch_unwind's own slot.
        let mut request = Some(request);
        catch_unwind(AssertUnwindSafe(|| {
            call(request.take().expect("the closure runs once"))
        }))
    };
    let (inner, panicked) = match inner {
        Ok(inner) => (Some(inner), None),
        Err(panic) => (None, Some(panic)),
    };
    ObserveFuture {
        inner,
        panicked,
        span,
        sampling,
        passing: false,
        pending: Some(Pending {
            started,
            id,
            route,
            method,
            endpoint,
        }),
    }
}

/// The route of a request, as its span and metrics name it.
enum RouteName {
    /// A `#[route]`'s template.
    Declared(&'static str),
    /// The template the router matched.
    Matched(MatchedPath),
    /// No route matched (the fallback).
    Unmatched,
}

impl RouteName {
    /// The template, or `unmatched`.
    fn as_str(&self) -> &str {
        self.template().unwrap_or(UNMATCHED)
    }

    /// The template, if a route matched.
    fn template(&self) -> Option<&str> {
        match self {
            RouteName::Declared(route) => Some(route),
            RouteName::Matched(matched) => Some(matched.as_str()),
            RouteName::Unmatched => None,
        }
    }
}

/// Whether the request is exported (feature `tracing-otel`; nothing without).
#[cfg(feature = "tracing-otel")]
type RequestSampling = Sampling;
#[cfg(not(feature = "tracing-otel"))]
type RequestSampling = ();

/// Whether the request is exported, decided before its span is made: an unsampled one takes
/// the path it takes with tracing off.
#[cfg(feature = "tracing-otel")]
fn sampling_of<B>(request: &Request<B>) -> Sampling {
    // Tracing off: no header to look for.
    if !tamarco_core::otel::enabled() {
        return Sampling::Off;
    }
    let traceparent = request.headers().get(TRACEPARENT);
    Sampling::decide(traceparent.and_then(|value| value.to_str().ok()))
}

/// A static name: a lookup by `&str` would parse the name at every request.
#[cfg(feature = "tracing-otel")]
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The server span of an exported request (OpenTelemetry HTTP semantic conventions), named
/// after the matched route, the child of the caller's span when the request carries one. Log
/// records show its fields only when they would show the plain request span's (at
/// `request_log_level`); otherwise it is made for the exporter alone
/// ([`UNLOGGED_TARGET`](tamarco_core::otel::UNLOGGED_TARGET)), without the `request_id`,
/// which no semantic convention names (the log lines carry it, with the trace id): one
/// attribute fewer copied, converted and encoded per exported request.
#[cfg(feature = "tracing-otel")]
fn traced_span<B>(
    request: &Request<B>,
    route: Option<&str>,
    id: &HeaderValue,
    level: SpanLevel,
) -> Span {
    let method = request.method().as_str();
    let name = match route {
        Some(route) => [method, " ", route].concat(),
        None => method.to_owned(),
    };
    macro_rules! server_span {
        ([$($target:tt)*] $($logged:tt)*) => {
            tracing::info_span!(
                $($target)*
                "request",
                otel.name = name,
                otel.kind = "server",
                http.request.method = method,
                http.route = route,
                url.path = request.uri().path(),
                http.response.status_code = tracing::field::Empty,
                $($logged)*
            )
        };
    }
    let logged = match level {
        SpanLevel::Info => true,
        SpanLevel::Debug => tracing::enabled!(tracing::Level::DEBUG),
        SpanLevel::Off => false,
    };
    let span = match logged {
        true => server_span!([] request_id = id.to_str().unwrap_or_default(),),
        false => server_span!([target: tamarco_core::otel::UNLOGGED_TARGET,]),
    };
    let traceparent = request.headers().get(TRACEPARENT);
    tamarco_core::otel::mark_sampled(&span, traceparent.and_then(|v| v.to_str().ok()));
    if traceparent.is_some() {
        tamarco_core::otel::set_parent_http(&span, request.headers());
    }
    span
}

/// The route label of requests that matched no route (the fallback).
const UNMATCHED: &str = "unmatched";

struct Pending {
    started: Instant,
    /// The request's id; `None` while its handler is polled (see [`Serving`]).
    id: Cell<Option<HeaderValue>>,
    route: RouteName,
    method: Method,
    endpoint: Arc<Endpoint>,
}

pin_project_lite::pin_project! {
    /// The response future of [`Observe`].
    pub(crate) struct ObserveFuture<F> {
        // `None` when the handler panicked in its call: then `panicked` holds the panic.
        #[pin]
        inner: Option<F>,
        panicked: Option<Box<dyn Any + Send>>,
        span: Span,
        sampling: RequestSampling,
        // The request is not observed here: the inner future's output is the response.
        passing: bool,
        pending: Option<Pending>,
    }
}

impl<F> ObserveFuture<F> {
    /// The future of a request that passes through unobserved.
    fn passing(inner: F) -> Self {
        ObserveFuture {
            inner: Some(inner),
            panicked: None,
            span: Span::none(),
            #[cfg(feature = "tracing-otel")]
            sampling: Sampling::Off,
            #[cfg(not(feature = "tracing-otel"))]
            sampling: (),
            passing: true,
            pending: None,
        }
    }
}

impl<F, E> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.passing {
            let inner = this
                .inner
                .as_pin_mut()
                .expect("a passing future has its inner one");
            return inner.poll(cx);
        }
        #[cfg(feature = "tracing-otel")]
        let _sampling = this.sampling.enter();
        let _entered = this.span.enter();
        let Some(pending) = this.pending.as_ref() else {
            panic!("ObserveFuture polled after completion");
        };
        let polled = {
            let _serving = Serving::enter(&pending.id);
            match (this.inner.as_pin_mut(), this.panicked.take()) {
                (Some(inner), _) => catch_unwind(AssertUnwindSafe(|| inner.poll(cx))),
                (None, Some(panic)) => Err(panic),
                (None, None) => unreachable!("a future without its call's panic"),
            }
        };
        let shared = &pending.endpoint.server;
        let mut response = match polled {
            Ok(ready) => ready!(ready)?,
            Err(panic) => panic_response(&shared.panics, panic),
        };
        let pending = this.pending.take().expect("checked above");
        let latency = pending.started.elapsed();
        let status = response.status();
        let shared = &pending.endpoint.server;
        let route = pending.route.as_str();
        pending.endpoint.first.record(
            &shared.meters,
            route,
            &pending.method,
            status.as_u16(),
            latency.as_secs_f64(),
        );
        let latency_us = latency.as_micros() as u64;
        // Only the exported server span has the field.
        #[cfg(feature = "tracing-otel")]
        if *this.sampling == Sampling::Sampled {
            let code = i64::from(status.as_u16());
            tamarco_core::otel::record_exported(this.span, "http.response.status_code", code);
        }
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), latency_us, "request failed");
        } else if shared.span_level == SpanLevel::Info {
            tracing::info!(status = status.as_u16(), latency_us, "request");
        } else if shared.span_level == SpanLevel::Debug {
            tracing::debug!(status = status.as_u16(), latency_us, "request");
        }
        let headers = response.headers_mut();
        if let Some(id) = pending.id.into_inner() {
            headers.insert(shared.header.clone(), id);
        }
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
