//! HTTP resources: [`HttpServer`] on axum and hyper and the [`ResponseCacheLayer`] (cargo
//! feature `http`), and `HttpClient` on reqwest (feature `http-client`, which brings in reqwest
//! and rustls).
//!
//! Routes are plain axum [`Router`](axum::Router)s; this module re-exports [`axum`] (and
//! `reqwest` with `http-client`) so that `tamarco` stays the one dependency. Each resource reads
//! `system.resources.<its name>`: see [`ServerSettings`] and `ClientSettings` (with `http-client`).
//!
//! Every request to an [`HttpServer`] is measured through the [`metrics`](https://docs.rs/metrics)
//! facade, whatever recorder the program installed:
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `http_server_requests_total` | counter | `server`, `route`, `method`, `status` |
//! | `http_server_request_duration_seconds` | histogram (seconds) | the same |
//! | `http_server_panics_total` | counter: handlers that panicked (each answered 500) | `server` |
//!
//! `server` is the resource's name, `route` the route template (`/users/{id}`; `unmatched`
//! for the fallback), `method` the method (`OTHER` for non-standard ones). Each request runs in
//! a `request` span with its method, route and [`RequestId`], taken from the `x-request-id`
//! header or generated, and echoed in the response.

mod cache;
#[cfg(feature = "http-client")]
mod client;
#[cfg(feature = "http-client")]
mod client_request;
#[cfg(feature = "http-client")]
mod client_span;
#[cfg(feature = "http-client")]
mod discovery;
mod observe;
mod panic;
mod routes;
mod server;
mod settings;

pub use cache::{ResponseCache, ResponseCacheFuture, ResponseCacheLayer, X_CACHE};
#[cfg(feature = "http-client")]
pub use client::{HttpClient, client_builder};
#[cfg(feature = "http-client")]
pub use client_request::ClientRequest;
#[cfg(feature = "http-client")]
pub use discovery::DiscoverySettings;
pub use observe::{DeclaredRoute, RequestId};
pub use routes::ServesRoutes;
#[doc(hidden)]
pub use routes::{add_routes, into_response, observed};
pub use server::HttpServer;
#[cfg(feature = "http-client")]
pub use settings::ClientSettings;
pub use settings::{CacheSettings, CorsSettings, ServerSettings};

#[doc(no_inline)]
pub use axum;
#[cfg(feature = "http-client")]
#[doc(no_inline)]
pub use reqwest;
