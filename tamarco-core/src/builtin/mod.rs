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
//! `registry` and `profiler` are reserved for the default resources of those names.

mod board;
mod memory;
mod metrics;
pub mod ops;
mod report_server;
mod restart;
mod status;

use std::sync::Arc;

use crate::resource::ErasedResource;

pub(crate) use board::StatusBoard;
pub use metrics::MetricsResource;
pub use ops::BuildInfo;
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
) -> Vec<(&'static str, Arc<dyn ErasedResource>)> {
    vec![
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
    ]
}
