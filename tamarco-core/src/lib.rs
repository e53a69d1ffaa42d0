//! The runtime of [tamarco](https://docs.rs/tamarco): resources and their lifecycle, settings,
//! tasks, signals, the report server and `/status`.
//!
//! Services depend on the `tamarco` crate, which re-exports everything here. Crates that only
//! provide a resource (plugins) may depend on `tamarco-core` alone and implement [`Resource`].

pub mod backoff;
pub mod builtin;
#[cfg(feature = "messaging")]
pub mod codec;
#[doc(hidden)]
pub mod codegen;
mod context;
mod error;
pub mod lifecycle;
pub mod logging;
#[cfg(feature = "messaging")]
pub mod messaging;
pub mod metrics;
#[cfg(feature = "tracing-otel")]
pub mod otel;
mod panic;
pub mod registry;
pub mod resource;
pub mod runtime;
pub mod secret;
pub mod serve;
mod service_context;
pub mod settings;
mod shutdown;
pub mod task;

pub use context::MicroserviceContext;
pub use error::{BoxError, Error, Phase, ResourceError, error_chain};
pub use registry::Registry;
pub use resource::{Resource, ResourceContext, ResourceStatus};
pub use runtime::{
    EmbeddedSettings, ExitStatus, HookFn, Hooks, Microservice, ResourceSlot, Running, Runtime,
    Stage, StageFailed, TaskSet,
};
pub use secret::Secret;
pub use service_context::ServiceContext;
pub use settings::{Settings, SettingsError, SettingsView};
pub use shutdown::{ShutdownHandle, StopReason};
pub use task::TaskContext;
