//! What a handler sees: [`Message`] (the decoded value, dereferencing to [`Meta`]: key,
//! headers, partition, offset and timestamp) and [`Headers`].

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use rdkafka::message::{BorrowedHeaders, BorrowedMessage, Header, Headers as _, OwnedHeaders};

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

    /// Copies the client's headers. It panics on a header name that is not UTF-8 (the
    /// client's accessors unwrap it): call it under a panic guard.
    fn from_kafka(headers: &BorrowedHeaders) -> Headers {
        Headers(
            headers
                .iter()
                .map(|h| {
                    (
                        h.key.to_owned(),
                        h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                    )
                })
                .collect(),
        )
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
    pub(crate) headers: Headers,
}

impl Meta {
    /// Copies a record's metadata out of the consumer's buffers (`topic` is the interned topic
    /// name). Reading the headers can panic in the client (a header name that is not UTF-8):
    /// that is caught here, and the error is returned beside the metadata without headers.
    pub(crate) fn of(message: &BorrowedMessage<'_>, topic: Arc<str>) -> (Meta, Option<String>) {
        use rdkafka::Message as _;
        let (headers, unreadable) = match message.headers() {
            None => (Headers::default(), None),
            Some(raw) => match catch_unwind(AssertUnwindSafe(|| Headers::from_kafka(raw))) {
                Ok(headers) => (headers, None),
                Err(_) => (
                    Headers::default(),
                    Some("a header name is not valid UTF-8".to_owned()),
                ),
            },
        };
        let meta = Meta {
            topic,
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key: message.key().map(<[u8]>::to_vec),
            headers,
        };
        (meta, unreadable)
    }

    /// The record's key, if it has one.
    pub fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }

    /// The record's key, if it has one and it is UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        self.key().and_then(|k| std::str::from_utf8(k).ok())
    }

    /// The record's headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
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
            .field("headers", &self.headers)
            .field("timestamp_millis", &self.timestamp)
            .finish()
    }
}

/// Interned topic names, so that each record does not allocate its topic.
#[derive(Default)]
pub(crate) struct Topics(Vec<Arc<str>>);

impl Topics {
    pub(crate) fn get(&mut self, topic: &str) -> Arc<str> {
        if let Some(name) = self.0.iter().find(|name| &***name == topic) {
            return Arc::clone(name);
        }
        let name: Arc<str> = Arc::from(topic);
        self.0.push(Arc::clone(&name));
        name
    }
}

#[cfg(test)]
mod tests {
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
