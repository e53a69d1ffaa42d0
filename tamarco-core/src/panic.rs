//! Panics in user code (tasks, hooks, resources) turn into errors at the point where the
//! runtime awaits that code, so that one panic fails one thing, which the runtime reports and
//! handles like any other failure (the service stops the others and exits with code 1).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use crate::BoxError;

/// The panic's message, when it is text (as `panic!` with a message makes it).
pub(crate) fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string panic payload")
}

/// An error that says the code panicked, with the panic's message.
pub(crate) fn into_error(payload: Box<dyn Any + Send>) -> BoxError {
    format!("panicked: {}", message(&*payload)).into()
}

/// Runs `work`; a panic in it becomes an error.
pub(crate) async fn catch<T>(
    work: impl Future<Output = Result<T, BoxError>>,
) -> Result<T, BoxError> {
    // Unwind safety: after a panic the runtime only reads statuses and stops resources; it
    // does not rely on the invariants of the state the panicking code was changing.
    AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .unwrap_or_else(|payload| Err(into_error(payload)))
}
