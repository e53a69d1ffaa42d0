//! Outputs: [`PublishOutput`] publishes typed values on a channel (`PUBLISH`), [`StreamOutput`]
//! adds them to a stream (`XADD`), each encoded by its codec. Neither is sent twice after a
//! lost connection (a subscriber would see the message twice, a stream would hold it twice).
//! On a test's in-memory broker both are recorded there (see `memory.rs`).

use std::any::type_name;
use std::fmt;
use std::sync::Arc;

use tamarco_core::BoxError;
use tamarco_core::codec::{BoundCodec, Codec};
use tamarco_core::messaging::{Output, OutputSlot};

use super::state::RedisState;
use super::{Error, Redis};

/// What binding gives an output: the resource and the encoder.
struct Bound<T: 'static> {
    shared: Arc<RedisState>,
    name: Arc<str>,
    codec: BoundCodec<T>,
}

impl<T: 'static> Bound<T> {
    fn new(redis: &Redis, name: &str, codec: Arc<dyn Codec<T>>) -> Arc<Self> {
        Arc::new(Bound {
            shared: Arc::clone(&redis.shared),
            name: Arc::from(name),
            codec: BoundCodec::from_arc(name, codec),
        })
    }

    fn redis(&self) -> Redis {
        Redis {
            shared: Arc::clone(&self.shared),
        }
    }

    fn encode(&self, value: &T) -> Result<Vec<u8>, Error> {
        self.codec.encode(value).map_err(|source| Error::Encode {
            resource: self.shared.resource().to_owned(),
            source,
        })
    }
}

macro_rules! redis_output {
    ($output:ident) => {
        impl<T: 'static> Default for $output<T> {
            fn default() -> Self {
                $output {
                    inner: OutputSlot::default(),
                }
            }
        }

        impl<T: Send + Sync + 'static, C: Codec<T>> Output<Redis, C> for $output<T> {
            fn bind(&self, redis: &Redis, name: &'static str, codec: C) -> Result<(), BoxError> {
                let bound = Bound::new(redis, name, Arc::new(codec));
                Ok(self.inner.bind(type_name::<Self>(), name, bound)?)
            }
        }

        impl<T: 'static> $output<T> {
            pub(crate) fn new(redis: &Redis, name: &str, codec: Arc<dyn Codec<T>>) -> Self {
                $output {
                    inner: OutputSlot::bound(Bound::new(redis, name, codec)),
                }
            }

            fn bound(&self) -> Result<&Arc<Bound<T>>, Error> {
                self.inner.get(type_name::<Self>()).map_err(Error::Unbound)
            }
        }

        impl<T: 'static> Clone for $output<T> {
            fn clone(&self) -> Self {
                $output {
                    inner: self.inner.clone(),
                }
            }
        }

        impl<T: 'static> fmt::Debug for $output<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let name = self.inner.get("").ok().map(|b| Arc::clone(&b.name));
                f.debug_struct(stringify!($output))
                    .field("name", &name)
                    .finish_non_exhaustive()
            }
        }
    };
}

/// Publishes values of type `T` on one channel. Cheap to clone. `Default` gives an unbound
/// output for a field with `#[output(redis, publish = "channel")]`; by hand,
/// [`Redis::publish_output`].
pub struct PublishOutput<T: 'static> {
    inner: OutputSlot<Arc<Bound<T>>>,
}

redis_output!(PublishOutput);

impl<T: 'static> PublishOutput<T> {
    /// Publishes `value`; returns how many subscribers got it (pub/sub keeps nothing for
    /// those that were not listening).
    pub async fn publish(&self, value: &T) -> Result<u64, Error> {
        let bound = self.bound()?;
        let body = bound.encode(value)?;
        // On a test's in-memory broker, one subscriber: the test.
        if bound.shared.send_in_memory(&bound.name, &body).is_some() {
            return Ok(1);
        }
        bound.redis().publish(&*bound.name, body).await
    }
}

/// Adds values of type `T` to one stream, in the field the resource's `streams.field` setting
/// names (`body`), trimmed to about `streams.max_len` entries when it is set. Cheap to clone.
/// `Default` gives an unbound output for a field with `#[output(redis, stream = "orders")]`; by
/// hand, [`Redis::stream_output`].
pub struct StreamOutput<T: 'static> {
    inner: OutputSlot<Arc<Bound<T>>>,
}

redis_output!(StreamOutput);

impl<T: 'static> StreamOutput<T> {
    /// Adds `value` as a new entry; returns the entry's id.
    pub async fn push(&self, value: &T) -> Result<String, Error> {
        let bound = self.bound()?;
        let body = bound.encode(value)?;
        if let Some(position) = bound.shared.send_in_memory(&bound.name, &body) {
            return Ok(format!("0-{}", position + 1));
        }
        let config = bound.shared.config();
        let mut cmd = redis::cmd("XADD");
        cmd.arg(&*bound.name);
        if let Some(max_len) = config.as_ref().and_then(|c| c.streams.max_len) {
            cmd.arg("MAXLEN").arg("~").arg(max_len);
        }
        let field = config.as_ref().map_or("body", |c| &*c.streams.field);
        cmd.arg("*").arg(field).arg(body);
        bound.redis().query(&cmd).await
    }
}
