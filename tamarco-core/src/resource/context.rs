use std::fmt;
use std::sync::{Arc, Mutex};

use axum::Router;

use super::StatusCell;
use crate::registry::Registry;
use crate::settings::SettingsView;
use crate::shutdown::ShutdownHandle;

/// What a resource knows about its place in the service; passed to every [`Resource`] hook.
///
/// [`Resource`]: super::Resource
#[derive(Clone)]
pub struct ResourceContext {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    service: String,
    settings: SettingsView,
    shutdown: ShutdownHandle,
    status: StatusCell,
    report_routes: ReportRoutes,
    stop_deadline: Mutex<Option<tokio::time::Instant>>,
    registry: Registry,
}

impl ResourceContext {
    pub(crate) fn new(
        name: String,
        service: String,
        settings: SettingsView,
        shutdown: ShutdownHandle,
        report_routes: ReportRoutes,
        registry: Registry,
    ) -> Self {
        let inner = Inner {
            name,
            service,
            settings,
            shutdown,
            status: StatusCell::default(),
            report_routes,
            stop_deadline: Mutex::new(None),
            registry,
        };
        ResourceContext {
            inner: Arc::new(inner),
        }
    }

    /// The service's registry: its instance id and discovery of other services.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The resource's name: its field name, or the `name` given in `#[resource(...)]`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The name of the service that owns the resource.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The resource's settings, rooted at `system.resources.<name>`.
    pub fn settings(&self) -> &SettingsView {
        &self.inner.settings
    }

    /// A handle to ask the service for a graceful stop, or to wait for one.
    pub fn shutdown(&self) -> &ShutdownHandle {
        &self.inner.shutdown
    }

    /// The status cell the runtime and `/status` read; a resource may set it (for example to
    /// `CONNECTING` while it reconnects).
    pub fn status(&self) -> &StatusCell {
        &self.inner.status
    }

    /// While the resource stops: the instant by which its `stop` (and `post_stop`) must be done,
    /// the end of the service's grace period or of the short final window after it. At that
    /// instant the runtime stops waiting (the hook's future is dropped). A resource with its
    /// own drain or flush timeout waits at most until then. `None` before the stop begins.
    pub fn stop_deadline(&self) -> Option<tokio::time::Instant> {
        *self.inner.stop_deadline.lock().expect("stop deadline lock")
    }

    pub(crate) fn set_stop_deadline(&self, deadline: tokio::time::Instant) {
        *self.inner.stop_deadline.lock().expect("stop deadline lock") = Some(deadline);
    }

    /// The routes served by the report server. Add routes in [`configure`](super::Resource::configure):
    /// the report server starts before other resources.
    pub fn report_routes(&self) -> &ReportRoutes {
        &self.inner.report_routes
    }
}

impl fmt::Debug for ResourceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceContext")
            .field("name", &self.inner.name)
            .field("service", &self.inner.service)
            .field("status", &self.inner.status)
            .finish_non_exhaustive()
    }
}

/// The operational routes (`/status`, `/metrics`...) that the report server serves.
#[derive(Clone, Default)]
pub struct ReportRoutes(Arc<Mutex<Router>>);

impl ReportRoutes {
    /// Adds the routes of `router` to the report server.
    pub fn merge(&self, router: Router) {
        let mut routes = self.0.lock().expect("report routes lock");
        *routes = std::mem::take(&mut *routes).merge(router);
    }

    /// All routes added so far.
    pub fn router(&self) -> Router {
        self.0.lock().expect("report routes lock").clone()
    }
}

impl fmt::Debug for ReportRoutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReportRoutes")
    }
}
