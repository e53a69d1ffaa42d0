//! [`ServesRoutes`]: what `#[route(<resource>, ...)]` needs from the resource it names.

use axum::Router;

use super::HttpServer;

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
}

impl ServesRoutes for HttpServer {
    fn add_declared_routes(&self, routes: Router) {
        self.add_routes(routes);
    }
}

/// Used by the generated code: generic, so that a resource of the wrong kind is reported at
/// the resource's name in `#[route]`.
#[doc(hidden)]
pub fn add_routes<R: ServesRoutes>(resource: &R, routes: Router) {
    resource.add_declared_routes(routes);
}

/// Used by the generated code: the handler's return value, checked at its return type.
#[doc(hidden)]
pub fn into_response<R: axum::response::IntoResponse>(value: R) -> axum::response::Response {
    value.into_response()
}
