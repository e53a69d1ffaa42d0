//! [`Headers`]: a Kafka record's headers, as a handler reads them and an output sends them.

use std::fmt;

use rdkafka::message::{Header, OwnedHeaders};

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
