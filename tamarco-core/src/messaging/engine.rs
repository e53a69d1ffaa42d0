//! [`Engine`]: the inputs of one messaging resource, run on its [`Transport`]. The resource
//! embeds one, declares inputs on it, starts it with its transport and stops it.
//!
//! Over 400 lines: declaring, starting (on the resource's transport or a test's in-memory
//! broker), stopping and supervising share the engine's private state, kept in this one file.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::dispatch::{Handle, Respond, panicked};
use super::input::{Input, InputTask, Launch};
use super::kind::Kind;
use super::memory::{MemoryBroker, MemoryTransport};
use super::message::Message;
use super::spec::{InputOptions, InputSpec};
use super::stream::{InputStream, Stream};
use super::transport::Transport;
use crate::codec::{BoundCodec, Codec};
use crate::resource::{ResourceContext, ResourceStatus};
use crate::{BoxError, error_chain};

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
    /// A stream reader must be declared on the service's tokio runtime (it is spawned there).
    #[error("the reader of input `{input}` must be declared on a tokio runtime")]
    NoRuntime {
        /// The input's name.
        input: String,
    },
}

/// The running state, kept for inputs declared after the start.
pub(super) struct Started<Tr: Transport> {
    via: Via<Tr>,
    pub(super) cx: ResourceContext,
    defaults: InputOptions,
}

/// What the inputs run on: the resource's own transport, or the in-memory broker of a test.
enum Via<Tr: Transport> {
    Own(Arc<Tr>),
    Memory(Arc<MemoryTransport<Tr::Meta>>),
}

/// A declared input, as the resource's transport and the in-memory one run it (the same input
/// behind two vtables).
struct Declared<Tr: Transport> {
    task: Arc<dyn InputTask<Tr>>,
    /// `None` for streams: their deliveries carry the resource's own received type.
    memory: Option<Arc<dyn InputTask<MemoryTransport<Tr::Meta>>>>,
}

impl<Tr: Transport> Clone for Declared<Tr> {
    fn clone(&self) -> Self {
        Declared {
            task: Arc::clone(&self.task),
            memory: self.memory.clone(),
        }
    }
}

pub(super) struct Shared<Tr: Transport> {
    pub(super) resource: Mutex<Arc<str>>,
    inputs: Mutex<Vec<Declared<Tr>>>,
    halt: watch::Sender<bool>,
    pub(super) started: Mutex<Option<Started<Tr>>>,
    /// The input loops and stream readers, waited for by `stop`.
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Halts the inputs when the service begins to stop.
    halter: Mutex<Option<JoinHandle<()>>>,
    pub(super) failed: AtomicBool,
}

/// The inputs of one messaging resource: dispatch to handlers or streams, retries with backoff,
/// dead letters, panic isolation around decode and handler, per-input counts, a graceful stop
/// that finishes the messages in flight, and supervised loops (one that ends unexpectedly marks
/// the resource `FAILED`). See the [module docs](super).
pub struct Engine<Tr: Transport> {
    pub(super) shared: Arc<Shared<Tr>>,
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
            shared: Arc::new(Shared {
                resource: Mutex::new(Arc::from("messaging")),
                inputs: Mutex::default(),
                halt: watch::Sender::new(false),
                started: Mutex::new(None),
                tasks: Mutex::default(),
                halter: Mutex::default(),
                failed: AtomicBool::new(false),
            }),
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
            let options =
                resolve(&started.cx, input.spec(), &started.defaults).unwrap_or_else(|error| {
                    tracing::error!(
                        resource = started.cx.name(),
                        input = input.spec().name(),
                        "ignoring the input's settings: {error}"
                    );
                    input.spec().options().clone().or(&started.defaults)
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

    /// Starts every input declared so far on `transport` (later ones start as they are
    /// declared), and waits until each consumes, at most `ready_timeout`. `defaults` fill what
    /// neither the code nor the settings (`inputs.<name>` under the resource's settings) say.
    /// The inputs halt when the service begins to stop.
    pub async fn start(
        &self,
        transport: Arc<Tr>,
        cx: &ResourceContext,
        defaults: InputOptions,
        ready_timeout: Duration,
    ) -> Result<(), BoxError> {
        self.begin(Via::Own(transport), cx, defaults, ready_timeout)
            .await
    }

    /// Starts the inputs as [`start`](Self::start) does, but on the in-memory `broker` instead
    /// of the resource's transport (a test's broker: see [`MemoryBroker::for_resource`]);
    /// handlers see `meta(envelope)` as the transport's metadata. Stream inputs cannot run
    /// there: the start fails naming them.
    pub async fn start_in_memory<F>(
        &self,
        broker: &MemoryBroker,
        meta: F,
        cx: &ResourceContext,
        defaults: InputOptions,
        ready_timeout: Duration,
    ) -> Result<(), BoxError>
    where
        F: Fn(&super::memory::Envelope) -> Tr::Meta + Send + Sync + 'static,
    {
        let transport = Arc::new(broker.transport(meta));
        self.begin(Via::Memory(transport), cx, defaults, ready_timeout)
            .await
    }

    async fn begin(
        &self,
        via: Via<Tr>,
        cx: &ResourceContext,
        defaults: InputOptions,
        ready_timeout: Duration,
    ) -> Result<(), BoxError> {
        *self.shared.resource.lock().expect("resource lock") = Arc::from(cx.name());
        self.shared.halt.send_replace(false);
        self.shared.failed.store(false, Ordering::Release);
        let inputs = self.shared.inputs.lock().expect("inputs lock").clone();
        let resolved = inputs
            .iter()
            .map(|input| resolve(cx, input.task.spec(), &defaults).map(|o| (input.clone(), o)))
            .collect::<Result<Vec<_>, _>>()?;
        let started = Started {
            via,
            cx: cx.clone(),
            defaults,
        };
        let mut firsts = Vec::new();
        {
            let mut tasks = self.shared.tasks.lock().expect("tasks lock");
            for (input, options) in resolved {
                let (sender, receiver) = oneshot::channel();
                let task = launch_via(&self.shared, &started, &input, options, Some(sender))?;
                tasks.push(task);
                firsts.push((input.task, receiver));
            }
        }
        let stopping = cx.shutdown().clone();
        let halt = self.shared.halt.clone();
        let halter = tokio::spawn(async move {
            stopping.stopping().await;
            halt.send_replace(true);
        });
        let previous = self
            .shared
            .halter
            .lock()
            .expect("halter lock")
            .replace(halter);
        if let Some(previous) = previous {
            previous.abort();
        }
        *self.shared.started.lock().expect("started lock") = Some(started);
        for (input, first) in firsts {
            let problem = match tokio::time::timeout(ready_timeout, first).await {
                Ok(Ok(Ok(()))) => continue,
                Ok(Ok(Err(problem))) => problem,
                Ok(Err(_)) => "it stopped before consuming".to_owned(),
                Err(_) => format!("not consuming after {ready_timeout:?}"),
            };
            return Err(format!(
                "{} input `{}` cannot start: {problem}",
                input.kind(),
                input.spec().name()
            )
            .into());
        }
        Ok(())
    }

    /// Stops intake: inputs take no new messages, streams end after what they buffered.
    pub fn halt(&self) {
        self.shared.halt.send_replace(true);
    }

    /// Halts, then waits for the messages in flight to be finished and settled, at most
    /// `timeout`; what is still running then is abandoned (its messages go back to the broker
    /// when the transport closes). Returns whether everything finished.
    pub async fn stop(&self, timeout: Duration) -> bool {
        self.halt();
        *self.shared.started.lock().expect("started lock") = None;
        let tasks: Vec<_> = self
            .shared
            .tasks
            .lock()
            .expect("tasks lock")
            .drain(..)
            .collect();
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        // The halter waits for the service's stop, which may not come (the engine can be
        // stopped on its own).
        if let Some(halter) = self.shared.halter.lock().expect("halter lock").take() {
            halter.abort();
        }
        let finished = tokio::time::timeout(timeout, futures_util::future::join_all(tasks))
            .await
            .is_ok();
        if !finished {
            tracing::warn!(
                resource = &*self.resource(),
                "handlers still running after {timeout:?}; their messages go back to the broker"
            );
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
        finished
    }

    /// Whether an input loop ended unexpectedly (the resource is then `FAILED`).
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
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
                        entry.extend(counts);
                    }
                    entry
                })
                .collect(),
        )
    }
}

/// An input's options: settings (`inputs.<name>`) over code over the resource's defaults.
fn resolve(
    cx: &ResourceContext,
    spec: &InputSpec,
    defaults: &InputOptions,
) -> Result<InputOptions, crate::SettingsError> {
    let key = format!("inputs.{}", spec.name());
    let settings = cx.settings().get_opt::<InputOptions>(&key)?;
    Ok(settings.unwrap_or_default().or(spec.options()).or(defaults))
}

/// Spawns an input's loop on what the engine runs on; an input that cannot run there (a stream
/// on the in-memory broker) is an error naming it.
fn launch_via<Tr: Transport>(
    shared: &Arc<Shared<Tr>>,
    started: &Started<Tr>,
    input: &Declared<Tr>,
    options: InputOptions,
    first: Option<oneshot::Sender<Result<(), String>>>,
) -> Result<JoinHandle<()>, String> {
    let cx = &started.cx;
    match (&started.via, &input.memory) {
        (Via::Own(transport), _) => Ok(launch(
            shared,
            Arc::clone(transport),
            cx,
            Arc::clone(&input.task),
            options,
            first,
        )),
        (Via::Memory(transport), Some(task)) => Ok(launch(
            shared,
            Arc::clone(transport),
            cx,
            Arc::clone(task),
            options,
            first,
        )),
        (Via::Memory(_), None) => Err(format!(
            "{} input `{}` is a stream, which cannot run on the in-memory broker",
            input.task.kind(),
            input.task.spec().name()
        )),
    }
}

/// Spawns an input's loop under supervision: a loop that panics, fails or ends while the input
/// should run marks the resource `FAILED` and says so in the log.
fn launch<Tr: Transport, T: Transport>(
    shared: &Arc<Shared<Tr>>,
    transport: Arc<T>,
    cx: &ResourceContext,
    input: Arc<dyn InputTask<T>>,
    options: InputOptions,
    first: Option<oneshot::Sender<Result<(), String>>>,
) -> JoinHandle<()> {
    let resource: Arc<str> = Arc::from(cx.name());
    let launch = Launch {
        transport,
        resource: Arc::clone(&resource),
        options,
        halt: shared.halt.subscribe(),
        first,
    };
    let cx = cx.clone();
    let shared = Arc::clone(shared);
    let name = input.spec().name().to_owned();
    let stream = input.mode() == "stream";
    tokio::spawn(async move {
        let ended = AssertUnwindSafe(input.run(launch)).catch_unwind().await;
        let problem = match ended {
            Ok(Ok(())) if *shared.halt.borrow() => return,
            Ok(Ok(())) => {
                // A stream whose reader went away ends its input on purpose.
                if stream {
                    return;
                }
                "it ended while the resource runs".to_owned()
            }
            Ok(Err(error)) => error_chain(&*error),
            Err(panic) => panicked("its loop", &*panic),
        };
        shared.failed.store(true, Ordering::Release);
        cx.status().set(ResourceStatus::Failed);
        tracing::error!(
            resource = &*resource,
            input = name,
            "input stopped unexpectedly, so the resource is FAILED: {problem}"
        );
    })
}
