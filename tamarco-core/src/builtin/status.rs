use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::board::{StatusBoard, StatusReport};
use crate::BoxError;
use crate::resource::ResourceContext;
use crate::settings::Settings;
use crate::shutdown::ShutdownHandle;

/// The `status` resource: serves `GET /status` and the health probes on the report server.
///
/// - `GET /health/live` (liveness) answers 200 while the process serves requests, including
///   during a graceful stop: restarting a service that is stopping helps nobody.
/// - `GET /health/ready` (readiness) answers 200 only while no stop has begun and every
///   resource is STARTED; 503 otherwise (starting, CONNECTING, STOPPING, STOPPED, FAILED, or a
///   graceful stop under way), so load balancers stop sending traffic before anything closes.
///
/// The body is one key per resource, in start order:
/// `{"tamarco_http_report_server":{"status":2,"status_str":"STARTED"}, ...}`. The HTTP code is
/// 200 when every resource is STARTED (2), 500 when any is STOPPED (4) or FAILED (5), and 503
/// otherwise (starting, stopping).
///
/// It also applies the restart policies; see [`RestartPolicy`](super::restart::RestartPolicy).
///
/// The `status` entry also carries the memory analyzer's figures:
/// `"memory":{"rss_bytes":…,"virtual_bytes":…},"runtime":{"workers":…,"alive_tasks":…,"global_queue_depth":…,"busy_ratio":…}`.
///
/// When settings come from a central store (etcd), the `status` entry also says whether the
/// store is reachable. While it is not, the service runs on its last known settings and the
/// HTTP code does not change:
/// `"status":{"status":2,"status_str":"STARTED","settings":{"etcd":"DISCONNECTED","source":"etcd at 127.0.0.1:2379"}}`.
#[derive(Debug)]
pub struct StatusResource {
    board: StatusBoard,
    settings: OnceLock<Settings>,
    policy: std::sync::OnceLock<super::restart::RestartPolicy>,
    watcher: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// `system.resources.status`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct StatusSettings {
    restart_policy: super::restart::RestartPolicy,
}

/// The status keys of the Python original's YAML example: the address is the report
/// server's, and `debug` did nothing there either.
const LEGACY_STATUS_KEYS: &[crate::settings::LegacyKey] = &[
    crate::settings::LegacyKey::read_elsewhere(
        "host",
        "system.resources.tamarco_http_report_server.host",
    ),
    crate::settings::LegacyKey::read_elsewhere(
        "port",
        "system.resources.tamarco_http_report_server.port",
    ),
    crate::settings::LegacyKey::no_effect(
        "debug",
        "the status endpoint has no debug mode; `/status` always shows every resource",
    ),
];

impl StatusResource {
    /// The resource's name.
    pub const NAME: &'static str = "status";

    pub(crate) fn new(board: StatusBoard) -> Self {
        StatusResource {
            board,
            settings: OnceLock::new(),
            policy: Default::default(),
            watcher: Default::default(),
        }
    }
}

// Internal: kept out of the "other types implement Resource" list in user errors.
#[diagnostic::do_not_recommend]
impl crate::resource::Resource for StatusResource {
    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let state = Probes {
            board: self.board.clone(),
            shutdown: cx.shutdown().clone(),
        };
        let routes = Router::new()
            .route("/status", get(status))
            .route("/health/live", get(live))
            .route("/health/ready", get(ready))
            .with_state(state);
        cx.report_routes().merge(routes);
        let _ = self.settings.set(cx.settings().settings().clone());
        let settings: StatusSettings = cx.settings().load_checked(LEGACY_STATUS_KEYS)?;
        let _ = self.policy.set(settings.restart_policy);
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        if let Some(policy) = self.policy.get().filter(|policy| policy.is_active()) {
            let watcher = tokio::spawn(
                policy
                    .clone()
                    .enforce(self.board.clone(), cx.shutdown().clone()),
            );
            *self.watcher.lock().expect("watcher lock") = Some(watcher);
        }
        Ok(())
    }

    async fn stop(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        if let Some(watcher) = self.watcher.lock().expect("watcher lock").take() {
            watcher.abort();
        }
        Ok(())
    }

    fn status_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        let memory = super::memory::snapshot();
        #[allow(unused_mut)] // filled further with the feature `jemalloc`
        let mut memory_fields =
            json!({"rss_bytes": memory.rss_bytes, "virtual_bytes": memory.virtual_bytes});
        #[cfg(feature = "jemalloc")]
        if let Some(jemalloc) = memory.jemalloc {
            memory_fields["jemalloc"] = json!(jemalloc);
        }
        fields.insert("memory".into(), memory_fields);
        if let Some(runtime) = memory.runtime {
            fields.insert("runtime".into(), json!(runtime));
        }
        if let Some(backend) = self.settings.get().and_then(Settings::backend) {
            let state = match backend.is_connected() {
                true => "CONNECTED",
                false => "DISCONNECTED",
            };
            let settings = json!({ backend.layer().name(): state, "source": backend.describe() });
            fields.insert("settings".into(), settings);
        }
        fields
    }
}

/// What the `/status` and health handlers read.
#[derive(Clone)]
struct Probes {
    board: StatusBoard,
    shutdown: ShutdownHandle,
}

async fn status(State(probes): State<Probes>) -> (StatusCode, axum::Json<StatusReport>) {
    let (code, body) = probes.board.report();
    (code, axum::Json(body))
}

async fn live() -> axum::Json<Value> {
    axum::Json(json!({"status": "UP"}))
}

async fn ready(State(probes): State<Probes>) -> (StatusCode, axum::Json<Value>) {
    let stopping = probes.shutdown.is_stopping();
    let (code, _) = probes.board.report();
    if !stopping && code == StatusCode::OK {
        (StatusCode::OK, axum::Json(json!({"status": "READY"})))
    } else {
        let reason = if stopping {
            "stopping"
        } else {
            "resources not started"
        };
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "NOT_READY", "reason": reason})),
        )
    }
}
