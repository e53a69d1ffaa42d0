use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::BoxError;
use crate::resource::{ErasedResource, ResourceContext, ResourceStatus};
use crate::runtime::Entry;
use crate::secret::is_secret_name;
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
        let _ = self
            .policy
            .set(cx.settings().get_or("restart_policy", Default::default())?);
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
        fields.insert(
            "memory".into(),
            json!({"rss_bytes": memory.rss_bytes, "virtual_bytes": memory.virtual_bytes}),
        );
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

/// Every resource's status, for `/status`; filled once the resources are known.
#[derive(Clone, Default)]
pub(crate) struct StatusBoard(Arc<OnceLock<Vec<BoardEntry>>>);

pub(crate) struct BoardEntry {
    pub(crate) name: String,
    pub(crate) cx: ResourceContext,
    pub(crate) resource: Arc<dyn ErasedResource>,
}

impl BoardEntry {
    /// The resource's own status if it reports one, else the lifecycle's.
    pub(crate) fn status(&self) -> ResourceStatus {
        crate::resource::effective_status(&*self.resource, &self.cx)
    }
}

impl std::fmt::Debug for StatusBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatusBoard")
    }
}

impl StatusBoard {
    pub(crate) fn fill(&self, entries: &[Entry]) {
        let board = entries
            .iter()
            .map(|entry| BoardEntry {
                name: entry.name().to_owned(),
                cx: entry.cx.clone(),
                resource: Arc::clone(&entry.resource),
            })
            .collect();
        let _ = self.0.set(board);
    }

    /// The resources, in start order (empty until filled).
    pub(crate) fn entries(&self) -> &[BoardEntry] {
        self.0.get().map(Vec::as_slice).unwrap_or_default()
    }

    /// Every resource's name and status, in start order.
    pub(crate) fn statuses(&self) -> Vec<(String, ResourceStatus)> {
        self.entries()
            .iter()
            .map(|entry| (entry.name.clone(), entry.status()))
            .collect()
    }

    /// The `/status` document and its HTTP code.
    pub(crate) fn report(&self) -> (StatusCode, Map<String, Value>) {
        let mut body = Map::new();
        let mut code = StatusCode::OK;
        for entry in self.entries() {
            let status = entry.status();
            code = match status {
                ResourceStatus::Stopped | ResourceStatus::Failed => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                ResourceStatus::Started => code,
                _ if code == StatusCode::INTERNAL_SERVER_ERROR => code,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            let mut fields = entry.resource.status_fields_dyn();
            hide_secrets(&mut fields);
            let mut item = json!({"status": status.code(), "status_str": status.as_str()});
            if let Value::Object(item) = &mut item {
                item.extend(fields);
            }
            body.insert(entry.name.clone(), item);
        }
        (code, body)
    }
}

/// What the `/status` and health handlers read.
#[derive(Clone)]
struct Probes {
    board: StatusBoard,
    shutdown: ShutdownHandle,
}

async fn status(State(probes): State<Probes>) -> (StatusCode, axum::Json<Map<String, Value>>) {
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

/// Drops the fields whose name looks secret, at any depth: they must never be shown.
fn hide_secrets(fields: &mut Map<String, Value>) {
    fields.retain(|key, _| !is_secret_name(key));
    for value in fields.values_mut() {
        hide_secrets_in(value);
    }
}

fn hide_secrets_in(value: &mut Value) {
    match value {
        Value::Object(map) => hide_secrets(map),
        Value::Array(items) => items.iter_mut().for_each(hide_secrets_in),
        _ => {}
    }
}
