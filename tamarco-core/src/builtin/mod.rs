//! The default resources every service gets without user code. A service replaces one by
//! declaring a resource of the same name with `#[resource(replaces_default)]`.
//!
//! | name | what |
//! |---|---|
//! | `tamarco_http_report_server` | HTTP server for operational endpoints (127.0.0.1:5747) |
//! | `metrics` | `GET /metrics` and the metrics reporters |
//! | `status` | `GET /status`, health probes and restart policies |
//!
//! The report server also serves the operations endpoints (`/info`, `/loggers`, `/settings`);
//! see the table in [`ops`] and its settings keys.
//!
//! | `registry` | registration, discovery and singleton elections on etcd ([`crate::registry`]); present when `system.resources.registry.enabled` is true or etcd is configured |
//!
//! `profiler` is reserved for the default resource of that name.

mod board;
#[cfg(feature = "jemalloc")]
mod heap;
mod memory;
mod metrics;
pub mod ops;
mod report_server;
mod restart;
mod status;

use std::sync::Arc;

use crate::registry::{Registry, RegistryResource};
use crate::resource::ErasedResource;

pub(crate) use board::StatusBoard;
pub use metrics::MetricsResource;
pub use ops::BuildInfo;
#[cfg(feature = "tracing-otel")]
pub(crate) use ops::instance_id;
pub use report_server::ReportServer;
pub use restart::{RestartPolicy, RestartPolicyError, Selection};
pub use status::StatusResource;

/// Names of the default resources, reserved in every service.
pub const DEFAULT_RESOURCE_NAMES: &[&str] = &[
    "tamarco_http_report_server",
    "metrics",
    "status",
    "registry",
    "profiler",
];

/// The default resources, in start order.
pub(crate) fn defaults(
    board: &StatusBoard,
    report_server: &Arc<ReportServer>,
    registry: &Registry,
) -> Vec<(&'static str, Arc<dyn ErasedResource>)> {
    let mut defaults: Vec<(&'static str, Arc<dyn ErasedResource>)> = vec![
        (
            ReportServer::NAME,
            Arc::clone(report_server) as Arc<dyn ErasedResource>,
        ),
        (
            MetricsResource::NAME,
            Arc::new(MetricsResource::new(board.clone())),
        ),
        (
            StatusResource::NAME,
            Arc::new(StatusResource::new(board.clone())),
        ),
    ];
    if RegistryResource::wanted(registry) {
        defaults.push((
            RegistryResource::NAME,
            Arc::new(RegistryResource::new(
                registry.clone(),
                board.clone(),
                Arc::clone(report_server),
            )),
        ));
    }
    defaults
}
