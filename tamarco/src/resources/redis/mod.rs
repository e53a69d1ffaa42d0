#![doc = include_str!("docs.md")]
// The module docs are in docs.md.

mod commands;
mod error;
mod idempotent;
mod lifecycle;
mod memory;
mod output;
mod pubsub;
mod settings;
mod state;
mod streams;

use std::sync::Arc;

use redis::aio::ConnectionManager;

use tamarco_core::BoxError;
use tamarco_core::codec::Codec;
use tamarco_core::messaging::{Engine, EngineError, InputSpec, Inputs, Message, kind};

use state::RedisState;

pub use error::Error;
pub use idempotent::IDEMPOTENT;
pub use output::{PublishOutput, StreamOutput};
pub use pubsub::{PubSubConsumer, PubSubMeta, PubSubReceived, PubSubTransport};
/// The client underneath, for its types (`Cmd`, `Pipeline`, `FromRedisValue`...).
pub use redis;
pub use settings::{RedisSettings, StreamSettings, StreamStart};
pub use streams::{StreamConsumer, StreamMeta, StreamReceived, StreamTransport};

/// A Redis connection as a resource. See the [module docs](self).
#[derive(Default)]
pub struct Redis {
    shared: Arc<RedisState>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("resource", &self.shared.resource())
            .field("server", &self.shared.config().map(|c| c.describe()))
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// A resource that reads its settings when the service starts.
    pub fn new() -> Self {
        Redis::default()
    }

    /// A `subscribe` input by hand (what `#[input(redis, subscribe = "channel")]` declares):
    /// `handler` runs for every message published on `channel`, decoded by `codec`, with the
    /// engine's retries and dead letters (see the [module docs](self)). Declare it before the
    /// resource starts, or it starts at once.
    pub fn subscription<T, C, F, Fut, E>(
        &self,
        channel: &str,
        codec: C,
        handler: F,
    ) -> Result<(), EngineError>
    where
        T: Send + 'static,
        C: Codec<T>,
        F: Fn(Message<T, PubSubMeta>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: Into<BoxError>,
    {
        self.shared.engine.handle::<kind::Subscribe, _, _, _, _, _>(
            InputSpec::new(channel),
            codec,
            handler,
        )
    }

    /// A `stream` input by hand (what `#[input(redis, stream = "orders")]` declares):
    /// `handler` runs for every entry of `spec`'s stream read in the resource's consumer group,
    /// decoded by `codec`; the entry is acked once it returns `Ok`, retried and dead-lettered
    /// by the engine otherwise, and claimed by another consumer of the group if this one dies
    /// before acking (see the [module docs](self)). Declare it before the resource starts, or
    /// it starts at once.
    pub fn stream_input<T, C, F, Fut, E>(
        &self,
        spec: InputSpec,
        codec: C,
        handler: F,
    ) -> Result<(), EngineError>
    where
        T: Send + 'static,
        C: Codec<T>,
        F: Fn(Message<T, StreamMeta>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: Into<BoxError>,
    {
        self.shared
            .streams
            .handle::<kind::Stream, _, _, _, _, _>(spec, codec, handler)
    }

    /// An output publishing values on `channel` (what `#[output(redis, publish = "...")]`
    /// declares on a [`PublishOutput`] field).
    pub fn publish_output<T: 'static>(
        &self,
        channel: &str,
        codec: impl Codec<T>,
    ) -> PublishOutput<T> {
        PublishOutput::new(self, channel, Arc::new(codec))
    }

    /// An output adding values to `stream` (what `#[output(redis, stream = "...")]` declares
    /// on a [`StreamOutput`] field).
    pub fn stream_output<T: 'static>(&self, stream: &str, codec: impl Codec<T>) -> StreamOutput<T> {
        StreamOutput::new(self, stream, Arc::new(codec))
    }

    /// The connection manager, for what this type does not wrap (pub/sub...). Cheap to clone;
    /// it does not retry anything.
    pub fn connection(&self) -> Result<ConnectionManager, Error> {
        self.shared.manager()
    }
}

/// `#[input(redis, subscribe = "channel")]`: publish/subscribe inputs on the message engine.
impl Inputs<kind::Subscribe> for Redis {
    type Transport = PubSubTransport;

    fn engine(&self) -> &Engine<PubSubTransport> {
        &self.shared.engine
    }
}

/// `#[input(redis, stream = "orders")]`: consumer-group inputs on the message engine.
impl Inputs<kind::Stream> for Redis {
    type Transport = StreamTransport;

    fn engine(&self) -> &Engine<StreamTransport> {
        &self.shared.streams
    }
}
