//! The in-memory broker as a [`Transport`](crate::messaging::Transport): consumers take from
//! its queues, settlements are recorded as [`Outcome`]s, a requeue delivers again with the
//! count raised.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use super::{Envelope, MemoryBroker, Outcome, Pending, Queue};
use crate::BoxError;
use crate::messaging::spec::InputInfo;
use crate::messaging::transport::{Consumer, DeadLetter, Received, Reply, Transport};

/// The in-memory broker as a [`Transport`] whose metadata is `M`.
pub struct MemoryTransport<M> {
    pub(super) broker: MemoryBroker,
    pub(super) meta: Arc<dyn Fn(&Envelope) -> M + Send + Sync>,
}

impl<M> fmt::Debug for MemoryTransport<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTransport")
            .field("broker", &self.broker)
            .finish_non_exhaustive()
    }
}

impl<M> MemoryTransport<M> {
    /// The broker under it.
    pub fn broker(&self) -> &MemoryBroker {
        &self.broker
    }
}

impl<M: Send + Sync + 'static> Transport for MemoryTransport<M> {
    type Meta = M;
    type Received = MemoryReceived<M>;
    type Consumer = MemoryConsumer<M>;

    async fn open(&self, input: &InputInfo) -> Result<MemoryConsumer<M>, BoxError> {
        let queue = self.broker.state.queue(input.name());
        queue.consumers.fetch_add(1, Ordering::AcqRel);
        Ok(MemoryConsumer {
            queue,
            broker: self.broker.clone(),
            meta: Arc::clone(&self.meta),
        })
    }
}

/// A consumer of one queue of the in-memory broker.
pub struct MemoryConsumer<M> {
    queue: Arc<Queue>,
    broker: MemoryBroker,
    meta: Arc<dyn Fn(&Envelope) -> M + Send + Sync>,
}

impl<M> Drop for MemoryConsumer<M> {
    fn drop(&mut self) {
        self.queue.consumers.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<M> fmt::Debug for MemoryConsumer<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryConsumer").finish_non_exhaustive()
    }
}

impl<M: Send + Sync + 'static> Consumer for MemoryConsumer<M> {
    type Received = MemoryReceived<M>;

    async fn next(&mut self) -> Option<Result<MemoryReceived<M>, BoxError>> {
        loop {
            let arrived = self.queue.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let pending = self.queue.messages.lock().expect("queue lock").pop_front();
            if let Some(pending) = pending {
                // Another consumer of the queue may be waiting too.
                if !self.queue.messages.lock().expect("queue lock").is_empty() {
                    self.queue.arrived.notify_one();
                }
                return Some(Ok(MemoryReceived {
                    pending,
                    queue: Arc::clone(&self.queue),
                    broker: self.broker.clone(),
                    make_meta: Arc::clone(&self.meta),
                    meta: OnceLock::new(),
                }));
            }
            arrived.await;
        }
    }
}

/// A message taken from the in-memory broker.
pub struct MemoryReceived<M> {
    pending: Pending,
    queue: Arc<Queue>,
    broker: MemoryBroker,
    make_meta: Arc<dyn Fn(&Envelope) -> M + Send + Sync>,
    meta: OnceLock<Arc<M>>,
}

impl<M> MemoryReceived<M> {
    /// The message as it was sent.
    pub fn envelope(&self) -> &Envelope {
        &self.pending.envelope
    }
}

impl<M> fmt::Debug for MemoryReceived<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReceived")
            .field("name", &self.pending.envelope.name)
            .field("deliveries", &self.pending.deliveries)
            .finish_non_exhaustive()
    }
}

impl<M: Send + Sync + 'static> Received for MemoryReceived<M> {
    type Meta = M;

    fn body(&self) -> &[u8] {
        &self.pending.envelope.body
    }

    fn meta(&self) -> Result<Arc<M>, BoxError> {
        let meta = self
            .meta
            .get_or_init(|| Arc::new((self.make_meta)(&self.pending.envelope)));
        Ok(Arc::clone(meta))
    }

    fn deliveries(&self) -> Option<u32> {
        Some(self.pending.deliveries)
    }

    async fn ack(&self) -> Result<(), BoxError> {
        self.broker.state.settle(self.pending.id, Outcome::Acked);
        Ok(())
    }

    async fn requeue(&self) -> Result<(), BoxError> {
        let again = Pending {
            id: self.pending.id,
            envelope: Arc::clone(&self.pending.envelope),
            deliveries: self.pending.deliveries + 1,
        };
        self.queue.push(again, true);
        Ok(())
    }

    async fn dead_letter(&self, letter: &DeadLetter<'_>) -> Result<(), BoxError> {
        let outcome = Outcome::DeadLettered {
            reason: letter.reason,
            error: letter.error.to_owned(),
            attempts: letter.attempts,
        };
        self.broker.state.settle(self.pending.id, outcome);
        Ok(())
    }

    async fn reply(&self, reply: Reply<'_>) -> Result<(), BoxError> {
        let outcome = match reply {
            Reply::Body { body, .. } => Outcome::Replied(body.to_vec()),
            Reply::Error(error) => Outcome::ReplyError(error.to_owned()),
        };
        self.broker.state.settle(self.pending.id, outcome);
        Ok(())
    }
}
