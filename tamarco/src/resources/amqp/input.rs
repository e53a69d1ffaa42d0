//! Inputs declared by hand: builders over the resource's message engine, for handlers,
//! request handlers that answer through [`Request::respond`] (in [`request`](super::request)),
//! and streams. (`#[input]` reaches
//! the same engine through [`Inputs`](tamarco_core::messaging::Inputs).)

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tamarco_core::BoxError;
use tamarco_core::codec::{BoundCodec, Codec};
use tamarco_core::messaging::{EngineError, InputSpec, kind};

use super::message::Message;
use super::received::Received;
use super::request::{Request, RequestStream};
use super::settings::Pattern;
use super::{AmqpState, Error};

/// The headers a dead-lettered message carries, besides its own (the first four are the
/// engine's, for every transport).
pub mod dead_letter_headers {
    pub use tamarco_core::messaging::dead_letter_headers::{ATTEMPTS, ERROR, INPUT, REASON};
    /// The queue or exchange it came from (full name).
    pub const QUEUE: &str = "tamarco.dead_letter.queue";
    /// The exchange it was published to.
    pub const EXCHANGE: &str = "tamarco.dead_letter.exchange";
    /// The routing key it was published with.
    pub const ROUTING_KEY: &str = "tamarco.dead_letter.routing_key";
}

/// A message read from an [`InputStream`]: [`ack`](tamarco_core::messaging::Delivery::ack)
/// it once handled, [`reject`](tamarco_core::messaging::Delivery::reject) it to the
/// dead-letter queue, or [`requeue`](tamarco_core::messaging::Delivery::requeue) it. Dropping
/// it unsettled requeues it.
pub type Delivery<T> = tamarco_core::messaging::Delivery<T, Received>;

/// The messages of an input read as a stream; it ends when the service begins to stop, after
/// the deliveries already buffered.
pub type InputStream<T> = tamarco_core::messaging::InputStream<T, Received>;

/// Declares `handler` on the engine with the kind of `pattern`.
macro_rules! on_kind {
    ($shared:expr, $pattern:expr, $method:ident::<$($ty:ty),*>($($arg:expr),*)) => {
        match $pattern {
            Pattern::PushPull => $shared.engine.$method::<kind::Pull, $($ty),*>($($arg),*),
            Pattern::PublishSubscribe => {
                $shared.engine.$method::<kind::Subscribe, $($ty),*>($($arg),*)
            }
            Pattern::RequestResponse => {
                $shared.engine.$method::<kind::Request, $($ty),*>($($arg),*)
            }
        }
    };
}

/// The engine's refusal, in this resource's words.
fn refused(error: EngineError, pattern: Pattern) -> Error {
    match error {
        EngineError::DuplicateInput {
            resource, input, ..
        } => Error::DuplicateInput {
            resource,
            pattern: pattern.as_str(),
            queue: input,
        },
        other => Error::broker("declare an input on", "the engine", other),
    }
}

/// An input being declared: choose how to consume it with [`handle`](Self::handle),
/// [`handle_with`](Self::handle_with) or [`stream`](Self::stream). Made by
/// [`Amqp::pull_input`](super::Amqp::pull_input) and
/// [`Amqp::subscription_input`](super::Amqp::subscription_input).
pub struct InputBuilder<T: 'static> {
    shared: Arc<AmqpState>,
    pattern: Pattern,
    spec: InputSpec,
    codec: Arc<dyn Codec<T>>,
}

/// A request/response input being declared; its handler answers each [`Request`] through
/// [`Request::respond`]. Made by [`Amqp::request_input`](super::Amqp::request_input).
pub struct RequestInputBuilder<Q: 'static, R: 'static> {
    shared: Arc<AmqpState>,
    spec: InputSpec,
    codec: Arc<dyn Codec<Q>>,
    reply_codec: Arc<dyn Codec<R>>,
}

macro_rules! spec_setters {
    () => {
        /// How many unacknowledged messages the broker sends ahead (setting `prefetch`).
        pub fn prefetch(mut self, prefetch: u16) -> Self {
            self.spec = self.spec.prefetch(prefetch);
            self
        }

        /// How many messages are handled at once (setting `concurrency`); at least 1.
        pub fn concurrency(mut self, concurrency: usize) -> Self {
            self.spec = self.spec.concurrency(concurrency);
            self
        }

        /// How many times a failing handler is retried before the message is dead-lettered
        /// (setting `retries`).
        pub fn retries(mut self, retries: u32) -> Self {
            self.spec = self.spec.retries(retries);
            self
        }

        /// The wait before the first retry; it doubles each time (setting `retry_backoff`
        /// under the input's own key, else the resource's `retry_backoff`).
        pub fn retry_backoff(mut self, backoff: Duration) -> Self {
            self.spec = self.spec.retry_backoff(backoff);
            self
        }

        /// The dead-letter queue; `{queue}` stands for the input's full queue name (setting
        /// `dead_letter_queue`).
        pub fn dead_letter_queue(mut self, queue: &str) -> Self {
            self.spec = self.spec.dead_letter(queue);
            self
        }

        /// Dead-letters a message delivered more than `max` times without running the handler
        /// (quorum queues count deliveries; classic queues do not).
        pub fn max_deliveries(mut self, max: u32) -> Self {
            self.spec = self.spec.max_deliveries(max);
            self
        }
    };
}

fn checked(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::InvalidName {
            queue: name.to_owned(),
            reason: "empty".to_owned(),
        });
    }
    Ok(())
}

impl<T: Send + 'static> InputBuilder<T> {
    pub(crate) fn new(
        shared: Arc<AmqpState>,
        pattern: Pattern,
        name: &str,
        codec: Arc<dyn Codec<T>>,
    ) -> Self {
        InputBuilder {
            shared,
            pattern,
            spec: InputSpec::new(name),
            codec,
        }
    }

    spec_setters!();

    /// Runs `handler` for every message. The message is acked once the handler returns `Ok`;
    /// an `Err` (or a panic) is retried, and after the last retry the message goes to the
    /// dead-letter queue. A message the codec cannot decode goes there at once.
    ///
    /// Declare inputs before the resource starts (in the service's `pre_start` or `start`
    /// hook, before `stage.run()`), or later: they start consuming at once then.
    pub fn handle<F, Fut, E>(self, handler: F) -> Result<(), Error>
    where
        F: Fn(Message<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        checked(self.spec.name())?;
        let (shared, pattern) = (self.shared, self.pattern);
        on_kind!(
            shared,
            pattern,
            handle::<T, _, F, Fut, E>(self.spec, self.codec, handler)
        )
        .map_err(|e| refused(e, pattern))
    }

    /// Runs a method of the service for every message, like [`handle`](Self::handle):
    /// `amqp.pull_input("orders", Json).handle_with(&self, Self::on_order)` where
    /// `async fn on_order(self: Arc<Self>, order: Message<Order>) -> Result<(), E>`.
    ///
    /// The input holds the service weakly, so the service and its resources can be dropped.
    pub fn handle_with<S, F, Fut, E>(self, service: &Arc<S>, method: F) -> Result<(), Error>
    where
        S: Send + Sync + 'static,
        F: Fn(Arc<S>, Message<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.handle(with_service(service, method))
    }

    /// Consumes the input as a stream of [`Delivery`]s, each to be acked, rejected (to the
    /// dead-letter queue) or requeued; one dropped unanswered is requeued. Messages the codec
    /// cannot decode go to the dead-letter queue without showing up.
    pub fn stream(self) -> Result<InputStream<T>, Error> {
        checked(self.spec.name())?;
        let (shared, pattern) = (self.shared, self.pattern);
        on_kind!(shared, pattern, stream::<T, _>(self.spec, self.codec))
            .map_err(|e| refused(e, pattern))
    }
}

impl<Q: Send + 'static, R: Send + 'static> RequestInputBuilder<Q, R> {
    pub(crate) fn new(
        shared: Arc<AmqpState>,
        name: &str,
        codec: Arc<dyn Codec<Q>>,
        reply_codec: Arc<dyn Codec<R>>,
    ) -> Self {
        RequestInputBuilder {
            shared,
            spec: InputSpec::new(name),
            codec,
            reply_codec,
        }
    }

    spec_setters!();

    /// Runs `handler` for every request; it answers with [`Request::respond`]. The request is
    /// acked once the handler returns `Ok`. A failing handler is retried; after the last retry
    /// the request goes to the dead-letter queue and the requester gets an [`Error::Remote`]
    /// at once instead of waiting for its timeout.
    pub fn handle<F, Fut, E>(self, handler: F) -> Result<(), Error>
    where
        F: Fn(Request<Q, R>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        checked(self.spec.name())?;
        let replies = BoundCodec::from_arc(self.spec.name(), self.reply_codec);
        let responder = Arc::clone(&self.shared);
        let handler = move |message: Message<Q>| {
            handler(Request::new(
                message,
                Arc::clone(&responder),
                replies.clone(),
            ))
        };
        let engine = &self.shared.engine;
        engine
            .handle::<kind::Request, Q, _, _, Fut, E>(self.spec, self.codec, handler)
            .map_err(|e| refused(e, Pattern::RequestResponse))
    }

    /// Runs a method of the service for every request, like [`handle`](Self::handle):
    /// `async fn on_price(self: Arc<Self>, request: Request<Query, Price>) -> Result<(), E>`.
    pub fn handle_with<S, F, Fut, E>(self, service: &Arc<S>, method: F) -> Result<(), Error>
    where
        S: Send + Sync + 'static,
        F: Fn(Arc<S>, Request<Q, R>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.handle(with_service(service, method))
    }

    /// Consumes the requests as a stream; [`respond`](Request::respond) answers and acks
    /// one, [`reject`](Request::reject) dead-letters it and answers with the error. The
    /// stream ends when the service begins to stop.
    pub fn stream(self) -> Result<RequestStream<Q, R>, Error> {
        checked(self.spec.name())?;
        let codec = BoundCodec::from_arc(self.spec.name(), self.reply_codec);
        let inner = self
            .shared
            .engine
            .stream::<kind::Request, Q, _>(self.spec, self.codec)
            .map_err(|e| refused(e, Pattern::RequestResponse))?;
        Ok(RequestStream::new(inner, self.shared, codec))
    }
}

impl<T: 'static> fmt::Debug for InputBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InputBuilder")
            .field("pattern", &self.pattern)
            .field("spec", &self.spec)
            .field("codec", &self.codec.name())
            .finish()
    }
}

impl<Q: 'static, R: 'static> fmt::Debug for RequestInputBuilder<Q, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestInputBuilder")
            .field("spec", &self.spec)
            .field("codec", &self.codec.name())
            .field("reply_codec", &self.reply_codec.name())
            .finish()
    }
}

fn with_service<S, M, F, Fut, E>(
    service: &Arc<S>,
    method: F,
) -> impl Fn(M) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> + Send + Sync + 'static
where
    S: Send + Sync + 'static,
    M: Send + 'static,
    F: Fn(Arc<S>, M) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    let service: Weak<S> = Arc::downgrade(service);
    move |message| match service.upgrade() {
        Some(service) => {
            let future = method(service, message);
            Box::pin(async move { future.await.map_err(Into::into) })
        }
        None => Box::pin(async { Err("the service was dropped".into()) }),
    }
}
