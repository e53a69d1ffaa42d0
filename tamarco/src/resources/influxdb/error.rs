//! [`Error`]: what the InfluxDB resource's calls fail with.

/// A write or a query failed. Each variant names the resource; none carries the password
/// (it travels in an `Authorization` header, never in a URL).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The resource is not started, or is stopping.
    #[error("influxdb resource `{resource}` is not started (or is stopping)")]
    NotStarted {
        /// The resource's name.
        resource: String,
    },
    /// The writer's queue is full (the server is down or slower than the writes): the point
    /// was dropped and counted.
    #[error(
        "influxdb resource `{resource}`: the write queue is full ({capacity} points); point dropped"
    )]
    QueueFull {
        /// The resource's name.
        resource: String,
        /// The queue's size in points.
        capacity: usize,
    },
    /// A point without a measurement or without fields.
    #[error(
        "influxdb resource `{resource}`: a point of `{measurement}` needs a measurement and a field"
    )]
    InvalidPoint {
        /// The resource's name.
        resource: String,
        /// The point's measurement.
        measurement: String,
    },
    /// The server could not be reached, or answered with an HTTP error.
    #[error("influxdb resource `{resource}`: request to {server} failed")]
    Http {
        /// The resource's name.
        resource: String,
        /// The server, without credentials.
        server: String,
        /// What failed.
        #[source]
        source: tamarco_core::BoxError,
    },
    /// The server refused the query (its message), or its rows could not be read.
    #[error("influxdb resource `{resource}`: {message}")]
    Query {
        /// The resource's name.
        resource: String,
        /// The server's message, or why the rows could not be read.
        message: String,
    },
}
