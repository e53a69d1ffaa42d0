//! Inputs declared by hand: a builder over the resource's message engine, for what
//! `#[input(kafka, topic = "...")]` cannot say (several topics, another group or offset reset).
//! Both reach the same engine: dispatch, retries, dead letters, counts and stop are its.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tamarco_core::BoxError;
use tamarco_core::codec::Codec;
use tamarco_core::messaging::{Engine, EngineError, InputSpec, kind};

use super::Error;
use super::message::Message;
use super::received::Received;
use super::spec::{OffsetReset, Subscription};
use super::transport::KafkaTransport;

/// A record read from an [`InputStream`]: [`ack`](tamarco_core::messaging::Delivery::ack) it
/// once handled (it is committed once everything before it in its partition is), or
/// [`reject`](tamarco_core::messaging::Delivery::reject) it to the dead-letter topic. Dropped
/// unsettled, or [`requeue`](tamarco_core::messaging::Delivery::requeue)d, its partition is
/// sought back to it: it comes again.
pub type Delivery<T> = tamarco_core::messaging::Delivery<T, Received>;

/// The records of an input read as a stream; it ends when the service begins to stop, after
/// the deliveries already buffered.
pub type InputStream<T> = tamarco_core::messaging::InputStream<T, Received>;

/// Declares an input: made by [`Kafka::input`](super::Kafka::input), finished by
/// [`handle`](InputBuilder::handle), [`handle_with`](InputBuilder::handle_with) or
/// [`stream`](InputBuilder::stream).
#[must_use = "an input is declared only by `handle`, `handle_with` or `stream`"]
pub struct InputBuilder<T: 'static> {
    engine: Arc<Engine<KafkaTransport>>,
    name: Option<String>,
    subscription: Subscription,
    codec: Arc<dyn Codec<T>>,
    retries: Option<u32>,
    retry_backoff: Option<Duration>,
    dead_letter_topic: Option<String>,
    concurrency: Option<usize>,
    prefetch: Option<u16>,
}

impl<T: Send + 'static> InputBuilder<T> {
    pub(crate) fn new(
        engine: Arc<Engine<KafkaTransport>>,
        topic: &str,
        codec: impl Codec<T>,
    ) -> Self {
        InputBuilder {
            engine,
            name: None,
            subscription: Subscription {
                topics: vec![topic.to_owned()],
                ..Subscription::default()
            },
            codec: Arc::new(codec),
            retries: None,
            retry_backoff: None,
            dead_letter_topic: None,
            concurrency: None,
            prefetch: None,
        }
    }

    /// Consumes one more topic in the same group.
    pub fn topic(mut self, topic: &str) -> Self {
        self.subscription.topics.push(topic.to_owned());
        self
    }

    /// The input's name in logs, `/status`, settings (`inputs.<name>`) and dead-letter headers
    /// (default: its topics, joined by commas).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// The consumer group (default: the `group_id` setting, else the service's name).
    pub fn group(mut self, group: &str) -> Self {
        self.subscription.group = Some(group.to_owned());
        self
    }

    /// Where a group with no committed offset starts (default: the `auto_offset_reset`
    /// setting, else [`OffsetReset::Earliest`]).
    pub fn offset_reset(mut self, reset: OffsetReset) -> Self {
        self.subscription.offset_reset = Some(reset);
        self
    }

    /// How often a failed handler is retried before the message is dead-lettered (default:
    /// the `retries` setting, else 3).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = Some(retries);
        self
    }

    /// The wait before the first retry; it doubles for each next one, up to 30 s (default:
    /// the `retry_backoff` setting, else 100 ms).
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = Some(backoff);
        self
    }

    /// The dead-letter topic; `{topic}` stands for the source topic (default: the
    /// `dead_letter_topic` setting, else `{topic}.dead_letter`).
    pub fn dead_letter_topic(mut self, topic: &str) -> Self {
        self.dead_letter_topic = Some(topic.to_owned());
        self
    }

    /// How many records are handled at once (default 1: one at a time, in order). With more,
    /// records of a partition may finish out of order; each is still committed only once it
    /// and every record before it in its partition are done.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = Some(concurrency);
        self
    }

    /// How many decoded records a stream holds ready for its reader (default 32).
    pub fn prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = Some(prefetch);
        self
    }

    /// The engine's spec, with the subscription as its transport options.
    fn finish(&self) -> InputSpec {
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| self.subscription.topics.join(","));
        let mut spec = self.subscription.declare(InputSpec::new(&name));
        if let Some(retries) = self.retries {
            spec = spec.retries(retries);
        }
        if let Some(backoff) = self.retry_backoff {
            spec = spec.retry_backoff(backoff);
        }
        if let Some(topic) = &self.dead_letter_topic {
            spec = spec.dead_letter(topic.clone());
        }
        if let Some(concurrency) = self.concurrency {
            spec = spec.concurrency(concurrency);
        }
        if let Some(prefetch) = self.prefetch {
            spec = spec.prefetch(prefetch);
        }
        spec
    }

    /// Runs `handler` for every record. A record is committed once its handler returned `Ok`
    /// (and so did the handlers of the records before it in its partition). An `Err`, or a
    /// panic, is retried; after the last retry the record goes to the dead-letter topic and the
    /// input moves on. A record the codec cannot decode goes there at once.
    ///
    /// Declare inputs before the resource starts (in the service's `pre_start` or `start` hook,
    /// before `stage.run()`), or later from a task: they start at once then.
    pub fn handle<F, Fut, E>(self, handler: F) -> Result<(), Error>
    where
        F: Fn(Message<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let spec = self.finish();
        self.engine
            .handle::<kind::Topic, T, _, F, Fut, E>(spec, self.codec, handler)
            .map_err(refused)
    }

    /// Runs a method of the service for every record, like [`handle`](Self::handle):
    /// `kafka.input("orders", Json).handle_with(&self, Self::on_order)` where
    /// `async fn on_order(self: Arc<Self>, message: Message<Order>) -> Result<(), E>`.
    ///
    /// The input holds the service weakly, so the service and its resources can be dropped.
    pub fn handle_with<S, F, Fut, E>(self, service: &Arc<S>, method: F) -> Result<(), Error>
    where
        S: Send + Sync + 'static,
        F: Fn(Arc<S>, Message<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let service: Weak<S> = Arc::downgrade(service);
        let method = Arc::new(method);
        self.handle(move |message| {
            let service = service.upgrade();
            let method = Arc::clone(&method);
            async move {
                let service = service.ok_or("the service was dropped")?;
                method(service, message).await.map_err(Into::into)
            }
        })
    }

    /// Consumes the input as a stream of [`Delivery`]s, to ack (or reject) one by one;
    /// records that cannot be decoded go to the dead-letter topic without showing up. The
    /// stream ends when the service begins to stop.
    pub fn stream(self) -> Result<InputStream<T>, Error> {
        let spec = self.finish();
        self.engine
            .stream::<kind::Topic, T, _>(spec, self.codec)
            .map_err(refused)
    }
}

/// The engine's refusal, in this resource's words.
fn refused(error: EngineError) -> Error {
    match error {
        EngineError::DuplicateInput {
            resource, input, ..
        } => Error::DuplicateInput { resource, input },
        other => Error::Client {
            resource: "kafka".to_owned(),
            what: "input".to_owned(),
            source: other.into(),
        },
    }
}

impl<T: 'static> fmt::Debug for InputBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InputBuilder")
            .field("name", &self.name)
            .field("subscription", &self.subscription)
            .field("codec", &self.codec.name())
            .finish_non_exhaustive()
    }
}
