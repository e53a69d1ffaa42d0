//! One AMQP delivery as the engine settles it: acks and nacks on its consuming channel, dead
//! letters published with the error in their headers, replies to requests.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use tokio::time::Instant;

use tamarco_core::BoxError;
use tamarco_core::messaging::{DeadLetter, Reply};

use super::Error;
use super::input::dead_letter_headers as h;
use super::message::{Meta, header_int, header_str};
use super::replies::REPLY_ERROR_HEADER;
use super::session::Session;
use super::target::Target;

/// How long an ack or nack may take to be written before the session gives up on its channel.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// An AMQP delivery as the message engine holds it: its body, metadata and delivery tag on
/// its session's channel.
pub struct Received {
    data: Vec<u8>,
    meta: Arc<Meta>,
    delivery_tag: u64,
    session: Arc<Session>,
}

impl std::fmt::Debug for Received {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Received")
            .field("delivery_tag", &self.delivery_tag)
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl Received {
    pub(crate) fn new(session: Arc<Session>, mut delivery: lapin::message::Delivery) -> Self {
        let meta = Arc::new(Meta::new(&mut delivery));
        Received {
            data: std::mem::take(&mut delivery.data),
            meta,
            delivery_tag: delivery.delivery_tag,
            session,
        }
    }

    /// Acks (`requeue: None`) or nacks on the consuming channel. An ack that goes unanswered
    /// (the connection died under it) marks the session broken, so that the input reopens;
    /// the broker then delivers what was unacked again.
    async fn settle(&self, requeue: Option<bool>) -> Result<(), BoxError> {
        let session = &self.session;
        let channel = &session.channel;
        let settled = async {
            match requeue {
                None => {
                    channel
                        .basic_ack(self.delivery_tag, BasicAckOptions::default())
                        .await
                }
                Some(requeue) => {
                    let options = BasicNackOptions {
                        multiple: false,
                        requeue,
                    };
                    channel.basic_nack(self.delivery_tag, options).await
                }
            }
        };
        let lost = || -> BoxError {
            Error::broker(
                "ack a message from",
                session.source.to_string(),
                "its channel closed; the broker delivers it again",
            )
            .into()
        };
        match tokio::time::timeout(SETTLE_TIMEOUT, session.link.unless_dead(settled)).await {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(_) => Err(lost()),
            Err(_) => {
                tracing::warn!(
                    resource = session.shared.resource(),
                    input = session.input,
                    "amqp: an ack went unanswered for {SETTLE_TIMEOUT:?}; reopening the input's channel"
                );
                session.broken.notify_one();
                Err(lost())
            }
        }
    }

    fn publish_deadline(&self) -> Instant {
        Instant::now() + self.session.config.publish_timeout
    }

    /// The properties of a dead letter: a fresh set (the original's expiration, which
    /// requests have, must not expire it) with the original's headers plus the letter's.
    fn dead_letter_properties(&self, letter: &DeadLetter<'_>) -> BasicProperties {
        let meta = &self.meta;
        let original = &meta.properties;
        let mut headers = original.headers().clone().unwrap_or_default();
        let text = |s: &str| AMQPValue::LongString(LongString::from(s));
        headers
            .insert(h::REASON.into(), text(letter.reason.as_str()))
            .insert(h::ERROR.into(), text(letter.error))
            .insert(h::INPUT.into(), text(letter.input))
            .insert(h::QUEUE.into(), text(self.session.source.as_str()))
            .insert(h::EXCHANGE.into(), text(meta.exchange.as_str()))
            .insert(h::ROUTING_KEY.into(), text(meta.routing_key.as_str()))
            .insert(
                h::ATTEMPTS.into(),
                AMQPValue::LongLongInt(i64::from(letter.attempts)),
            );
        let mut properties = BasicProperties::default()
            .with_headers(headers)
            .with_delivery_mode(2);
        if let Some(v) = original.content_type() {
            properties = properties.with_content_type(v.clone());
        }
        if let Some(v) = original.content_encoding() {
            properties = properties.with_content_encoding(v.clone());
        }
        if let Some(v) = original.correlation_id() {
            properties = properties.with_correlation_id(v.clone());
        }
        if let Some(v) = original.reply_to() {
            properties = properties.with_reply_to(v.clone());
        }
        if let Some(v) = original.message_id() {
            properties = properties.with_message_id(v.clone());
        }
        if let Some(v) = original.timestamp() {
            properties = properties.with_timestamp(*v);
        }
        if let Some(v) = original.app_id() {
            properties = properties.with_app_id(v.clone());
        }
        properties
    }
}

impl tamarco_core::messaging::Received for Received {
    type Meta = Meta;

    fn body(&self) -> &[u8] {
        &self.data
    }

    fn meta(&self) -> Result<Arc<Meta>, BoxError> {
        Ok(Arc::clone(&self.meta))
    }

    /// String headers (trace context), as the engine asks for them.
    fn header_text(&self, name: &str) -> Option<&str> {
        header_str(self.meta.properties.headers().as_ref()?, name)
    }

    /// Quorum queues count deliveries in `x-delivery-count` (absent on the first).
    fn deliveries(&self) -> Option<u32> {
        let headers = self.meta.properties.headers().as_ref()?;
        let before = header_int(headers, "x-delivery-count")?;
        u32::try_from(before).ok().map(|n| n.saturating_add(1))
    }

    async fn ack(&self) -> Result<(), BoxError> {
        self.settle(None).await
    }

    async fn requeue(&self) -> Result<(), BoxError> {
        self.settle(Some(true)).await
    }

    async fn dead_letter(&self, letter: &DeadLetter<'_>) -> Result<(), BoxError> {
        let session = &self.session;
        let properties = self.dead_letter_properties(letter);
        session
            .shared
            .publish(
                &session.dead_letter,
                &self.data,
                properties,
                self.publish_deadline(),
            )
            .await?;
        self.settle(None).await
    }

    async fn reply(&self, reply: Reply<'_>) -> Result<(), BoxError> {
        let (body, properties) = match reply {
            Reply::Body { body, content_type } => {
                let mut properties = reply_properties(&self.meta);
                if let Some(content_type) = content_type {
                    properties = properties.with_content_type(content_type.into());
                }
                (body, properties)
            }
            Reply::Error(error) => {
                if self.meta.replied.load(Ordering::Acquire) || self.meta.reply_to().is_none() {
                    return Ok(());
                }
                (&[][..], error_reply_properties(&self.meta, error))
            }
            _ => return Err("amqp: an unknown kind of reply".into()),
        };
        send_reply(
            &self.session.shared,
            &self.meta,
            self.session.input,
            body,
            properties,
            self.publish_deadline(),
        )
        .await?;
        Ok(())
    }
}

/// The properties of a reply: the request's correlation id.
pub(crate) fn reply_properties(meta: &Meta) -> BasicProperties {
    let mut properties = BasicProperties::default();
    if let Some(id) = meta.properties.correlation_id() {
        properties = properties.with_correlation_id(id.clone());
    }
    properties
}

/// The properties of an error reply: the requester fails at once with `error`.
pub(crate) fn error_reply_properties(meta: &Meta, error: &str) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        REPLY_ERROR_HEADER.into(),
        AMQPValue::LongString(LongString::from(error)),
    );
    reply_properties(meta).with_headers(headers)
}

/// Sends a reply to the request's `reply_to`, once.
pub(crate) async fn send_reply(
    shared: &super::AmqpState,
    meta: &Meta,
    source: &str,
    body: &[u8],
    properties: BasicProperties,
    deadline: Instant,
) -> Result<(), Error> {
    let Some(to) = meta.properties.reply_to().clone() else {
        return Err(Error::NoReplyTo {
            queue: source.to_owned(),
        });
    };
    shared
        .publish(&Target::reply(to), body, properties, deadline)
        .await?;
    meta.replied.store(true, Ordering::Release);
    Ok(())
}
