//! Outputs: [`Output`] pushes typed values to one topic, [`GenericOutput`] takes the topic per
//! call. Both resolve when the broker acknowledged the message.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureRecord};

use tamarco_core::codec::{BoundCodec, Codec};

use super::message::Headers;
use super::{Error, Shared};

/// Where an acknowledged message landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Receipt {
    /// The partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
}

/// Pushes values of type `T` to one topic, encoded with its codec. Cheap to clone; made by
/// [`Kafka::output`](super::Kafka::output), before or after the resource starts.
pub struct Output<T: 'static> {
    shared: Arc<Shared>,
    topic: Arc<str>,
    codec: BoundCodec<T>,
}

impl<T: 'static> Output<T> {
    pub(crate) fn new(shared: Arc<Shared>, topic: &str, codec: impl Codec<T>) -> Self {
        shared.record_output(Some(topic), codec.name());
        Output {
            shared,
            topic: Arc::from(topic),
            codec: BoundCodec::new(topic, codec),
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Pushes `value` with no key or headers; resolves once the broker acknowledged it. The
    /// value is encoded at once, the message is sent when the future is first polled.
    pub fn push(&self, value: &T) -> impl Future<Output = Result<Receipt, Error>> + Send + 'static {
        self.message(value).push()
    }

    /// A message with a key, headers or a partition: `out.message(&v).key("k").push().await`.
    pub fn message(&self, value: &T) -> Outgoing {
        Outgoing::new(
            Arc::clone(&self.shared),
            Arc::clone(&self.topic),
            self.codec.encode(value).map_err(Error::from),
        )
    }
}

impl<T: 'static> Clone for Output<T> {
    fn clone(&self) -> Self {
        Output {
            shared: Arc::clone(&self.shared),
            topic: Arc::clone(&self.topic),
            codec: self.codec.clone(),
        }
    }
}

impl<T: 'static> fmt::Debug for Output<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("topic", &self.topic)
            .field("codec", &self.codec.codec_name())
            .finish()
    }
}

/// Pushes values of type `T` to any topic, named per call. Made by
/// [`Kafka::generic_output`](super::Kafka::generic_output).
pub struct GenericOutput<T: 'static> {
    shared: Arc<Shared>,
    codec: Arc<dyn Codec<T>>,
}

impl<T: 'static> GenericOutput<T> {
    pub(crate) fn new(shared: Arc<Shared>, codec: impl Codec<T>) -> Self {
        shared.record_output(None, codec.name());
        GenericOutput {
            shared,
            codec: Arc::new(codec),
        }
    }

    /// Pushes `value` to `topic`; resolves once the broker acknowledged it.
    pub fn push(
        &self,
        topic: &str,
        value: &T,
    ) -> impl Future<Output = Result<Receipt, Error>> + Send + 'static {
        self.message(topic, value).push()
    }

    /// A message to `topic` with a key, headers or a partition.
    pub fn message(&self, topic: &str, value: &T) -> Outgoing {
        let codec = BoundCodec::from_arc(topic, Arc::clone(&self.codec));
        Outgoing::new(
            Arc::clone(&self.shared),
            Arc::from(topic),
            codec.encode(value).map_err(Error::from),
        )
    }
}

impl<T: 'static> Clone for GenericOutput<T> {
    fn clone(&self) -> Self {
        GenericOutput {
            shared: Arc::clone(&self.shared),
            codec: Arc::clone(&self.codec),
        }
    }
}

impl<T: 'static> fmt::Debug for GenericOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenericOutput")
            .field("codec", &self.codec.name())
            .finish()
    }
}

/// An encoded message about to be pushed; add a key, headers or a partition, then
/// [`push`](Outgoing::push).
#[must_use = "nothing is sent until `push` is called and awaited"]
pub struct Outgoing {
    shared: Arc<Shared>,
    topic: Arc<str>,
    body: Result<Vec<u8>, Error>,
    key: Option<Vec<u8>>,
    headers: Headers,
    partition: Option<i32>,
}

impl Outgoing {
    fn new(shared: Arc<Shared>, topic: Arc<str>, body: Result<Vec<u8>, Error>) -> Self {
        Outgoing {
            shared,
            topic,
            body,
            key: None,
            headers: Headers::new(),
            partition: None,
        }
    }

    /// The record's key (records with the same key go to the same partition).
    pub fn key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Adds every header of `headers`.
    pub fn headers(mut self, headers: &Headers) -> Self {
        for (name, value) in headers.iter() {
            self.headers.insert(name, value);
        }
        self
    }

    /// Sends to this partition instead of letting the partitioner choose.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sends the message; resolves once the broker acknowledged it. Nothing is sent before
    /// the future is first polled; a full local queue is waited out.
    pub async fn push(self) -> Result<Receipt, Error> {
        let body = self.body?;
        send(
            &self.shared,
            &self.topic,
            self.key.as_deref(),
            &body,
            &self.headers,
            self.partition,
        )
        .await
    }

    /// Puts the message in the producer's queue now, and returns a future that resolves once
    /// the broker acknowledged it. Messages enqueued one after the other keep their order; use
    /// it to have many messages in flight without spawning tasks. Fails at once when the local
    /// queue is full (`queue.buffering.max.messages`).
    pub fn enqueue(self) -> Result<Pending, Error> {
        let body = self.body?;
        match try_enqueue(
            &self.shared,
            &self.topic,
            self.key.as_deref(),
            &body,
            &self.headers,
            self.partition,
        ) {
            Ok(pending) => Ok(pending),
            Err(Refused::Full(error) | Refused::Other(error)) => Err(error),
        }
    }
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// A message in the producer's queue (see [`Outgoing::enqueue`]); resolves once the broker
/// acknowledged it.
#[must_use = "the message is sent anyway; await this to learn whether the broker took it"]
pub struct Pending {
    delivery: DeliveryFuture,
    shared: Arc<Shared>,
    topic: Arc<str>,
}

impl Future for Pending {
    type Output = Result<Receipt, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let delivered = ready!(Pin::new(&mut self.delivery).poll(cx));
        Poll::Ready(match delivered {
            Ok(Ok(delivered)) => Ok(Receipt {
                partition: delivered.partition,
                offset: delivered.offset,
            }),
            Ok(Err((error, _))) => Err(Error::Push {
                topic: self.topic.to_string(),
                source: error.into(),
            }),
            Err(_canceled) => Err(Error::NotStarted {
                resource: self.shared.name(),
            }),
        })
    }
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

enum Refused {
    /// The local queue is full: try again shortly.
    Full(Error),
    Other(Error),
}

/// Hands one record to the resource's producer.
fn try_enqueue(
    shared: &Arc<Shared>,
    topic: &Arc<str>,
    key: Option<&[u8]>,
    body: &[u8],
    headers: &Headers,
    partition: Option<i32>,
) -> Result<Pending, Refused> {
    let producer = shared.producer().map_err(Refused::Other)?;
    let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).payload(body);
    if let Some(key) = key {
        record = record.key(key);
    }
    if let Some(headers) = headers.to_kafka() {
        record = record.headers(headers);
    }
    if let Some(partition) = partition {
        record = record.partition(partition);
    }
    match producer.send_result(record) {
        Ok(delivery) => Ok(Pending {
            delivery,
            shared: Arc::clone(shared),
            topic: Arc::clone(topic),
        }),
        Err((error, _)) => {
            let full = error == KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull);
            let error = Error::Push {
                topic: topic.to_string(),
                source: error.into(),
            };
            Err(if full {
                Refused::Full(error)
            } else {
                Refused::Other(error)
            })
        }
    }
}

/// Sends one record through the resource's producer and waits for the broker's ack. A full
/// local queue is waited out; everything else is the caller's error.
pub(crate) async fn send(
    shared: &Arc<Shared>,
    topic: &Arc<str>,
    key: Option<&[u8]>,
    body: &[u8],
    headers: &Headers,
    partition: Option<i32>,
) -> Result<Receipt, Error> {
    loop {
        match try_enqueue(shared, topic, key, body, headers, partition) {
            Ok(pending) => return pending.await,
            Err(Refused::Full(_)) => tokio::time::sleep(Duration::from_millis(2)).await,
            Err(Refused::Other(error)) => return Err(error),
        }
    }
}
