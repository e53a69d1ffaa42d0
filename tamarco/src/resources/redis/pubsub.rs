//! Redis publish/subscribe as a transport of the message engine: each `subscribe` input holds
//! a subscriber connection of its own on its channel. Pub/sub delivers at most once (a message
//! published while no subscriber listens is gone), so there is nothing to ack or requeue; a
//! message the handler keeps failing on, or that cannot be decoded, is pushed as a JSON
//! document onto the list `<channel>.dead_letter` (or the input's `dead_letter` option).

use std::sync::Arc;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, PubSubStream};
use serde_json::json;
use tamarco_core::BoxError;
use tamarco_core::messaging::{Consumer, DeadLetter, InputInfo, Received, Transport};

/// What a handler sees beside the value: the channel it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubSubMeta {
    pub(super) channel: String,
}

impl PubSubMeta {
    /// The channel the message was published on.
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

/// The engine transport of [`Redis`](super::Redis)'s `subscribe` inputs: opens a subscriber
/// connection per input.
pub struct PubSubTransport {
    pub(crate) client: redis::Client,
    /// For dead letters.
    pub(crate) manager: ConnectionManager,
}

impl std::fmt::Debug for PubSubTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubTransport").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PubSubConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubConsumer")
            .field("dead_letter", &self.dead_letter)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PubSubReceived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubSubReceived")
            .field("channel", &self.meta.channel)
            .field("bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Transport for PubSubTransport {
    type Meta = PubSubMeta;
    type Received = PubSubReceived;
    type Consumer = PubSubConsumer;

    async fn open(&self, input: &InputInfo) -> Result<PubSubConsumer, BoxError> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(input.name()).await?;
        let dead_letter = input
            .options()
            .dead_letter
            .clone()
            .unwrap_or_else(|| format!("{}.dead_letter", input.name()));
        Ok(PubSubConsumer {
            stream: pubsub.into_on_message(),
            manager: self.manager.clone(),
            dead_letter: Arc::from(dead_letter),
        })
    }
}

/// One input's subscription.
pub struct PubSubConsumer {
    stream: PubSubStream,
    manager: ConnectionManager,
    dead_letter: Arc<str>,
}

impl Consumer for PubSubConsumer {
    type Received = PubSubReceived;

    async fn next(&mut self) -> Option<Result<PubSubReceived, BoxError>> {
        // The stream ends when the subscriber connection drops: the engine subscribes again.
        let message = self.stream.next().await?;
        Some(Ok(PubSubReceived {
            body: message.get_payload_bytes().to_vec(),
            meta: Arc::new(PubSubMeta {
                channel: message.get_channel_name().to_owned(),
            }),
            manager: self.manager.clone(),
            dead_letter: Arc::clone(&self.dead_letter),
        }))
    }
}

/// One published message.
pub struct PubSubReceived {
    body: Vec<u8>,
    meta: Arc<PubSubMeta>,
    manager: ConnectionManager,
    dead_letter: Arc<str>,
}

impl Received for PubSubReceived {
    type Meta = PubSubMeta;

    fn body(&self) -> &[u8] {
        &self.body
    }

    fn meta(&self) -> Result<Arc<PubSubMeta>, BoxError> {
        Ok(Arc::clone(&self.meta))
    }

    async fn ack(&self) -> Result<(), BoxError> {
        Ok(())
    }

    async fn requeue(&self) -> Result<(), BoxError> {
        // Pub/sub has no queue to go back to.
        Ok(())
    }

    async fn dead_letter(&self, letter: &DeadLetter<'_>) -> Result<(), BoxError> {
        let document = json!({
            "reason": letter.reason.as_str(),
            "error": letter.error,
            "input": letter.input,
            "attempts": letter.attempts,
            "channel": self.meta.channel,
            "body": String::from_utf8_lossy(&self.body),
        });
        let mut manager = self.manager.clone();
        redis::cmd("RPUSH")
            .arg(&*self.dead_letter)
            .arg(document.to_string())
            .query_async::<()>(&mut manager)
            .await?;
        Ok(())
    }
}
