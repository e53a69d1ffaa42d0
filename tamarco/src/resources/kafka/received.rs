//! One Kafka record as the message engine settles it. Kafka has no per-message ack: a record
//! is *acked* in the input's [tracker](super::tracker) (on its own, while its consumer has not
//! moved on from it), and its offset is committed once it and everything before it in its
//! partition is done. *Requeued*, its partition is sought back to
//! it so that it (and what followed) is read again. *Dead-lettered*, it is pushed to the
//! dead-letter topic with the error in its headers, then acked.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tamarco_core::messaging::DeadLetter;
use tamarco_core::{BoxError, error_chain};

use super::headers::Headers;
use super::message::Meta;
use super::outgoing::send;
use super::session::Session;
use super::tracker::Finish;

/// The headers a dead-lettered record carries, besides its own (the first four are the
/// engine's, for every transport).
pub mod dead_letter_headers {
    pub use tamarco_core::messaging::dead_letter_headers::{ATTEMPTS, ERROR, INPUT, REASON};
    /// The topic it was read from.
    pub const TOPIC: &str = "tamarco.dead_letter.topic";
    /// The partition it was read from.
    pub const PARTITION: &str = "tamarco.dead_letter.partition";
    /// Its offset there.
    pub const OFFSET: &str = "tamarco.dead_letter.offset";
    /// The consumer group that gave up on it.
    pub const GROUP: &str = "tamarco.dead_letter.group";
}

/// A Kafka record as the message engine holds it: its body and metadata copied out of the
/// consumer (one allocation, which the next record reuses once this one is gone; the headers
/// are read when asked), with how it is settled and the session that settles it.
pub struct Received {
    meta: Arc<Meta>,
}

impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Received")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl Received {
    /// `meta` must come from a consumer ([`Meta::of`]): it carries its session.
    pub(crate) fn new(meta: Arc<Meta>) -> Self {
        debug_assert!(meta.session.is_some(), "a consumed record has its session");
        Received { meta }
    }

    fn session(&self) -> &Session {
        self.meta
            .session
            .as_deref()
            .expect("a consumed record carries its session")
    }

    /// Settles the record, if it was not settled yet (the engine settles once; a drop after it
    /// is no settling).
    fn settle(&self, how: Finish) {
        let meta = &self.meta;
        meta.settling
            .settle(&self.session().member.tracker, meta.offset, how);
    }

    /// Leaves the record uncommitted; unless the session is closing, seeks its partition
    /// back to it, so that it comes again to this consumer.
    fn give_back(&self) {
        let session = self.session();
        let meta = &self.meta;
        let held = meta.held();
        let Some(held) = held.filter(|_| !session.closing.load(Ordering::Acquire)) else {
            self.settle(Finish::Abandon);
            return;
        };
        // The seek comes before the rewind: a record the consumer polls after the rewind
        // comes after the seek.
        match held.seek(&meta.topic, meta.partition, meta.offset) {
            Ok(()) => self.settle(Finish::Rewind),
            Err(error) => {
                self.settle(Finish::Abandon);
                tracing::warn!(
                    resource = session.member.resource,
                    input = session.member.input,
                    topic = &*meta.topic,
                    partition = meta.partition,
                    offset = meta.offset,
                    "kafka: cannot seek back to a requeued record; it comes again after a \
                     rebalance or restart: {error}"
                );
            }
        }
    }
}

impl Drop for Received {
    /// A record dropped unsettled (its input was aborted) is left uncommitted.
    fn drop(&mut self) {
        if !self.meta.settling.is_settled() {
            self.settle(Finish::Abandon);
        }
    }
}

impl tamarco_core::messaging::Received for Received {
    type Meta = Meta;

    fn body(&self) -> &[u8] {
        &self.meta.body
    }

    fn meta(&self) -> Result<Arc<Meta>, BoxError> {
        Ok(Arc::clone(&self.meta))
    }

    /// Header values are bytes: those that are UTF-8 (trace context) read as text.
    fn header_text(&self, name: &str) -> Option<&str> {
        self.meta.headers().get_str(name)
    }

    async fn ack(&self) -> Result<(), BoxError> {
        self.settle(Finish::Ack);
        Ok(())
    }

    async fn requeue(&self) -> Result<(), BoxError> {
        if !self.meta.settling.is_settled() {
            self.give_back();
        }
        Ok(())
    }

    async fn dead_letter(&self, letter: &DeadLetter<'_>) -> Result<(), BoxError> {
        use dead_letter_headers as h;
        let session = self.session();
        let meta = &self.meta;
        let member = &session.member;
        let topic: Arc<str> = Arc::from(session.dead_letter.replace("{topic}", &meta.topic));
        let mut headers: Headers = meta.headers().clone();
        headers
            .insert(h::REASON, letter.reason.as_str())
            .insert(h::ERROR, letter.error)
            .insert(h::INPUT, letter.input)
            .insert(h::ATTEMPTS, letter.attempts.to_string())
            .insert(h::TOPIC, &*meta.topic)
            .insert(h::PARTITION, meta.partition.to_string())
            .insert(h::OFFSET, meta.offset.to_string())
            .insert(h::GROUP, member.group.as_str());
        let key = meta.key.as_deref();
        match send(&session.state, &topic, key, &meta.body, &headers, None).await {
            Ok(receipt) => {
                tracing::debug!(
                    resource = member.resource,
                    input = member.input,
                    dead_letter_topic = &*topic,
                    dead_letter_offset = receipt.offset,
                    "kafka: record at {}/{}/{} dead-lettered",
                    meta.topic,
                    meta.partition,
                    meta.offset
                );
                self.settle(Finish::Ack);
                Ok(())
            }
            Err(error) => Err(format!(
                "cannot push the record at {}/{}/{} to `{topic}`: {}",
                meta.topic,
                meta.partition,
                meta.offset,
                error_chain(&error)
            )
            .into()),
        }
    }
}
