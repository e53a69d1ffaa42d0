//! What the broker said about a delivery ([`Meta`]), which handlers read through
//! [`Message`](super::Message), the engine's message with AMQP metadata.

use std::fmt;
use std::sync::atomic::AtomicBool;

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, ShortString};

/// A message from an AMQP input: the decoded value ([`value`](tamarco_core::messaging::Message::value),
/// [`attempt`](tamarco_core::messaging::Message::attempt)...) and, through `Deref`, the
/// delivery's [`Meta`] (`routing_key()`, `correlation_id()`, headers...).
pub type Message<T> = tamarco_core::messaging::Message<T, Meta>;

/// What the broker said about a delivery, shared by every attempt at handling it.
pub struct Meta {
    pub(crate) exchange: ShortString,
    pub(crate) routing_key: ShortString,
    pub(crate) redelivered: bool,
    pub(crate) properties: BasicProperties,
    /// Set once a request was answered, so that a later error reply is not sent.
    pub(crate) replied: AtomicBool,
}

impl Meta {
    pub(crate) fn new(delivery: &mut lapin::message::Delivery) -> Meta {
        Meta {
            exchange: std::mem::take(&mut delivery.exchange),
            routing_key: std::mem::take(&mut delivery.routing_key),
            redelivered: delivery.redelivered,
            properties: std::mem::take(&mut delivery.properties),
            replied: AtomicBool::new(false),
        }
    }

    /// The exchange it was published to (empty for the default exchange).
    pub fn exchange(&self) -> &str {
        self.exchange.as_str()
    }

    /// The routing key it was published with.
    pub fn routing_key(&self) -> &str {
        self.routing_key.as_str()
    }

    /// Whether the broker delivered it before (to this or another consumer) without an ack.
    pub fn redelivered(&self) -> bool {
        self.redelivered
    }

    /// The `correlation_id` property.
    pub fn correlation_id(&self) -> Option<&str> {
        self.properties
            .correlation_id()
            .as_ref()
            .map(ShortString::as_str)
    }

    /// The `reply_to` property.
    pub fn reply_to(&self) -> Option<&str> {
        self.properties.reply_to().as_ref().map(ShortString::as_str)
    }

    /// The `content_type` property.
    pub fn content_type(&self) -> Option<&str> {
        self.properties
            .content_type()
            .as_ref()
            .map(ShortString::as_str)
    }

    /// A header holding a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        header_str(self.properties.headers().as_ref()?, name)
    }

    /// A header holding an integer.
    pub fn header_int(&self, name: &str) -> Option<i64> {
        header_int(self.properties.headers().as_ref()?, name)
    }

    /// Every property and header, as lapin has them.
    pub fn properties(&self) -> &BasicProperties {
        &self.properties
    }
}

impl fmt::Debug for Meta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Meta")
            .field("exchange", &self.exchange())
            .field("routing_key", &self.routing_key())
            .field("redelivered", &self.redelivered)
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
