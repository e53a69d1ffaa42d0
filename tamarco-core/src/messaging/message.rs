//! [`Message`]: what a handler gets: the decoded value, which attempt this is, and the
//! transport's metadata (through `Deref`).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A message from an input: the value its codec decoded, and what the transport said about it.
///
/// It dereferences to the transport's metadata `M`, so `message.routing_key()` (AMQP) or
/// `message.partition()` (Kafka) read as methods of the message.
pub struct Message<T, M = ()> {
    value: T,
    meta: Arc<M>,
    input: &'static str,
    attempt: u32,
}

impl<T, M> Message<T, M> {
    /// A message; transports and tests build them, the engine hands them to handlers.
    /// `input` is the input's name, which lives as long as the process (the engine keeps each
    /// name once: a reference counted per message costs two atomic operations).
    pub fn new(value: T, meta: Arc<M>, input: &'static str, attempt: u32) -> Self {
        Message {
            value,
            meta,
            input,
            attempt,
        }
    }

    /// The decoded value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The decoded value, by value.
    pub fn into_value(self) -> T {
        self.value
    }

    /// The name of the input it came from, as declared.
    pub fn input(&self) -> &str {
        self.input
    }

    /// Which attempt at handling it this is: 1, then 2 on the first retry...
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The transport's metadata.
    pub fn meta(&self) -> &M {
        &self.meta
    }
}

impl<T, M> Deref for Message<T, M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.meta
    }
}

impl<T: fmt::Debug, M: fmt::Debug> fmt::Debug for Message<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("value", &self.value)
            .field("input", &self.input)
            .field("attempt", &self.attempt)
            .field("meta", &self.meta)
            .finish()
    }
}
