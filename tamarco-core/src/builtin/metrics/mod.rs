#[cfg(feature = "prometheus")]
mod collect;

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;
use tokio::task::JoinHandle;

use super::StatusBoard;
use crate::BoxError;
use crate::metrics::reporter::PathScheme;
use crate::resource::{Resource, ResourceContext};

/// The `metrics` resource: serves `GET /metrics` on the report server (Prometheus text format,
/// names prefixed with the service name) and, every `collect_frequency` seconds, updates the
/// built-in metrics and sends the same samples to the Carbon, file and stdout reporters.
///
/// Summaries buffer their observations until they are folded into quantiles; this resource
/// folds them every `collect_frequency` seconds or 5 s, whichever is shorter, so that their
/// memory stays bounded when nobody scrapes `/metrics`.
///
/// Settings under `system.resources.metrics` (defaults in parentheses): `collect_frequency` (10),
/// `path_scheme` (`original`: the Python original's Graphite paths; `tamarco`: one segment per
/// label), `handlers.prometheus.enabled` (true), `handlers.carbon.{enabled (false), host
/// (127.0.0.1), port (2003)}`, `handlers.file.{enabled (false), path (metrics.txt)}`,
/// `handlers.stdout.{enabled (false), prefix}` (`prefix` replaces the
/// `<deploy>.<service>.<host>` part of stdout paths, as in the original).
///
/// `/metrics` and the reporters need the cargo feature `prometheus` of `tamarco` (the registry
/// is `metrics-exporter-prometheus`). Without it meters cost nothing and are not exported, and a
/// setting that enables a handler stops the start, naming the key and the feature.
///
/// Built-in metrics: `resource_status{resource}` (the status code, 0-5),
/// `task_runs_total{task}` and `task_failures_total{task}`, `process_resident_memory_bytes`,
/// `process_virtual_memory_bytes`, `process_cpu_seconds_total`, `process_open_fds`,
/// `tokio_workers`, `tokio_alive_tasks`, `tokio_global_queue_depth`, `tokio_busy_ratio` (the
/// memory analyzer's figures, also in the `status` entry of `/status`).
#[derive(Debug)]
pub struct MetricsResource {
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    board: StatusBoard,
    settings: OnceLock<MetricsSettings>,
    collector: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct MetricsSettings {
    pub(super) collect_frequency: crate::settings::Duration,
    pub(super) path_scheme: PathScheme,
    pub(super) handlers: Handlers,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Handlers {
    pub(super) prometheus: Enabled,
    pub(super) carbon: Carbon,
    pub(super) file: File,
    pub(super) stdout: Stdout,
}

/// `prometheus.enabled`: on unless the settings say `false` (and only said, not defaulted, when
/// the exporter is not in the build).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Enabled {
    enabled: Option<bool>,
}

impl Enabled {
    #[cfg(feature = "prometheus")]
    fn on(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

/// The original's stdout handler took its path prefix from `prefix`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Stdout {
    pub(super) enabled: bool,
    pub(super) prefix: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Carbon {
    pub(super) enabled: bool,
    pub(super) host: String,
    pub(super) port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct File {
    pub(super) enabled: bool,
    pub(super) path: PathBuf,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            collect_frequency: crate::settings::Duration::from_secs(10),
            path_scheme: PathScheme::default(),
            handlers: Handlers::default(),
        }
    }
}

impl Default for Carbon {
    fn default() -> Self {
        Carbon {
            enabled: false,
            host: "127.0.0.1".into(),
            port: 2003,
        }
    }
}

impl Default for File {
    fn default() -> Self {
        File {
            enabled: false,
            path: "metrics.txt".into(),
        }
    }
}

impl Handlers {
    /// The first handler the settings turn on although the exporter is not in the build
    /// (`compiled` false): nothing could serve or report it, so the start stops naming it.
    /// `prometheus` counts only when the settings say `true`, not by its default.
    fn left_out_of_the_build(&self, compiled: bool) -> Option<&'static str> {
        let enabled = [
            ("prometheus", self.prometheus.enabled == Some(true)),
            ("carbon", self.carbon.enabled),
            ("file", self.file.enabled),
            ("stdout", self.stdout.enabled),
        ];
        let first = enabled.into_iter().find(|(_, on)| *on);
        first.filter(|_| !compiled).map(|(handler, _)| handler)
    }
}

impl MetricsResource {
    /// The resource's name.
    pub const NAME: &'static str = "metrics";

    pub(crate) fn new(board: StatusBoard) -> Self {
        MetricsResource {
            board,
            settings: OnceLock::new(),
            collector: Mutex::new(None),
        }
    }
}

// Internal: kept out of the "other types implement Resource" list in user errors.
#[diagnostic::do_not_recommend]
impl Resource for MetricsResource {
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let settings: MetricsSettings = cx.settings().load_checked(&[])?;
        if settings.collect_frequency.is_zero() {
            return Err(format!(
                "setting `{}`: expected a positive duration, found 0",
                cx.settings().full_key("collect_frequency"),
            )
            .into());
        }
        #[cfg(feature = "prometheus")]
        if let Some(handle) = crate::metrics::install()
            && settings.handlers.prometheus.on()
        {
            collect::serve(cx, handle);
        }
        if let Some(handler) = settings
            .handlers
            .left_out_of_the_build(cfg!(feature = "prometheus"))
        {
            let key = cx
                .settings()
                .full_key(&format!("handlers.{handler}.enabled"));
            return Err(format!(
                "setting `{key}`: the metrics handlers are not in this build; turn on the cargo \
                 feature `prometheus` of `tamarco`"
            )
            .into());
        }
        let _ = self.settings.set(settings);
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        #[cfg(feature = "prometheus")]
        if let (Some(settings), Some(handle)) = (self.settings.get(), crate::metrics::install()) {
            let collector = collect::spawn(cx, settings, handle, self.board.clone())?;
            *self.collector.lock().expect("collector lock") = Some(collector);
        }
        #[cfg(not(feature = "prometheus"))]
        let _ = cx;
        Ok(())
    }

    async fn stop(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        let collector = self.collector.lock().expect("collector lock").take();
        if let Some(collector) = collector {
            collector.abort();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Handlers;

    fn handlers(json: serde_json::Value) -> Handlers {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_handler_turned_on_without_the_exporter_is_named() {
        let carbon = handlers(serde_json::json!({"carbon": {"enabled": true}}));
        assert_eq!(carbon.left_out_of_the_build(false), Some("carbon"));
        assert_eq!(carbon.left_out_of_the_build(true), None);
        // `/metrics` is on by default, which is no error without the exporter; saying so is.
        assert_eq!(
            handlers(serde_json::json!({})).left_out_of_the_build(false),
            None
        );
        let said = handlers(serde_json::json!({"prometheus": {"enabled": true}}));
        assert_eq!(said.left_out_of_the_build(false), Some("prometheus"));
    }
}
