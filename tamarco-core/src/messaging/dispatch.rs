//! One message, from received to settled: metadata and decode under a panic guard, the handler
//! under a panic guard with retries and backoff, then ack, reply, dead letter or requeue.
//!
//! Everything here is generic over the transport, codec and handler, so a handled message's
//! path has no boxed future and no allocation of its own. A failing message's retries and
//! settling run in boxed futures: kept out of line, they leave every message's future small
//! and its code compact.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::watch;

use super::kind::{Kind, Request};
use super::message::Message;
use super::spec::InputInfo;
use super::stats::{Count, InputStats};
use super::transport::{DeadLetter, DeadReason, Received, Reply};
use crate::backoff::Backoff;
use crate::codec::BoundCodec;
use crate::{BoxError, error_chain};

/// The longest wait between two handler retries.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);
/// How many times a dead letter that cannot be written is tried before the message is
/// requeued (with the waits below, about 6 s holding it).
const DEAD_LETTER_ATTEMPTS: u32 = 6;
const DEAD_LETTER_BACKOFF: Duration = Duration::from_millis(200);
const DEAD_LETTER_MAX_BACKOFF: Duration = Duration::from_secs(3);

/// Whether an input goes on after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// The handler succeeded and the message was acked: the worker counts it as handled.
    Handled,
    /// Otherwise settled (counted where it was), or handed to a stream's reader.
    Continue,
    /// A stream's reader is gone: stop consuming.
    ReaderGone,
}

/// What a running input knows, shared by its workers and by the deliveries of its stream.
pub(crate) struct Run {
    pub(crate) resource: Arc<str>,
    pub(crate) info: InputInfo,
    pub(crate) stats: Arc<InputStats>,
    pub(crate) halt: watch::Receiver<bool>,
}

impl Run {
    pub(crate) fn halted(&self) -> bool {
        *self.halt.borrow()
    }
}

/// Turns received messages into handler calls or stream items.
pub(crate) trait Dispatch<R: Received>: Send + Sync + 'static {
    /// `handler` or `stream`.
    const MODE: &'static str;

    /// Handles `received` to the end: settled, or handed to a stream's reader.
    fn dispatch(&self, run: &Arc<Run>, received: R) -> impl Future<Output = Flow> + Send;
}

/// Resolves once `halt` is raised (or its sender is gone).
pub(crate) async fn raised(halt: &mut watch::Receiver<bool>) {
    let _ = halt.wait_for(|h| *h).await;
}

/// A message's metadata and decoded value.
pub(crate) type Decoded<M, T> = (Arc<M>, T);

/// Reads the metadata and decodes the body, both under a panic guard: a panicking codec,
/// `Deserialize` or header accessor dead-letters the message instead of killing the input.
pub(crate) fn decode<R: Received, T>(
    received: &R,
    codec: &BoundCodec<T>,
) -> Result<Decoded<R::Meta, T>, (DeadReason, String)> {
    let meta = match catch_unwind(AssertUnwindSafe(|| received.meta())) {
        Ok(Ok(meta)) => meta,
        Ok(Err(error)) => return Err((DeadReason::Headers, error_chain(&*error))),
        Err(panic) => {
            return Err((
                DeadReason::Headers,
                panicked("reading the metadata", &*panic),
            ));
        }
    };
    // The codec itself, without `BoundCodec::decode`'s error wrapping: a layer (and a larger
    // result to move) for every message that decodes.
    match catch_unwind(AssertUnwindSafe(|| codec.codec().decode(received.body()))) {
        Ok(Ok(value)) => Ok((meta, value)),
        Ok(Err(source)) => Err((DeadReason::Decode, error_chain(&codec.decode_error(source)))),
        Err(panic) => Err((DeadReason::Decode, panicked("the codec", &*panic))),
    }
}

/// "<who> panicked: <message>".
pub(crate) fn panicked(who: &str, panic: &(dyn Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload");
    format!("{who} panicked: {text}")
}

/// Polls `future` under a panic guard: its output, or the panic of this poll.
fn poll_guarded<F: Future>(
    future: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, Box<dyn Any + Send>>> {
    match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
        Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(panic) => Poll::Ready(Err(panic)),
    }
}

/// A handler as the attempts call it: a message in, a future of its output or an error out.
/// Named once here rather than spelled out as bounds on each function.
trait HandlerFn<R: Received, T, O> {
    /// What a call returns.
    type Future: Future<Output = Result<O, Self::Error>>;
    /// The handler's error.
    type Error: Into<BoxError>;

    /// Calls the handler with `message`.
    fn call(&self, message: Message<T, R::Meta>) -> Self::Future;
}

impl<R, T, O, F, Fut, E> HandlerFn<R, T, O> for F
where
    R: Received,
    F: Fn(Message<T, R::Meta>) -> Fut,
    Fut: Future<Output = Result<O, E>>,
    E: Into<BoxError>,
{
    type Future = Fut;
    type Error = E;

    fn call(&self, message: Message<T, R::Meta>) -> Fut {
        self(message)
    }
}

/// How the attempts at handling a message ended, when they did not succeed.
enum Failure {
    Dead(DeadReason, String, u32),
    /// The input halts while the message waits for a retry: it goes back to the broker.
    Requeue,
}

/// Decodes and runs the handler until it succeeds or gives up (retries with backoff). The
/// first attempt runs here; the retries, which most messages never need, run in a future of
/// their own on the heap, so that every message's future stays small.
async fn attempts<R: Received, T, O, F: HandlerFn<R, T, O>>(
    run: &Run,
    received: &R,
    codec: &BoundCodec<T>,
    handler: &F,
) -> Result<O, Failure> {
    let limit = run.info.options.max_deliveries;
    if let (Some(limit), Some(count)) = (limit, received.deliveries())
        && count > limit
    {
        let error = format!("delivered {count} times, more than max_deliveries ({limit})");
        return Err(Failure::Dead(DeadReason::DeliveryLimit, error, 0));
    }
    match attempt(run, received, codec, handler, 1).await {
        Attempt::Done(out) => Ok(out),
        Attempt::Dead(reason, error) => Err(Failure::Dead(reason, error, 1)),
        Attempt::Failed(error) => Box::pin(retry(run, received, codec, handler, error)).await,
    }
}

/// How one attempt at handling a message ended.
enum Attempt<O> {
    Done(O),
    /// The message cannot be handled (its metadata or body does not decode): no retry.
    Dead(DeadReason, String),
    /// The handler failed or panicked, with this error.
    Failed(String),
}

/// Decodes the message and runs the handler once (attempt `number`), both under panic guards.
async fn attempt<R: Received, T, O, F: HandlerFn<R, T, O>>(
    run: &Run,
    received: &R,
    codec: &BoundCodec<T>,
    handler: &F,
    number: u32,
) -> Attempt<O> {
    let (meta, value) = match decode(received, codec) {
        Ok(decoded) => decoded,
        Err((reason, error)) => {
            run.stats.add(Count::Failed);
            return Attempt::Dead(reason, error);
        }
    };
    let message = Message::new(value, meta, run.info.name, number);
    // The handler's future is made where it is polled: returned through `catch_unwind`, then
    // pinned, it was copied twice on the way (its whole state, per message).
    let mut future = pin!(None);
    let error = match catch_unwind(AssertUnwindSafe(|| {
        future.set(Some(handler.call(message)));
    })) {
        Ok(()) => {
            let mut future = future.as_mut().as_pin_mut().expect("made above");
            match poll_fn(|cx| poll_guarded(future.as_mut(), cx)).await {
                Ok(Ok(out)) => return Attempt::Done(out),
                Ok(Err(error)) => error_chain(&*error.into()),
                Err(panic) => panicked("the handler", &*panic),
            }
        }
        Err(panic) => panicked("the handler", &*panic),
    };
    run.stats.add(Count::Failed);
    Attempt::Failed(error)
}

/// The attempts after a failed first one (whose error is `error`), each after a backoff,
/// until one succeeds, the retries run out or the input halts.
async fn retry<R: Received, T, O, F: HandlerFn<R, T, O>>(
    run: &Run,
    received: &R,
    codec: &BoundCodec<T>,
    handler: &F,
    mut error: String,
) -> Result<O, Failure> {
    let retries = run.info.retries();
    let mut backoff = Backoff::new(run.info.retry_backoff(), MAX_RETRY_BACKOFF);
    let mut number = 1;
    loop {
        if number > retries {
            return Err(Failure::Dead(DeadReason::Handler, error, number));
        }
        if run.halted() {
            return Err(Failure::Requeue);
        }
        let wait = backoff.next_delay();
        tracing::warn!(
            resource = &*run.resource,
            input = run.info.name(),
            attempt = number,
            "the handler failed; retrying in {wait:?}: {error}"
        );
        run.stats.add(Count::Retried);
        let mut halt = run.halt.clone();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = raised(&mut halt) => return Err(Failure::Requeue),
        }
        number += 1;
        error = match attempt(run, received, codec, handler, number).await {
            Attempt::Done(out) => return Ok(out),
            Attempt::Dead(reason, error) => return Err(Failure::Dead(reason, error, number)),
            Attempt::Failed(error) => error,
        };
    }
}

/// Acks a handled message: [`Flow::Handled`] when the ack went through (the caller counts it
/// as handled), [`Flow::Continue`] when it was lost (the broker delivers the message again).
pub(crate) async fn acked<R: Received>(run: &Run, received: &R) -> Flow {
    match received.ack().await {
        Ok(()) => Flow::Handled,
        Err(error) => {
            ack_lost(run, error);
            Flow::Continue
        }
    }
}

#[cold]
fn ack_lost(run: &Run, error: BoxError) {
    tracing::debug!(
        resource = &*run.resource,
        input = run.info.name(),
        "the ack was lost; the broker delivers the message again: {}",
        error_chain(&*error)
    );
}

/// Gives a message back to the broker.
pub(crate) async fn requeue<R: Received>(run: &Run, received: &R) {
    run.stats.add(Count::Requeued);
    if let Err(error) = received.requeue().await {
        tracing::debug!(
            resource = &*run.resource,
            input = run.info.name(),
            "cannot requeue a message (the broker delivers it again once its session ends): {}",
            error_chain(&*error)
        );
    }
}

/// Dead-letters a message. A dead-letter target that refuses is tried again with a backoff
/// (never at once, never for ever); then the message is requeued. Returns whether it was
/// dead-lettered.
pub(crate) async fn dead_letter<R: Received>(
    run: &Run,
    received: &R,
    reason: DeadReason,
    error: &str,
    attempts: u32,
) -> bool {
    let letter = DeadLetter {
        reason,
        error,
        input: run.info.name(),
        attempts,
    };
    let mut backoff = Backoff::new(DEAD_LETTER_BACKOFF, DEAD_LETTER_MAX_BACKOFF);
    let mut halt = run.halt.clone();
    for attempt in 1..=DEAD_LETTER_ATTEMPTS {
        match received.dead_letter(&letter).await {
            Ok(()) => {
                run.stats.add(Count::DeadLettered);
                tracing::warn!(
                    resource = &*run.resource,
                    input = run.info.name(),
                    %reason,
                    attempts,
                    "message dead-lettered: {error}"
                );
                return true;
            }
            Err(send_error) => {
                let last = attempt == DEAD_LETTER_ATTEMPTS || run.halted();
                tracing::error!(
                    resource = &*run.resource,
                    input = run.info.name(),
                    attempt,
                    "cannot dead-letter a message{}: {}; it failed with: {error}",
                    if last {
                        ", so it is requeued"
                    } else {
                        "; trying again"
                    },
                    error_chain(&*send_error)
                );
                if last {
                    break;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                    () = raised(&mut halt) => break,
                }
            }
        }
    }
    requeue(run, received).await;
    false
}

/// Dead-letters a message for good; a request is also answered with the error, so that the
/// requester fails at once instead of waiting for its timeout.
pub(crate) async fn give_up<R: Received>(
    run: &Run,
    received: &R,
    reason: DeadReason,
    error: &str,
    attempts: u32,
) -> bool {
    let dead = dead_letter(run, received, reason, error, attempts).await;
    if dead && run.info.kind() == <Request as Kind>::NAME {
        let _ = received.reply(Reply::Error(error)).await;
    }
    dead
}

/// Settles a message whose attempts failed: dead-lettered for good, or requeued. Boxed where
/// it is awaited, so that every message's future does not make room for it.
async fn settle_failure<R: Received>(run: &Run, received: &R, failure: Failure) -> Flow {
    match failure {
        Failure::Dead(reason, error, n) => {
            give_up(run, received, reason, &error, n).await;
        }
        Failure::Requeue => requeue(run, received).await,
    }
    Flow::Continue
}

/// Runs a handler that returns nothing to send back.
pub(crate) struct Handle<T: 'static, F> {
    pub(crate) codec: BoundCodec<T>,
    pub(crate) handler: F,
}

impl<R, T, F, Fut, E> Dispatch<R> for Handle<T, F>
where
    R: Received,
    T: Send + 'static,
    F: Fn(Message<T, R::Meta>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Into<BoxError>,
{
    const MODE: &'static str = "handler";

    async fn dispatch(&self, run: &Arc<Run>, received: R) -> Flow {
        match attempts(run, &received, &self.codec, &self.handler).await {
            Ok(()) => acked(run, &received).await,
            Err(failure) => Box::pin(settle_failure(run, &received, failure)).await,
        }
    }
}

/// Runs a handler whose result is the reply to a request.
pub(crate) struct Respond<Q: 'static, P: 'static, F> {
    pub(crate) codec: BoundCodec<Q>,
    pub(crate) reply_codec: BoundCodec<P>,
    pub(crate) handler: F,
}

impl<R, Q, P, F, Fut, E> Dispatch<R> for Respond<Q, P, F>
where
    R: Received,
    Q: Send + 'static,
    P: Send + 'static,
    F: Fn(Message<Q, R::Meta>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<P, E>> + Send,
    E: Into<BoxError>,
{
    const MODE: &'static str = "handler";

    async fn dispatch(&self, run: &Arc<Run>, received: R) -> Flow {
        let failure = match attempts(run, &received, &self.codec, &self.handler).await {
            Ok(reply) => {
                let sent = match self.reply_codec.encode(&reply) {
                    Ok(body) => {
                        let reply = Reply::Body {
                            body: &body,
                            content_type: self.reply_codec.content_type(),
                        };
                        received.reply(reply).await.map_err(|e| error_chain(&*e))
                    }
                    Err(error) => Err(error_chain(&error)),
                };
                match sent {
                    Ok(()) => return acked(run, &received).await,
                    Err(error) => {
                        let error = format!("cannot send the reply: {error}");
                        Failure::Dead(DeadReason::Handler, error, 1)
                    }
                }
            }
            Err(failure) => failure,
        };
        Box::pin(settle_failure(run, &received, failure)).await
    }
}
