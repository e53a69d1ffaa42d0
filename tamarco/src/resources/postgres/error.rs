//! [`Error`]: what the Postgres resource's calls fail with.

use tamarco_core::BoxError;

/// A query, a transaction or the pool failed. Each variant names the resource; none carries
/// the password (the server's messages never contain it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The resource is not started, or is stopping: there is no pool to take connections from.
    #[error("postgres resource `{resource}` is not started (or is stopping)")]
    NotStarted {
        /// The resource's name.
        resource: String,
    },
    /// No connection could be had in time: the pool was exhausted for `wait_timeout`, or the
    /// server could not be reached.
    #[error("postgres resource `{resource}`: no connection to {server}")]
    Pool {
        /// The resource's name.
        resource: String,
        /// The server, without the password.
        server: String,
        /// What the pool reported.
        #[source]
        source: BoxError,
    },
    /// The server (or the connection) failed the statement.
    #[error("postgres resource `{resource}`: query failed")]
    Query {
        /// The resource's name.
        resource: String,
        /// The client's error: [`tokio_postgres::Error::code`] gives the SQLSTATE.
        #[source]
        source: tokio_postgres::Error,
    },
    /// `fetch_one` found no row.
    #[error("postgres resource `{resource}`: the query returned no row")]
    NoRow {
        /// The resource's name.
        resource: String,
    },
    /// A row could not be read into the type asked for.
    #[error("postgres resource `{resource}`: cannot read a row: {message}")]
    Decode {
        /// The resource's name.
        resource: String,
        /// Which column or field, and why.
        message: String,
    },
    /// A transaction handle was used after its transaction ended.
    #[error("postgres resource `{resource}`: the transaction already ended")]
    TransactionEnded {
        /// The resource's name.
        resource: String,
    },
}

impl Error {
    /// The SQLSTATE code of a statement the server refused (`23505` for a unique violation...).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Query { source, .. } => source.code().map(|c| c.code()),
            _ => None,
        }
    }
}
