//! Operations endpoints on the report server, beside `/status` and `/metrics`. Each can be
//! turned off under `system.resources.tamarco_http_report_server` (all on by default):
//!
//! | endpoint | what | off with |
//! |---|---|---|
//! | `GET /info` | service, instance id, deploy name, build (version, commit, profile), tamarco version, start time, uptime | `endpoints.info: false` |
//! | `GET /loggers` | the effective level of the root and of each configured target | `endpoints.loggers: false` |
//! | `POST /loggers/{target}` | `{"level": "debug"}` changes a level at run time; `{"level": null}` resets it (write) | `endpoints.loggers: false` |
//! | `GET /settings` | the merged settings, secrets masked, each value with its source | `endpoints.settings: false` |
//! | `GET /tasks` | the service's tasks, timers and threads, and whether each still runs | `endpoints.tasks: false` |
//! | `GET /debug/pprof/profile?seconds=N[&format=svg]` | a CPU profile (feature `profiler`; see `profiler`), pprof protobuf or flame graph; 409 while another is taken (write) | `endpoints.profiler: false` |
//! | `GET /` | the dashboard: one self-contained page (resources, tasks, charts of the last minutes kept by the page, loggers with a level switch, settings), refreshed every 2 s | `endpoints.dashboard: false` |
//!
//! Exposure: the report server listens on loopback (127.0.0.1) by default. Binding any other
//! address needs `expose: true`; whenever `expose` is true, write endpoints need
//! `Authorization: Bearer <token>` with the `token` setting (401 without, 403 when wrong).

mod access;
mod dashboard;
mod info;
mod loggers;
#[cfg(feature = "profiler")]
mod profiler;
mod settings_view;

use std::net::IpAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde::Deserialize;

use crate::BoxError;
use crate::resource::ResourceContext;
use crate::secret::Secret;
use crate::task::board::TaskBoard;

pub use info::BuildInfo;
#[cfg(feature = "tracing-otel")]
pub(crate) use info::instance_id;

/// The operations settings, beside `host` and `port` of the report server.
/// The operations keys of the report server's subtree.
pub(crate) const OPS_KEYS: &[&str] = &["expose", "token", "endpoints"];

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct OpsSettings {
    /// Allows binding a non-loopback address, and makes write endpoints ask for the token.
    pub(crate) expose: bool,
    token: Option<Secret<String>>,
    endpoints: Endpoints,
}

/// Which endpoints are served.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Endpoints {
    info: bool,
    loggers: bool,
    settings: bool,
    tasks: bool,
    dashboard: bool,
    profiler: bool,
    heap: bool,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            info: true,
            loggers: true,
            settings: true,
            tasks: true,
            dashboard: true,
            profiler: true,
            heap: true,
        }
    }
}

/// Reads the operations settings and returns their routes.
pub(crate) fn routes(
    cx: &ResourceContext,
    build: BuildInfo,
    tasks: TaskBoard,
) -> Result<(OpsSettings, Router), BoxError> {
    let ops: OpsSettings = cx
        .settings()
        .load_checked_beside(&[], super::report_server::SERVER_KEYS)?;
    let settings = cx.settings().settings().clone();
    let deploy_name = settings.get_or(
        "system.deploy_name",
        crate::settings::DEFAULT_DEPLOY_NAME.to_owned(),
    )?;
    let access = access::WriteAccess::new(ops.expose, ops.token.clone());
    if access.locked() {
        tracing::warn!(
            "report server: `{}` is true but `{}` is not set, so write endpoints refuse every request",
            cx.settings().full_key("expose"),
            cx.settings().full_key("token")
        );
    }
    let mut read = Router::new();
    let mut write = Router::new();
    let endpoints = &ops.endpoints;
    if endpoints.info {
        let instance = Arc::new(info::Instance::new(cx.service(), deploy_name, build));
        read = read.route(
            "/info",
            get(move || async move { Json(instance.document()) }),
        );
    }
    if endpoints.loggers {
        read = read.route("/loggers", get(loggers::list));
        write = write.route("/loggers/{target}", post(loggers::change));
    }
    if endpoints.settings {
        read = read.route(
            "/settings",
            get(move || async move { Json(settings_view::document(&settings)) }),
        );
    }
    if endpoints.tasks {
        read = read.route(
            "/tasks",
            get(move || async move { Json(serde_json::json!({"tasks": tasks.states()})) }),
        );
    }
    if endpoints.dashboard {
        read = read.route("/", get(dashboard::page));
    }
    let writes = endpoints.loggers
        || (cfg!(feature = "profiler") && endpoints.profiler)
        || (cfg!(feature = "jemalloc") && endpoints.heap);
    // A heap dump is a profiler's: behind the same token when exposed.
    #[cfg(feature = "jemalloc")]
    if endpoints.heap {
        write = write.route("/debug/pprof/heap", get(super::heap::profile));
    }
    #[cfg(feature = "profiler")]
    if endpoints.profiler {
        let shutdown = cx.shutdown().clone();
        write = write.route(
            "/debug/pprof/profile",
            get(move |uri| profiler::profile(uri, shutdown)),
        );
    }
    periodic_profile(cx)?;
    if writes {
        // axum refuses a route layer on a router without routes.
        let guard = middleware::from_fn_with_state(access, access::guard);
        read = read.merge(write.route_layer(guard));
    }
    Ok((ops, read))
}

/// Starts the periodic profile when `system.resources.profiler.microservices_with_profiler`
/// lists this service.
fn periodic_profile(cx: &ResourceContext) -> Result<(), BoxError> {
    let key = "system.resources.profiler";
    #[cfg(feature = "profiler")]
    {
        // Unknown keys under the key policy (a warning naming the closest known one).
        let settings: profiler::PeriodicSettings =
            cx.settings().settings().view(key).load_checked(&[])?;
        if settings.applies_to(cx.service()) {
            let shutdown = cx.shutdown().clone();
            tokio::spawn(profiler::periodic(
                settings,
                cx.service().to_owned(),
                shutdown,
            ));
        }
    }
    #[cfg(not(feature = "profiler"))]
    {
        crate::settings::check_known(
            cx.settings().settings(),
            key,
            &[
                "microservices_with_profiler",
                "interval_seconds",
                "directory",
            ],
            &[],
        )?;
        let listed: Vec<String> = cx
            .settings()
            .settings()
            .get_or(&format!("{key}.microservices_with_profiler"), Vec::new())?;
        if listed.iter().any(|name| name == cx.service()) {
            tracing::warn!(
                "`{key}.microservices_with_profiler` lists this service, but tamarco was built without its `profiler` feature: no profile is written"
            );
        }
    }
    Ok(())
}

/// Whether `host` names this machine only (`127.0.0.1`, `::1`, `localhost`).
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
