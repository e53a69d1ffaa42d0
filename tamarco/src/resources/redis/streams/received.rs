//! [`StreamReceived`]: one entry, settled by `XACK`, or by `XADD` to the dead-letter stream
//! and `XACK` in one transaction (a requeued entry simply stays pending); [`StreamMeta`]: what
//! its handler sees of it.

use std::sync::Arc;

use redis::aio::ConnectionManager;
use tamarco_core::BoxError;
use tamarco_core::messaging::{DeadLetter, Received};

/// What a handler sees beside the value: where the entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMeta {
    stream: Arc<str>,
    id: String,
    deliveries: Option<u32>,
}

impl StreamMeta {
    /// The stream's key.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// The entry's id (`1700000000000-0`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How many times the group delivered the entry (1 unless it was claimed from a consumer
    /// that did not ack it), when known.
    pub fn deliveries(&self) -> Option<u32> {
        self.deliveries
    }
}

impl StreamMeta {
    pub(crate) fn new(stream: Arc<str>, id: String, deliveries: Option<u32>) -> Self {
        StreamMeta {
            stream,
            id,
            deliveries,
        }
    }
}

/// What each received entry needs to settle itself.
pub(super) struct Settle {
    pub(super) manager: ConnectionManager,
    pub(super) stream: Arc<str>,
    pub(super) group: Arc<str>,
    pub(super) dead_letter: Arc<str>,
}

/// One stream entry.
pub struct StreamReceived {
    pub(super) id: String,
    pub(super) body: Vec<u8>,
    pub(super) meta: Result<Arc<StreamMeta>, String>,
    pub(super) deliveries: Option<u32>,
    pub(super) settle: Arc<Settle>,
}

impl std::fmt::Debug for StreamReceived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReceived")
            .field("stream", &self.settle.stream)
            .field("id", &self.id)
            .field("bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Received for StreamReceived {
    type Meta = StreamMeta;

    fn body(&self) -> &[u8] {
        &self.body
    }

    fn meta(&self) -> Result<Arc<StreamMeta>, BoxError> {
        self.meta.clone().map_err(BoxError::from)
    }

    fn deliveries(&self) -> Option<u32> {
        self.deliveries
    }

    async fn ack(&self) -> Result<(), BoxError> {
        let settle = &self.settle;
        let mut manager = settle.manager.clone();
        redis::cmd("XACK")
            .arg(&*settle.stream)
            .arg(&*settle.group)
            .arg(&self.id)
            .query_async::<()>(&mut manager)
            .await?;
        Ok(())
    }

    async fn requeue(&self) -> Result<(), BoxError> {
        // The entry stays pending: a live consumer of the group claims it after `claim_idle`
        // (this one too), or this consumer reads it again when it reconnects.
        Ok(())
    }

    async fn dead_letter(&self, letter: &DeadLetter<'_>) -> Result<(), BoxError> {
        let settle = &self.settle;
        let mut manager = settle.manager.clone();
        redis::pipe()
            .atomic()
            .cmd("XADD")
            .arg(&*settle.dead_letter)
            .arg("*")
            .arg("body")
            .arg(&self.body)
            .arg("reason")
            .arg(letter.reason.as_str())
            .arg("error")
            .arg(letter.error)
            .arg("input")
            .arg(letter.input)
            .arg("attempts")
            .arg(letter.attempts)
            .arg("stream")
            .arg(&*settle.stream)
            .arg("id")
            .arg(&self.id)
            .ignore()
            .cmd("XACK")
            .arg(&*settle.stream)
            .arg(&*settle.group)
            .arg(&self.id)
            .ignore()
            .query_async::<()>(&mut manager)
            .await?;
        Ok(())
    }
}
