//! Helpers called by the code `#[microservice]` generates. Not public API: reached through
//! `tamarco::__private`, and may change in any release.

use std::time::Duration;

use crate::BoxError;
use crate::microservice::ResourceSlot;
use crate::resource::Resource;
use crate::task::{AsyncTaskFn, TaskKind, TaskSpec, ThreadFn};

/// One `#[resource]` field. Generic so that a field type that is not a resource is reported at
/// the field's type.
pub fn resource_slot<'a, R: Resource>(
    name: &'static str,
    depends_on: &'static [&'static str],
    replaces_default: bool,
    resource: &'a R,
) -> ResourceSlot<'a> {
    ResourceSlot {
        name,
        depends_on,
        replaces_default,
        resource,
    }
}

/// What a task, thread or hook may return: `()` or `Result<(), E>` for any error `E`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid return type for a task, thread or hook",
    note = "return `()` or `Result<(), E>` where `E` converts into `tamarco::BoxError`"
)]
pub trait IntoTaskResult {
    /// Converts into the runtime's result.
    fn into_task_result(self) -> Result<(), BoxError>;
}

impl IntoTaskResult for () {
    fn into_task_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError>> IntoTaskResult for Result<(), E> {
    fn into_task_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

/// Converts what a task returned.
pub fn into_task_result<T: IntoTaskResult>(value: T) -> Result<(), BoxError> {
    value.into_task_result()
}

/// A `#[task]`.
pub fn task<S>(name: &'static str, cooperative: bool, run: AsyncTaskFn<S>) -> TaskSpec<S> {
    TaskSpec {
        name,
        kind: TaskKind::Async { run, cooperative },
    }
}

/// A `#[task_timer]`; the macro has checked the interval.
pub fn timer<S>(
    name: &'static str,
    interval_ms: u64,
    one_shot: bool,
    autostart: bool,
    run: AsyncTaskFn<S>,
) -> TaskSpec<S> {
    let interval = Duration::from_millis(interval_ms);
    TaskSpec {
        name,
        kind: TaskKind::Timer {
            run,
            interval,
            one_shot,
            autostart,
        },
    }
}

/// A `#[thread]`.
pub fn thread<S>(name: &'static str, run: ThreadFn<S>) -> TaskSpec<S> {
    TaskSpec {
        name,
        kind: TaskKind::Thread { run },
    }
}
