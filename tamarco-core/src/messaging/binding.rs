//! The declarative side: which resources have which inputs ([`Inputs`]), how an output field
//! is bound to its resource ([`Output`], [`OutputSlot`]), and the functions the code of
//! `#[input]` and `#[output]` calls (through `tamarco::__private`).

use std::fmt;
use std::future::Future;
use std::sync::OnceLock;

use super::engine::Engine;
use super::kind::{self, Kind};
use super::message::Message;
use super::spec::InputSpec;
use super::stream::InputStream;
use super::transport::Transport;
use crate::BoxError;
use crate::codec::Codec;
use crate::resource::Resource;

/// A resource with inputs of kind `K`, run by its [`Engine`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `{K}` inputs",
    label = "this resource cannot feed this kind of `#[input]`",
    note = "AMQP (`tamarco::amqp::Amqp`) has `pull`, `subscribe` and `request` inputs; Kafka (`tamarco::kafka::Kafka`) has `topic` inputs; Redis (`tamarco::redis::Redis`) has `subscribe` and `stream` inputs"
)]
pub trait Inputs<K: Kind>: Resource {
    /// The transport under the resource.
    type Transport: Transport;

    /// The resource's engine.
    fn engine(&self) -> &Engine<Self::Transport>;
}

/// The metadata the handlers of `R`'s inputs of kind `K` see.
pub type MetaOf<R, K> = <<R as Inputs<K>>::Transport as Transport>::Meta;

/// Declares an input of kind `K` on `resource` whose handler returns nothing to send back
/// (`#[input(amqp, pull = "orders")]`).
pub fn bind_input<R, K, T, C, F, Fut, E>(
    resource: &R,
    spec: InputSpec,
    codec: C,
    handler: F,
) -> Result<(), BoxError>
where
    R: Inputs<K>,
    K: Kind,
    T: Send + 'static,
    C: Codec<T>,
    F: Fn(Message<T, MetaOf<R, K>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Into<BoxError>,
{
    Ok(resource
        .engine()
        .handle::<K, T, C, F, Fut, E>(spec, codec, handler)?)
}

/// What `R`'s transport for inputs of kind `K` receives (the `R` of `InputStream<T, R>`).
pub type ReceivedOf<R, K> = <<R as Inputs<K>>::Transport as Transport>::Received;

/// Declares an input of kind `K` on `resource` read as a stream by `reader`, which the engine
/// runs and waits for (`#[input(kafka, topic = "events", stream)]`).
pub fn bind_stream_input<R, K, T, C, F, Fut, E>(
    resource: &R,
    spec: InputSpec,
    codec: C,
    reader: F,
) -> Result<(), BoxError>
where
    R: Inputs<K>,
    K: Kind,
    T: Send + 'static,
    C: Codec<T>,
    F: FnOnce(InputStream<T, ReceivedOf<R, K>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    Ok(resource
        .engine()
        .read::<K, T, C, F, Fut, E>(spec, codec, reader)?)
}

/// Declares a request input on `resource` whose handler's result is the reply
/// (`#[input(amqp, request = "quotes")]`).
pub fn bind_request_input<R, Q, P, C, F, Fut, E>(
    resource: &R,
    spec: InputSpec,
    codec: C,
    handler: F,
) -> Result<(), BoxError>
where
    R: Inputs<kind::Request>,
    Q: Send + 'static,
    P: Send + 'static,
    C: Codec<Q> + Codec<P>,
    F: Fn(Message<Q, MetaOf<R, kind::Request>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<P, E>> + Send,
    E: Into<BoxError>,
{
    let engine = resource.engine();
    Ok(engine.respond::<kind::Request, Q, P, C, F, Fut, E>(spec, codec, handler)?)
}

/// An output field type that resource `R` binds, with codec `C`. Output types are `Default`
/// (unbound) so that a service can `#[derive(Default)]`; the code of `#[output]` binds them
/// before the resource starts.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an output of `{R}` with codec `{C}`",
    label = "this output cannot be bound to that resource with that codec",
    note = "AMQP outputs: PushOutput, PublishOutput, RequestOutput, GenericOutput; Kafka: TopicOutput; Redis: PublishOutput, StreamOutput; the codec must encode (and for requests decode) the output's types"
)]
pub trait Output<R, C>: Default + Send + Sync + 'static {
    /// Binds the output to `resource` under `name` (its queue or topic), with `codec`.
    fn bind(&self, resource: &R, name: &'static str, codec: C) -> Result<(), BoxError>;
}

/// Binds `output` to `resource` (`#[output(amqp, push = "orders")]`).
pub fn bind_output<R, O, C>(
    resource: &R,
    output: &O,
    name: &'static str,
    codec: C,
) -> Result<(), BoxError>
where
    O: Output<R, C>,
{
    output.bind(resource, name, codec)
}

/// Compiles only if `C` encodes and decodes `T`: the code of `#[output]` may call it at the
/// user's type so that a mismatch is reported there.
pub fn codec_carries<T, C: Codec<T>>() {}

/// An output used before it was bound.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the output `{output}` is not bound to a resource: declare it with `#[output(...)]` on a `#[microservice]` field, or make it with the resource's `*_output` method"
)]
pub struct Unbound {
    /// The output's type.
    pub output: &'static str,
}

/// An output bound a second time.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the output `{output}` is already bound (to `{name}`)")]
pub struct AlreadyBound {
    /// The output's type.
    pub output: &'static str,
    /// What it was bound to.
    pub name: String,
}

/// Where an output type keeps what binding gave it: empty by default, set once.
pub struct OutputSlot<B> {
    bound: OnceLock<B>,
}

impl<B> Default for OutputSlot<B> {
    fn default() -> Self {
        OutputSlot {
            bound: OnceLock::new(),
        }
    }
}

impl<B> OutputSlot<B> {
    /// A slot bound already (the hand-wired `amqp.push_output(...)`).
    pub fn bound(value: B) -> Self {
        let bound = OnceLock::new();
        let _ = bound.set(value);
        OutputSlot { bound }
    }

    /// Binds the slot; `output` (its type name) and `name` word the error if it was bound.
    pub fn bind(&self, output: &'static str, name: &str, value: B) -> Result<(), AlreadyBound> {
        self.bound.set(value).map_err(|_| AlreadyBound {
            output,
            name: name.to_owned(),
        })
    }

    /// What binding gave, or [`Unbound`] naming `output` (its type name).
    pub fn get(&self, output: &'static str) -> Result<&B, Unbound> {
        self.bound.get().ok_or(Unbound { output })
    }

    /// Whether it is bound.
    pub fn is_bound(&self) -> bool {
        self.bound.get().is_some()
    }
}

impl<B: Clone> Clone for OutputSlot<B> {
    fn clone(&self) -> Self {
        OutputSlot {
            bound: self.bound.clone(),
        }
    }
}

impl<B> fmt::Debug for OutputSlot<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputSlot")
            .field("bound", &self.is_bound())
            .finish()
    }
}
