//! Input kinds: marker types that name a way of consuming (`pull`, `subscribe`, `request`,
//! `topic`, `stream`). A resource says which kinds it serves by implementing
//! [`Inputs<K>`](super::Inputs) for them, so an `#[input]` of a kind the resource lacks is a
//! compile error.

use std::fmt;

/// A kind of input.
pub trait Kind: Send + Sync + 'static {
    /// Its name in attributes, logs and `/status`.
    const NAME: &'static str;
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $ty:ident = $name:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $ty;

        impl Kind for $ty {
            const NAME: &'static str = $name;
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($name)
            }
        }
    )*};
}

kinds! {
    /// Push/pull: competing consumers of one queue (`#[input(amqp, pull = "orders")]`).
    Pull = "pull";
    /// Publish/subscribe: every subscriber gets every message (`#[input(amqp, subscribe = "prices")]`).
    Subscribe = "subscribe";
    /// Request/response: the handler's result is the reply (`#[input(amqp, request = "quotes")]`).
    Request = "request";
    /// A Kafka topic read by a consumer group (`#[input(kafka, topic = "events")]`).
    Topic = "topic";
    /// A Redis stream read by a consumer group (`#[input(redis, stream = "orders")]`).
    Stream = "stream";
}
