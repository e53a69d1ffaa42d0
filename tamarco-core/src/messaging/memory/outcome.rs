//! What a sender learns back from the in-memory broker: how a message was settled
//! ([`Outcome`], through [`Sent`]), and why a request got no reply ([`RequestError`]).

use std::fmt;
use std::time::Duration;

use super::MemoryBroker;
use crate::messaging::transport::DeadReason;

/// How the engine settled a message fed through [`MemoryBroker::send`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Handled.
    Acked,
    /// Given up on.
    DeadLettered {
        /// Why.
        reason: DeadReason,
        /// The error, with its causes.
        error: String,
        /// How many times the handler ran.
        attempts: u32,
    },
    /// A request answered with this body.
    Replied(Vec<u8>),
    /// A request answered with an error.
    ReplyError(String),
}

/// Why [`MemoryBroker::request`] got no reply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// No responder is registered for the name, and no input reads it.
    NoResponder(String),
    /// The responder or the input refused it, with this error.
    Refused(String),
    /// The input did not answer in time.
    TimedOut,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::NoResponder(name) => write!(
                f,
                "nothing answers requests to `{name}` on the in-memory broker: register a \
                 responder for it, or declare a request input reading it"
            ),
            RequestError::Refused(error) => write!(f, "refused: {error}"),
            RequestError::TimedOut => f.write_str("no reply in time"),
        }
    }
}

impl std::error::Error for RequestError {}

/// A message sent through [`MemoryBroker::send`]: ask it how it was settled.
#[derive(Debug, Clone)]
pub struct Sent {
    pub(super) id: u64,
    pub(super) broker: MemoryBroker,
}

impl Sent {
    /// How the message was settled so far, if it was.
    pub fn outcome(&self) -> Option<Outcome> {
        let outcomes = self.broker.state.outcomes.lock().expect("outcomes lock");
        outcomes.get(&self.id).cloned()
    }

    /// Waits until the message is settled, at most `timeout`; `None` if it was not by then.
    pub async fn settled(&self, timeout: Duration) -> Option<Outcome> {
        self.broker.state.until(timeout, |_| self.outcome()).await
    }
}
