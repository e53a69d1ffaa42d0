//! Codecs: how messaging resources turn values into message bodies and back.
//!
//! Every messaging resource (AMQP, Kafka...) speaks the same vocabulary: an *input* receives
//! messages from a queue or topic and decodes them, an *output* encodes values and sends them,
//! and each one is given its codec, chosen per input and output. A codec is anything that
//! implements [`Codec<T>`] for the type `T` it carries:
//!
//! | codec | carries | wire format | content type |
//! |---|---|---|---|
//! | [`Json`] | any serde type | JSON (`serde_json`) | `application/json` |
//! | [`Yaml`] | any serde type | YAML (`serde_yaml_ng`, cargo feature `yaml`) | `application/yaml` |
//! | [`Postcard`] | any serde type | compact binary ([`postcard`](https://docs.rs/postcard)) | `application/x-postcard` |
//! | [`Text`] | `String` | UTF-8 text | `text/plain; charset=utf-8` |
//! | [`Raw`] | `Vec<u8>` | the bytes as they are (the original's "no codec") | `application/octet-stream` |
//!
//! The trait is object-safe: an input holds an `Arc<dyn Codec<T>>`, so a user codec is just
//! another implementation. Resources bind a codec to the input or output it serves with
//! [`BoundCodec`], whose errors ([`CodecError`]) name both:
//!
//! ```
//! use tamarco_core::codec::{BoundCodec, Json};
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Order { id: u32 }
//!
//! let orders = BoundCodec::new("orders", Json);
//! let body = orders.encode(&Order { id: 7 }).unwrap();
//! assert_eq!(body, br#"{"id":7}"#);
//! assert_eq!(orders.decode(&body).unwrap(), Order { id: 7 });
//!
//! let error = orders.decode(b"not json").unwrap_err();
//! assert!(error.to_string().starts_with("cannot decode a message from `orders` with the json codec"));
//! ```

mod builtin;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::BoxError;

#[cfg(feature = "yaml")]
pub use builtin::Yaml;
pub use builtin::{Json, Postcard, Raw, Text};

/// Turns values of type `T` into message bodies and back.
///
/// Implement it for your own format; the built-in codecs cover JSON, YAML, postcard, UTF-8
/// text and raw bytes. Errors are plain [`BoxError`]s: the resource using the codec wraps them
/// in a [`CodecError`] that names the input or output and the codec.
///
/// ```
/// use tamarco_core::BoxError;
/// use tamarco_core::codec::{BoundCodec, Codec};
///
/// /// Numbers as decimal text.
/// struct Decimal;
///
/// impl Codec<u64> for Decimal {
///     fn name(&self) -> &str { "decimal" }
///     fn encode(&self, value: &u64) -> Result<Vec<u8>, BoxError> {
///         Ok(value.to_string().into_bytes())
///     }
///     fn decode(&self, bytes: &[u8]) -> Result<u64, BoxError> {
///         Ok(std::str::from_utf8(bytes)?.trim().parse()?)
///     }
/// }
///
/// let counts = BoundCodec::new("counts", Decimal);
/// assert_eq!(counts.decode(b"42").unwrap(), 42);
/// assert!(counts.decode(b"forty-two").unwrap_err().to_string().contains("decimal codec"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot encode and decode `{T}`",
    note = "the serde codecs (Json, Yaml, Postcard) need `{T}: Serialize + DeserializeOwned`; \
            `Text` carries `String` and `Raw` carries `Vec<u8>`"
)]
pub trait Codec<T>: Send + Sync + 'static {
    /// A short name for errors, logs and `/status` (`json`, `yaml`...).
    fn name(&self) -> &str;

    /// The MIME type outputs set on the messages they send, if any.
    fn content_type(&self) -> Option<&str> {
        None
    }

    /// Encodes `value` into a message body.
    fn encode(&self, value: &T) -> Result<Vec<u8>, BoxError>;

    /// Decodes a message body.
    fn decode(&self, bytes: &[u8]) -> Result<T, BoxError>;

    /// Decodes a message body the caller owns; codecs that can reuse the buffer (raw bytes,
    /// text) override it to avoid a copy.
    fn decode_owned(&self, bytes: Vec<u8>) -> Result<T, BoxError> {
        self.decode(&bytes)
    }
}

impl<T, C: Codec<T> + ?Sized> Codec<T> for Arc<C> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn content_type(&self) -> Option<&str> {
        (**self).content_type()
    }
    fn encode(&self, value: &T) -> Result<Vec<u8>, BoxError> {
        (**self).encode(value)
    }
    fn decode(&self, bytes: &[u8]) -> Result<T, BoxError> {
        (**self).decode(bytes)
    }
    fn decode_owned(&self, bytes: Vec<u8>) -> Result<T, BoxError> {
        (**self).decode_owned(bytes)
    }
}

impl<T, C: Codec<T> + ?Sized> Codec<T> for Box<C> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn content_type(&self) -> Option<&str> {
        (**self).content_type()
    }
    fn encode(&self, value: &T) -> Result<Vec<u8>, BoxError> {
        (**self).encode(value)
    }
    fn decode(&self, bytes: &[u8]) -> Result<T, BoxError> {
        (**self).decode(bytes)
    }
    fn decode_owned(&self, bytes: Vec<u8>) -> Result<T, BoxError> {
        (**self).decode_owned(bytes)
    }
}

/// Which way a codec failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A value could not be turned into a message body (on an output).
    Encode,
    /// A message body could not be turned into a value (on an input).
    Decode,
}

impl Direction {
    /// `encode` or `decode`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Encode => "encode",
            Direction::Decode => "decode",
        }
    }

    fn preposition(self) -> &'static str {
        match self {
            Direction::Encode => "for",
            Direction::Decode => "from",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message could not be encoded or decoded. Names the input or output (its queue or topic)
/// and the codec; the codec's own error is the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot {direction} a message {} `{endpoint}` with the {codec} codec",
    .direction.preposition()
)]
pub struct CodecError {
    /// Encoding or decoding.
    pub direction: Direction,
    /// The input or output: its queue or topic.
    pub endpoint: String,
    /// The codec's [name](Codec::name).
    pub codec: String,
    /// What the codec reported.
    #[source]
    pub source: BoxError,
}

/// A codec bound to the input or output it serves, so that its errors name both.
pub struct BoundCodec<T: 'static> {
    endpoint: Arc<str>,
    codec: Arc<dyn Codec<T>>,
}

impl<T: 'static> BoundCodec<T> {
    /// Binds `codec` to the input or output `endpoint` (its queue or topic). A codec that is
    /// already an `Arc<dyn Codec<T>>` (as resources keep their inputs' codecs) is shared, not
    /// wrapped: wrapped, every message would go through two dynamic calls.
    pub fn new<C: Codec<T>>(endpoint: impl Into<String>, codec: C) -> Self {
        let shared = match (&codec as &dyn Any).downcast_ref::<Arc<dyn Codec<T>>>() {
            Some(shared) => Arc::clone(shared),
            None => Arc::new(codec),
        };
        BoundCodec::from_arc(endpoint, shared)
    }

    /// Binds an already shared codec.
    pub fn from_arc(endpoint: impl Into<String>, codec: Arc<dyn Codec<T>>) -> Self {
        BoundCodec {
            endpoint: Arc::from(endpoint.into()),
            codec,
        }
    }

    /// The input or output this codec serves.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The codec's name.
    pub fn codec_name(&self) -> &str {
        self.codec.name()
    }

    /// The codec's MIME type, if it has one.
    pub fn content_type(&self) -> Option<&str> {
        self.codec.content_type()
    }

    /// The codec itself.
    pub fn codec(&self) -> &Arc<dyn Codec<T>> {
        &self.codec
    }

    /// Encodes `value`; the error names the output and the codec.
    pub fn encode(&self, value: &T) -> Result<Vec<u8>, CodecError> {
        self.codec
            .encode(value)
            .map_err(|source| self.error(Direction::Encode, source))
    }

    /// Decodes `bytes`; the error names the input and the codec.
    pub fn decode(&self, bytes: &[u8]) -> Result<T, CodecError> {
        self.codec
            .decode(bytes)
            .map_err(|source| self.error(Direction::Decode, source))
    }

    /// Decodes a body the caller owns (no copy for [`Raw`] and [`Text`]).
    pub fn decode_owned(&self, bytes: Vec<u8>) -> Result<T, CodecError> {
        self.codec
            .decode_owned(bytes)
            .map_err(|source| self.error(Direction::Decode, source))
    }

    /// The error of a failed [`Codec::decode`] of this codec, naming the input and the codec:
    /// for a caller that decodes through [`codec`](Self::codec) to keep the error out of the
    /// way of every message that decodes.
    #[cold]
    pub(crate) fn decode_error(&self, source: BoxError) -> CodecError {
        self.error(Direction::Decode, source)
    }

    fn error(&self, direction: Direction, source: BoxError) -> CodecError {
        CodecError {
            direction,
            endpoint: self.endpoint.to_string(),
            codec: self.codec.name().to_owned(),
            source,
        }
    }
}

impl<T: 'static> Clone for BoundCodec<T> {
    fn clone(&self) -> Self {
        BoundCodec {
            endpoint: Arc::clone(&self.endpoint),
            codec: Arc::clone(&self.codec),
        }
    }
}

impl<T: 'static> fmt::Debug for BoundCodec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundCodec")
            .field("endpoint", &self.endpoint)
            .field("codec", &self.codec.name())
            .finish()
    }
}
