//! Inputs: a consumer group on one or several topics, consumed by a handler or as a stream.
//!
//! Each input has its own consumer. Its loop takes one record at a time from the consumer,
//! decodes it, and either runs the handler (retrying, then dead-lettering) or passes it to the
//! stream; the [tracker](super::tracker) decides which offsets may be committed.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use rdkafka::consumer::StreamConsumer;
use tokio::sync::{mpsc, watch};

use tamarco_core::backoff::Backoff;
use tamarco_core::codec::{BoundCodec, Codec};
use tamarco_core::resource::BoxFuture;
use tamarco_core::{BoxError, error_chain};

use super::client::{InputContext, InputState};
use super::message::{Headers, Message, Meta, Raw};
use super::output::send;
use super::settings::Config;
use super::spec::{InputSpec, OffsetReset};
use super::tracker::Ticket;
use super::{Error, Shared};

/// The consumer of one input.
pub(crate) type Consumer = StreamConsumer<InputContext>;

/// How long a handler retry waits at most, however many retries came before.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Deliveries a stream input holds ready for its reader.
const STREAM_BUFFER: usize = 32;
/// How often an input hands the positions of handled records to the consumer's offset store.
const STORE_EVERY: Duration = Duration::from_millis(100);

/// Declares an input: made by [`Kafka::input`](super::Kafka::input), finished by
/// [`handle`](InputBuilder::handle), [`handle_with`](InputBuilder::handle_with) or
/// [`stream`](InputBuilder::stream).
#[must_use = "an input is declared only by `handle`, `handle_with` or `stream`"]
pub struct InputBuilder<T: 'static> {
    shared: Arc<Shared>,
    spec: InputSpec,
    codec: Arc<dyn Codec<T>>,
}

impl<T: Send + 'static> InputBuilder<T> {
    pub(crate) fn new(shared: Arc<Shared>, topic: &str, codec: impl Codec<T>) -> Self {
        InputBuilder {
            shared,
            spec: InputSpec::new(topic),
            codec: Arc::new(codec),
        }
    }

    /// Consumes one more topic in the same group.
    pub fn topic(mut self, topic: &str) -> Self {
        self.spec.topics.push(topic.to_owned());
        if !self.spec.named {
            self.spec.name = self.spec.topics.join(",");
        }
        self
    }

    /// The input's name in logs, `/status` and dead-letter headers (default: its topics).
    pub fn name(mut self, name: &str) -> Self {
        self.spec.name = name.to_owned();
        self.spec.named = true;
        self
    }

    /// The consumer group (default: the `group_id` setting, else the service's name).
    pub fn group(mut self, group: &str) -> Self {
        self.spec.group = Some(group.to_owned());
        self
    }

    /// Where a group with no committed offset starts (default: the `auto_offset_reset`
    /// setting, else [`OffsetReset::Earliest`]).
    pub fn offset_reset(mut self, reset: OffsetReset) -> Self {
        self.spec.offset_reset = Some(reset);
        self
    }

    /// How often a failed handler is retried before the message is dead-lettered (default:
    /// the `retries` setting, else 3).
    pub fn retries(mut self, retries: u32) -> Self {
        self.spec.retries = Some(retries);
        self
    }

    /// The wait before the first retry; it doubles for each next one, up to 30 s (default:
    /// the `retry_backoff_ms` setting, else 100 ms).
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.spec.retry_backoff = Some(backoff);
        self
    }

    /// The dead-letter topic; `{topic}` stands for the source topic (default: the
    /// `dead_letter_topic` setting, else `{topic}.dead_letter`).
    pub fn dead_letter_topic(mut self, topic: &str) -> Self {
        self.spec.dead_letter_topic = Some(topic.to_owned());
        self
    }

    /// Runs `handler` for every message, one at a time, in order per partition. A message is
    /// committed once its handler returned `Ok` (and so did the handlers of the messages before
    /// it in its partition). An `Err`, or a panic, is retried; after the last retry the message
    /// goes to the dead-letter topic and the input moves on.
    ///
    /// Declare inputs before the resource starts (in the service's `pre_start` or `start` hook,
    /// before `stage.run()`), or later from a task: they start at once then.
    pub fn handle<F, Fut, E>(self, handler: F) -> Result<(), Error>
    where
        F: Fn(Message<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let launch = HandlerLaunch {
            codec: BoundCodec::from_arc(self.spec.name.clone(), self.codec),
            handler: Arc::new(handler),
            _output: PhantomData,
        };
        self.shared.declare(self.spec, "handler", Box::new(launch))
    }

    /// Runs a method of the service for every message, like [`handle`](Self::handle):
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

    /// Consumes the input as a stream of [`Delivery`]s. Each must be
    /// [`ack`](Delivery::ack)ed (or [`reject`](Delivery::reject)ed) to be committed; messages
    /// that cannot be decoded go to the dead-letter topic without showing up. The stream ends
    /// when the service begins to stop.
    pub fn stream(self) -> Result<InputStream<T>, Error> {
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let name = self.spec.name.clone();
        let launch = StreamLaunch {
            codec: BoundCodec::from_arc(self.spec.name.clone(), self.codec),
            sender: Mutex::new(Some(sender)),
        };
        self.shared.declare(self.spec, "stream", Box::new(launch))?;
        Ok(InputStream { receiver, name })
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

/// Starts the loop of a declared input on a fresh consumer.
pub(crate) trait Launch: Send + Sync {
    /// The loop's future, or `None` when this input cannot start again (a stream whose
    /// reader is gone).
    fn launch(&self, run: Run) -> Option<BoxFuture<'static, ()>>;
}

/// The handler stays a concrete type down to the loop: no allocation per message.
struct HandlerLaunch<T: 'static, F, Fut, E> {
    codec: BoundCodec<T>,
    handler: Arc<F>,
    _output: PhantomData<fn() -> (Fut, E)>,
}

impl<T, F, Fut, E> Launch for HandlerLaunch<T, F, Fut, E>
where
    T: Send + 'static,
    F: Fn(Message<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    fn launch(&self, run: Run) -> Option<BoxFuture<'static, ()>> {
        Some(Box::pin(run_handler(
            run,
            self.codec.clone(),
            Arc::clone(&self.handler),
        )))
    }
}

struct StreamLaunch<T: 'static> {
    codec: BoundCodec<T>,
    sender: Mutex<Option<mpsc::Sender<Delivery<T>>>>,
}

impl<T: Send + 'static> Launch for StreamLaunch<T> {
    fn launch(&self, run: Run) -> Option<BoxFuture<'static, ()>> {
        let sender = self.sender.lock().expect("stream sender lock").take()?;
        Some(Box::pin(run_stream(run, self.codec.clone(), sender)))
    }
}

/// What a running input's deliveries need, without the consumer (so that a delivery a reader
/// keeps never keeps the consumer alive).
pub(crate) struct InputCtx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) spec: InputSpec,
    pub(crate) config: Arc<Config>,
    pub(crate) state: Arc<InputState>,
    pub(crate) halt: watch::Receiver<bool>,
}

impl InputCtx {
    fn halted(&self) -> bool {
        *self.halt.borrow()
    }
}

/// A running input: its loop's view.
pub(crate) struct Run {
    pub(crate) ctx: Arc<InputCtx>,
    pub(crate) consumer: Arc<Consumer>,
}

enum Outcome {
    /// Handled or dead-lettered: commit it.
    Done,
    /// The input stopped first: leave it uncommitted.
    Halted,
}

/// Interned topic names, so that each record does not allocate its topic.
#[derive(Default)]
struct Topics(Vec<Arc<str>>);

impl Topics {
    fn get(&mut self, topic: &str) -> Arc<str> {
        if let Some(name) = self.0.iter().find(|name| &***name == topic) {
            return Arc::clone(name);
        }
        let name: Arc<str> = Arc::from(topic);
        self.0.push(Arc::clone(&name));
        name
    }
}

/// The next record, or an error; `None` once the input is told to stop. A record already
/// waiting is taken without arming the stop signal.
async fn receive<'c>(
    consumer: &'c Consumer,
    halt: &mut watch::Receiver<bool>,
) -> Option<rdkafka::error::KafkaResult<rdkafka::message::BorrowedMessage<'c>>> {
    if *halt.borrow() {
        return None;
    }
    if let Some(received) = consumer.recv().now_or_never() {
        return Some(received);
    }
    tokio::select! {
        biased;
        () = halted(halt) => None,
        received = consumer.recv() => Some(received),
    }
}

/// Waits until the input is told to stop.
async fn halted(halt: &mut watch::Receiver<bool>) {
    // The sender lives as long as the running input; a closed channel means stop too.
    let _ = halt.wait_for(|halted| *halted).await;
}

/// What to do with a consumer error: a fatal one stops the input (and fails the resource),
/// others are logged (throttled) and librdkafka retries.
fn consumer_error(state: &InputState, error: &rdkafka::error::KafkaError) -> bool {
    if let rdkafka::error::KafkaError::MessageConsumptionFatal(_) = error {
        state.health.fail(&state.resource, error.to_string());
        return false;
    }
    let what = error.to_string();
    if let Some(held) = state.throttle.admit(&what) {
        tracing::warn!(
            resource = state.resource,
            input = state.input,
            repeats = held,
            "kafka consumer: {what}; retrying"
        );
    }
    true
}

/// Hands the commit positions of handled records to the consumer's offset store every
/// [`STORE_EVERY`], off the input's loop, until the input stops; then once more.
pub(crate) async fn store_periodically(
    state: Arc<InputState>,
    consumer: Arc<Consumer>,
    mut halt: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            biased;
            () = halted(&mut halt) => break,
            () = tokio::time::sleep(STORE_EVERY) => state.store_positions(&*consumer),
        }
    }
    state.store_positions(&*consumer);
}

async fn run_handler<T, F, Fut, E>(run: Run, codec: BoundCodec<T>, handler: Arc<F>)
where
    T: Send + 'static,
    F: Fn(Message<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    let ctx = Arc::clone(&run.ctx);
    let state = &ctx.state;
    let mut halt = ctx.halt.clone();
    let mut topics = Topics::default();
    while let Some(received) = receive(&run.consumer, &mut halt).await {
        let message = match received {
            Ok(message) => message,
            Err(error) if consumer_error(state, &error) => continue,
            Err(_) => break,
        };
        // The record stays in the consumer's buffer while it is handled: one at a time.
        let meta = {
            use rdkafka::Message as _;
            Meta::of(&message, topics.get(message.topic()))
        };
        let body = {
            use rdkafka::Message as _;
            message.payload().unwrap_or_default()
        };
        match handle(&ctx, &codec, &*handler, &meta, body, &mut halt).await {
            Outcome::Done => state
                .tracker
                .handled(&meta.topic, meta.partition, meta.offset),
            // Not committed: it comes again.
            Outcome::Halted => break,
        }
    }
}

/// Runs the handler on one record, with retries, then the dead-letter topic.
async fn handle<T, F, Fut, E>(
    ctx: &InputCtx,
    codec: &BoundCodec<T>,
    handler: &F,
    meta: &Arc<Meta>,
    body: &[u8],
    halt: &mut watch::Receiver<bool>,
) -> Outcome
where
    T: Send + 'static,
    F: Fn(Message<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    let state = &ctx.state;
    let attempts = ctx.spec.retries.unwrap_or(ctx.config.retries) + 1;
    let first = ctx.spec.retry_backoff.unwrap_or(ctx.config.retry_backoff);
    let mut backoff = Backoff::new(first, MAX_BACKOFF);
    let mut attempt = 1;
    loop {
        let value = match codec.decode(body) {
            Ok(value) => value,
            // Decoding gives the same answer every time: no retries.
            Err(error) => {
                let error = error_chain(&error);
                return dead_letter(ctx, meta, body, "decode", error, attempt, Some(halt)).await;
            }
        };
        let message = Message {
            value,
            meta: Arc::clone(meta),
            attempt,
        };
        let error: BoxError = match AssertUnwindSafe(handler(message)).catch_unwind().await {
            Ok(Ok(())) => {
                state.handled.fetch_add(1, Ordering::Relaxed);
                return Outcome::Done;
            }
            Ok(Err(error)) => error.into(),
            Err(panic) => panic_message(&panic).into(),
        };
        if attempt >= attempts {
            let error = error_chain(&*error);
            return dead_letter(ctx, meta, body, "handler", error, attempt, Some(halt)).await;
        }
        state.retried.fetch_add(1, Ordering::Relaxed);
        let wait = backoff.next_delay();
        tracing::warn!(
            resource = state.resource,
            input = state.input,
            topic = &*meta.topic,
            partition = meta.partition,
            offset = meta.offset,
            attempt,
            "kafka handler failed, retrying in {wait:?}: {}",
            error_chain(&*error)
        );
        tokio::select! {
            biased;
            () = halted(halt) => return Outcome::Halted,
            () = tokio::time::sleep(wait) => {}
        }
        attempt += 1;
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned());
    format!("the handler panicked: {text}")
}

/// The headers a dead-lettered record carries, besides its own.
pub mod dead_letter_headers {
    /// Why: `handler` (the handler failed on every attempt) or `decode` (the codec refused it).
    pub const REASON: &str = "tamarco.dead_letter.reason";
    /// The error, with its causes.
    pub const ERROR: &str = "tamarco.dead_letter.error";
    /// The topic it was read from.
    pub const TOPIC: &str = "tamarco.dead_letter.topic";
    /// The partition it was read from.
    pub const PARTITION: &str = "tamarco.dead_letter.partition";
    /// Its offset there.
    pub const OFFSET: &str = "tamarco.dead_letter.offset";
    /// The consumer group that gave up on it.
    pub const GROUP: &str = "tamarco.dead_letter.group";
    /// The input that gave up on it.
    pub const INPUT: &str = "tamarco.dead_letter.input";
    /// How many times the handler ran.
    pub const ATTEMPTS: &str = "tamarco.dead_letter.attempts";
}

/// Sends a record to the dead-letter topic, with the error in its headers. With `halt`, a
/// failed send is retried until it succeeds or the input stops; without, it is tried once.
async fn dead_letter(
    ctx: &InputCtx,
    meta: &Meta,
    body: &[u8],
    reason: &str,
    error: String,
    attempts: u32,
    mut halt: Option<&mut watch::Receiver<bool>>,
) -> Outcome {
    use dead_letter_headers as h;
    let state = &ctx.state;
    let topic: Arc<str> = Arc::from(ctx.config.dead_letter_topic(&ctx.spec, &meta.topic));
    let mut headers: Headers = meta.headers.clone();
    headers
        .insert(h::REASON, reason)
        .insert(h::ERROR, error.as_str())
        .insert(h::TOPIC, &*meta.topic)
        .insert(h::PARTITION, meta.partition.to_string())
        .insert(h::OFFSET, meta.offset.to_string())
        .insert(h::GROUP, state.group.as_str())
        .insert(h::INPUT, state.input.as_str())
        .insert(h::ATTEMPTS, attempts.to_string());
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    loop {
        let sent = send(
            &ctx.shared,
            &topic,
            meta.key.as_deref(),
            body,
            &headers,
            None,
        )
        .await;
        match sent {
            Ok(receipt) => {
                state.dead_lettered.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    resource = state.resource,
                    input = state.input,
                    topic = &*meta.topic,
                    partition = meta.partition,
                    offset = meta.offset,
                    dead_letter_topic = &*topic,
                    dead_letter_offset = receipt.offset,
                    "kafka: message dead-lettered ({reason}): {error}"
                );
                return Outcome::Done;
            }
            Err(send_error) => {
                tracing::error!(
                    resource = state.resource,
                    input = state.input,
                    dead_letter_topic = &*topic,
                    "kafka: cannot dead-letter the message at {}/{}/{}: {}",
                    meta.topic,
                    meta.partition,
                    meta.offset,
                    error_chain(&send_error)
                );
                let Some(halt) = halt.as_mut() else {
                    return Outcome::Halted;
                };
                tokio::select! {
                    biased;
                    () = halted(halt) => return Outcome::Halted,
                    () = backoff.wait() => {}
                }
            }
        }
    }
}

async fn run_stream<T: Send + 'static>(
    run: Run,
    codec: BoundCodec<T>,
    sender: mpsc::Sender<Delivery<T>>,
) {
    let ctx = Arc::clone(&run.ctx);
    let state = &ctx.state;
    let mut halt = ctx.halt.clone();
    let mut topics = Topics::default();
    while let Some(received) = receive(&run.consumer, &mut halt).await {
        let raw = match received {
            Ok(message) => {
                use rdkafka::Message as _;
                Raw {
                    meta: Meta::of(&message, topics.get(message.topic())),
                    payload: message.payload().map(<[u8]>::to_vec),
                }
            }
            Err(error) if consumer_error(state, &error) => continue,
            Err(_) => break,
        };
        let meta = Arc::clone(&raw.meta);
        let ticket = state
            .tracker
            .delivered(&meta.topic, meta.partition, meta.offset);
        let value = match codec.decode(raw.body()) {
            Ok(value) => value,
            Err(error) => {
                let error = error_chain(&error);
                let outcome =
                    dead_letter(&ctx, &meta, raw.body(), "decode", error, 1, Some(&mut halt));
                match outcome.await {
                    Outcome::Done => state.tracker.ack(&ticket),
                    Outcome::Halted => {
                        state.tracker.abandon(&ticket);
                        break;
                    }
                }
                continue;
            }
        };
        let delivery = Delivery {
            message: Message {
                value,
                meta,
                attempt: 1,
            },
            ack: Ack {
                ctx: Arc::clone(&ctx),
                ticket: Some(ticket),
                raw: Some(raw),
            },
        };
        let sent = tokio::select! {
            biased;
            () = halted(&mut halt) => break,
            sent = sender.send(delivery) => sent,
        };
        if sent.is_err() {
            // The reader is gone: nobody will handle what comes next.
            tracing::info!(
                resource = state.resource,
                input = state.input,
                "kafka: the input's stream was dropped; the input stops"
            );
            break;
        }
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

/// A message from an input stream, to [`ack`](Delivery::ack) once handled or
/// [`reject`](Delivery::reject) to the dead-letter topic. Dropping it unacked leaves it
/// uncommitted: it (and everything after it in its partition) comes again after a restart or
/// a rebalance.
pub struct Delivery<T> {
    message: Message<T>,
    ack: Ack,
}

impl<T> Delivery<T> {
    /// The message.
    pub fn message(&self) -> &Message<T> {
        &self.message
    }

    /// Marks the message handled: it is committed once everything before it in its partition
    /// is.
    pub fn ack(self) {
        self.ack.ack();
    }

    /// Sends the message to the dead-letter topic with `error` in its headers, then acks it.
    /// If the dead-letter topic cannot be written, the message stays uncommitted.
    pub async fn reject(self, error: impl Into<BoxError>) -> Result<(), Error> {
        self.ack.reject(error).await
    }

    /// The message and its acknowledgement, to keep the value by value.
    pub fn into_parts(self) -> (Message<T>, Ack) {
        (self.message, self.ack)
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

/// The acknowledgement of one [`Delivery`].
pub struct Ack {
    ctx: Arc<InputCtx>,
    ticket: Option<Ticket>,
    raw: Option<Raw>,
}

impl Ack {
    /// Marks the message handled.
    pub fn ack(mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.ctx.state.handled.fetch_add(1, Ordering::Relaxed);
            self.ctx.state.tracker.ack(&ticket);
        }
    }

    /// Sends the message to the dead-letter topic with `error` in its headers, then acks it.
    pub async fn reject(mut self, error: impl Into<BoxError>) -> Result<(), Error> {
        let error: BoxError = error.into();
        let (Some(ticket), Some(raw)) = (self.ticket.take(), self.raw.take()) else {
            return Ok(());
        };
        let outcome = dead_letter(
            &self.ctx,
            &raw.meta,
            raw.body(),
            "handler",
            error_chain(&*error),
            1,
            None,
        );
        match outcome.await {
            Outcome::Done => {
                self.ctx.state.tracker.ack(&ticket);
                Ok(())
            }
            Outcome::Halted => {
                self.ctx.state.tracker.abandon(&ticket);
                Err(Error::Push {
                    topic: self
                        .ctx
                        .config
                        .dead_letter_topic(&self.ctx.spec, &raw.meta.topic),
                    source: "the dead-letter topic could not be written".into(),
                })
            }
        }
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.ctx.state.tracker.abandon(&ticket);
            if !self.ctx.halted() {
                tracing::warn!(
                    resource = self.ctx.state.resource,
                    input = self.ctx.state.input,
                    topic = &*ticket.topic,
                    partition = ticket.partition,
                    offset = ticket.offset,
                    "kafka: a delivery was dropped without ack; its partition commits no further"
                );
            }
        }
    }
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ack")
            .field("input", &self.ctx.state.input)
            .field("ticket", &self.ticket)
            .finish()
    }
}
