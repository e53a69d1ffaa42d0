//! What a handler sees: [`Message`] (the decoded value, dereferencing to [`Meta`]: key,
//! headers, partition, offset and timestamp) and [`Headers`].

use std::fmt;
use std::sync::{Arc, OnceLock, Weak};

use rdkafka::message::{BorrowedMessage, Header, OwnedHeaders};

use super::held::HeldStream;

/// Kafka record headers: an ordered list of names with byte values. Names may repeat;
/// [`get`](Headers::get) returns the last value of a name. A null header value reads as empty.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, Vec<u8>)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers::default()
    }

    /// Appends a header; a name already present is kept, and this one wins in [`get`](Self::get).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.0.push((name.into(), value.into()));
        self
    }

    /// Appends a header, by value: `Headers::new().with("a", "1").with("b", "2")`.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.insert(name, value);
        self
    }

    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The last value of `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every header, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn to_kafka(&self) -> Option<OwnedHeaders> {
        if self.0.is_empty() {
            return None;
        }
        let mut owned = OwnedHeaders::new_with_capacity(self.0.len());
        for (key, value) in &self.0 {
            owned = owned.insert(Header {
                key,
                value: Some(value.as_slice()),
            });
        }
        Some(owned)
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .iter()
                    .map(|(n, v)| (n, String::from_utf8_lossy(v).into_owned())),
            )
            .finish()
    }
}

impl<N: Into<String>, V: Into<Vec<u8>>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Headers(
            iter.into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        )
    }
}

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
    /// The consumer's held record, where unread headers are read from.
    held: Weak<HeldStream>,
    /// The record's value, for the codec (and a dead letter); handlers see it decoded.
    pub(crate) body: Vec<u8>,
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
            body: Vec::new(),
        }
    }

    /// Copies a record out of the consumer's buffers but for its headers, which are read from
    /// `held` when asked (`topic` is the interned topic name).
    pub(crate) fn of(
        message: &BorrowedMessage<'_>,
        topic: Arc<str>,
        held: Weak<HeldStream>,
    ) -> Meta {
        let mut meta = Meta {
            topic,
            partition: 0,
            offset: 0,
            timestamp: None,
            key: None,
            headers: OnceLock::new(),
            held,
            body: Vec::new(),
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
        // Unread, the record is still the one its consumer holds (or the consumer is gone and
        // the record had been read).
        self.headers.get_or_init(|| {
            self.held
                .upgrade()
                .map_or_else(Headers::new, |held| held.headers())
        })
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

#[cfg(test)]
mod tests {
    use rdkafka::message::Headers as _;

    use super::*;

    #[test]
    fn last_header_wins_and_round_trips() {
        let headers = Headers::new().with("a", "1").with("b", "x").with("a", "2");
        assert_eq!(headers.get_str("a"), Some("2"));
        assert_eq!(headers.get("missing"), None);
        assert_eq!(headers.len(), 3);
        let names: Vec<_> = headers.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b", "a"]);
        let owned = headers.to_kafka().unwrap();
        assert_eq!(owned.count(), 3);
        assert!(Headers::new().to_kafka().is_none());
    }
}
