//! The [`Resource`] trait: the plugin contract. Anything a service holds with a lifecycle (an
//! HTTP server, a database pool, a message consumer) implements it, in this crate or any other.

mod context;
mod erased;
mod status;

use std::future::Future;

use serde_json::{Map, Value};

use crate::BoxError;

pub use context::{ReportRoutes, ResourceContext};
pub(crate) use erased::effective_status;
pub use erased::{BoxFuture, ErasedResource};
pub use status::{ResourceStatus, StatusCell};

/// A part of a service with a lifecycle. Every hook has a default, so an implementation writes
/// only the ones it needs, as plain `async fn`s.
///
/// The runtime calls the hooks in this order, each phase over all resources in dependency order:
///
/// 1. [`bind`](Resource::bind): the resource learns its name and its service.
/// 2. [`configure`](Resource::configure): it reads its settings through
///    [`ResourceContext::settings`], rooted at `system.resources.<name>`. Routes for the report
///    server are added here.
/// 3. [`pre_start`](Resource::pre_start), then [`start`](Resource::start): connect, listen.
/// 4. The service's tasks, timers and threads start; then [`post_start`](Resource::post_start).
/// 5. On stop, in reverse order: [`stop`](Resource::stop), then [`post_stop`](Resource::post_stop).
///
/// The runtime tracks the status of every resource (see [`ResourceStatus`]): `CONNECTING` while
/// it starts, `STARTED` once `start` succeeded, `STOPPING`, `STOPPED`, and `FAILED` when a hook
/// fails. A resource that notices trouble later (a lost connection) sets its own status through
/// [`ResourceContext::status`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a `#[resource]`",
    label = "this type does not implement `tamarco::Resource`",
    note = "implement `tamarco::Resource` for `{Self}`, or remove `#[resource]` from the field"
)]
pub trait Resource: Send + Sync + 'static {
    /// Called first, once: the context carries the resource's name and service.
    fn bind(&self, cx: &ResourceContext) {
        let _ = cx;
    }

    /// Reads settings. A bad setting should fail here, naming its key.
    fn configure(&self, cx: &ResourceContext) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// Runs before any resource starts.
    fn pre_start(&self, cx: &ResourceContext) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// Opens connections and starts serving.
    fn start(&self, cx: &ResourceContext) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// Runs after the service's tasks started.
    fn post_start(
        &self,
        cx: &ResourceContext,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// Stops serving and closes connections; resources stop in reverse start order.
    fn stop(&self, cx: &ResourceContext) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// Runs after every resource stopped.
    fn post_stop(&self, cx: &ResourceContext) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = cx;
        async { Ok(()) }
    }

    /// The resource's own view of its status, overriding the one the runtime tracks.
    /// `None` (the default) means "whatever the lifecycle says".
    fn status(&self) -> Option<ResourceStatus> {
        None
    }

    /// Extra fields for this resource's entry in `/status` (for example its queues).
    /// Keys that look like secrets ([`is_secret_name`](crate::secret::is_secret_name):
    /// `password`, `token`, `secret`...) are dropped, at any depth.
    fn status_fields(&self) -> Map<String, Value> {
        Map::new()
    }
}
