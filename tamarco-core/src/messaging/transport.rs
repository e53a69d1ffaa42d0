//! The contract a transport plugin implements: open a consumer for an input, hand over what
//! it receives, and settle each message (ack, requeue, dead-letter, reply).
//!
//! The engine owns everything between receiving and settling (decode, handler, retries, panics,
//! stop); a transport only speaks its broker's protocol.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::spec::InputInfo;
use crate::BoxError;

/// A message broker as the engine sees it. AMQP and Kafka implement it; so can a plugin crate
/// (the engine's own tests use an in-memory one).
pub trait Transport: Send + Sync + 'static {
    /// What handlers see beside the value (exchange and routing key; topic and partition...):
    /// [`Message`](super::Message) dereferences to it.
    type Meta: Send + Sync + 'static;
    /// One received message.
    type Received: Received<Meta = Self::Meta>;
    /// A consuming session of one input.
    type Consumer: Consumer<Received = Self::Received>;

    /// The keys of the options only this transport understands, which an input gives with
    /// [`InputSpec::transport_option`](super::InputSpec::transport_option) and settings under
    /// `inputs.<name>.<key>` (Kafka: `topics`, `group`, `offset_reset`). The engine reads
    /// them into [`InputInfo::transport_option`] instead of refusing them as unknown keys.
    const INPUT_KEYS: &'static [&'static str] = &[];

    /// Opens a consumer for `input` (declares what it reads, subscribes). The engine logs an
    /// error and calls it again after a backoff, for as long as the input runs.
    fn open(
        &self,
        input: &InputInfo,
    ) -> impl Future<Output = Result<Self::Consumer, BoxError>> + Send;
}

/// A consuming session: yields what the broker sends for one input.
pub trait Consumer: Send + 'static {
    /// What it yields.
    type Received: Received;

    /// The next message. `None` means the session ended (the broker cancelled it) and `Err`
    /// that it broke: the engine opens a new one after a backoff unless the input is stopping.
    ///
    /// It must be cancel-safe: the engine drops it unfinished when the input halts, and polls
    /// it once without waiting to take what is ready before it waits.
    fn next(&mut self) -> impl Future<Output = Option<Result<Self::Received, BoxError>>> + Send;

    /// What [`next`](Self::next) has ready now, without waiting: `None` when it would wait.
    /// The engine takes messages this way while they are ready, and calls `next` only to wait.
    /// The default polls `next` once; a transport whose client can be asked without making a
    /// future overrides it (Kafka does: that future cost more than the rest of taking a
    /// record).
    fn try_next(&mut self) -> Option<Option<Result<Self::Received, BoxError>>> {
        futures_util::FutureExt::now_or_never(self.next())
    }

    /// Stops intake when the input stops; messages already handed out are still settled.
    fn cancel(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// One received message, able to settle itself. Each method is called at most once per
/// message, except [`meta`](Received::meta) and [`body`](Received::body).
pub trait Received: Send + Sync + 'static {
    /// What handlers see beside the value.
    type Meta: Send + Sync + 'static;

    /// The body, for the codec.
    fn body(&self) -> &[u8];

    /// The metadata handlers see. It runs under the engine's panic guard, beside decoding: a
    /// panic or an error here dead-letters the message with reason
    /// [`Headers`](DeadReason::Headers).
    fn meta(&self) -> Result<Arc<Self::Meta>, BoxError>;

    /// A header's value as text (`traceparent`, `tracestate`, `baggage` for trace context);
    /// the default has no headers. A value that is not UTF-8 is `None`.
    fn header_text(&self, name: &str) -> Option<&str> {
        let _ = name;
        None
    }

    /// How many times the broker delivered this message, when it knows; with the input's
    /// `max_deliveries`, a message over the limit is dead-lettered without running the handler.
    fn deliveries(&self) -> Option<u32> {
        None
    }

    /// The message was handled: the broker forgets it.
    fn ack(&self) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// The message goes back to the broker, for this or another consumer.
    fn requeue(&self) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Sends the message to the input's dead-letter target with `letter` in its headers (see
    /// [`dead_letter_headers`]), then acks it. An error leaves the message unsettled: the engine
    /// tries again with a backoff, then requeues it.
    fn dead_letter(
        &self,
        letter: &DeadLetter<'_>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Answers the requester (request/response inputs). The default refuses: the transport
    /// has no replies.
    fn reply(&self, reply: Reply<'_>) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = reply;
        async { Err("this transport does not answer requests".into()) }
    }
}

/// Why a message was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeadReason {
    /// The handler failed (or panicked) on every attempt, or a stream reader rejected it.
    Handler,
    /// The codec refused (or panicked on) the body.
    Decode,
    /// The metadata could not be read (for example a header the transport cannot decode).
    Headers,
    /// The broker delivered it more than `max_deliveries` times.
    DeliveryLimit,
}

impl DeadReason {
    /// `handler`, `decode`, `headers` or `delivery_limit`: the value of the
    /// [`REASON`](dead_letter_headers::REASON) header.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeadReason::Handler => "handler",
            DeadReason::Decode => "decode",
            DeadReason::Headers => "headers",
            DeadReason::DeliveryLimit => "delivery_limit",
        }
    }
}

impl fmt::Display for DeadReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a dead-lettered message carries besides its own headers.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetter<'a> {
    /// Why.
    pub reason: DeadReason,
    /// The error, with its causes.
    pub error: &'a str,
    /// The input that gave up on it.
    pub input: &'a str,
    /// How many times the handler ran (1 for a decode failure).
    pub attempts: u32,
}

/// An answer to a request.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Reply<'a> {
    /// The handler's reply, encoded by the input's codec.
    Body {
        /// The encoded reply.
        body: &'a [u8],
        /// The codec's content type.
        content_type: Option<&'a str>,
    },
    /// The request failed for good (it was dead-lettered): the requester gets this error at
    /// once instead of waiting for its timeout.
    Error(&'a str),
}

/// The headers every transport puts on a dead-lettered message, besides its own and its
/// transport's (the queue or topic it came from...).
pub mod dead_letter_headers {
    /// Why: `handler`, `decode`, `headers` or `delivery_limit` ([`DeadReason`](super::DeadReason)).
    pub const REASON: &str = "tamarco.dead_letter.reason";
    /// The error, with its causes.
    pub const ERROR: &str = "tamarco.dead_letter.error";
    /// The input that gave up on it.
    pub const INPUT: &str = "tamarco.dead_letter.input";
    /// How many times the handler ran (an integer; 1 for a decode failure).
    pub const ATTEMPTS: &str = "tamarco.dead_letter.attempts";
}
