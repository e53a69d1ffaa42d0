//! Error types. Every error names the resource, task, hook or setting at fault and the phase.

use std::fmt;
use std::time::Duration;

use crate::settings::SettingsError;

/// The error type that user code, tasks and resources return: anything that is an error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A step of the lifecycle. Start runs `Bind` to `PostStart` in dependency order; stop runs
/// `Stop` and `PostStop` in reverse order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Phase {
    /// The resource learns its name and service.
    Bind,
    /// The resource reads its settings.
    Configure,
    /// Before any resource starts.
    PreStart,
    /// Resources open connections and start serving.
    Start,
    /// After tasks, timers and threads were started.
    PostStart,
    /// Resources stop, in reverse start order.
    Stop,
    /// After every resource stopped.
    PostStop,
}

impl Phase {
    /// The phase's name as used in logs and errors (`pre_start`, `stop`...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Bind => "bind",
            Phase::Configure => "configure",
            Phase::PreStart => "pre_start",
            Phase::Start => "start",
            Phase::PostStart => "post_start",
            Phase::Stop => "stop",
            Phase::PostStop => "post_stop",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource failed in one phase of its lifecycle.
#[derive(Debug, thiserror::Error)]
#[error("resource `{resource}` failed in {phase}")]
pub struct ResourceError {
    /// The resource's settings name.
    pub resource: String,
    /// The phase that failed.
    pub phase: Phase,
    /// What went wrong.
    #[source]
    pub source: BoxError,
}

/// Everything that can end a service with a non-zero exit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A resource failed in a lifecycle phase.
    #[error(transparent)]
    Resource(#[from] ResourceError),
    /// The service's own hook for a phase returned an error.
    #[error("the service's `{phase}` hook failed")]
    Hook {
        /// The phase whose hook failed.
        phase: Phase,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// A task, timer or thread failed or panicked and so stopped the service.
    #[error("task `{task}` failed")]
    Task {
        /// The task's name.
        task: String,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// A restart policy stopped the service because a resource failed.
    #[error(
        "resource `{resource}` failed; the restart policy stops the service so that it is restarted"
    )]
    RestartRequested {
        /// The resource that failed.
        resource: String,
    },
    /// A setting is missing or has the wrong type.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The graceful stop did not finish within the grace period.
    #[error("graceful stop did not finish within the grace period of {0:?}")]
    GracePeriodExpired(Duration),
    /// A second stop signal arrived while stopping.
    #[error("forced exit: a second stop signal arrived during the graceful stop")]
    Forced,
    /// A stop signal arrived while the settings were loading, before anything started: the
    /// service ends at once, with exit code 0 (nothing started, so nothing was cut short).
    #[error("stopped before the service started: a stop signal came while the settings loaded")]
    StoppedBeforeStart,
    /// The runtime itself could not be set up (tokio runtime, signal handlers).
    #[error("could not set up the runtime")]
    Runtime(#[source] std::io::Error),
}

/// Formats an error with its whole chain of causes: `outer: cause: root cause`.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}
