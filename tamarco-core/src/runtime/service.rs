//! The contracts that `#[microservice]` implements: [`Microservice`] for the struct (its name
//! and resources) and [`TaskSet`] for the impl block (its tasks and lifecycle hooks).
//!
//! They live in the runtime's module tree because `Microservice::run` starts the [`Runtime`]
//! that drives them: anywhere else the two modules would import each other.

use std::sync::Arc;

use super::{ExitStatus, Runtime, Stage};
use crate::BoxError;
use crate::resource::{BoxFuture, ErasedResource};
use crate::service_context::ServiceContext;
use crate::task::TaskSpec;

/// A service: a named struct whose `#[resource]` fields the runtime drives through the
/// lifecycle. Implemented by `#[microservice]` on the struct.
pub trait Microservice: Send + Sync + Sized + 'static {
    /// The service's name: settings overrides, logs and metrics use it.
    const NAME: &'static str;

    /// In-code settings declared on the struct (`#[microservice(settings = "service.yml")]`),
    /// embedded at compile time: the runtime merges them into the in-code layer first, so that
    /// [`Runtime::with_settings`], files, the environment and etcd override them.
    const SETTINGS: Option<EmbeddedSettings> = None;

    /// The service's resources, in declaration order, with their dependencies.
    fn resources(&self) -> Vec<ResourceSlot<'_>>;

    /// Binds what the struct declares besides its resources (its [`ServiceContext`] field,
    /// its outputs) to the running service. The runtime calls it once, right after the
    /// resources' `bind` phase and before any of them is configured.
    fn bind(&self, cx: &ServiceContext) -> Result<(), BoxError> {
        let _ = cx;
        Ok(())
    }

    /// Runs the service until a stop signal or a graceful stop, on a new tokio runtime;
    /// returns how it ended, for `main` to return.
    fn run(self) -> ExitStatus
    where
        Self: TaskSet,
    {
        Runtime::new(self).run()
    }

    /// A [`Runtime`] for the service, to set in-code settings or options before running.
    fn runtime(self) -> Runtime<Self>
    where
        Self: TaskSet,
    {
        Runtime::new(self)
    }
}

/// The tasks and lifecycle hooks of a service. Implemented by `#[microservice]` on an impl
/// block of the service (which may be empty).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `#[microservice]` impl block",
    label = "tasks and hooks come from a `#[microservice] impl` block",
    note = "add `#[microservice] impl {Self} {{}}` (it may be empty)"
)]
pub trait TaskSet: Microservice {
    /// The service's tasks, timers and threads.
    fn tasks() -> Vec<TaskSpec<Self>>;

    /// The service's lifecycle hooks.
    fn hooks() -> Hooks<Self> {
        Hooks::default()
    }

    /// Hands what the impl block declares (`#[route]`s, `#[input]`s) to their resources, with
    /// the shared service as their state. The runtime calls it once, right after
    /// [`Microservice::bind`], before any resource is configured.
    fn wire(service: &Arc<Self>) -> Result<(), BoxError> {
        let _ = service;
        Ok(())
    }
}

/// A document of in-code settings embedded in the program (YAML, or JSON without the cargo
/// feature `yaml`), with the file it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedSettings {
    /// The file's name as the attribute gives it, for errors.
    pub file: &'static str,
    /// The file's text.
    pub yaml: &'static str,
}

/// One `#[resource]` field: its settings name, dependencies and the resource itself.
#[derive(Clone, Copy)]
pub struct ResourceSlot<'a> {
    /// The settings name: `system.resources.<name>`.
    pub name: &'static str,
    /// Settings names of the resources this one starts after.
    pub depends_on: &'static [&'static str],
    /// Whether this resource replaces the default resource of the same name.
    pub replaces_default: bool,
    /// The resource.
    pub resource: &'a dyn ErasedResource,
}

impl std::fmt::Debug for ResourceSlot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceSlot")
            .field("name", &self.name)
            .field("depends_on", &self.depends_on)
            .field("replaces_default", &self.replaces_default)
            .finish_non_exhaustive()
    }
}

/// A lifecycle hook of service `S`: gets the service and the [`Stage`] it wraps.
pub type HookFn<S> = fn(Arc<S>, Stage) -> BoxFuture<'static, Result<(), BoxError>>;

/// The service's own code around each stage of the framework's work.
pub struct Hooks<S> {
    /// Around the resources' `pre_start`.
    pub pre_start: Option<HookFn<S>>,
    /// Around the resources' `start`.
    pub start: Option<HookFn<S>>,
    /// Around the resources' `post_start`.
    pub post_start: Option<HookFn<S>>,
    /// Around the resources' `stop` (tasks are already stopped).
    pub stop: Option<HookFn<S>>,
    /// Around the resources' `post_stop`.
    pub post_stop: Option<HookFn<S>>,
}

impl<S> Default for Hooks<S> {
    fn default() -> Self {
        Hooks {
            pre_start: None,
            start: None,
            post_start: None,
            stop: None,
            post_stop: None,
        }
    }
}

impl<S> std::fmt::Debug for Hooks<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("pre_start", &self.pre_start.is_some())
            .field("start", &self.start.is_some())
            .field("post_start", &self.post_start.is_some())
            .field("stop", &self.stop.is_some())
            .field("post_stop", &self.post_stop.is_some())
            .finish()
    }
}
