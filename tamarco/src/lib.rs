#![doc = include_str!("../../README.md")]
#![doc(test(attr(deny(warnings))))]

pub use tamarco_core::build_info;
#[doc = include_str!("docs/operations.md")]
pub use tamarco_core::builtin;
#[cfg(feature = "messaging")]
pub use tamarco_core::messaging;
#[doc = include_str!("docs/settings.md")]
pub use tamarco_core::settings;
pub use tamarco_core::{
    BoxError, EmbeddedSettings, Error, ExitStatus, HookFn, Hooks, Microservice,
    MicroserviceContext, Phase, Registry, Resource, ResourceContext, ResourceError, ResourceSlot,
    ResourceStatus, Running, Runtime, Secret, ServiceContext, Settings, SettingsError,
    SettingsView, ShutdownHandle, Stage, StageFailed, StopReason, TaskContext, TaskSet,
    error_chain,
};
pub use tamarco_core::{lifecycle, metrics, registry, resource, runtime, secret, task};

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "testing")]
pub mod testing;

/// jemalloc, for a service to set as its global allocator (feature `jemalloc`); tamarco never
/// sets it. With it, `/status` and the metrics carry jemalloc's allocation statistics and
/// `GET /debug/pprof/heap` answers a heap profile when the process starts with
/// `_RJEM_MALLOC_CONF=prof:true`:
///
/// ```rust,ignore
/// #[global_allocator]
/// static ALLOCATOR: tamarco::jemalloc::Jemalloc = tamarco::jemalloc::Jemalloc;
/// ```
#[cfg(feature = "jemalloc")]
pub mod jemalloc {
    pub use tikv_jemallocator::Jemalloc;
}

pub mod resources;
#[cfg(feature = "amqp")]
pub use resources::amqp;
#[cfg(feature = "http")]
pub use resources::http;
#[cfg(feature = "influxdb")]
pub use resources::influxdb;
#[cfg(feature = "kafka")]
pub use resources::kafka;
#[cfg(feature = "postgres")]
pub use resources::postgres;
#[cfg(feature = "redis")]
pub use resources::redis;
#[cfg(feature = "websocket")]
pub use resources::websocket;
#[cfg(feature = "messaging")]
pub use tamarco_core::codec;
#[doc = include_str!("docs/logging.md")]
pub use tamarco_core::logging;
#[cfg(feature = "tracing-otel")]
pub use tamarco_core::otel;

#[doc = include_str!("docs/migration.md")]
pub mod migration {}

/// Makes an async method of a `#[microservice]` impl block the handler of a messaging input:
/// `#[input(amqp, subscribe = "prices")]`. See [`microservice`](macro@microservice).
#[doc(inline)]
pub use tamarco_macros::input;
/// Makes a struct or enum a message that codecs carry (and an HTTP JSON body): it derives
/// serde's `Serialize` and `Deserialize` through tamarco's serde, so the service's crate needs
/// neither a serde dependency nor `#[serde(crate = "...")]`.
///
/// ```
/// use tamarco::prelude::*;
///
/// #[message]
/// #[derive(Debug, PartialEq)]
/// struct Order {
///     id: u64,
///     #[serde(default)]
///     note: String,
/// }
///
/// let order: Order = tamarco::serde_json::from_str(r#"{"id": 7}"#).unwrap();
/// assert_eq!(order, Order { id: 7, note: String::new() });
/// ```
#[doc(inline)]
pub use tamarco_macros::message;
#[doc = include_str!("docs/microservice.md")]
#[cfg_attr(
    all(feature = "http", feature = "amqp"),
    doc = include_str!("docs/microservice_wiring.md")
)]
#[doc(inline)]
pub use tamarco_macros::microservice;
/// Routes HTTP requests to an async method of a `#[microservice]` impl block:
/// `#[route(http_server, GET "/orders/{id}")]`. See [`microservice`](macro@microservice).
#[doc(inline)]
pub use tamarco_macros::route;
/// Marks an async method of a `#[microservice]` impl block as a task that runs for the life of
/// the service. See [`microservice`](macro@microservice).
#[doc(inline)]
pub use tamarco_macros::task;
/// Marks an async method of a `#[microservice]` impl block as a timer:
/// `#[task_timer(interval = "2s", one_shot, autostart)]`. See [`microservice`](macro@microservice).
#[doc(inline)]
pub use tamarco_macros::task_timer;
/// Marks a blocking method of a `#[microservice]` impl block as an OS thread. See
/// [`microservice`](macro@microservice).
#[doc(inline)]
pub use tamarco_macros::thread;

// The crates a service usually needs, so that `tamarco` is the one dependency.
#[doc(no_inline)]
pub use serde;
#[doc(no_inline)]
pub use serde_json;
#[doc(no_inline)]
pub use tokio;
#[doc(no_inline)]
pub use tracing;

/// The names most services use: `use tamarco::prelude::*;`.
pub mod prelude {
    /// The HTTP server resource, which `#[route]`s need.
    #[cfg(feature = "http")]
    pub use crate::http::HttpServer;
    /// The query methods of the Postgres resource and its connections.
    #[cfg(feature = "postgres")]
    pub use crate::postgres::Queries as _;
    pub use crate::{
        BoxError, ExitStatus, Microservice, MicroserviceContext, Resource, ResourceContext,
        ResourceStatus, ServiceContext, Settings, ShutdownHandle, Stage, TaskContext, input,
        message, microservice, route, task, task_timer, thread,
    };
}

/// Used by macro-generated code. Not public API; may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use ::std::option::Option;
    pub use ::std::result::Result;
    pub use ::std::sync::Arc;
    pub use ::std::vec::Vec;
    #[cfg(feature = "messaging")]
    pub use tamarco_core::codec;
    pub use tamarco_core::codegen::*;
    #[cfg(feature = "messaging")]
    pub use tamarco_core::messaging::{
        InputSpec, Inputs, MetaOf, Output, bind_input, bind_output, bind_request_input,
        bind_stream_input, codec_carries, kind,
    };
    pub use tamarco_core::task::TaskSpec;
    pub use tamarco_core::{
        BoxError, EmbeddedSettings, ExitStatus, Hooks, Microservice, ResourceSlot, ServiceContext,
        TaskSet,
    };
    pub use tamarco_macros::error_at;

    /// What `#[route]` expands to.
    #[cfg(feature = "http")]
    pub mod http {
        pub use crate::http::{add_routes, into_response, observed};
        pub use axum::Router;
        pub use axum::extract::State;
        pub use axum::routing::MethodFilter;
    }
}
