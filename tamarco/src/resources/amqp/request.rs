//! A request as a hand-written request handler or a stream reader holds it: the message and
//! the handle that answers it once.

use std::fmt;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tamarco_core::codec::BoundCodec;
use tamarco_core::messaging::{Delivery as EngineDelivery, InputStream as EngineStream};
use tamarco_core::{BoxError, error_chain};

use super::message::{Message, Meta};
use super::received::{Received, reply_properties, send_reply};
use super::{AmqpState, Error};

type Delivery<Q> = EngineDelivery<Q, Received>;

/// A request as a handler or a stream reader holds it.
enum Held<Q: 'static> {
    Message(Message<Q>),
    Delivery(Delivery<Q>),
}

/// A request from a request/response input: the message and the handle to answer it.
pub struct Request<Q: 'static, R: 'static> {
    held: Held<Q>,
    shared: Arc<AmqpState>,
    codec: BoundCodec<R>,
}

impl<Q: 'static, R: 'static> Request<Q, R> {
    /// A request a handler got, answered through `shared`.
    pub(crate) fn new(message: Message<Q>, shared: Arc<AmqpState>, codec: BoundCodec<R>) -> Self {
        Request {
            held: Held::Message(message),
            shared,
            codec,
        }
    }

    /// The request's message.
    pub fn message(&self) -> &Message<Q> {
        match &self.held {
            Held::Message(message) => message,
            Held::Delivery(delivery) => delivery.message(),
        }
    }

    fn meta(&self) -> &Meta {
        self.message().meta()
    }

    /// Sends `response` to the requester (encoded with the input's codec), and, for a request
    /// read from a stream, acks it. Fails with [`Error::NoReplyTo`] when the request has no
    /// `reply_to`.
    pub async fn respond(self, response: &R) -> Result<(), Error> {
        let body = self.codec.encode(response)?;
        let mut properties = reply_properties(self.meta());
        if let Some(content_type) = self.codec.content_type() {
            properties = properties.with_content_type(content_type.into());
        }
        let deadline = self.shared.publish_deadline();
        let input = self.message().input().to_owned();
        send_reply(
            &self.shared,
            self.meta(),
            &input,
            &body,
            properties,
            deadline,
        )
        .await?;
        if let Held::Delivery(delivery) = self.held {
            delivery
                .ack()
                .await
                .map_err(|e| Error::broker("ack a request from", input, e))?;
        }
        Ok(())
    }

    /// For a request read from a stream: sends it to the dead-letter queue with `error`, and
    /// answers the requester with that error. In a handler, return the error instead.
    pub async fn reject(self, error: impl Into<BoxError>) -> Result<(), Error> {
        let error = error_chain(&*error.into());
        match self.held {
            Held::Delivery(delivery) => {
                let input = delivery.input().to_owned();
                delivery
                    .reject(error)
                    .await
                    .map_err(|e| Error::broker("dead-letter a request from", input, e))
            }
            Held::Message(_) => Ok(()),
        }
    }
}

impl<Q: 'static, R: 'static> Deref for Request<Q, R> {
    type Target = Message<Q>;

    fn deref(&self) -> &Message<Q> {
        self.message()
    }
}

impl<Q: fmt::Debug + 'static, R: 'static> fmt::Debug for Request<Q, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("message", self.message())
            .field("reply_to", &self.meta().reply_to())
            .field("correlation_id", &self.meta().correlation_id())
            .finish()
    }
}

/// The requests of an input declared with [`RequestInputBuilder::stream`](super::input::RequestInputBuilder::stream); each
/// [`Request`] is answered with [`respond`](Request::respond), which also acks it.
pub struct RequestStream<Q: 'static, R: 'static> {
    inner: EngineStream<Q, Received>,
    shared: Arc<AmqpState>,
    codec: BoundCodec<R>,
}

impl<Q: 'static, R: 'static> RequestStream<Q, R> {
    pub(crate) fn new(
        inner: EngineStream<Q, Received>,
        shared: Arc<AmqpState>,
        codec: BoundCodec<R>,
    ) -> Self {
        RequestStream {
            inner,
            shared,
            codec,
        }
    }

    fn request(&self, delivery: Delivery<Q>) -> Request<Q, R> {
        Request {
            held: Held::Delivery(delivery),
            shared: Arc::clone(&self.shared),
            codec: self.codec.clone(),
        }
    }

    /// The next request, or `None` once the input stopped.
    pub async fn next(&mut self) -> Option<Request<Q, R>> {
        let delivery = self.inner.next().await?;
        Some(self.request(delivery))
    }

    /// The input's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }
}

impl<Q: 'static, R: 'static> futures_util::Stream for RequestStream<Q, R> {
    type Item = Request<Q, R>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        polled.map(|delivery| delivery.map(|d| self.request(d)))
    }
}

impl<Q: 'static, R: 'static> fmt::Debug for RequestStream<Q, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestStream")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}
