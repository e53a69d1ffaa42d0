//! Received messages: the decoded value and what the broker said about it.

use std::fmt;
use std::sync::Arc;

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, ShortString};

/// What the broker said about a delivery, shared by every attempt at handling it.
pub(crate) struct Meta {
    pub(crate) input: Arc<str>,
    pub(crate) exchange: ShortString,
    pub(crate) routing_key: ShortString,
    pub(crate) redelivered: bool,
    pub(crate) properties: BasicProperties,
}

/// A delivery as it came from lapin: the body, its metadata and its delivery tag (acked on
/// the consuming channel).
pub(crate) struct Raw {
    pub(crate) data: Vec<u8>,
    pub(crate) meta: Arc<Meta>,
    pub(crate) delivery_tag: u64,
}

impl Raw {
    pub(crate) fn new(input: &Arc<str>, delivery: lapin::message::Delivery) -> Raw {
        let lapin::message::Delivery {
            delivery_tag,
            exchange,
            routing_key,
            redelivered,
            properties,
            data,
            ..
        } = delivery;
        Raw {
            data,
            meta: Arc::new(Meta {
                input: Arc::clone(input),
                exchange,
                routing_key,
                redelivered,
                properties,
            }),
            delivery_tag,
        }
    }
}

/// A message from an input: the value its codec decoded, and the message's metadata.
pub struct Message<T> {
    value: T,
    meta: Arc<Meta>,
    attempt: u32,
}

impl<T> Message<T> {
    pub(crate) fn new(value: T, meta: Arc<Meta>, attempt: u32) -> Self {
        Message {
            value,
            meta,
            attempt,
        }
    }

    /// The decoded value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The decoded value, by value.
    pub fn into_value(self) -> T {
        self.value
    }

    /// The name of the input it came from (the queue name as declared, without prefix).
    pub fn input(&self) -> &str {
        &self.meta.input
    }

    /// The exchange it was published to (empty for the default exchange).
    pub fn exchange(&self) -> &str {
        self.meta.exchange.as_str()
    }

    /// The routing key it was published with.
    pub fn routing_key(&self) -> &str {
        self.meta.routing_key.as_str()
    }

    /// Whether the broker delivered it before (to this or another consumer) without an ack.
    pub fn redelivered(&self) -> bool {
        self.meta.redelivered
    }

    /// Which attempt at handling it this is: 1, then 2 on the first retry...
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The `correlation_id` property.
    pub fn correlation_id(&self) -> Option<&str> {
        self.meta
            .properties
            .correlation_id()
            .as_ref()
            .map(ShortString::as_str)
    }

    /// The `reply_to` property.
    pub fn reply_to(&self) -> Option<&str> {
        self.meta
            .properties
            .reply_to()
            .as_ref()
            .map(ShortString::as_str)
    }

    /// The `content_type` property.
    pub fn content_type(&self) -> Option<&str> {
        self.meta
            .properties
            .content_type()
            .as_ref()
            .map(ShortString::as_str)
    }

    /// A header holding a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        header_str(self.meta.properties.headers().as_ref()?, name)
    }

    /// A header holding an integer.
    pub fn header_int(&self, name: &str) -> Option<i64> {
        header_int(self.meta.properties.headers().as_ref()?, name)
    }

    /// Every property and header, as lapin has them.
    pub fn properties(&self) -> &BasicProperties {
        &self.meta.properties
    }
}

impl<T: fmt::Debug> fmt::Debug for Message<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("value", &self.value)
            .field("input", &self.input())
            .field("exchange", &self.exchange())
            .field("routing_key", &self.routing_key())
            .field("redelivered", &self.redelivered())
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// A string header (long or short string, as UTF-8).
pub(crate) fn header_str<'a>(headers: &'a FieldTable, name: &str) -> Option<&'a str> {
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok(),
        AMQPValue::ShortString(s) => Some(s.as_str()),
        _ => None,
    }
}

/// An integer header of any width.
pub(crate) fn header_int(headers: &FieldTable, name: &str) -> Option<i64> {
    Some(match headers.inner().get(name)? {
        AMQPValue::ShortShortInt(v) => i64::from(*v),
        AMQPValue::ShortShortUInt(v) => i64::from(*v),
        AMQPValue::ShortInt(v) => i64::from(*v),
        AMQPValue::ShortUInt(v) => i64::from(*v),
        AMQPValue::LongInt(v) => i64::from(*v),
        AMQPValue::LongUInt(v) => i64::from(*v),
        AMQPValue::LongLongInt(v) => *v,
        _ => return None,
    })
}
