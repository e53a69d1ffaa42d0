//! Outputs: push to a queue, publish to a fanout exchange (here), request and wait for the
//! reply ([`request`]), or send to a queue chosen per call ([`generic`]). Every send waits for
//! the broker's confirm.

mod generic;
mod request;

pub use generic::GenericOutput;
pub use request::RequestOutput;

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use lapin::BasicProperties;

use tamarco_core::BoxError;
use tamarco_core::codec::{BoundCodec, Codec};
use tamarco_core::messaging::{Output, OutputSlot};

use super::settings::Pattern;
use super::target::{Target, target_of};
use super::{Amqp, AmqpState, Error};

/// What `/status` shows of an output.
#[derive(Debug)]
pub(crate) struct OutputInfo {
    pub(crate) name: String,
    /// `None` for a generic output.
    pub(crate) pattern: Option<Pattern>,
    pub(crate) codec: String,
    pub(crate) sent: AtomicU64,
    pub(crate) failed: AtomicU64,
}

impl OutputInfo {
    fn count<T>(&self, result: &Result<T, Error>) {
        match result {
            Ok(_) => self.sent.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// What every output holds: the resource, the codec, and its target once the settings are
/// known.
struct BoundOutput<T: 'static> {
    shared: Arc<AmqpState>,
    info: Arc<OutputInfo>,
    pattern: Pattern,
    codec: BoundCodec<T>,
    target: OnceLock<Arc<Target>>,
    properties: BasicProperties,
}

impl<T: 'static> BoundOutput<T> {
    fn new(
        shared: Arc<AmqpState>,
        pattern: Pattern,
        queue: &str,
        codec: Arc<dyn Codec<T>>,
    ) -> Self {
        let codec = BoundCodec::from_arc(queue, codec);
        let info = shared.declare_output(queue, Some(pattern), codec.codec_name());
        let mut properties = BasicProperties::default();
        if let Some(content_type) = codec.content_type() {
            properties = properties.with_content_type(content_type.into());
        }
        if pattern == Pattern::PushPull {
            properties = properties.with_delivery_mode(2);
        }
        BoundOutput {
            shared,
            info,
            pattern,
            codec,
            target: OnceLock::new(),
            properties,
        }
    }

    fn target(&self) -> Result<Arc<Target>, Error> {
        if let Some(target) = self.target.get() {
            return Ok(Arc::clone(target));
        }
        let config = self.shared.config().ok_or_else(|| self.shared.stopped())?;
        let target = Arc::new(target_of(&config, self.pattern, self.codec.endpoint())?);
        Ok(Arc::clone(self.target.get_or_init(|| target)))
    }

    async fn send(&self, body: Vec<u8>) -> Result<(), Error> {
        let result = async {
            let target = self.target()?;
            let deadline = self.shared.publish_deadline();
            self.shared
                .publish(&target, &body, self.properties.clone(), deadline)
                .await
        }
        .await;
        self.info.count(&result);
        result
    }
}

/// The one output behind [`PushOutput`] and [`PublishOutput`]: one value type, a fixed
/// pattern, bound once. The two wrap it and differ only in their pattern and the name of
/// their send method; `of` is the wrapper's type name, for the errors of an unbound output.
struct Single<T: 'static> {
    inner: OutputSlot<Arc<BoundOutput<T>>>,
}

impl<T: Send + Sync + 'static> Single<T> {
    fn bound(
        shared: Arc<AmqpState>,
        pattern: Pattern,
        queue: &str,
        codec: Arc<dyn Codec<T>>,
    ) -> Self {
        let inner = Arc::new(BoundOutput::new(shared, pattern, queue, codec));
        Single {
            inner: OutputSlot::bound(inner),
        }
    }

    fn bind(
        &self,
        of: &'static str,
        amqp: &Amqp,
        pattern: Pattern,
        name: &'static str,
        codec: Arc<dyn Codec<T>>,
    ) -> Result<(), BoxError> {
        let shared = Arc::clone(&amqp.shared);
        let inner = Arc::new(BoundOutput::new(shared, pattern, name, codec));
        Ok(self.inner.bind(of, name, inner)?)
    }

    fn inner(&self, of: &'static str) -> Result<&Arc<BoundOutput<T>>, Error> {
        Ok(self.inner.get(of)?)
    }

    fn queue(&self, of: &'static str) -> &str {
        self.inner(of).map_or("", |inner| inner.codec.endpoint())
    }

    /// Encodes `value` now; the future sends it and resolves on the broker's confirm.
    fn send(
        &self,
        of: &'static str,
        value: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let prepared = self
            .inner(of)
            .and_then(|inner| Ok((Arc::clone(inner), inner.codec.encode(value)?)));
        async move {
            let (inner, body) = prepared?;
            inner.send(body).await
        }
    }
}

/// `Default`, `Clone`, `Debug`, binding and the hand-wired constructor of a wrapper of
/// [`Single`] with a fixed pattern.
macro_rules! single_output {
    ($output:ident, $pattern:expr) => {
        impl<T: 'static> Default for $output<T> {
            fn default() -> Self {
                $output {
                    single: Single {
                        inner: OutputSlot::default(),
                    },
                }
            }
        }

        impl<T: 'static> Clone for $output<T> {
            fn clone(&self) -> Self {
                $output {
                    single: Single {
                        inner: self.single.inner.clone(),
                    },
                }
            }
        }

        impl<T: 'static> fmt::Debug for $output<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.single.inner.get(type_name::<Self>()).ok(), f)
            }
        }

        impl<T: Send + Sync + 'static, C: Codec<T>> Output<Amqp, C> for $output<T> {
            fn bind(&self, amqp: &Amqp, name: &'static str, codec: C) -> Result<(), BoxError> {
                let of = type_name::<Self>();
                self.single.bind(of, amqp, $pattern, name, Arc::new(codec))
            }
        }

        impl<T: Send + Sync + 'static> $output<T> {
            pub(crate) fn new(
                shared: Arc<AmqpState>,
                queue: &str,
                codec: Arc<dyn Codec<T>>,
            ) -> Self {
                $output {
                    single: Single::bound(shared, $pattern, queue, codec),
                }
            }
        }
    };
}

/// Sends values to a push/pull queue (`P + "push_pull." + queue`): durable, persistent,
/// read by competing consumers. Made by [`Amqp::push_output`](super::Amqp::push_output).
///
/// `Default` gives an unbound output, for a field with `#[output(amqp, push = "...")]`; used
/// before it is bound it fails with [`Error::Unbound`].
pub struct PushOutput<T: 'static> {
    single: Single<T>,
}

single_output!(PushOutput, Pattern::PushPull);

impl<T: Send + Sync + 'static> PushOutput<T> {
    /// The queue, as declared (without prefix); empty while unbound.
    pub fn queue(&self) -> &str {
        self.single.queue(type_name::<Self>())
    }

    /// Encodes `value` now and sends it; resolves once the broker confirmed it. While the
    /// connection is down it waits for it (at most `publish_timeout`), so a message
    /// is sent at least once. The future does not borrow the output: spawn it or run many at
    /// once for throughput.
    pub fn push(&self, value: &T) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.single.send(type_name::<Self>(), value)
    }
}

/// Publishes values to a fanout exchange (`P + "publish_subscribe." + queue`): every
/// subscriber gets each one. Made by [`Amqp::publish_output`](super::Amqp::publish_output).
///
/// `Default` gives an unbound output, for a field with `#[output(amqp, publish = "...")]`; used
/// before it is bound it fails with [`Error::Unbound`].
pub struct PublishOutput<T: 'static> {
    single: Single<T>,
}

single_output!(PublishOutput, Pattern::PublishSubscribe);

impl<T: Send + Sync + 'static> PublishOutput<T> {
    /// The exchange's short name, as declared (without prefix); empty while unbound.
    pub fn queue(&self) -> &str {
        self.single.queue(type_name::<Self>())
    }

    /// Encodes `value` and publishes it; resolves once the broker confirmed it. With no
    /// subscriber bound, the broker drops it (that is publish/subscribe).
    pub fn publish(&self, value: &T) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        self.single.send(type_name::<Self>(), value)
    }
}

impl<T: 'static> fmt::Debug for BoundOutput<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("queue", &self.codec.endpoint())
            .field("pattern", &self.pattern)
            .field("codec", &self.codec.codec_name())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use tamarco_core::codec::Json;
    use tamarco_core::messaging::bind_output;

    use super::*;

    #[tokio::test]
    async fn an_unbound_output_fails_naming_itself_and_binds_once() {
        let orders = PushOutput::<u32>::default();
        let error = orders.push(&1).await.unwrap_err();
        assert!(matches!(error, Error::Unbound(_)), "{error:?}");
        let text = error.to_string();
        assert!(
            text.contains("PushOutput<u32>") && text.contains("not bound"),
            "{text}"
        );
        let quotes = RequestOutput::<u32, String>::default();
        let error = quotes.request(&1).await.unwrap_err();
        assert!(
            error
                .to_string()
                .contains("RequestOutput<u32, alloc::string::String>"),
            "{error}"
        );
        let amqp = Amqp::new();
        bind_output(&amqp, &orders, "orders", Json).unwrap();
        assert_eq!(orders.queue(), "orders");
        let again = bind_output(&amqp, &orders, "orders", Json).unwrap_err();
        assert!(again.to_string().contains("already bound"), "{again}");
    }
}
