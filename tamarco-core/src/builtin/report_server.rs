use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Deserialize;
use tokio::net::TcpListener;

use super::ops::{self, BuildInfo};
use crate::BoxError;
use crate::resource::{Resource, ResourceContext};
use crate::serve::{Listener, ServeOptions};
use crate::settings;
use crate::task::board::TaskBoard;

/// The HTTP server for operational endpoints (`/status`, `/metrics`...), on
/// `system.resources.tamarco_http_report_server`:
///
/// ```yaml
/// tamarco_http_report_server:
///   enabled: true                    # false turns it off
///   host: 127.0.0.1                  # a non-loopback address needs `expose: true`
///   port: 5747                       # 0 picks a free port
///   max_connections: 64              # at the cap, new clients wait until one closes
///   header_read_timeout_seconds: 10  # 0: none
///   drain_timeout_seconds: 2         # on stop, the longest a request in flight may take
/// ```
///
/// Its stop never waits on an idle or half-open connection: those are closed at once, and
/// requests in flight have `drain_timeout_seconds`. The operations endpoints and their
/// settings are listed in [`builtin`](super).
#[derive(Debug, Default)]
pub struct ReportServer {
    settings: OnceLock<(ReportServerSettings, ServeOptions)>,
    build: BuildInfo,
    tasks: TaskBoard,
    exposed: OnceLock<bool>,
    local_addr: OnceLock<SocketAddr>,
    running: Mutex<Option<Listener>>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ReportServerSettings {
    enabled: bool,
    host: String,
    port: u16,
    max_connections: usize,
    header_read_timeout_seconds: settings::Duration,
    drain_timeout_seconds: settings::Duration,
}

impl Default for ReportServerSettings {
    fn default() -> Self {
        ReportServerSettings {
            enabled: true,
            host: "127.0.0.1".to_owned(),
            port: 5747,
            max_connections: 64,
            header_read_timeout_seconds: settings::Duration::from_secs(10),
            drain_timeout_seconds: settings::Duration::from_secs(2),
        }
    }
}

/// The Python original's `system.resources.status.{host,port}` (its YAML example has them),
/// taken as this server's address when its own keys are not set.
fn status_address(
    view: &settings::SettingsView,
    settings: &mut ReportServerSettings,
) -> Result<(), settings::SettingsError> {
    let all = view.settings();
    for (key, old) in [("host", STATUS_HOST), ("port", STATUS_PORT)] {
        let own = all.source_of(&view.full_key(key));
        if matches!(own, None | Some(settings::Layer::Defaults)) {
            match key {
                "host" => settings.host = all.get_or(old, settings.host.clone())?,
                _ => settings.port = all.get_or(old, settings.port)?,
            }
        }
    }
    Ok(())
}

/// The Python original's address keys of the status resource, read here as this server's.
pub(crate) const STATUS_HOST: &str = "system.resources.status.host";
pub(crate) const STATUS_PORT: &str = "system.resources.status.port";

/// This server's own keys, beside the operations keys ([`ops::OPS_KEYS`]).
pub(crate) const SERVER_KEYS: &[&str] = &[
    "enabled",
    "host",
    "port",
    "max_connections",
    "header_read_timeout_seconds",
    "drain_timeout_seconds",
];

impl ReportServer {
    /// The resource's name.
    pub const NAME: &'static str = "tamarco_http_report_server";

    /// A report server whose `/info` shows `build`.
    pub(crate) fn new(build: BuildInfo) -> Self {
        ReportServer {
            build,
            ..ReportServer::default()
        }
    }

    /// The service's tasks, for `/tasks` and the dashboard; the runtime fills it.
    pub(crate) fn tasks(&self) -> &TaskBoard {
        &self.tasks
    }

    /// The address it listens on, once started.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr.get().copied()
    }

    /// What the service's build recorded about itself.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))] // the record is written to etcd only
    pub(crate) fn build(&self) -> &BuildInfo {
        &self.build
    }
}

// Internal: kept out of the "other types implement Resource" list in user errors.
#[diagnostic::do_not_recommend]
impl Resource for ReportServer {
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let view = cx.settings();
        let mut settings: ReportServerSettings = view.load_checked_beside(&[], ops::OPS_KEYS)?;
        status_address(view, &mut settings)?;
        let (ops, routes) = ops::routes(cx, self.build.clone(), self.tasks.clone())?;
        cx.report_routes().merge(routes);
        let _ = self.exposed.set(ops.expose);
        let options = ServeOptions {
            header_read_timeout: settings.header_read_timeout_seconds.non_zero(),
            max_connections: settings.max_connections,
            drain_timeout: settings.drain_timeout_seconds.get(),
            ..ServeOptions::default()
        };
        let _ = self.settings.set((settings, options));
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let Some((settings, options)) = self.settings.get().filter(|(s, _)| s.enabled) else {
            return Ok(());
        };
        if !ops::is_loopback(&settings.host) && self.exposed.get() != Some(&true) {
            return Err(format!(
                "setting `{}` is {:?}, not a loopback address: set `{}` to true to serve the operations endpoints beyond this machine",
                cx.settings().full_key("host"),
                settings.host,
                cx.settings().full_key("expose")
            )
            .into());
        }
        let address = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&address)
            .await
            .map_err(|e| format!("cannot listen on {address}: {e}"))?;
        let local = listener.local_addr()?;
        let _ = self.local_addr.set(local);
        let serving = Listener::spawn(
            listener,
            cx.report_routes().router(),
            options.clone(),
            cx.name(),
            Arc::new(AtomicUsize::new(0)),
        );
        *self.running.lock().expect("report server lock") = Some(serving);
        tracing::info!("report server listening on http://{local}");
        Ok(())
    }

    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let running = self.running.lock().expect("report server lock").take();
        if let Some(serving) = running {
            serving.stop(cx.stop_deadline()).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    #[test]
    fn the_originals_status_address_is_used_unless_the_server_has_its_own() {
        let settings = Settings::new("svc");
        settings
            .update_internal_json(
                r#"{"system": {"resources": {"status": {"host": "127.0.0.2", "port": 6001}}}}"#,
            )
            .unwrap();
        let view = settings.resource_view(ReportServer::NAME);
        let mut server = ReportServerSettings::default();
        status_address(&view, &mut server).unwrap();
        assert_eq!((server.host.as_str(), server.port), ("127.0.0.2", 6001));

        settings
            .set_internal("system.resources.tamarco_http_report_server.port", 6002)
            .unwrap();
        // As loaded from the server's own subtree.
        let mut server = ReportServerSettings {
            port: 6002,
            ..ReportServerSettings::default()
        };
        status_address(&view, &mut server).unwrap();
        assert_eq!(
            (server.host.as_str(), server.port),
            ("127.0.0.2", 6002),
            "the server's own key wins"
        );
    }
}
