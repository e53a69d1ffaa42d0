//! [`DeclaredRoute`]: the observe layer around one `#[route]` handler itself, inside the one
//! boxed service axum makes of each handler, rather than around the handler's boxed route as
//! a router layer (a second boxed service, cloned and called per request).

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tower::Layer;

use super::{Endpoint, Observe, ObserveLayer};

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

/// Called by axum for each request (a handler's layer is applied per call).
impl<S> Layer<S> for DeclaredRoute {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            endpoint: self.endpoint.load_full(),
        }
    }
}
