//! Inputs read as streams: [`InputStream`] yields [`Delivery`]s that the reader settles itself
//! ([`ack`](Delivery::ack), [`reject`](Delivery::reject), [`requeue`](Delivery::requeue));
//! one dropped unsettled is requeued.

use std::fmt;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use super::dispatch::{self, Dispatch, Flow, Run, raised};
use super::message::Message;
use super::stats::Count;
use super::transport::{DeadReason, Received};
use crate::codec::BoundCodec;
use crate::{BoxError, error_chain};

/// A settling of a stream delivery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettleError {
    /// The ack did not reach the broker; it delivers the message again.
    #[error(
        "cannot ack a message from input `{input}`: its session ended; the broker delivers it again"
    )]
    Ack {
        /// The input.
        input: String,
    },
    /// The dead-letter target refused it; the message was requeued.
    #[error("cannot dead-letter a message from input `{input}`; it was requeued")]
    DeadLetter {
        /// The input.
        input: String,
    },
}

/// The settling of one message; dropped unsettled, it requeues the message.
struct AckHandle<R: Received> {
    received: Option<R>,
    run: Arc<Run>,
}

impl<R: Received> Drop for AckHandle<R> {
    fn drop(&mut self) {
        let Some(received) = self.received.take() else {
            return;
        };
        let run = Arc::clone(&self.run);
        run.stats.add(Count::Requeued);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = received.requeue().await;
            });
        }
    }
}

/// A message read from an [`InputStream`]: [`ack`](Delivery::ack) it once handled,
/// [`reject`](Delivery::reject) it to the dead-letter target, or
/// [`requeue`](Delivery::requeue) it. Dropping it unsettled requeues it.
pub struct Delivery<T, R: Received> {
    message: Message<T, R::Meta>,
    ack: AckHandle<R>,
}

impl<T, R: Received> Delivery<T, R> {
    /// The message.
    pub fn message(&self) -> &Message<T, R::Meta> {
        &self.message
    }

    /// Acks the message: the broker forgets it.
    pub async fn ack(mut self) -> Result<(), SettleError> {
        let Some(received) = self.ack.received.take() else {
            return Ok(());
        };
        if dispatch::acked(&self.ack.run, &received).await == Flow::Handled {
            self.ack.run.stats.add(Count::Handled);
            Ok(())
        } else {
            Err(SettleError::Ack {
                input: self.ack.run.info.name().to_owned(),
            })
        }
    }

    /// Sends the message to the dead-letter target with `error` in its headers, then acks it.
    /// If the target refuses it, the message is requeued and this fails.
    pub async fn reject(mut self, error: impl Into<BoxError>) -> Result<(), SettleError> {
        let Some(received) = self.ack.received.take() else {
            return Ok(());
        };
        let error = error_chain(&*error.into());
        let run = &self.ack.run;
        if dispatch::give_up(run, &received, DeadReason::Handler, &error, 1).await {
            Ok(())
        } else {
            Err(SettleError::DeadLetter {
                input: run.info.name().to_owned(),
            })
        }
    }

    /// Gives the message back to the broker, for this or another consumer.
    pub async fn requeue(mut self) {
        if let Some(received) = self.ack.received.take() {
            dispatch::requeue(&self.ack.run, &received).await;
        }
    }
}

impl<T, R: Received> Deref for Delivery<T, R> {
    type Target = Message<T, R::Meta>;

    fn deref(&self) -> &Self::Target {
        &self.message
    }
}

impl<T: fmt::Debug, R: Received> fmt::Debug for Delivery<T, R>
where
    R::Meta: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.message, f)
    }
}

/// The messages of an input read as a stream, with [`next`](InputStream::next) or as a
/// [`Stream`](futures_util::Stream). It ends when the input stops (the service begins to stop),
/// after the deliveries already buffered.
pub struct InputStream<T, R: Received> {
    receiver: mpsc::Receiver<Delivery<T, R>>,
    name: String,
}

impl<T, R: Received> InputStream<T, R> {
    pub(crate) fn new(receiver: mpsc::Receiver<Delivery<T, R>>, name: String) -> Self {
        InputStream { receiver, name }
    }

    /// The next delivery, or `None` once the input stopped.
    pub async fn next(&mut self) -> Option<Delivery<T, R>> {
        self.receiver.recv().await
    }

    /// The input's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<T, R: Received> futures_util::Stream for InputStream<T, R> {
    type Item = Delivery<T, R>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}

impl<T, R: Received> fmt::Debug for InputStream<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InputStream")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Hands decoded messages to a stream's reader.
pub(crate) struct Stream<T: 'static, R: Received> {
    pub(crate) codec: BoundCodec<T>,
    pub(crate) sender: mpsc::Sender<Delivery<T, R>>,
}

impl<T: Send + 'static, R: Received> Dispatch<R> for Stream<T, R> {
    const MODE: &'static str = "stream";

    async fn dispatch(&self, run: &Arc<Run>, received: R) -> Flow {
        let (meta, value) = match dispatch::decode(&received, &self.codec) {
            Ok(decoded) => decoded,
            Err((reason, error)) => {
                run.stats.add(Count::Failed);
                dispatch::give_up(run, &received, reason, &error, 1).await;
                return Flow::Continue;
            }
        };
        let delivery = Delivery {
            message: Message::new(value, meta, run.info.name, 1),
            ack: AckHandle {
                received: Some(received),
                run: Arc::clone(run),
            },
        };
        // An item that cannot be handed over (the reader is gone, or the input halts
        // meanwhile) is dropped, which requeues it.
        let mut halt = run.halt.clone();
        tokio::select! {
            sent = self.sender.send(delivery) => match sent {
                Ok(()) => Flow::Continue,
                Err(_) => Flow::ReaderGone,
            },
            () = raised(&mut halt) => Flow::Continue,
        }
    }
}
