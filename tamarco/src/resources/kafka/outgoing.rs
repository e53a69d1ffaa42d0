//! Sending one record: [`Outgoing`] (a key, headers, a partition), pushed and awaited, or
//! enqueued as a [`Pending`] acknowledgement; [`send`] for the resource's own records (dead
//! letters).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureRecord};

use tamarco_core::messaging::Unbound;

use super::Error;
use super::headers::Headers;
use super::state::KafkaState;

/// The error of a message from an output that was never bound.
fn unbound() -> Error {
    Error::Unbound(Unbound {
        output: "kafka output",
    })
}

/// Where an acknowledged message landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Receipt {
    /// The partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
}

/// An encoded message about to be pushed; add a key, headers or a partition, then
/// [`push`](Outgoing::push).
#[must_use = "nothing is sent until `push` is called and awaited"]
pub struct Outgoing {
    /// `None` for an unbound output (`body` holds the error).
    state: Option<Arc<KafkaState>>,
    topic: Arc<str>,
    body: Result<Vec<u8>, Error>,
    key: Option<Vec<u8>>,
    headers: Headers,
    partition: Option<i32>,
}

impl Outgoing {
    pub(crate) fn new(
        state: Option<Arc<KafkaState>>,
        topic: Arc<str>,
        body: Result<Vec<u8>, Error>,
    ) -> Self {
        Outgoing {
            state,
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
        let Some(state) = &self.state else {
            return Err(unbound());
        };
        send(
            state,
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
        let Some(state) = &self.state else {
            return Err(unbound());
        };
        match try_enqueue(
            state,
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
    delivery: Delivery,
    state: Arc<KafkaState>,
    topic: Arc<str>,
}

/// The producer's acknowledgement to come, or one the in-memory broker gave at once.
enum Delivery {
    Producer(DeliveryFuture),
    Memory(Receipt),
}

impl Future for Pending {
    type Output = Result<Receipt, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let delivery = match &mut self.delivery {
            Delivery::Producer(delivery) => delivery,
            Delivery::Memory(receipt) => return Poll::Ready(Ok(*receipt)),
        };
        let delivered = ready!(Pin::new(delivery).poll(cx));
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
                resource: self.state.name(),
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
    state: &Arc<KafkaState>,
    topic: &Arc<str>,
    key: Option<&[u8]>,
    body: &[u8],
    headers: &Headers,
    partition: Option<i32>,
) -> Result<Pending, Refused> {
    if let Some(offset) = super::memory::push(state, topic, key, body, headers) {
        return Ok(Pending {
            delivery: Delivery::Memory(Receipt {
                partition: 0,
                offset,
            }),
            state: Arc::clone(state),
            topic: Arc::clone(topic),
        });
    }
    let producer = state.producer().map_err(Refused::Other)?;
    #[cfg(feature = "tracing-otel")]
    let (headers, _span) = super::trace::producer(topic, headers);
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
            delivery: Delivery::Producer(delivery),
            state: Arc::clone(state),
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
    state: &Arc<KafkaState>,
    topic: &Arc<str>,
    key: Option<&[u8]>,
    body: &[u8],
    headers: &Headers,
    partition: Option<i32>,
) -> Result<Receipt, Error> {
    loop {
        match try_enqueue(state, topic, key, body, headers, partition) {
            Ok(pending) => return pending.await,
            Err(Refused::Full(_)) => tokio::time::sleep(Duration::from_millis(2)).await,
            Err(Refused::Other(error)) => return Err(error),
        }
    }
}
