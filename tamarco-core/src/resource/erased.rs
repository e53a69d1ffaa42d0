use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};

use super::{Resource, ResourceContext, ResourceStatus};
use crate::BoxError;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

type HookFuture<'a> = BoxFuture<'a, Result<(), BoxError>>;

/// The object-safe twin of [`Resource`] that the runtime iterates over. Every `Resource`
/// implements it; nobody implements it by hand.
pub trait ErasedResource: Send + Sync {
    /// [`Resource::bind`].
    fn bind_dyn(&self, cx: &ResourceContext);
    /// [`Resource::configure`].
    fn configure_boxed<'a>(&'a self, cx: &'a ResourceContext) -> HookFuture<'a>;
    /// [`Resource::pre_start`].
    fn pre_start_boxed<'a>(&'a self, cx: &'a ResourceContext) -> HookFuture<'a>;
    /// [`Resource::start`].
    fn start_boxed<'a>(&'a self, cx: &'a ResourceContext) -> HookFuture<'a>;
    /// [`Resource::post_start`].
    fn post_start_boxed<'a>(&'a self, cx: &'a ResourceContext) -> HookFuture<'a>;
    /// [`Resource::stop`].
    fn stop_boxed<'a>(&'a self, cx: &'a ResourceContext) -> HookFuture<'a>;
    /// [`Resource::post_stop`].
    fn post_stop_boxed<'a>(&'a self, cx: &'a ResourceContext) -> HookFuture<'a>;
    /// [`Resource::status`].
    fn status_dyn(&self) -> Option<ResourceStatus>;
    /// [`Resource::status_fields`].
    fn status_fields_dyn(&self) -> Map<String, Value>;
}

impl<R: Resource> ErasedResource for R {
    fn bind_dyn(&self, cx: &ResourceContext) {
        self.bind(cx);
    }
    fn configure_boxed<'a>(&'a self, cx: &'a ResourceContext) -> HookFuture<'a> {
        Box::pin(self.configure(cx))
    }
    fn pre_start_boxed<'a>(&'a self, cx: &'a ResourceContext) -> HookFuture<'a> {
        Box::pin(self.pre_start(cx))
    }
    fn start_boxed<'a>(&'a self, cx: &'a ResourceContext) -> HookFuture<'a> {
        Box::pin(self.start(cx))
    }
    fn post_start_boxed<'a>(&'a self, cx: &'a ResourceContext) -> HookFuture<'a> {
        Box::pin(self.post_start(cx))
    }
    fn stop_boxed<'a>(&'a self, cx: &'a ResourceContext) -> HookFuture<'a> {
        Box::pin(self.stop(cx))
    }
    fn post_stop_boxed<'a>(&'a self, cx: &'a ResourceContext) -> HookFuture<'a> {
        Box::pin(self.post_stop(cx))
    }
    fn status_dyn(&self) -> Option<ResourceStatus> {
        self.status()
    }
    fn status_fields_dyn(&self) -> Map<String, Value> {
        self.status_fields()
    }
}

/// The status a resource shows: its own view when it reports one, else the lifecycle's (the
/// status cell in its context). The one rule the runtime, `/status` and the metrics share.
pub(crate) fn effective_status(
    resource: &dyn ErasedResource,
    cx: &ResourceContext,
) -> ResourceStatus {
    resource.status_dyn().unwrap_or_else(|| cx.status().get())
}
