//! Helpers called by the code `#[microservice]` generates. Not public API: reached through
//! `tamarco::__private`, and may change in any release.

use crate::BoxError;
use crate::resource::{ErasedResource, Resource};

pub use crate::task::TaskKind;
pub use std::time::Duration;

/// The resource of a `#[resource]` field. Generic so that a field type that is not a resource
/// is reported at the field's type.
pub fn as_resource<R: Resource>(resource: &R) -> &dyn ErasedResource {
    resource
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
