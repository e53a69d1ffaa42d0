//! What can go wrong in a test harness call; each error names the service (and resource).

use std::time::Duration;

/// An error of [`TestService`](super::TestService) or its [`Client`](super::Client): each
/// names the service, and the resource where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestError {
    /// A settings override could not be applied.
    #[error("service `{service}`: {message}")]
    Settings {
        /// The service.
        service: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The service failed to start.
    #[error("service `{service}` failed to start")]
    Start {
        /// The service.
        service: &'static str,
        /// Why (names the resource and stage).
        #[source]
        source: tamarco_core::Error,
    },
    /// The service did not stop cleanly.
    #[error("service `{service}` failed to stop cleanly")]
    Stop {
        /// The service.
        service: &'static str,
        /// Why.
        #[source]
        source: tamarco_core::Error,
    },
    /// The service started but was not ready in time.
    #[error("service `{service}` was not ready after {after:?}; not started: {waiting_for:?}")]
    NotReady {
        /// The service.
        service: &'static str,
        /// How long the harness waited.
        after: Duration,
        /// The resources not STARTED, with their status.
        waiting_for: Vec<String>,
    },
    /// A start or stop took longer than the time limit.
    #[error("service `{service}`: the {what} took longer than {after:?}")]
    Timeout {
        /// The service.
        service: &'static str,
        /// `start` or `stop`.
        what: &'static str,
        /// The time limit.
        after: Duration,
    },
    /// The resource has no address: disabled, not an HTTP server, or not started.
    #[error("service `{service}`: resource `{resource}` is not listening")]
    NotListening {
        /// The service.
        service: &'static str,
        /// The resource.
        resource: String,
    },
    /// An HTTP request to one of the service's servers failed.
    #[error("service `{service}`, resource `{resource}`: {method} {path}: {message}")]
    Http {
        /// The service.
        service: &'static str,
        /// The resource.
        resource: String,
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
        /// What failed.
        message: String,
    },
    /// An in-memory broker could not do what was asked, or the resource does not run on one.
    #[error("service `{service}`, resource `{resource}`: {message}")]
    Broker {
        /// The service.
        service: &'static str,
        /// The resource.
        resource: String,
        /// What failed.
        message: String,
    },
    /// A captured log record did not come, or the service does not capture its logs.
    #[error("service `{service}`, logs: {message}")]
    Logs {
        /// The service.
        service: &'static str,
        /// What failed.
        message: String,
    },
    /// A timer run on demand failed, or there is no such timer.
    #[error("service `{service}`, timer `{task}`: {message}")]
    Task {
        /// The service.
        service: &'static str,
        /// The timer's (or task's) name.
        task: String,
        /// What failed.
        message: String,
    },
}
