//! What needs the exporter (cargo feature `prometheus`): `GET /metrics` and the collector that
//! updates the built-in metrics, folds summaries and feeds the Carbon, file and stdout reporters.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::task::JoinHandle;

use super::MetricsSettings;
use crate::BoxError;
use crate::builtin::StatusBoard;
use crate::metrics::reporter::{Reporter, graphite_lines, segment};
use crate::metrics::{Gauge, NO_LABELS, render};
use crate::resource::ResourceContext;

/// Serves `GET /metrics` on the report server, names prefixed with the service name.
pub(super) fn serve(cx: &ResourceContext, handle: &'static PrometheusHandle) {
    let prefix = cx.service().to_owned();
    let route = get(move || {
        let body = render::exposition(handle, &prefix);
        async move {
            (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                body,
            )
        }
    });
    cx.report_routes()
        .merge(Router::new().route("/metrics", route));
}

/// Starts the collector: every `collect_frequency` it records the built-in metrics and sends
/// the samples to the reporters the settings enable.
pub(super) fn spawn(
    cx: &ResourceContext,
    settings: &MetricsSettings,
    handle: &'static PrometheusHandle,
    board: StatusBoard,
) -> Result<JoinHandle<()>, BoxError> {
    let mut reporters = Vec::new();
    let handlers = &settings.handlers;
    if handlers.carbon.enabled {
        let address = format!("{}:{}", handlers.carbon.host, handlers.carbon.port);
        reporters.push(Reporter::Carbon {
            address,
            stream: None,
        });
    }
    if handlers.file.enabled {
        reporters.push(Reporter::File {
            path: handlers.file.path.clone(),
        });
    }
    if handlers.stdout.enabled {
        reporters.push(Reporter::Stdout {
            prefix: handlers.stdout.prefix.clone(),
        });
    }
    let deploy: String = cx.settings().settings().get_or(
        "system.deploy_name",
        crate::settings::DEFAULT_DEPLOY_NAME.to_owned(),
    )?;
    let service = cx.service().to_owned();
    let path_prefix = format!(
        "{}.{}.{}.",
        segment(&deploy),
        segment(&service),
        segment(&hostname())
    );
    let period = settings.collect_frequency.get();
    let scheme = settings.path_scheme;
    Ok(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut upkeep = tokio::time::interval(period.min(UPKEEP_PERIOD));
        upkeep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = upkeep.tick() => {
                    handle.run_upkeep();
                    continue;
                }
                _ = ticks.tick() => {}
            }
            record_builtin(&board);
            if reporters.is_empty() {
                continue;
            }
            let exposition = render::exposition(handle, &service);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let samples = render::samples(&exposition);
            let service_prefix = format!("{service}_");
            let lines = graphite_lines(&samples, &path_prefix, &service_prefix, now, scheme);
            for reporter in &mut reporters {
                let sent = match reporter {
                    // The original's stdout reporter had a prefix of its own.
                    Reporter::Stdout {
                        prefix: Some(prefix),
                    } => {
                        let own = match prefix.as_str() {
                            "" => String::new(),
                            _ => format!("{prefix}."),
                        };
                        let lines = graphite_lines(&samples, &own, &service_prefix, now, scheme);
                        reporter.send(&lines).await
                    }
                    _ => reporter.send(&lines).await,
                };
                if let Err(error) = sent {
                    tracing::warn!(reporter = reporter.name(), "metrics not sent: {error}");
                }
            }
        }
    }))
}

/// The longest time between two foldings of summary observations (the exporter's own default).
const UPKEEP_PERIOD: Duration = Duration::from_secs(5);

/// Updates the built-in gauges: resource status, process and tokio runtime figures.
fn record_builtin(board: &StatusBoard) {
    for (name, status) in board.statuses() {
        Gauge::with_unit("resource_status", "status", &[("resource", name)])
            .set(f64::from(status.code()));
    }
    let memory = crate::builtin::memory::snapshot();
    if let Some(rss) = memory.rss_bytes {
        Gauge::new("process_resident_memory_bytes", NO_LABELS).set(rss as f64);
    }
    if let Some(size) = memory.virtual_bytes {
        Gauge::new("process_virtual_memory_bytes", NO_LABELS).set(size as f64);
    }
    if let Some(seconds) = cpu_seconds() {
        // A fraction, so a gauge here; exported with the type `counter` (see `metrics::render`).
        Gauge::new("process_cpu_seconds_total", NO_LABELS).set(seconds);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        Gauge::with_unit("process_open_fds", "fds", NO_LABELS).set(fds.count() as f64);
    }
    #[cfg(feature = "jemalloc")]
    if let Some(jemalloc) = memory.jemalloc {
        for (name, bytes) in [
            ("jemalloc_allocated_bytes", jemalloc.allocated_bytes),
            ("jemalloc_active_bytes", jemalloc.active_bytes),
            ("jemalloc_resident_bytes", jemalloc.resident_bytes),
            ("jemalloc_mapped_bytes", jemalloc.mapped_bytes),
            ("jemalloc_retained_bytes", jemalloc.retained_bytes),
        ] {
            Gauge::new(name, NO_LABELS).set(bytes as f64);
        }
    }
    if let Some(runtime) = memory.runtime {
        Gauge::with_unit("tokio_workers", "threads", NO_LABELS).set(runtime.workers as f64);
        Gauge::with_unit("tokio_alive_tasks", "tasks", NO_LABELS).set(runtime.alive_tasks as f64);
        Gauge::with_unit("tokio_global_queue_depth", "tasks", NO_LABELS)
            .set(runtime.global_queue_depth as f64);
        if let Some(ratio) = runtime.busy_ratio {
            Gauge::new("tokio_busy_ratio", NO_LABELS).set(ratio);
        }
    }
}

/// User plus system CPU time of the whole process, from `/proc/self/stat` (in clock ticks of
/// 1/100 s, the value on every mainstream Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}
