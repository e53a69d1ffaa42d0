//! The message engine: one implementation of what every messaging resource does with its
//! inputs, whatever the broker (cargo feature `messaging`, which the AMQP, Kafka and Redis
//! resources turn on; a plugin transport turns it on itself).
//!
//! A resource (AMQP, Kafka, or a plugin's) implements [`Transport`] for its broker: open a
//! consumer for an input, and settle each [`Received`] message (ack, requeue, dead-letter,
//! reply). It embeds an [`Engine`], on which inputs are declared (by hand, or by the code of
//! `#[input]` through [`bind_input`]). The engine does the rest, once for every broker:
//!
//! - **dispatch** to a handler (`Fn(Message<T, Meta>) -> Future<Result<(), E>>`), to a request
//!   handler whose result is the reply, or to an [`InputStream`] of [`Delivery`]s, read where
//!   the user likes or by a reader the engine runs and waits for ([`Engine::read`]);
//! - **decode** with the input's [codec](crate::codec), under a panic guard together with the
//!   metadata: a panicking codec, `Deserialize` or header accessor dead-letters the message
//!   (reason `decode` or `headers`) instead of killing the input;
//! - **retries**: a handler error or panic is retried `retries` times with a doubling backoff
//!   (from `retry_backoff`, at most 30 s), then the message is **dead-lettered** with the
//!   reason, error, input and attempts in its headers ([`dead_letter_headers`]); a dead-letter
//!   target that refuses is tried again with a backoff, then the message is requeued; with
//!   `max_deliveries`, a message the broker delivered more often is dead-lettered unhandled;
//! - **concurrency**: `concurrency` workers per input share its consumer (with 1, in order);
//!   the per-message path allocates nothing of its own;
//! - **counts** per input (received, handled, retried, dead-lettered, requeued, failed, in
//!   flight) for `/status` and as the `tamarco_messages_total{resource, input, outcome}` metric;
//! - **stop**: when the service begins to stop, intake stops, streams end, and the messages in
//!   flight are finished and settled (bounded by the resource's stop timeout);
//! - **supervision**: an input loop that panics or ends while it should run marks the resource
//!   `FAILED` (so restart policies act) and says so in the log; a consumer that fails to open or
//!   breaks is reopened with a backoff.
//!
//! Options come from code ([`InputSpec`]), then settings under the resource's
//! `inputs.<input name>` key ([`InputOptions`]: settings win), then the resource's defaults.

mod binding;
mod dispatch;
mod engine;
mod input;
pub mod kind;
pub mod memory;
mod message;
mod names;
mod reader;
mod resolve;
mod running;
mod spec;
mod state;
mod stats;
mod stream;
mod supervise;
mod traced;
mod transport;
mod worker;

pub use binding::{
    AlreadyBound, Inputs, MetaOf, Output, OutputSlot, ReceivedOf, Unbound, bind_input, bind_output,
    bind_request_input, bind_stream_input, codec_carries,
};
pub use engine::{Engine, EngineError};
pub use kind::Kind;
pub use message::Message;
pub use spec::{InputInfo, InputOptions, InputSpec};
pub use stream::{Delivery, InputStream, SettleError};
pub use transport::{
    Consumer, DeadLetter, DeadReason, Received, Reply, Transport, dead_letter_headers,
};
