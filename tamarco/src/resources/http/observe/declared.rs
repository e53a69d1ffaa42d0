//! [`DeclaredRoute`]: the observation of one `#[route]` handler, done by the handler itself
//! ([`Observed`]), inside the one boxed service axum makes of each handler, rather than around
//! the handler's boxed route as a router layer (a second boxed service, cloned and called per
//! request).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwapOption;
use axum::extract::Request;
use axum::handler::Handler;
use axum::response::Response;

use super::{Endpoint, ObserveFuture, ObserveLayer, observe};

/// The observation of one `#[route]` handler (used by the generated code, through
/// [`ServesRoutes::declared_route`](crate::http::ServesRoutes::declared_route)).
///
/// Its server binds it when it starts: from then on each request of the route is observed
/// here, as the router layer would (request id, span, metrics, logs, panics answered 500).
/// Unbound, requests pass through: a server that observes its routes as a whole (with CORS,
/// a timeout, a body limit or a cache set, which belong inside the observation) leaves it
/// unbound, and so does a resource of your own.
#[derive(Clone)]
pub struct DeclaredRoute {
    route: &'static str,
    endpoint: Arc<ArcSwapOption<Endpoint>>,
}

impl DeclaredRoute {
    /// A route that no server binds: its requests pass through.
    pub fn unbound(route: &'static str) -> Self {
        DeclaredRoute {
            route,
            endpoint: Arc::default(),
        }
    }

    /// Observes the route's requests with `layer`'s server.
    pub(crate) fn bind(&self, layer: &ObserveLayer) {
        self.endpoint.store(Some(layer.endpoint(Some(self.route))));
    }

    /// Lets the route's requests pass through again.
    pub(crate) fn unbind(&self) {
        self.endpoint.store(None);
    }
}

impl std::fmt::Debug for DeclaredRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeclaredRoute")
            .field("route", &self.route)
            .field("bound", &self.endpoint.load().is_some())
            .finish()
    }
}

impl DeclaredRoute {
    /// `handler` with this route's observation around it.
    pub(crate) fn around<H>(self, handler: H) -> Observed<H> {
        Observed {
            handler,
            route: self,
        }
    }
}

/// A `#[route]` handler with its route's observation around it: the handler is called
/// directly, with no tower service between them.
#[derive(Clone, Debug)]
pub(crate) struct Observed<H> {
    handler: H,
    route: DeclaredRoute,
}

impl<H, T, S> Handler<T, S> for Observed<H>
where
    H: Handler<T, S>,
    T: 'static,
    S: Send + 'static,
{
    type Future = ObservedFuture<H::Future>;

    fn call(self, request: Request, state: S) -> Self::Future {
        let handler = self.handler;
        let inner = match self.route.endpoint.load_full() {
            Some(endpoint) => observe(endpoint, request, move |request| Answer {
                inner: handler.call(request, state),
            }),
            None => ObserveFuture::passing(Answer {
                inner: handler.call(request, state),
            }),
        };
        ObservedFuture { inner }
    }
}

pin_project_lite::pin_project! {
    /// The future of an [`Observed`] handler.
    pub(crate) struct ObservedFuture<F> {
        #[pin]
        inner: ObserveFuture<Answer<F>>,
    }
}

impl<F: Future<Output = Response>> Future for ObservedFuture<F> {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        self.project().inner.poll(cx).map(|answer| match answer {
            Ok(response) => response,
            Err(never) => match never {},
        })
    }
}

pin_project_lite::pin_project! {
    /// A handler's future as a service's, which [`ObserveFuture`] wraps.
    pub(crate) struct Answer<F> {
        #[pin]
        inner: F,
    }
}

impl<F: Future<Output = Response>> Future for Answer<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx).map(Ok)
    }
}
