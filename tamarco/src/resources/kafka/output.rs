//! Outputs: [`TopicOutput`] pushes typed values to one topic, [`GenericOutput`] takes the topic
//! per call. Both resolve when the broker acknowledged the message; both are `Default`
//! (unbound) for `#[output(kafka, ...)]` fields.

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tamarco_core::BoxError;
use tamarco_core::codec::{BoundCodec, Codec};
use tamarco_core::messaging::{Output, OutputSlot};

use super::outgoing::{Outgoing, Receipt};
use super::state::KafkaState;
use super::{Error, Kafka};

/// What binding gives an output: the resource and the codec (and, for a [`TopicOutput`], its
/// topic).
struct Bound<C> {
    state: Arc<KafkaState>,
    topic: Arc<str>,
    codec: C,
}

/// Pushes values of type `T` to one topic, encoded with its codec. Cheap to clone.
///
/// Declare it as a field with `#[output(kafka, topic = "orders")]` (it is `Default`, unbound
/// until the service binds it as it starts), or make it with
/// [`Kafka::output`](super::Kafka::output). Used unbound, it fails with [`Error::Unbound`].
pub struct TopicOutput<T: 'static> {
    bound: OutputSlot<Arc<Bound<BoundCodec<T>>>>,
}

impl<T: 'static> Default for TopicOutput<T> {
    fn default() -> Self {
        TopicOutput {
            bound: OutputSlot::default(),
        }
    }
}

impl<T: Send + Sync + 'static, C: Codec<T>> Output<Kafka, C> for TopicOutput<T> {
    fn bind(&self, kafka: &Kafka, topic: &'static str, codec: C) -> Result<(), BoxError> {
        let bound = Self::bound(Arc::clone(&kafka.state), topic, codec);
        Ok(self.bound.bind(type_name::<Self>(), topic, bound)?)
    }
}

impl<T: 'static> TopicOutput<T> {
    fn bound(
        state: Arc<KafkaState>,
        topic: &str,
        codec: impl Codec<T>,
    ) -> Arc<Bound<BoundCodec<T>>> {
        state.record_output(Some(topic), codec.name());
        Arc::new(Bound {
            state,
            topic: Arc::from(topic),
            codec: BoundCodec::new(topic, codec),
        })
    }

    pub(crate) fn new(state: Arc<KafkaState>, topic: &str, codec: impl Codec<T>) -> Self {
        TopicOutput {
            bound: OutputSlot::bound(Self::bound(state, topic, codec)),
        }
    }

    fn get(&self) -> Result<&Bound<BoundCodec<T>>, Error> {
        Ok(self.bound.get(type_name::<Self>())?)
    }

    /// The topic, once bound.
    pub fn topic(&self) -> Option<&str> {
        self.get().ok().map(|b| &*b.topic)
    }

    /// Pushes `value` with no key or headers; resolves once the broker acknowledged it. The
    /// value is encoded at once, the message is sent when the future is first polled.
    pub fn push(&self, value: &T) -> impl Future<Output = Result<Receipt, Error>> + Send + 'static {
        self.message(value).push()
    }

    /// A message with a key, headers or a partition: `out.message(&v).key("k").push().await`.
    pub fn message(&self, value: &T) -> Outgoing {
        match self.get() {
            Ok(bound) => Outgoing::new(
                Some(Arc::clone(&bound.state)),
                Arc::clone(&bound.topic),
                bound.codec.encode(value).map_err(Error::from),
            ),
            Err(unbound) => Outgoing::new(None, Arc::from(""), Err(unbound)),
        }
    }
}

impl<T: 'static> Clone for TopicOutput<T> {
    fn clone(&self) -> Self {
        TopicOutput {
            bound: self.bound.clone(),
        }
    }
}

impl<T: 'static> fmt::Debug for TopicOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bound = self.get().ok();
        f.debug_struct("TopicOutput")
            .field("topic", &bound.map(|b| &b.topic))
            .field("codec", &bound.map(|b| b.codec.codec_name()))
            .finish()
    }
}

/// Pushes values of type `T` to any topic, named per call. Declare it with
/// `#[output(kafka, generic = "any")]` (the name is not used), or make it with
/// [`Kafka::generic_output`](super::Kafka::generic_output).
pub struct GenericOutput<T: 'static> {
    bound: OutputSlot<Arc<Bound<Arc<dyn Codec<T>>>>>,
}

impl<T: 'static> Default for GenericOutput<T> {
    fn default() -> Self {
        GenericOutput {
            bound: OutputSlot::default(),
        }
    }
}

impl<T: Send + Sync + 'static, C: Codec<T>> Output<Kafka, C> for GenericOutput<T> {
    fn bind(&self, kafka: &Kafka, name: &'static str, codec: C) -> Result<(), BoxError> {
        let bound = Self::bound(Arc::clone(&kafka.state), codec);
        Ok(self.bound.bind(type_name::<Self>(), name, bound)?)
    }
}

impl<T: 'static> GenericOutput<T> {
    fn bound(state: Arc<KafkaState>, codec: impl Codec<T>) -> Arc<Bound<Arc<dyn Codec<T>>>> {
        state.record_output(None, codec.name());
        Arc::new(Bound {
            state,
            topic: Arc::from(""),
            codec: Arc::new(codec),
        })
    }

    pub(crate) fn new(state: Arc<KafkaState>, codec: impl Codec<T>) -> Self {
        GenericOutput {
            bound: OutputSlot::bound(Self::bound(state, codec)),
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
        let bound = match self.bound.get(type_name::<Self>()) {
            Ok(bound) => bound,
            Err(unbound) => return Outgoing::new(None, Arc::from(topic), Err(unbound.into())),
        };
        let codec = BoundCodec::from_arc(topic, Arc::clone(&bound.codec));
        Outgoing::new(
            Some(Arc::clone(&bound.state)),
            Arc::from(topic),
            codec.encode(value).map_err(Error::from),
        )
    }
}

impl<T: 'static> Clone for GenericOutput<T> {
    fn clone(&self) -> Self {
        GenericOutput {
            bound: self.bound.clone(),
        }
    }
}

impl<T: 'static> fmt::Debug for GenericOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bound = self.bound.get(type_name::<Self>()).ok();
        f.debug_struct("GenericOutput")
            .field("codec", &bound.map(|b| b.codec.name()))
            .finish()
    }
}
