//! Metrics on the [`metrics`] facade, exported by `metrics-exporter-prometheus` (cargo feature
//! `prometheus`; without it the meters below record nothing and cost next to nothing).
//!
//! - [`Counter`], [`Gauge`] and [`Summary`] are the meters for user code: the same name and
//!   labels give the same meter wherever it is created. Code that uses the plain `metrics`
//!   macros (`metrics::counter!`...) lands in the same registry and is exported too.
//! - The default `metrics` resource serves `GET /metrics` on the report server and feeds the
//!   other reporters (Carbon, file, stdout) every `collect_frequency` seconds; see
//!   [`MetricsResource`](crate::builtin::MetricsResource).
//! - Exported names are prefixed with the service name: a counter `requests_total` of the
//!   service `orders` is `orders_requests_total`.
//!
//! The registry is process-wide (one recorder per process), so one process runs one service.

mod meter;
pub(crate) mod render;
// The reporters are driven by the collector, which needs the exporter.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) mod reporter;
mod unit;

#[cfg(feature = "prometheus")]
use std::sync::OnceLock;

#[cfg(feature = "prometheus")]
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use meter::{Counter, Gauge, Summary, SummaryTimer};
pub use render::Sample;
pub use unit::{set_unit, unit_of};

/// The labels of a meter that has none: `Counter::new("restarts_total", NO_LABELS)`.
pub const NO_LABELS: &[(&str, &str)] = &[];

/// The quantiles every Summary reports.
pub const DEFAULT_QUANTILES: [f64; 5] = [0.5, 0.75, 0.9, 0.95, 0.99];

#[cfg(feature = "prometheus")]
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs tamarco's recorder as the process-wide `metrics` recorder, once. Returns `None` when
/// the program had installed another recorder first (then tamarco exports nothing itself).
#[cfg(feature = "prometheus")]
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_quantiles(&DEFAULT_QUANTILES)
                .expect("valid quantiles");
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(error) => {
                    tracing::warn!(
                        "another metrics recorder is installed; tamarco exports no metrics: {error}"
                    );
                    None
                }
            }
        })
        .as_ref()
}

/// The current metrics in the Prometheus text format, names prefixed with `<service>_`, as
/// `GET /metrics` serves them. `None` when tamarco's recorder is not installed (or not built:
/// cargo feature `prometheus`).
pub fn exposition(service: &str) -> Option<String> {
    #[cfg(feature = "prometheus")]
    return install().map(|handle| render::exposition(handle, service));
    #[cfg(not(feature = "prometheus"))]
    {
        let _ = service;
        None
    }
}

/// The current metrics as samples (names prefixed with `<service>_`), as the Carbon reporter
/// sends them: for reporters of other crates. Empty when tamarco's recorder is not installed.
pub fn samples(service: &str) -> Vec<Sample> {
    exposition(service).map_or_else(Vec::new, |text| render::samples(&text))
}
