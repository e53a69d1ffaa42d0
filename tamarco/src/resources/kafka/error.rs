//! [`Error`]: what the Kafka resource's calls can fail with.

use std::fmt;

use tamarco_core::BoxError;
use tamarco_core::codec::CodecError;
use tamarco_core::messaging::Unbound;

/// An output could not send, or an input could not be declared. Each variant names the resource
/// and the topic or input at fault.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The resource is not started (or already stopped): there is no client to send with.
    NotStarted {
        /// The resource's name.
        resource: String,
    },
    /// The value could not be encoded; names the topic and the codec.
    Codec(CodecError),
    /// The broker did not acknowledge the message (or librdkafka gave up on it).
    Push {
        /// The topic.
        topic: String,
        /// What the client reported.
        source: BoxError,
    },
    /// A client could not be created or subscribed (usually a bad pass-through option).
    Client {
        /// The resource's name.
        resource: String,
        /// What was being created: `producer` or `input <name>`.
        what: String,
        /// What the client reported.
        source: BoxError,
    },
    /// The output is not bound to a resource (an `#[output]` field used outside a running
    /// service).
    Unbound(Unbound),
    /// An input of this name was declared already.
    DuplicateInput {
        /// The resource's name.
        resource: String,
        /// The input's name.
        input: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotStarted { resource } => {
                write!(f, "kafka resource `{resource}` is not started")
            }
            Error::Codec(error) => fmt::Display::fmt(error, f),
            Error::Push { topic, .. } => write!(f, "cannot push to kafka topic `{topic}`"),
            Error::Client { resource, what, .. } => {
                write!(f, "kafka resource `{resource}`: cannot create the {what}")
            }
            Error::Unbound(error) => fmt::Display::fmt(error, f),
            Error::DuplicateInput { resource, input } => write!(
                f,
                "kafka resource `{resource}` already has an input named `{input}`"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Codec(error) => error.source(),
            Error::Push { source, .. } | Error::Client { source, .. } => Some(&**source),
            Error::NotStarted { .. } | Error::Unbound(_) | Error::DuplicateInput { .. } => None,
        }
    }
}

impl From<CodecError> for Error {
    fn from(error: CodecError) -> Self {
        Error::Codec(error)
    }
}

impl From<Unbound> for Error {
    fn from(error: Unbound) -> Self {
        Error::Unbound(error)
    }
}
