//! What a handler sees: [`Message`], the decoded value, dereferencing to [`Meta`]: key,
//! headers, partition, offset and timestamp.

use std::fmt;
use std::sync::{Arc, OnceLock, Weak};

use rdkafka::message::BorrowedMessage;

use super::headers::Headers;
use super::held::HeldStream;
use super::session::Session;
use super::tracker::Settling;

/// A message received by an input: the decoded value, which attempt this is, and (through
/// `Deref` to [`Meta`]) its key, headers, topic, partition, offset and timestamp.
pub type Message<T> = tamarco_core::messaging::Message<T, Meta>;

/// Where a record came from, and its key and headers; shared by every attempt at it. A
/// [`Message`] dereferences to it: `message.partition()`.
pub struct Meta {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) timestamp: Option<i64>,
    pub(crate) key: Option<Vec<u8>>,
    /// Read on first use (see [`held`](super::held)).
    headers: OnceLock<Headers>,
    /// The consumer's held records, where unread headers are read from.
    held: Weak<HeldStream>,
    /// The sequence number the consumer took the record under, which names it there.
    pub(crate) seq: u64,
    /// The record's value, for the codec (and a dead letter); handlers see it decoded.
    pub(crate) body: Vec<u8>,
    /// How the record is settled, shared by its consumer and the engine's copy of it.
    pub(crate) settling: Settling,
    /// The consuming session it came from, which settles it: kept here, set once per copy
    /// (which later records reuse), rather than cloned into every record received. `None` only
    /// for the in-memory broker's metadata, which is never settled through a session.
    pub(crate) session: Option<Arc<Session>>,
}

impl Meta {
    /// Metadata made by hand (the in-memory broker's), headers included.
    pub(crate) fn new(topic: Arc<str>, key: Option<Vec<u8>>, headers: Headers) -> Meta {
        Meta {
            topic,
            partition: 0,
            offset: 0,
            timestamp: None,
            key,
            headers: OnceLock::from(headers),
            held: Weak::new(),
            seq: 0,
            body: Vec::new(),
            settling: Settling::default(),
            session: None,
        }
    }

    /// Copies a record of `session` out of the consumer's buffers but for its headers, which
    /// are read from `held` when asked (`topic` is the interned topic name).
    pub(crate) fn of(
        message: &BorrowedMessage<'_>,
        topic: Arc<str>,
        held: Weak<HeldStream>,
        session: &Arc<Session>,
    ) -> Meta {
        let mut meta = Meta {
            topic,
            partition: 0,
            offset: 0,
            timestamp: None,
            key: None,
            headers: OnceLock::new(),
            held,
            seq: 0,
            body: Vec::new(),
            settling: Settling::default(),
            session: Some(Arc::clone(session)),
        };
        meta.refill(message, None);
        meta
    }

    /// Copies another record of the same consumer into this one, reusing its buffers (as
    /// [`of`](Self::of) does; `topic` is `None` when it is this one's).
    pub(crate) fn refill(&mut self, message: &BorrowedMessage<'_>, topic: Option<Arc<str>>) {
        use rdkafka::Message as _;
        if let Some(topic) = topic {
            self.topic = topic;
        }
        self.partition = message.partition();
        self.offset = message.offset();
        self.timestamp = message.timestamp().to_millis();
        match (message.key(), &mut self.key) {
            (Some(key), Some(kept)) => {
                kept.clear();
                kept.extend_from_slice(key);
            }
            (key, kept) => *kept = key.map(<[u8]>::to_vec),
        }
        self.body.clear();
        self.body
            .extend_from_slice(message.payload().unwrap_or_default());
        self.headers.take();
    }

    /// The record's key, if it has one.
    pub fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }

    /// The record's key, if it has one and it is UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        self.key().and_then(|k| std::str::from_utf8(k).ok())
    }

    /// The record's headers. A header whose name is not UTF-8 is left out (Kafka's header
    /// names are text).
    pub fn headers(&self) -> &Headers {
        // Unread, the record is still held by its consumer (or the consumer is gone and the
        // record had been read).
        self.headers.get_or_init(|| {
            self.held
                .upgrade()
                .map_or_else(Headers::new, |held| held.headers(self.seq))
        })
    }

    /// The stream of the consumer that took it, while that consumer is open.
    pub(crate) fn held(&self) -> Option<Arc<HeldStream>> {
        self.held.upgrade()
    }

    /// The topic it was read from.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition it was read from.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// Its offset in the partition.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Its timestamp (create or log-append time), in milliseconds since the Unix epoch.
    pub fn timestamp_millis(&self) -> Option<i64> {
        self.timestamp
    }
}

impl fmt::Debug for Meta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Meta")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("offset", &self.offset)
            .field(
                "key",
                &self
                    .key_str()
                    .map_or_else(|| format!("{:?}", self.key()), |k| format!("{k:?}")),
            )
            .field("headers", self.headers())
            .field("timestamp_millis", &self.timestamp)
            .finish()
    }
}

/// The topic names of an input's records, interned so that a record does not allocate its
/// topic. With one topic subscribed by name, every record comes from it and its name is not
/// read at all (reading it checks the client's C string for UTF-8, record after record).
pub(crate) struct Topics {
    only: Option<Arc<str>>,
    seen: Vec<Arc<str>>,
}

impl Topics {
    /// The names of an input subscribed to `subscribed` (a name starting with `^` is a
    /// pattern to librdkafka: its records' topics are read).
    pub(crate) fn new(subscribed: &[String]) -> Self {
        let only = match subscribed {
            [one] if !one.starts_with('^') => Some(Arc::from(one.as_str())),
            _ => None,
        };
        Topics {
            only,
            seen: Vec::new(),
        }
    }

    /// The topic of `message`.
    pub(crate) fn of(&mut self, message: &BorrowedMessage<'_>) -> &Arc<str> {
        use rdkafka::Message as _;
        if let Some(only) = &self.only {
            return only;
        }
        let topic = message.topic();
        match self.seen.iter().position(|name| &**name == topic) {
            Some(at) => &self.seen[at],
            None => {
                self.seen.push(Arc::from(topic));
                self.seen.last().expect("pushed")
            }
        }
    }
}
