//! [`Error`]: what a command, or an output, reports.

use redis::RedisError;

/// A command failed. Names the resource and the command; never carries the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The resource is not started, or is stopping.
    #[error("redis resource `{resource}` is not started (or is stopping)")]
    NotStarted {
        /// The resource's name.
        resource: String,
    },
    /// The server refused the command, or it could not be sent.
    #[error("redis resource `{resource}`: {command} failed")]
    Command {
        /// The resource's name.
        resource: String,
        /// The command's name (`GET`...), or `pipeline`.
        command: String,
        /// The client's error.
        #[source]
        source: RedisError,
    },
    /// An output's codec refused the value.
    #[error("redis resource `{resource}`: cannot encode the message")]
    Encode {
        /// The resource's name.
        resource: String,
        /// The codec's error, naming the output.
        #[source]
        source: tamarco_core::codec::CodecError,
    },
    /// An output was used before it was bound.
    #[error(transparent)]
    Unbound(#[from] tamarco_core::messaging::Unbound),
}
