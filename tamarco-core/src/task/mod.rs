//! Tasks, timers and threads declared with `#[task]`, `#[task_timer]` and `#[thread]`.
//!
//! - A **task** runs an async method for the life of the service. A task that takes a
//!   [`TaskContext`] is cooperative: on stop it is given the grace period to return after
//!   [`TaskContext::stopping`] fires. A task without one is cancelled at once.
//! - A **timer** runs an async method every `interval`, waiting that long between the end of
//!   one run and the start of the next. `autostart` runs it at once, otherwise it waits first;
//!   `one_shot` waits one interval and runs it once, with or without `autostart` (as the Python
//!   original; for work once at start, use a `#[task]`). A failing or panicking tick is logged
//!   and the timer goes on.
//!   Timers are cancelled on stop.
//! - A task or timer marked `singleton` runs in one instance of the service at a time: the
//!   leader of an etcd election. It is cancelled when the lead is at risk and starts again in
//!   whichever instance leads next; see [`registry`](crate::registry).
//! - A **thread** runs a blocking method on its own OS thread with a [`ShutdownHandle`] it can
//!   poll or wait on; on stop it is joined for at most
//!   `system.shutdown.thread_join_timeout_seconds` (3 s by default), then left behind.
//!
//! A task or thread that returns an error or panics is logged with its name and begins a
//! graceful stop of the service, which then exits non-zero: a service that lost a task is not
//! healthy, and its orchestrator should restart it. A task that returns `Ok` simply ends.
//!
//! [`ShutdownHandle`]: crate::ShutdownHandle

pub(crate) mod board;
mod context;
pub(crate) mod supervisor;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::BoxError;
use crate::resource::BoxFuture;
use crate::shutdown::ShutdownHandle;

pub use context::TaskContext;

/// Runs an async task or timer tick of service `S`.
pub type AsyncTaskFn<S> = fn(Arc<S>, TaskContext) -> BoxFuture<'static, Result<(), BoxError>>;
/// Runs a thread of service `S`.
pub type ThreadFn<S> = fn(Arc<S>, ShutdownHandle) -> Result<(), BoxError>;

/// One task of a service, as the `#[microservice]` impl block declares it.
pub struct TaskSpec<S> {
    /// The task's name (the method name unless overridden).
    pub name: &'static str,
    /// What kind of task, and how to run it.
    pub kind: TaskKind<S>,
    /// `singleton`: runs in one instance of the service at a time, the leader of an etcd
    /// election (see [`registry`](crate::registry)); never a thread.
    pub singleton: bool,
}

/// The three kinds of task.
#[non_exhaustive]
pub enum TaskKind<S> {
    /// `#[task]`: runs for the life of the service.
    Async {
        /// The method.
        run: AsyncTaskFn<S>,
        /// Whether it takes a [`TaskContext`] and so may finish by itself on stop.
        cooperative: bool,
    },
    /// `#[task_timer]`: runs every `interval`.
    Timer {
        /// The method.
        run: AsyncTaskFn<S>,
        /// The pause between runs.
        interval: Duration,
        /// Run once only.
        one_shot: bool,
        /// Run at once rather than after the first interval.
        autostart: bool,
    },
    /// `#[thread]`: a blocking method on its own OS thread.
    Thread {
        /// The method.
        run: ThreadFn<S>,
    },
}

impl<S> fmt::Debug for TaskSpec<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("singleton", &self.singleton)
            .finish()
    }
}

impl<S> fmt::Debug for TaskKind<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskKind::Async { cooperative, .. } => {
                write!(f, "Async {{ cooperative: {cooperative} }}")
            }
            TaskKind::Timer {
                interval,
                one_shot,
                autostart,
                ..
            } => {
                write!(
                    f,
                    "Timer {{ interval: {interval:?}, one_shot: {one_shot}, autostart: {autostart} }}"
                )
            }
            TaskKind::Thread { .. } => f.write_str("Thread"),
        }
    }
}
