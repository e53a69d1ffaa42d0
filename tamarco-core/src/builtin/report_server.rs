use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::ops::{self, BuildInfo};
use crate::BoxError;
use crate::resource::{Resource, ResourceContext};
use crate::task::board::TaskBoard;

/// The HTTP server for operational endpoints (`/status`, `/metrics`...), on
/// `system.resources.tamarco_http_report_server.{host, port}` (127.0.0.1:5747 by default;
/// port 0 picks a free port). `enabled: false` turns it off. Binding a non-loopback address
/// needs `expose: true`; the operations endpoints and their settings are listed in
/// [`builtin`](super).
#[derive(Debug, Default)]
pub struct ReportServer {
    settings: OnceLock<ReportServerSettings>,
    build: BuildInfo,
    tasks: TaskBoard,
    exposed: OnceLock<bool>,
    local_addr: OnceLock<SocketAddr>,
    running: Mutex<Option<Serving>>,
}

/// The stop trigger and the task of a running server.
type Serving = (oneshot::Sender<()>, JoinHandle<std::io::Result<()>>);

#[derive(Debug, Deserialize)]
struct ReportServerSettings {
    enabled: bool,
    host: String,
    port: u16,
}

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
}

// Internal: kept out of the "other types implement Resource" list in user errors.
#[diagnostic::do_not_recommend]
impl Resource for ReportServer {
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let settings: ReportServerSettings = cx.settings().load()?;
        let (ops, routes) = ops::routes(cx, self.build.clone(), self.tasks.clone())?;
        cx.report_routes().merge(routes);
        let _ = self.exposed.set(ops.expose);
        let _ = self.settings.set(settings);
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let Some(settings) = self.settings.get().filter(|settings| settings.enabled) else {
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
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server =
            axum::serve(listener, cx.report_routes().router()).with_graceful_shutdown(async {
                let _ = stop_rx.await;
            });
        let join = tokio::spawn(std::future::IntoFuture::into_future(server));
        *self.running.lock().expect("report server lock") = Some((stop_tx, join));
        tracing::info!("report server listening on http://{local}");
        Ok(())
    }

    async fn stop(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        let running = self.running.lock().expect("report server lock").take();
        if let Some((stop, join)) = running {
            let _ = stop.send(());
            join.await??;
        }
        Ok(())
    }
}
