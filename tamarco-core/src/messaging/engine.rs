//! [`Engine`]: the inputs of one messaging resource, run on its [`Transport`]. The resource
//! embeds one, declares inputs on it, starts it with its transport and stops it. Declaring and
//! the counts live here; starting and stopping in `running`, the input loops in `supervise`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::dispatch::{Handle, Respond};
use super::input::{Input, InputTask};
use super::kind::Kind;
use super::message::Message;
use super::resolve::{Resolved, resolve};
use super::spec::InputSpec;
use super::state::{Declared, EngineState};
use super::stream::{InputStream, Stream};
use super::supervise::launch_via;
use super::transport::Transport;
use crate::BoxError;
use crate::codec::{BoundCodec, Codec};
use crate::resource::ResourceStatus;

/// A declaration the engine refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Two inputs of one kind read the same name.
    #[error("resource `{resource}` already has a {kind} input `{input}`")]
    DuplicateInput {
        /// The resource.
        resource: String,
        /// The input's kind.
        kind: &'static str,
        /// The input's name.
        input: String,
    },
    /// A transport option ([`InputSpec::transport_option`]) the transport does not take.
    #[error("input `{input}`: the option `{option}` is not one this transport takes ({known})")]
    UnknownOption {
        /// The input's name.
        input: String,
        /// The option's key.
        option: String,
        /// The keys the transport takes, listed.
        known: String,
    },
    /// A stream reader must be declared on the service's tokio runtime (it is spawned there).
    #[error("the reader of input `{input}` must be declared on a tokio runtime")]
    NoRuntime {
        /// The input's name.
        input: String,
    },
}

/// The inputs of one messaging resource: dispatch to handlers or streams, retries with backoff,
/// dead letters, panic isolation around decode and handler, per-input counts, a graceful stop
/// that finishes the messages in flight, and supervised loops (one that ends unexpectedly marks
/// the resource `FAILED`). See the [module docs](super).
pub struct Engine<Tr: Transport> {
    pub(super) shared: Arc<EngineState<Tr>>,
}

impl<Tr: Transport> Default for Engine<Tr> {
    fn default() -> Self {
        Engine::new()
    }
}

impl<Tr: Transport> fmt::Debug for Engine<Tr> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field(
                "resource",
                &*self.shared.resource.lock().expect("resource lock"),
            )
            .field(
                "inputs",
                &self.shared.inputs.lock().expect("inputs lock").len(),
            )
            .finish_non_exhaustive()
    }
}

impl<Tr: Transport> Engine<Tr> {
    /// An engine with no inputs.
    pub fn new() -> Self {
        Engine {
            shared: Arc::new(EngineState::new()),
        }
    }

    /// Declares an input of kind `K` whose `handler` runs for every message. The message is
    /// acked once the handler returns `Ok`; an `Err` or a panic is retried with a doubling
    /// backoff, then the message is dead-lettered. A message that cannot be decoded (or whose
    /// metadata cannot be read) is dead-lettered at once.
    pub fn handle<K, T, C, F, Fut, E>(
        &self,
        spec: InputSpec,
        codec: C,
        handler: F,
    ) -> Result<(), EngineError>
    where
        K: Kind,
        T: Send + 'static,
        C: Codec<T>,
        F: Fn(Message<T, Tr::Meta>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send,
        E: Into<BoxError>,
    {
        let codec = BoundCodec::new(spec.name(), codec);
        let name = codec.codec_name().to_owned();
        let input = Arc::new(Input::new(spec, K::NAME, name, Handle { codec, handler }));
        self.declare(Declared {
            task: Arc::clone(&input) as Arc<dyn InputTask<Tr>>,
            memory: Some(input),
        })
    }

    /// Declares a request input of kind `K`: `handler`'s `Ok` value is encoded with `codec`
    /// and sent back as the reply, then the request is acked. A request that ends
    /// dead-lettered is answered with the error, so the requester fails at once.
    pub fn respond<K, Q, P, C, F, Fut, E>(
        &self,
        spec: InputSpec,
        codec: C,
        handler: F,
    ) -> Result<(), EngineError>
    where
        K: Kind,
        Q: Send + 'static,
        P: Send + 'static,
        C: Codec<Q> + Codec<P>,
        F: Fn(Message<Q, Tr::Meta>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<P, E>> + Send,
        E: Into<BoxError>,
    {
        let codec = Arc::new(codec);
        let requests = BoundCodec::from_arc(spec.name(), Arc::clone(&codec) as Arc<dyn Codec<Q>>);
        let replies = BoundCodec::from_arc(spec.name(), codec as Arc<dyn Codec<P>>);
        let name = requests.codec_name().to_owned();
        let dispatch = Respond {
            codec: requests,
            reply_codec: replies,
            handler,
        };
        let input = Arc::new(Input::new(spec, K::NAME, name, dispatch));
        self.declare(Declared {
            task: Arc::clone(&input) as Arc<dyn InputTask<Tr>>,
            memory: Some(input),
        })
    }

    /// Declares an input of kind `K` read as a stream of deliveries that the reader settles.
    /// At most `prefetch` (32 by default) decoded deliveries wait in the stream.
    pub fn stream<K, T, C>(
        &self,
        spec: InputSpec,
        codec: C,
    ) -> Result<InputStream<T, Tr::Received>, EngineError>
    where
        K: Kind,
        T: Send + 'static,
        C: Codec<T>,
    {
        let buffer = usize::from(spec.options().prefetch.unwrap_or(32)).max(1);
        let (sender, receiver) = mpsc::channel(buffer);
        let codec = BoundCodec::new(spec.name(), codec);
        let name = codec.codec_name().to_owned();
        let input = spec.name().to_owned();
        let stream = Input::new(spec, K::NAME, name, Stream { codec, sender });
        self.declare(Declared {
            task: Arc::new(stream),
            memory: None,
        })?;
        Ok(InputStream::new(receiver, input))
    }

    fn declare(&self, declared: Declared<Tr>) -> Result<(), EngineError> {
        let input = &declared.task;
        if let Some((option, _)) = input
            .spec()
            .transport_options()
            .iter()
            .find(|(key, _)| !Tr::INPUT_KEYS.contains(&key.as_str()))
        {
            return Err(EngineError::UnknownOption {
                input: input.spec().name().to_owned(),
                option: option.clone(),
                known: match Tr::INPUT_KEYS {
                    [] => "it takes none".to_owned(),
                    keys => format!("it takes `{}`", keys.join("`, `")),
                },
            });
        }
        {
            let mut inputs = self.shared.inputs.lock().expect("inputs lock");
            if inputs.iter().any(|i| {
                i.task.kind() == input.kind() && i.task.spec().name() == input.spec().name()
            }) {
                return Err(EngineError::DuplicateInput {
                    resource: self.resource().to_string(),
                    kind: input.kind(),
                    input: input.spec().name().to_owned(),
                });
            }
            inputs.push(declared.clone());
        }
        // Declared while running: it starts at once.
        let started = self.shared.started.lock().expect("started lock");
        if let Some(started) = &*started {
            let options = resolve(&started.cx, input.spec(), &started.defaults, Tr::INPUT_KEYS)
                .unwrap_or_else(|error| {
                    tracing::error!(
                        resource = started.cx.name(),
                        input = input.spec().name(),
                        "ignoring the input's settings: {error}"
                    );
                    Resolved::from_code(input.spec(), &started.defaults)
                });
            match launch_via(&self.shared, started, &declared, options, None) {
                Ok(task) => self.shared.tasks.lock().expect("tasks lock").push(task),
                Err(problem) => tracing::error!(
                    resource = started.cx.name(),
                    input = input.spec().name(),
                    "input not started: {problem}"
                ),
            }
        }
        Ok(())
    }

    pub(super) fn resource(&self) -> Arc<str> {
        Arc::clone(&self.shared.resource.lock().expect("resource lock"))
    }

    /// The resource's status as the engine sees it: `FAILED` after an input loop ended
    /// unexpectedly, else `None` (whatever the resource says).
    pub fn status(&self) -> Option<ResourceStatus> {
        self.failed().then_some(ResourceStatus::Failed)
    }

    /// The inputs for `/status`: name, kind, mode, codec and counts.
    pub fn status_fields(&self) -> Value {
        let inputs = self.shared.inputs.lock().expect("inputs lock");
        Value::Array(
            inputs
                .iter()
                .map(|Declared { task: input, .. }| {
                    let mut entry = json!({
                        "name": input.spec().name(),
                        "kind": input.kind(),
                        "mode": input.mode(),
                        "codec": input.codec(),
                    });
                    if let (Value::Object(entry), Value::Object(counts)) =
                        (&mut entry, input.stats().to_json())
                    {
                        entry.extend(input.spec().transport_options().iter().cloned());
                        entry.extend(counts);
                    }
                    entry
                })
                .collect(),
        )
    }
}
