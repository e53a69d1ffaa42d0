//! The AMQP resource's error type. None of them carries the password.

use std::time::Duration;

use tamarco_core::BoxError;
use tamarco_core::codec::CodecError;

/// What can go wrong with an AMQP input or output. Each error names the resource, queue or
/// exchange at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value could not be encoded, or a reply decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// An output was used before it was bound to the resource.
    #[error(transparent)]
    Unbound(#[from] tamarco_core::messaging::Unbound),
    /// The broker could not be reached or refused the login.
    #[error("amqp resource `{resource}`: cannot connect to {broker}")]
    Connect {
        /// The resource's name.
        resource: String,
        /// The broker, as `amqp://user@host:port (vhost ...)`: never the password.
        broker: String,
        /// What lapin reported.
        #[source]
        source: BoxError,
    },
    /// The connection was down for longer than `publish_timeout`.
    #[error("amqp resource `{resource}`: not connected to the broker within {waited:?}")]
    NotConnected {
        /// The resource's name.
        resource: String,
        /// How long the send waited.
        waited: Duration,
    },
    /// The resource is stopped (or was never started).
    #[error("amqp resource `{resource}` is not running")]
    Stopped {
        /// The resource's name.
        resource: String,
    },
    /// A queue or exchange could not be declared, or a message published.
    #[error("amqp: cannot {action} `{target}`")]
    Broker {
        /// What was tried: `publish to`, `declare`, `consume from`...
        action: &'static str,
        /// The queue or exchange.
        target: String,
        /// What the broker or lapin reported.
        #[source]
        source: BoxError,
    },
    /// The broker did not confirm a message within the publish timeout (a memory or disk
    /// alarm blocks publishers); it may or may not have taken it.
    #[error("amqp: the broker did not confirm the message for `{target}` within publish_timeout")]
    Unconfirmed {
        /// The queue or exchange.
        target: String,
    },
    /// The broker answered a publish with a negative confirm: it did not take the message.
    #[error("amqp: the broker refused the message for `{target}` (negative publisher confirm)")]
    Nacked {
        /// The queue or exchange.
        target: String,
    },
    /// No queue took the message (a push to a queue that was deleted).
    #[error("amqp: no queue took the message for `{target}` ({reason})")]
    Unroutable {
        /// The queue.
        target: String,
        /// The broker's reason.
        reason: String,
    },
    /// No reply came in time.
    #[error("amqp: no reply from `{queue}` within {timeout:?}")]
    Timeout {
        /// The request queue.
        queue: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The connection was lost while a request waited for its reply; the request may or may
    /// not have been handled.
    #[error("amqp: the connection was lost while waiting for a reply from `{queue}`")]
    ConnectionLost {
        /// The request queue.
        queue: String,
    },
    /// The responding service gave up on the request (its handler kept failing, or the request
    /// could not be decoded) and answered with this error.
    #[error("amqp: `{queue}` could not handle the request: {message}")]
    Remote {
        /// The request queue.
        queue: String,
        /// The responder's error, with its causes.
        message: String,
    },
    /// A request without `reply_to`: nobody waits for a response.
    #[error("amqp: the request from `{queue}` has no reply_to, so it cannot be answered")]
    NoReplyTo {
        /// The request queue.
        queue: String,
    },
    /// The same queue was declared as an input twice on one resource.
    #[error("amqp resource `{resource}` already has a {pattern} input on `{queue}`")]
    DuplicateInput {
        /// The resource's name.
        resource: String,
        /// The pattern.
        pattern: &'static str,
        /// The queue.
        queue: String,
    },
    /// A queue name that AMQP cannot carry (more than 255 bytes with its prefix).
    #[error("amqp: invalid queue `{queue}`: {reason}")]
    InvalidName {
        /// The queue as given.
        queue: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    pub(crate) fn broker(
        action: &'static str,
        target: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Error {
        Error::Broker {
            action,
            target: target.into(),
            source: source.into(),
        }
    }
}
