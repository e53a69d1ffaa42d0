//! [`ServesRoutes`]: what `#[route(<resource>, ...)]` needs from the resource it names.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, any};

use super::{DeclaredRoute, HttpServer};

/// A resource that serves the `#[route]` handlers of a service: [`HttpServer`], the
/// WebSocket server, or a resource of your own built on axum.
///
/// The generated code builds one axum [`Router`] per resource from the service's `#[route]`
/// methods, with the shared service as its state, and hands it over once, before any resource
/// is configured. Routes built by hand merge in through the resource's own `add_routes`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot serve `#[route]` handlers",
    label = "this resource has no HTTP routes",
    note = "`#[route(<field>, GET \"/path\")]` names an `HttpServer` or `WebSocketServer` resource field",
    note = "a resource of your own serves routes by implementing `tamarco::http::ServesRoutes`"
)]
pub trait ServesRoutes {
    /// Adds the service's declared routes to the ones the resource serves.
    fn add_declared_routes(&self, routes: Router);

    /// The observation around the handler of the declared route `route` (its template),
    /// called once per route before [`add_declared_routes`](Self::add_declared_routes). The
    /// default is never bound: a resource that observes requests does it around its whole
    /// router.
    fn declared_route(&self, route: &'static str) -> DeclaredRoute {
        DeclaredRoute::unbound(route)
    }
}

impl ServesRoutes for HttpServer {
    fn add_declared_routes(&self, routes: Router) {
        self.add_declared(routes);
    }

    fn declared_route(&self, route: &'static str) -> DeclaredRoute {
        self.declare(route)
    }
}

/// Used by the generated code: hands over the router `routes` builds, given the observation
/// of each route by its template. Generic, so that a resource of the wrong kind is reported,
/// once, at the resource's name in `#[route]`.
#[doc(hidden)]
pub fn add_routes<R: ServesRoutes>(
    resource: &R,
    routes: impl FnOnce(&dyn Fn(&'static str) -> DeclaredRoute) -> Router,
) {
    let routes = routes(&|route| resource.declared_route(route));
    resource.add_declared_routes(routes);
}

/// Used by the generated code: the method router of a declared route, `handler` for
/// `method` (every method when `None`) with `route`'s observation around it. The one bound on
/// `handler`, so that an argument that is not an extractor is reported once.
#[doc(hidden)]
pub fn observed<H, T, S>(
    route: DeclaredRoute,
    method: Option<MethodFilter>,
    handler: H,
) -> MethodRouter<S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    let handler = route.around(handler);
    match method {
        Some(method) => MethodRouter::new().on(method, handler),
        None => any(handler),
    }
}

/// Used by the generated code: the handler's return value, checked at its return type.
#[doc(hidden)]
pub fn into_response<R: axum::response::IntoResponse>(value: R) -> axum::response::Response {
    value.into_response()
}
