//! An output whose queue is chosen per call.

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use lapin::BasicProperties;

use tamarco_core::BoxError;
use tamarco_core::codec::{BoundCodec, Codec};
use tamarco_core::messaging::{Output, OutputSlot};

use super::super::settings::Pattern;
use super::super::target::target_of;
use super::super::{Amqp, AmqpState, Error};
use super::OutputInfo;

/// Sends values to any queue or exchange, named per call (with the settings' prefix, like
/// the others). Made by [`Amqp::generic_output`](super::Amqp::generic_output).
///
/// `Default` gives an unbound output, for a field with `#[output(amqp, generic)]`; used before
/// it is bound it fails with [`Error::Unbound`].
pub struct GenericOutput<T: 'static> {
    inner: OutputSlot<Arc<BoundGeneric<T>>>,
}

/// A generic output once bound: the resource, its codec and the properties it sends with.
struct BoundGeneric<T: 'static> {
    shared: Arc<AmqpState>,
    info: Arc<OutputInfo>,
    codec: Arc<dyn Codec<T>>,
    properties: BasicProperties,
}

impl<T: 'static> Default for GenericOutput<T> {
    fn default() -> Self {
        GenericOutput {
            inner: OutputSlot::default(),
        }
    }
}

impl<T: Send + Sync + 'static, C: Codec<T>> Output<Amqp, C> for GenericOutput<T> {
    fn bind(&self, amqp: &Amqp, name: &'static str, codec: C) -> Result<(), BoxError> {
        let inner = BoundGeneric::new(Arc::clone(&amqp.shared), Arc::new(codec));
        Ok(self
            .inner
            .bind(type_name::<Self>(), name, Arc::new(inner))?)
    }
}

impl<T: 'static> BoundGeneric<T> {
    fn new(shared: Arc<AmqpState>, codec: Arc<dyn Codec<T>>) -> Self {
        let info = shared.declare_output("*", None, codec.name());
        let mut properties = BasicProperties::default();
        if let Some(content_type) = codec.content_type() {
            properties = properties.with_content_type(content_type.into());
        }
        BoundGeneric {
            shared,
            info,
            codec,
            properties,
        }
    }
}

impl<T: Send + Sync + 'static> GenericOutput<T> {
    pub(crate) fn new(shared: Arc<AmqpState>, codec: Arc<dyn Codec<T>>) -> Self {
        GenericOutput {
            inner: OutputSlot::bound(Arc::new(BoundGeneric::new(shared, codec))),
        }
    }

    /// Pushes `value` to the push/pull queue `queue`, like [`PushOutput::push`](super::PushOutput::push).
    pub fn push(
        &self,
        queue: &str,
        value: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.send(Pattern::PushPull, queue, value, true)
    }

    /// Publishes `value` to the fanout exchange of `queue`, like [`PublishOutput::publish`](super::PublishOutput::publish).
    pub fn publish(
        &self,
        queue: &str,
        value: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.send(Pattern::PublishSubscribe, queue, value, false)
    }

    fn send(
        &self,
        pattern: Pattern,
        queue: &str,
        value: &T,
        persistent: bool,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let prepared = self.inner.get(type_name::<Self>()).map(|inner| {
            let body = BoundCodec::from_arc(queue, Arc::clone(&inner.codec)).encode(value);
            (Arc::clone(inner), body)
        });
        let queue = queue.to_owned();
        async move {
            let (inner, body) = prepared?;
            let (shared, info) = (&inner.shared, &inner.info);
            let mut properties = inner.properties.clone();
            if persistent {
                properties = properties.with_delivery_mode(2);
            }
            let result = async {
                let body = body?;
                let config = shared.config().ok_or_else(|| shared.stopped())?;
                let target = target_of(&config, pattern, &queue)?;
                let deadline = shared.publish_deadline();
                shared.publish(&target, &body, properties, deadline).await
            }
            .await;
            info.count(&result);
            result
        }
    }
}

impl<T: 'static> Clone for GenericOutput<T> {
    fn clone(&self) -> Self {
        GenericOutput {
            inner: self.inner.clone(),
        }
    }
}

impl<T: 'static> fmt::Debug for GenericOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codec = self
            .inner
            .get(type_name::<Self>())
            .ok()
            .map(|i| i.codec.name().to_owned());
        f.debug_struct("GenericOutput")
            .field("codec", &codec)
            .finish()
    }
}
