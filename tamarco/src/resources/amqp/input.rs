//! Inputs: consumers of a queue, handing each message to a handler or a stream, with manual
//! acks, retries and dead letters.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use tamarco_core::codec::{BoundCodec, Codec};
use tamarco_core::resource::BoxFuture;
use tamarco_core::{BoxError, error_chain};

use super::connection::{Declare, Link, REPLY_ERROR_HEADER, Target, declare};
use super::message::{Message, Raw};
use super::settings::{Config, Pattern, short};
use super::{Error, LinkState, Shared, raised};

/// The headers a dead-lettered message carries, besides its own (the names the Kafka
/// resource uses too).
pub mod dead_letter_headers {
    /// Why: `handler` (the handler failed on every attempt) or `decode` (the codec refused it).
    pub const REASON: &str = "tamarco.dead_letter.reason";
    /// The error, with its causes.
    pub const ERROR: &str = "tamarco.dead_letter.error";
    /// The input that gave up on it.
    pub const INPUT: &str = "tamarco.dead_letter.input";
    /// The queue or exchange it came from (full name).
    pub const QUEUE: &str = "tamarco.dead_letter.queue";
    /// The exchange it was published to.
    pub const EXCHANGE: &str = "tamarco.dead_letter.exchange";
    /// The routing key it was published with.
    pub const ROUTING_KEY: &str = "tamarco.dead_letter.routing_key";
    /// How many times the handler ran (an integer; 1 for a decode failure).
    pub const ATTEMPTS: &str = "tamarco.dead_letter.attempts";
}

/// The longest wait between two handler retries.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// A handler, boxed.
type Handler<M> = Arc<dyn Fn(M) -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

/// What an input was declared with.
#[derive(Debug, Clone)]
pub(crate) struct InputSpec {
    pub(crate) name: String,
    pub(crate) pattern: Pattern,
    pub(crate) prefetch: Option<u16>,
    pub(crate) concurrency: Option<usize>,
    pub(crate) retries: Option<u32>,
    pub(crate) retry_backoff: Option<Duration>,
    pub(crate) dead_letter_queue: Option<String>,
}

impl InputSpec {
    pub(crate) fn new(name: &str, pattern: Pattern) -> Self {
        InputSpec {
            name: name.to_owned(),
            pattern,
            prefetch: None,
            concurrency: None,
            retries: None,
            retry_backoff: None,
            dead_letter_queue: None,
        }
    }
}

/// Counters of one input, for `/status`.
#[derive(Debug, Default)]
pub(crate) struct InputStats {
    pub(crate) received: AtomicU64,
    pub(crate) handled: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) requeued: AtomicU64,
    pub(crate) consuming: AtomicBool,
    pub(crate) queue: Mutex<String>,
}

/// A declared input.
pub(crate) struct InputEntry {
    pub(crate) spec: InputSpec,
    pub(crate) label: Arc<str>,
    pub(crate) mode: &'static str,
    pub(crate) codec: String,
    pub(crate) sink: Mutex<Option<Arc<dyn Sink>>>,
    pub(crate) stats: InputStats,
    pub(crate) task: Mutex<Option<JoinHandle<()>>>,
    /// The consuming channel, kept open until the resource stops so that stream readers can
    /// still ack what they hold.
    pub(crate) channel: Mutex<Option<Channel>>,
    /// Told how the first attempt to consume went, so that `start` can wait for it.
    pub(crate) first: Mutex<Option<oneshot::Sender<Result<(), String>>>>,
}

impl InputEntry {
    fn report_first(&self, outcome: Result<(), String>) {
        if let Some(sender) = self.first.lock().expect("first lock").take() {
            let _ = sender.send(outcome);
        }
    }
}

/// Whether the input goes on after a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// The stream's reader is gone: stop consuming.
    ReaderGone,
}

/// How a delivery ended.
enum Outcome {
    Handled,
    DeadLettered(String),
    Requeued,
}

/// Turns deliveries into handler calls or stream items.
pub(crate) trait Sink: Send + Sync + 'static {
    fn deliver(&self, raw: Raw, run: Arc<Run>) -> BoxFuture<'static, Flow>;
}

/// One consuming session of an input on one connection.
pub(crate) struct Run {
    shared: Arc<Shared>,
    link: Arc<Link>,
    /// The consuming channel, where deliveries are acked.
    channel: Channel,
    /// Told when an ack went unanswered: the session reopens its channel.
    broken: Notify,
    entry: Arc<InputEntry>,
    config: Arc<Config>,
    /// The full name of the queue or exchange the input reads.
    source: ShortString,
    dead_letter: Target,
    retries: u32,
    backoff: Duration,
    halt: watch::Receiver<bool>,
}

impl Run {
    fn halted(&self) -> bool {
        *self.halt.borrow()
    }

    fn publish_deadline(&self) -> Instant {
        Instant::now() + self.config.publish_timeout
    }
}

// ---------------------------------------------------------------------------------------------
// Builders

/// An input being declared: choose how to consume it with [`handle`](Self::handle),
/// [`handle_with`](Self::handle_with) or [`stream`](Self::stream). Made by
/// [`Amqp::pull_input`](super::Amqp::pull_input) and
/// [`Amqp::subscription_input`](super::Amqp::subscription_input).
pub struct InputBuilder<T: 'static> {
    shared: Arc<Shared>,
    spec: InputSpec,
    codec: Arc<dyn Codec<T>>,
}

/// A request/response input being declared; its handler answers each
/// [`Request`] through [`Request::respond`]. Made by
/// [`Amqp::request_input`](super::Amqp::request_input).
pub struct RequestInputBuilder<Q: 'static, R: 'static> {
    shared: Arc<Shared>,
    spec: InputSpec,
    codec: Arc<dyn Codec<Q>>,
    reply_codec: Arc<dyn Codec<R>>,
}

macro_rules! spec_setters {
    () => {
        /// How many unacknowledged messages the broker sends ahead (setting `prefetch`).
        pub fn prefetch(mut self, prefetch: u16) -> Self {
            self.spec.prefetch = Some(prefetch);
            self
        }

        /// How many messages are handled at once (setting `concurrency`); at least 1.
        pub fn concurrency(mut self, concurrency: usize) -> Self {
            self.spec.concurrency = Some(concurrency.max(1));
            self
        }

        /// How many times a failing handler is retried before the message is dead-lettered
        /// (setting `retries`).
        pub fn retries(mut self, retries: u32) -> Self {
            self.spec.retries = Some(retries);
            self
        }

        /// The wait before the first retry; it doubles each time (setting `retry_backoff_ms`).
        pub fn retry_backoff(mut self, backoff: Duration) -> Self {
            self.spec.retry_backoff = Some(backoff);
            self
        }

        /// The dead-letter queue; `{queue}` stands for the input's full queue name (setting
        /// `dead_letter_queue`).
        pub fn dead_letter_queue(mut self, queue: &str) -> Self {
            self.spec.dead_letter_queue = Some(queue.to_owned());
            self
        }
    };
}

impl<T: Send + 'static> InputBuilder<T> {
    pub(crate) fn new(shared: Arc<Shared>, spec: InputSpec, codec: Arc<dyn Codec<T>>) -> Self {
        InputBuilder {
            shared,
            spec,
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
        let sink = HandlerSink {
            codec: BoundCodec::from_arc(self.spec.name.clone(), self.codec),
            handler: boxed(handler),
        };
        let codec = sink.codec.codec_name().to_owned();
        self.shared
            .declare_input(self.spec, "handler", codec, Arc::new(sink))
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

    /// Consumes the input as a stream of [`Delivery`]s, each to be
    /// [`ack`](Delivery::ack)ed, [`reject`](Delivery::reject)ed (to the dead-letter queue) or
    /// [`requeue`](Delivery::requeue)d; one dropped unanswered is requeued. Messages the codec
    /// cannot decode go to the dead-letter queue without showing up. The stream ends when the
    /// service begins to stop, after the deliveries already buffered.
    pub fn stream(self) -> Result<InputStream<T>, Error> {
        let buffer = usize::from(self.spec.prefetch.unwrap_or(32)).max(1);
        let (sender, receiver) = mpsc::channel(buffer);
        let name = self.spec.name.clone();
        let sink = StreamSink {
            codec: BoundCodec::from_arc(self.spec.name.clone(), self.codec),
            sender,
        };
        let codec = sink.codec.codec_name().to_owned();
        self.shared
            .declare_input(self.spec, "stream", codec, Arc::new(sink))?;
        Ok(InputStream { receiver, name })
    }
}

impl<Q: Send + 'static, R: Send + 'static> RequestInputBuilder<Q, R> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        spec: InputSpec,
        codec: Arc<dyn Codec<Q>>,
        reply_codec: Arc<dyn Codec<R>>,
    ) -> Self {
        RequestInputBuilder {
            shared,
            spec,
            codec,
            reply_codec,
        }
    }

    spec_setters!();

    /// Runs `handler` for every request; it answers with [`Request::respond`]. The request is
    /// acked once the handler returns `Ok`. A failing handler is retried (unless it already
    /// responded); after the last retry the request goes to the dead-letter queue and the
    /// requester gets an [`Error::Remote`] at once instead of waiting for its timeout.
    pub fn handle<F, Fut, E>(self, handler: F) -> Result<(), Error>
    where
        F: Fn(Request<Q, R>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let sink = RequestSink {
            codec: BoundCodec::from_arc(self.spec.name.clone(), self.codec),
            reply_codec: BoundCodec::from_arc(self.spec.name.clone(), self.reply_codec),
            handler: boxed(handler),
        };
        let codec = sink.codec.codec_name().to_owned();
        self.shared
            .declare_input(self.spec, "handler", codec, Arc::new(sink))
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
        let buffer = usize::from(self.spec.prefetch.unwrap_or(32)).max(1);
        let (sender, receiver) = mpsc::channel(buffer);
        let name = self.spec.name.clone();
        let sink = RequestStreamSink {
            codec: BoundCodec::from_arc(self.spec.name.clone(), self.codec),
            reply_codec: BoundCodec::from_arc(self.spec.name.clone(), self.reply_codec),
            sender,
        };
        let codec = sink.codec.codec_name().to_owned();
        self.shared
            .declare_input(self.spec, "stream", codec, Arc::new(sink))?;
        Ok(RequestStream { receiver, name })
    }
}

impl<T: 'static> fmt::Debug for InputBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InputBuilder")
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

fn boxed<M, F, Fut, E>(handler: F) -> Handler<M>
where
    F: Fn(M) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    Arc::new(move |message| {
        let future = handler(message);
        Box::pin(async move { future.await.map_err(Into::into) })
    })
}

fn with_service<S, M, F, Fut, E>(
    service: &Arc<S>,
    method: F,
) -> impl Fn(M) -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync + 'static
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

// ---------------------------------------------------------------------------------------------
// Handlers

struct HandlerSink<T: 'static> {
    codec: BoundCodec<T>,
    handler: Handler<Message<T>>,
}

impl<T: Send + 'static> Sink for HandlerSink<T> {
    fn deliver(&self, raw: Raw, run: Arc<Run>) -> BoxFuture<'static, Flow> {
        let codec = self.codec.clone();
        let handler = Arc::clone(&self.handler);
        Box::pin(async move {
            handle(&run, raw, &codec, |message| handler(message), None).await;
            Flow::Continue
        })
    }
}

struct RequestSink<Q: 'static, R: 'static> {
    codec: BoundCodec<Q>,
    reply_codec: BoundCodec<R>,
    handler: Handler<Request<Q, R>>,
}

impl<Q: Send + 'static, R: Send + 'static> Sink for RequestSink<Q, R> {
    fn deliver(&self, raw: Raw, run: Arc<Run>) -> BoxFuture<'static, Flow> {
        let codec = self.codec.clone();
        let handler = Arc::clone(&self.handler);
        let reply = ReplyTo::new(&run, &raw, self.reply_codec.clone());
        Box::pin(async move {
            let outcome = handle(
                &run,
                raw,
                &codec,
                |message| {
                    handler(Request {
                        message,
                        reply: Arc::clone(&reply),
                        ack: None,
                    })
                },
                Some(&reply.done),
            )
            .await;
            if let Outcome::DeadLettered(error) = outcome {
                reply.send_error(&run, &error).await;
            }
            Flow::Continue
        })
    }
}

/// Decodes and runs the handler, retrying it; then acks, dead-letters or requeues.
async fn handle<T, F, Fut>(
    run: &Run,
    raw: Raw,
    codec: &BoundCodec<T>,
    handler: F,
    responded: Option<&AtomicBool>,
) -> Outcome
where
    T: 'static,
    F: Fn(Message<T>) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let mut attempt = 1;
    loop {
        let value = match codec.decode(&raw.data) {
            Ok(value) => value,
            Err(error) => {
                return dead_letter(run, &raw, "decode", error_chain(&error), attempt).await;
            }
        };
        let message = Message::new(value, Arc::clone(&raw.meta), attempt);
        let outcome = AssertUnwindSafe(handler(message)).catch_unwind().await;
        let error = match outcome {
            Ok(Ok(())) => {
                ack(run, &raw).await;
                return Outcome::Handled;
            }
            Ok(Err(error)) => error_chain(&*error),
            Err(panic) => panic_message(&*panic),
        };
        if responded.is_some_and(|done| done.load(Ordering::Acquire)) {
            tracing::warn!(
                resource = run.shared.resource(),
                input = &*run.entry.label,
                "amqp: the handler failed after it responded; the request is acked: {error}"
            );
            ack(run, &raw).await;
            return Outcome::Handled;
        }
        if attempt > run.retries {
            return dead_letter(run, &raw, "handler", error, attempt).await;
        }
        if run.halted() {
            requeue(run, &raw).await;
            return Outcome::Requeued;
        }
        let backoff = run
            .backoff
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(MAX_RETRY_BACKOFF);
        tracing::warn!(
            resource = run.shared.resource(),
            input = &*run.entry.label,
            attempt,
            "amqp: the handler failed; retrying in {backoff:?}: {error}"
        );
        run.entry.stats.retried.fetch_add(1, Ordering::Relaxed);
        let mut halt = run.halt.clone();
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = raised(&mut halt) => {
                requeue(run, &raw).await;
                return Outcome::Requeued;
            }
        }
        attempt += 1;
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_owned());
    format!("the handler panicked: {text}")
}

/// How long an ack or nack may take to be written before the session gives up on its channel.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Acks (`requeue: None`) or nacks a delivery on its channel. An ack that goes unanswered
/// (the connection died under it, or lapin lost it) marks the session broken, so that the input
/// reopens a channel; the broker then delivers what was unacked again.
async fn settle(run: &Run, delivery_tag: u64, requeue: Option<bool>) -> bool {
    let channel = &run.channel;
    let settled = async {
        match requeue {
            None => {
                channel
                    .basic_ack(delivery_tag, BasicAckOptions::default())
                    .await
            }
            Some(requeue) => {
                let options = BasicNackOptions {
                    multiple: false,
                    requeue,
                };
                channel.basic_nack(delivery_tag, options).await
            }
        }
    };
    let settled = tokio::time::timeout(SETTLE_TIMEOUT, run.link.unless_dead(settled)).await;
    match settled {
        Ok(Some(Ok(()))) => true,
        Ok(_) => false,
        Err(_) => {
            tracing::warn!(
                resource = run.shared.resource(),
                input = &*run.entry.label,
                "amqp: an ack went unanswered for {SETTLE_TIMEOUT:?}; reopening the input's channel"
            );
            run.broken.notify_one();
            false
        }
    }
}

async fn ack(run: &Run, raw: &Raw) -> bool {
    match settle(run, raw.delivery_tag, None).await {
        true => {
            run.entry.stats.handled.fetch_add(1, Ordering::Relaxed);
            true
        }
        false => {
            tracing::debug!(
                resource = run.shared.resource(),
                input = &*run.entry.label,
                "amqp: the ack was lost with its channel; the broker delivers the message again"
            );
            false
        }
    }
}

async fn requeue(run: &Run, raw: &Raw) {
    run.entry.stats.requeued.fetch_add(1, Ordering::Relaxed);
    settle(run, raw.delivery_tag, Some(true)).await;
}

/// Sends `raw` to the input's dead-letter queue with the error in its headers, then acks it.
/// If the dead-letter queue cannot be written, the message is requeued instead.
async fn dead_letter(run: &Run, raw: &Raw, reason: &str, error: String, attempts: u32) -> Outcome {
    use dead_letter_headers as h;
    let meta = &raw.meta;
    let original = &meta.properties;
    let mut headers = original.headers().clone().unwrap_or_default();
    let text = |s: &str| AMQPValue::LongString(LongString::from(s));
    headers
        .insert(h::REASON.into(), text(reason))
        .insert(h::ERROR.into(), text(&error))
        .insert(h::INPUT.into(), text(&meta.input))
        .insert(h::QUEUE.into(), text(run.source.as_str()))
        .insert(h::EXCHANGE.into(), text(meta.exchange.as_str()))
        .insert(h::ROUTING_KEY.into(), text(meta.routing_key.as_str()))
        .insert(
            h::ATTEMPTS.into(),
            AMQPValue::LongLongInt(i64::from(attempts)),
        );
    // A fresh set of properties: the original's expiration (requests have one) must not
    // expire the dead letter.
    let mut properties = BasicProperties::default()
        .with_headers(headers)
        .with_delivery_mode(2);
    if let Some(v) = original.content_type() {
        properties = properties.with_content_type(v.clone());
    }
    if let Some(v) = original.content_encoding() {
        properties = properties.with_content_encoding(v.clone());
    }
    if let Some(v) = original.correlation_id() {
        properties = properties.with_correlation_id(v.clone());
    }
    if let Some(v) = original.reply_to() {
        properties = properties.with_reply_to(v.clone());
    }
    if let Some(v) = original.message_id() {
        properties = properties.with_message_id(v.clone());
    }
    if let Some(v) = original.timestamp() {
        properties = properties.with_timestamp(*v);
    }
    if let Some(v) = original.app_id() {
        properties = properties.with_app_id(v.clone());
    }
    let sent = run
        .shared
        .publish(
            &run.dead_letter,
            &raw.data,
            properties,
            run.publish_deadline(),
        )
        .await;
    match sent {
        Ok(()) => {
            run.entry
                .stats
                .dead_lettered
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                resource = run.shared.resource(),
                input = &*run.entry.label,
                queue = %run.dead_letter.label,
                reason,
                attempts,
                "amqp: message dead-lettered: {error}"
            );
            settle(run, raw.delivery_tag, None).await;
            Outcome::DeadLettered(error)
        }
        Err(send_error) => {
            tracing::error!(
                resource = run.shared.resource(),
                input = &*run.entry.label,
                "amqp: cannot dead-letter a message, so it is requeued: {}; it failed with: {error}",
                error_chain(&send_error)
            );
            requeue(run, raw).await;
            Outcome::Requeued
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests

/// Where a request's response goes, and whether it was sent.
struct ReplyTo<R: 'static> {
    shared: Arc<Shared>,
    codec: BoundCodec<R>,
    to: Option<ShortString>,
    correlation_id: Option<ShortString>,
    done: AtomicBool,
}

impl<R: 'static> ReplyTo<R> {
    fn new(run: &Run, raw: &Raw, codec: BoundCodec<R>) -> Arc<Self> {
        let properties = &raw.meta.properties;
        Arc::new(ReplyTo {
            shared: Arc::clone(&run.shared),
            codec,
            to: properties.reply_to().clone(),
            correlation_id: properties.correlation_id().clone(),
            done: AtomicBool::new(false),
        })
    }

    fn properties(&self) -> BasicProperties {
        let mut properties = BasicProperties::default();
        if let Some(id) = &self.correlation_id {
            properties = properties.with_correlation_id(id.clone());
        }
        properties
    }

    async fn send(&self, value: &R) -> Result<(), Error> {
        let Some(to) = self.to.clone() else {
            return Err(Error::NoReplyTo {
                queue: self.codec.endpoint().to_owned(),
            });
        };
        let body = self.codec.encode(value)?;
        let mut properties = self.properties();
        if let Some(content_type) = self.codec.content_type() {
            properties = properties.with_content_type(content_type.into());
        }
        let deadline = self.shared.publish_deadline();
        self.shared
            .publish(&Target::reply(to), &body, properties, deadline)
            .await?;
        self.done.store(true, Ordering::Release);
        Ok(())
    }

    /// Answers with an error, so that the requester fails at once.
    async fn send_error(&self, run: &Run, error: &str) {
        let (Some(to), false) = (self.to.clone(), self.done.load(Ordering::Acquire)) else {
            return;
        };
        let mut headers = FieldTable::default();
        headers.insert(
            REPLY_ERROR_HEADER.into(),
            AMQPValue::LongString(LongString::from(error)),
        );
        let properties = self.properties().with_headers(headers);
        if let Err(e) = self
            .shared
            .publish(&Target::reply(to), &[], properties, run.publish_deadline())
            .await
        {
            tracing::debug!("amqp: cannot send an error reply: {}", error_chain(&e));
        }
    }
}

/// A request from a request/response input: the message and the handle to answer it.
pub struct Request<Q: 'static, R: 'static> {
    message: Message<Q>,
    reply: Arc<ReplyTo<R>>,
    /// Set for requests read from a stream, which ack themselves.
    ack: Option<AckHandle>,
}

impl<Q: 'static, R: 'static> Request<Q, R> {
    /// The request's message.
    pub fn message(&self) -> &Message<Q> {
        &self.message
    }

    /// Sends `response` to the requester (encoded with the input's codec), and, for a request
    /// read from a stream, acks it. Fails with [`Error::NoReplyTo`] when the request has no
    /// `reply_to`.
    pub async fn respond(mut self, response: &R) -> Result<(), Error> {
        self.reply.send(response).await?;
        if let Some(ack) = self.ack.take() {
            ack.ack().await?;
        }
        Ok(())
    }

    /// For a request read from a stream: sends it to the dead-letter queue with `error`, and
    /// answers the requester with that error. In a handler, return the error instead.
    pub async fn reject(mut self, error: impl Into<BoxError>) -> Result<(), Error> {
        let error = error_chain(&*error.into());
        match self.ack.take() {
            Some(ack) => {
                let run = Arc::clone(&ack.run);
                let result = ack.reject_text(error.clone()).await;
                self.reply.send_error(&run, &error).await;
                result
            }
            None => Ok(()),
        }
    }
}

impl<Q: 'static, R: 'static> Deref for Request<Q, R> {
    type Target = Message<Q>;

    fn deref(&self) -> &Message<Q> {
        &self.message
    }
}

impl<Q: fmt::Debug + 'static, R: 'static> fmt::Debug for Request<Q, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("message", &self.message)
            .field("reply_to", &self.reply.to)
            .field("correlation_id", &self.reply.correlation_id)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Streams

/// The acknowledgement of a message read from a stream. Dropped unanswered, it requeues the
/// message.
struct AckHandle {
    raw: Option<Raw>,
    run: Arc<Run>,
}

impl AckHandle {
    async fn ack(mut self) -> Result<(), Error> {
        let Some(raw) = self.raw.take() else {
            return Ok(());
        };
        if ack(&self.run, &raw).await {
            Ok(())
        } else {
            Err(Error::broker(
                "ack a message from",
                self.run.source.to_string(),
                "its channel closed; the broker delivers it again",
            ))
        }
    }

    async fn reject_text(mut self, error: String) -> Result<(), Error> {
        let Some(raw) = self.raw.take() else {
            return Ok(());
        };
        match dead_letter(&self.run, &raw, "handler", error, 1).await {
            Outcome::DeadLettered(_) | Outcome::Handled => Ok(()),
            Outcome::Requeued => Err(Error::broker(
                "dead-letter a message to",
                self.run.dead_letter.label.clone(),
                "the dead-letter queue could not be written; the message was requeued",
            )),
        }
    }

    async fn requeue(mut self) {
        if let Some(raw) = self.raw.take() {
            requeue(&self.run, &raw).await;
        }
    }
}

impl Drop for AckHandle {
    fn drop(&mut self) {
        let Some(raw) = self.raw.take() else {
            return;
        };
        self.run
            .entry
            .stats
            .requeued
            .fetch_add(1, Ordering::Relaxed);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let run = Arc::clone(&self.run);
            runtime.spawn(async move {
                settle(&run, raw.delivery_tag, Some(true)).await;
            });
        }
    }
}

/// A message read from an [`InputStream`]: [`ack`](Delivery::ack) it once handled,
/// [`reject`](Delivery::reject) it to the dead-letter queue, or [`requeue`](Delivery::requeue)
/// it. Dropping it unanswered requeues it.
pub struct Delivery<T> {
    message: Message<T>,
    ack: AckHandle,
}

impl<T> Delivery<T> {
    /// The message.
    pub fn message(&self) -> &Message<T> {
        &self.message
    }

    /// Acks the message: the broker forgets it.
    pub async fn ack(self) -> Result<(), Error> {
        self.ack.ack().await
    }

    /// Sends the message to the dead-letter queue with `error` in its headers, then acks it.
    /// If the dead-letter queue cannot be written, the message is requeued and this fails.
    pub async fn reject(self, error: impl Into<BoxError>) -> Result<(), Error> {
        self.ack.reject_text(error_chain(&*error.into())).await
    }

    /// Gives the message back to the broker, for this or another consumer.
    pub async fn requeue(self) {
        self.ack.requeue().await;
    }
}

impl<T> Deref for Delivery<T> {
    type Target = Message<T>;

    fn deref(&self) -> &Message<T> {
        &self.message
    }
}

impl<T: fmt::Debug> fmt::Debug for Delivery<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.message, f)
    }
}

/// The messages of an input declared with [`InputBuilder::stream`]. Read it with
/// [`next`](InputStream::next) or as a [`Stream`](futures_util::Stream). It ends when the
/// service begins to stop (after the deliveries already buffered).
pub struct InputStream<T: 'static> {
    receiver: mpsc::Receiver<Delivery<T>>,
    name: String,
}

impl<T: 'static> InputStream<T> {
    /// The next delivery, or `None` once the input stopped.
    pub async fn next(&mut self) -> Option<Delivery<T>> {
        self.receiver.recv().await
    }

    /// The input's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<T: 'static> futures_util::Stream for InputStream<T> {
    type Item = Delivery<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}

impl<T: 'static> fmt::Debug for InputStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InputStream")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The requests of an input declared with [`RequestInputBuilder::stream`]; each
/// [`Request`] is answered with [`respond`](Request::respond), which also acks it.
pub struct RequestStream<Q: 'static, R: 'static> {
    receiver: mpsc::Receiver<Request<Q, R>>,
    name: String,
}

impl<Q: 'static, R: 'static> RequestStream<Q, R> {
    /// The next request, or `None` once the input stopped.
    pub async fn next(&mut self) -> Option<Request<Q, R>> {
        self.receiver.recv().await
    }

    /// The input's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<Q: 'static, R: 'static> futures_util::Stream for RequestStream<Q, R> {
    type Item = Request<Q, R>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}

impl<Q: 'static, R: 'static> fmt::Debug for RequestStream<Q, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestStream")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

struct StreamSink<T: 'static> {
    codec: BoundCodec<T>,
    sender: mpsc::Sender<Delivery<T>>,
}

impl<T: Send + 'static> Sink for StreamSink<T> {
    fn deliver(&self, raw: Raw, run: Arc<Run>) -> BoxFuture<'static, Flow> {
        let decoded = self.codec.decode(&raw.data);
        let sender = self.sender.clone();
        Box::pin(async move {
            let value = match decoded {
                Ok(value) => value,
                Err(error) => {
                    dead_letter(&run, &raw, "decode", error_chain(&error), 1).await;
                    return Flow::Continue;
                }
            };
            let delivery = Delivery {
                message: Message::new(value, Arc::clone(&raw.meta), 1),
                ack: AckHandle {
                    raw: Some(raw),
                    run: Arc::clone(&run),
                },
            };
            offer(&sender, delivery, &run).await
        })
    }
}

struct RequestStreamSink<Q: 'static, R: 'static> {
    codec: BoundCodec<Q>,
    reply_codec: BoundCodec<R>,
    sender: mpsc::Sender<Request<Q, R>>,
}

impl<Q: Send + 'static, R: Send + 'static> Sink for RequestStreamSink<Q, R> {
    fn deliver(&self, raw: Raw, run: Arc<Run>) -> BoxFuture<'static, Flow> {
        let decoded = self.codec.decode(&raw.data);
        let sender = self.sender.clone();
        let reply = ReplyTo::new(&run, &raw, self.reply_codec.clone());
        Box::pin(async move {
            let value = match decoded {
                Ok(value) => value,
                Err(error) => {
                    let error = error_chain(&error);
                    if let Outcome::DeadLettered(error) =
                        dead_letter(&run, &raw, "decode", error, 1).await
                    {
                        reply.send_error(&run, &error).await;
                    }
                    return Flow::Continue;
                }
            };
            let request = Request {
                message: Message::new(value, Arc::clone(&raw.meta), 1),
                reply,
                ack: Some(AckHandle {
                    raw: Some(raw),
                    run: Arc::clone(&run),
                }),
            };
            offer(&sender, request, &run).await
        })
    }
}

/// Hands an item to the stream's reader, waiting for room; an item that cannot be handed
/// over (the reader is gone, or the input halts meanwhile) is dropped, which requeues it.
async fn offer<I>(sender: &mpsc::Sender<I>, item: I, run: &Run) -> Flow {
    let mut halt = run.halt.clone();
    tokio::select! {
        sent = sender.send(item) => match sent {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::ReaderGone,
        },
        () = raised(&mut halt) => Flow::Continue,
    }
}

// ---------------------------------------------------------------------------------------------
// The consuming loop

/// Consumes one input for the life of the resource: on every connection, until the input
/// halts. Dropping the sink at the end ends a stream.
pub(crate) async fn run_input(shared: Arc<Shared>, entry: Arc<InputEntry>, sink: Arc<dyn Sink>) {
    let mut halt = shared.halt.subscribe();
    let mut links = shared.link.subscribe();
    let mut backoff = Duration::from_millis(100);
    loop {
        if *halt.borrow() {
            break;
        }
        let link = tokio::select! {
            state = links.wait_for(|s| matches!(s, LinkState::Up(_) | LinkState::Closed)) => {
                match state.as_deref() {
                    Ok(LinkState::Up(link)) => Arc::clone(link),
                    _ => break,
                }
            }
            () = raised(&mut halt) => break,
        };
        let consumed = consume(&shared, &entry, &sink, &link, halt.clone()).await;
        entry.stats.consuming.store(false, Ordering::Relaxed);
        if let Err(error) = &consumed {
            entry.report_first(Err(error_chain(error)));
        }
        match consumed {
            Ok(()) => break,
            Err(error) => {
                if *halt.borrow() {
                    break;
                }
                if link.connected() {
                    tracing::warn!(
                        resource = shared.resource(),
                        input = &*entry.label,
                        "amqp: input failed; retrying in {backoff:?}: {}",
                        error_chain(&error)
                    );
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = raised(&mut halt) => break,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                } else {
                    tracing::debug!(
                        resource = shared.resource(),
                        input = &*entry.label,
                        "amqp: input lost its connection: {}",
                        error_chain(&error)
                    );
                    link.suspect.notify_one();
                    let generation = link.generation;
                    drop(link);
                    tokio::select! {
                        _ = links.wait_for(|s| match s {
                            LinkState::Up(l) => l.generation != generation,
                            LinkState::Closed => true,
                            _ => false,
                        }) => {}
                        () = raised(&mut halt) => break,
                    }
                }
            }
        }
    }
    entry.stats.consuming.store(false, Ordering::Relaxed);
    drop(sink);
}

/// Declares what the input reads, consumes it on a fresh channel until the input halts
/// (`Ok`) or the channel fails (`Err`), and waits for the handlers in flight.
async fn consume(
    shared: &Arc<Shared>,
    entry: &Arc<InputEntry>,
    sink: &Arc<dyn Sink>,
    link: &Arc<Link>,
    mut halt: watch::Receiver<bool>,
) -> Result<(), Error> {
    let config = shared.config().ok_or_else(|| Error::Stopped {
        resource: shared.resource().to_owned(),
    })?;
    let spec = &entry.spec;
    let invalid = |reason: String| Error::InvalidName {
        queue: spec.name.clone(),
        reason,
    };
    let source = config
        .full_name(spec.pattern, &spec.name)
        .map_err(invalid)?;
    let failed = |action: &'static str| {
        let target = source.to_string();
        move |error: lapin::Error| Error::broker(action, target, error)
    };
    let opening = async {
        let channel = link
            .connection
            .create_channel()
            .await
            .map_err(failed("open a channel for"))?;
        let prefetch = spec.prefetch.unwrap_or(config.settings.prefetch);
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await
            .map_err(failed("set the prefetch of"))?;
        let queue = match spec.pattern {
            Pattern::PushPull | Pattern::RequestResponse => {
                let durable = spec.pattern == Pattern::PushPull;
                let what = Declare::Queue {
                    name: source.clone(),
                    durable,
                };
                declare(&channel, &what).await.map_err(failed("declare"))?;
                source.clone()
            }
            Pattern::PublishSubscribe => {
                declare(&channel, &Declare::Fanout(source.clone()))
                    .await
                    .map_err(failed("declare"))?;
                let options = QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                };
                let queue = channel
                    .queue_declare(ShortString::default(), options, FieldTable::default())
                    .await
                    .map_err(failed("declare a subscriber queue for"))?;
                channel
                    .queue_bind(
                        queue.name().clone(),
                        source.clone(),
                        ShortString::default(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map_err(failed("bind a subscriber queue to"))?;
                queue.name().clone()
            }
        };
        let dead_letter_queue = config
            .dead_letter_queue(spec.dead_letter_queue.as_deref(), source.as_str())
            .map_err(invalid)?;
        let dead_letter = Target::queue(dead_letter_queue.clone(), true);
        declare(&channel, &dead_letter.declare)
            .await
            .map_err(failed("declare the dead-letter queue of"))?;
        let tag = short(format!(
            "{}.{}.{}.{}",
            shared.service(),
            shared.resource(),
            spec.name,
            link.generation
        ))
        .unwrap_or_default();
        let consumer = channel
            .basic_consume(
                queue.clone(),
                tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(failed("consume from"))?;
        Ok::<_, Error>((channel, consumer, queue, dead_letter))
    };
    let (channel, mut consumer, queue, dead_letter) =
        link.unless_dead(opening).await.unwrap_or_else(|| {
            Err(Error::broker(
                "consume from",
                spec.name.clone(),
                "the connection was lost",
            ))
        })?;
    *entry.channel.lock().expect("channel lock") = Some(channel.clone());
    *entry.stats.queue.lock().expect("queue lock") = queue.to_string();
    entry.stats.consuming.store(true, Ordering::Relaxed);
    entry.report_first(Ok(()));
    tracing::info!(
        resource = shared.resource(),
        input = &*entry.label,
        queue = queue.as_str(),
        pattern = spec.pattern.as_str(),
        "amqp: input consuming"
    );
    let run = Arc::new(Run {
        shared: Arc::clone(shared),
        link: Arc::clone(link),
        channel: channel.clone(),
        broken: Notify::new(),
        entry: Arc::clone(entry),
        retries: spec.retries.unwrap_or(config.settings.retries),
        backoff: spec.retry_backoff.unwrap_or(config.retry_backoff),
        config: Arc::clone(&config),
        source,
        dead_letter,
        halt: halt.clone(),
    });
    let concurrency = spec
        .concurrency
        .unwrap_or(config.settings.concurrency)
        .max(1);
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut in_flight: JoinSet<Flow> = JoinSet::new();
    let mut reader_gone = false;
    let ended = loop {
        while let Some(done) = in_flight.try_join_next() {
            reader_gone |= done.is_ok_and(|flow| flow == Flow::ReaderGone);
        }
        if reader_gone {
            break Ok(());
        }
        tokio::select! {
            biased;
            () = raised(&mut halt) => break Ok(()),
            () = link.died() => break Err(Error::broker(
                "consume from",
                queue.to_string(),
                "the connection was lost",
            )),
            () = run.broken.notified() => break Err(Error::broker(
                "consume from",
                queue.to_string(),
                "an ack went unanswered",
            )),
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    entry.stats.received.fetch_add(1, Ordering::Relaxed);
                    let raw = Raw::new(&entry.label, delivery);
                    if concurrency == 1 {
                        if sink.deliver(raw, Arc::clone(&run)).await == Flow::ReaderGone {
                            break Ok(());
                        }
                    } else {
                        let permit = Arc::clone(&permits)
                            .acquire_owned()
                            .await
                            .expect("the semaphore is never closed");
                        let delivered = sink.deliver(raw, Arc::clone(&run));
                        in_flight.spawn(async move {
                            let flow = delivered.await;
                            drop(permit);
                            flow
                        });
                    }
                }
                Some(Err(error)) => break Err(Error::broker("consume from", queue.to_string(), error)),
                None => break Err(Error::broker(
                    "consume from",
                    queue.to_string(),
                    "the broker cancelled the consumer",
                )),
            },
        }
    };
    if ended.is_ok() {
        // Stop intake first; what the broker already sent ahead goes back to the queue when
        // the channel closes.
        let _ = channel
            .basic_cancel(consumer.tag(), BasicCancelOptions::default())
            .await;
    }
    while in_flight.join_next().await.is_some() {}
    ended
}
