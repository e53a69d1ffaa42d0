//! AMQP (RabbitMQ): push/pull, publish/subscribe and request/response, with codecs,
//! publisher confirms, acks after success, retries, dead letters and reconnection (cargo
//! feature `amqp`; `amqp-tls` adds `amqps`).
//!
//! [`Amqp`] is a resource like any other. Its inputs consume a queue and hand each message,
//! decoded by the input's [codec](tamarco_core::codec), to a handler method of the service or
//! to a stream; its outputs encode values and send them, resolving once the broker confirmed
//! them. Queues and exchanges carry the Python original's names, with `P` the
//! `queues_prefix` setting plus a dot (or nothing):
//!
//! | pattern | input | output | broker objects |
//! |---|---|---|---|
//! | push/pull | [`pull_input`](Amqp::pull_input) | [`push_output`](Amqp::push_output) | durable queue `P + "push_pull." + queue`, persistent messages, competing consumers |
//! | publish/subscribe | [`subscription_input`](Amqp::subscription_input) | [`publish_output`](Amqp::publish_output) | durable fanout exchange `P + "publish_subscribe." + queue`; one exclusive queue per subscriber |
//! | request/response | [`request_input`](Amqp::request_input) | [`request_output`](Amqp::request_output) | queue `P + "request_response." + queue`; requests carry `reply_to` and `correlation_id` |
//!
//! A [`generic_output`](Amqp::generic_output) takes the queue per call.
//!
//! ```rust,no_run
//! use std::sync::Arc;
//!
//! use tamarco::amqp::{Amqp, Message, PushOutput, Request};
//! use tamarco::codec::Json;
//! use tamarco::prelude::*;
//!
//! #[derive(tamarco::serde::Serialize, tamarco::serde::Deserialize)]
//! #[serde(crate = "tamarco::serde")]
//! struct Order { id: u64, total: f64 }
//!
//! #[microservice]
//! struct Shop {
//!     #[resource]
//!     amqp: Amqp,
//!     invoices: PushOutput<Order>,
//! }
//!
//! #[microservice]
//! impl Shop {
//!     /// Inputs are declared before the resource starts; it consumes them as it starts.
//!     async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
//!         self.amqp.pull_input("orders", Json).handle_with(&self, Self::on_order)?;
//!         self.amqp.request_input("totals", Json).handle_with(&self, Self::on_total)?;
//!         stage.run().await?;
//!         Ok(())
//!     }
//!
//!     /// Acked once it returns `Ok`; an error is retried, then dead-lettered.
//!     async fn on_order(self: Arc<Self>, order: Message<Order>) -> Result<(), BoxError> {
//!         self.invoices.push(order.value()).await?;
//!         Ok(())
//!     }
//!
//!     async fn on_total(self: Arc<Self>, request: Request<Order, f64>) -> Result<(), BoxError> {
//!         let total = request.value().total * 1.21;
//!         request.respond(&total).await?;
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> ExitStatus {
//!     let amqp = Amqp::new();
//!     let invoices = amqp.push_output("invoices", Json);
//!     Shop { amqp, invoices }.run()
//! }
//! ```
//!
//! An input can also be read as a stream from a task: `amqp.pull_input::<Order>("orders",
//! Json).stream()?` gives [`Delivery`]s to [`ack`](Delivery::ack). The stream ends when the
//! service begins to stop, so a cooperative `#[task]` that reads it ends by itself.
//!
//! # Settings
//!
//! At `system.resources.<name>`, all optional; see [`AmqpSettings`]: `host`, `port`, `vhost`,
//! `user`, `password` (never logged, never in `/status` nor in errors), `connection_timeout`,
//! `queues_prefix`, `tls` and `tls_ca_file`, and the delivery tuning below.
//!
//! # Delivery
//!
//! At least once. Every output waits for the broker's publisher confirm; push outputs send
//! persistent messages. An input acks a message only after its handler returned `Ok`. A
//! handler error (or panic) is retried `retries` times with a doubling backoff; then the
//! message goes to the input's dead-letter queue (`{queue}.dead_letter`, durable) with the
//! error, the reason and the attempt count in its headers ([`dead_letter_headers`]), and is
//! acked. A message the codec cannot decode goes there at once. A request that ends there is
//! answered with the error, so the requester fails at once ([`Error::Remote`]). `prefetch`
//! bounds the unacknowledged messages per input, `concurrency` the handlers running at once.
//!
//! # Connection
//!
//! `start` connects (retrying until `connection_timeout`), declares the outputs' queues and
//! exchanges, and starts the inputs declared so far (later ones start at once). When the
//! connection drops (a broker restart, a network cut), the resource reports `CONNECTING`,
//! reconnects with a doubling backoff (`reconnect_backoff_ms` up to
//! `reconnect_max_backoff_ms`), declares everything again and resumes consuming; sends wait
//! for the new connection (at most `publish_timeout_seconds`) and are then sent again, so a
//! message may arrive twice but is not lost. Requests waiting for a reply when the connection
//! drops fail with [`Error::ConnectionLost`].
//!
//! # Stop
//!
//! When the service begins to stop, inputs cancel their consumers (streams end); `stop` then
//! waits up to `stop_timeout_seconds` for the handlers in flight, closes the input channels
//! and the connection. Messages the broker had sent ahead but nobody handled go back to their
//! queue. `/status` lists the connection state, the inputs (queue, codec, counts) and the
//! outputs.

mod connection;
mod error;
mod input;
mod memory;
mod message;
mod output;
mod received;
mod session;
mod settings;
mod transport;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use lapin::BasicProperties;
use lapin::types::ShortString;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use tamarco_core::codec::Codec;
use tamarco_core::messaging::memory::MemoryBroker;
use tamarco_core::messaging::{Engine, InputOptions, Inputs, kind};
use tamarco_core::{BoxError, Resource, ResourceContext, ResourceStatus, error_chain};

use connection::{Declare, Link, PublishFailure, Target};
use output::OutputInfo;
use settings::Config;
use transport::{kind_of, pattern_of};

pub use error::Error;
pub use input::{
    Delivery, InputBuilder, InputStream, Request, RequestInputBuilder, RequestStream,
    dead_letter_headers,
};
/// The AMQP client underneath, for what this module does not wrap
/// ([`Meta::properties`]...).
pub use lapin;
pub use message::{Message, Meta};
pub use output::{GenericOutput, PublishOutput, PushOutput, RequestOutput};
pub use received::Received;
pub use settings::{AmqpSettings, Pattern};
pub use transport::{AmqpConsumer, AmqpTransport};

/// The AMQP resource: declare it as a `#[resource]` field, then make inputs and outputs with
/// its methods. See the [module docs](self).
pub struct Amqp {
    shared: Arc<Shared>,
}

impl Default for Amqp {
    fn default() -> Self {
        Amqp::new()
    }
}

impl Amqp {
    /// A resource with no inputs or outputs yet; it reads its settings when the service starts.
    pub fn new() -> Self {
        Amqp {
            shared: Arc::new(Shared::new()),
        }
    }

    /// The settings read in the configure phase (the password stays a [`Secret`](crate::secret::Secret)).
    pub fn settings(&self) -> Option<AmqpSettings> {
        self.shared.config().map(|config| config.settings.clone())
    }

    /// A push/pull input: consumes the durable queue `P + "push_pull." + queue`, in
    /// competition with the other consumers of that queue.
    pub fn pull_input<T: Send + 'static>(
        &self,
        queue: &str,
        codec: impl Codec<T>,
    ) -> InputBuilder<T> {
        InputBuilder::new(
            Arc::clone(&self.shared),
            Pattern::PushPull,
            queue,
            Arc::new(codec),
        )
    }

    /// A publish/subscribe input: binds an exclusive queue of its own to the fanout exchange
    /// `P + "publish_subscribe." + queue`, so it gets every message published there.
    pub fn subscription_input<T: Send + 'static>(
        &self,
        queue: &str,
        codec: impl Codec<T>,
    ) -> InputBuilder<T> {
        let shared = Arc::clone(&self.shared);
        InputBuilder::new(shared, Pattern::PublishSubscribe, queue, Arc::new(codec))
    }

    /// A request/response input: consumes requests `Q` from `P + "request_response." + queue`
    /// and answers each with a response `R`; `codec` encodes both.
    pub fn request_input<Q, R, C>(&self, queue: &str, codec: C) -> RequestInputBuilder<Q, R>
    where
        Q: Send + 'static,
        R: Send + 'static,
        C: Codec<Q> + Codec<R>,
    {
        let codec = Arc::new(codec);
        let requests: Arc<dyn Codec<Q>> = Arc::clone(&codec) as Arc<dyn Codec<Q>>;
        let responses: Arc<dyn Codec<R>> = codec;
        RequestInputBuilder::new(Arc::clone(&self.shared), queue, requests, responses)
    }

    /// An output to the push/pull queue `P + "push_pull." + queue`.
    pub fn push_output<T: Send + Sync + 'static>(
        &self,
        queue: &str,
        codec: impl Codec<T>,
    ) -> PushOutput<T> {
        PushOutput::new(Arc::clone(&self.shared), queue, Arc::new(codec))
    }

    /// An output to the fanout exchange `P + "publish_subscribe." + queue`.
    pub fn publish_output<T: Send + Sync + 'static>(
        &self,
        queue: &str,
        codec: impl Codec<T>,
    ) -> PublishOutput<T> {
        PublishOutput::new(Arc::clone(&self.shared), queue, Arc::new(codec))
    }

    /// An output that sends requests `Q` to `P + "request_response." + queue` and returns
    /// the replies `R`; `codec` encodes both.
    pub fn request_output<Q, R, C>(&self, queue: &str, codec: C) -> RequestOutput<Q, R>
    where
        Q: Send + Sync + 'static,
        R: Send + 'static,
        C: Codec<Q> + Codec<R>,
    {
        let codec = Arc::new(codec);
        let requests: Arc<dyn Codec<Q>> = Arc::clone(&codec) as Arc<dyn Codec<Q>>;
        let replies: Arc<dyn Codec<R>> = codec;
        RequestOutput::new(Arc::clone(&self.shared), queue, requests, replies)
    }

    /// An output that takes the queue per call.
    pub fn generic_output<T: Send + Sync + 'static>(
        &self,
        codec: impl Codec<T>,
    ) -> GenericOutput<T> {
        GenericOutput::new(Arc::clone(&self.shared), Arc::new(codec))
    }

    /// The full name of a queue (or, for publish/subscribe, exchange), with the prefix from
    /// the settings; `None` before the resource is configured.
    pub fn full_name(&self, pattern: Pattern, queue: &str) -> Option<String> {
        let config = self.shared.config()?;
        config.full_name(pattern, queue).ok().map(String::from)
    }

    /// Whether the resource holds a live connection to the broker.
    pub fn is_connected(&self) -> bool {
        matches!(&*self.shared.link.borrow(), LinkState::Up(link) if link.connected())
    }

    /// How many times the resource reconnected since it started.
    pub fn reconnects(&self) -> u64 {
        self.shared.reconnects.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Amqp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Amqp")
            .field("resource", &self.shared.resource())
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

macro_rules! amqp_inputs {
    ($($kind:ty),*) => {$(
        impl Inputs<$kind> for Amqp {
            type Transport = AmqpTransport;

            fn engine(&self) -> &Engine<AmqpTransport> {
                &self.shared.engine
            }
        }
    )*};
}

amqp_inputs!(kind::Pull, kind::Subscribe, kind::Request);

impl Resource for Amqp {
    fn bind(&self, cx: &ResourceContext) {
        let _ = self.shared.name.set(cx.name().to_owned());
        let _ = self.shared.service.set(cx.service().to_owned());
    }

    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let config = Config::load(cx)?;
        *self.shared.config.write().expect("config lock") = Some(Arc::new(config));
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let shared = &self.shared;
        let config = shared.config().ok_or("the resource was not configured")?;
        shared.halt.send_replace(false);
        shared.closing.send_replace(false);
        let settings = &config.settings;
        let defaults = InputOptions {
            prefetch: Some(settings.prefetch),
            concurrency: Some(settings.concurrency),
            retries: Some(settings.retries),
            retry_backoff_ms: Some(settings.retry_backoff_ms),
            dead_letter: Some(settings.dead_letter_queue.clone()),
            max_deliveries: None,
        };
        if let Some(broker) = MemoryBroker::for_resource(cx)? {
            return shared.start_in_memory(cx, &config, broker, defaults).await;
        }
        let link = connection::connect_first(shared, &config).await?;
        shared.link.send_replace(LinkState::Up(Arc::clone(&link)));
        tracing::info!(
            resource = cx.name(),
            broker = config.describe(),
            "amqp: connected"
        );
        let supervisor = tokio::spawn(connection::supervise(
            Arc::clone(shared),
            Arc::clone(&config),
            link,
        ));
        let shutdown = cx.shutdown().clone();
        let halting = Arc::clone(shared);
        let halter = tokio::spawn(async move {
            shutdown.stopping().await;
            halting.halt.send_replace(true);
        });
        shared
            .tasks
            .lock()
            .expect("tasks lock")
            .extend([supervisor, halter]);
        shared.running.store(true, Ordering::Release);
        // Start the inputs declared so far, and wait until each consumes: once started, a
        // subscription is bound and sees every message published from then on.
        let transport = Arc::new(AmqpTransport::new(Arc::clone(shared)));
        *shared.transport.lock().expect("transport lock") = Some(Arc::clone(&transport));
        let started = shared
            .engine
            .start(transport, cx, defaults, config.connection_timeout)
            .await;
        if let Err(error) = started {
            // The runtime does not stop a resource whose start failed: close what opened.
            self.shared.close(cx.name()).await;
            return Err(format!("amqp: {}", error_chain(&*error)).into());
        }
        Ok(())
    }

    async fn stop(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        self.shared.close(cx.name()).await;
        Ok(())
    }

    fn status(&self) -> Option<ResourceStatus> {
        let shared = &self.shared;
        let reconnecting = shared.running.load(Ordering::Acquire)
            && !*shared.halt.borrow()
            && matches!(&*shared.link.borrow(), LinkState::Down);
        shared
            .engine
            .status()
            .or(reconnecting.then_some(ResourceStatus::Connecting))
    }

    fn status_fields(&self) -> Map<String, Value> {
        self.shared.status_fields()
    }
}

impl Shared {
    /// The graceful stop: cancel the consumers, let the handlers in flight finish (bounded),
    /// close the input channels and the connection.
    async fn close(&self, name: &str) {
        let shared = self;
        let config = shared.config();
        let stop_timeout = config
            .as_ref()
            .map_or(Duration::from_secs(10), |c| c.stop_timeout);
        // 1. Stop intake, 2. let the handlers in flight finish (bounded).
        shared.halt.send_replace(true);
        if !shared.engine.stop(stop_timeout).await {
            tracing::warn!(
                resource = name,
                "amqp: handlers still running after {stop_timeout:?}"
            );
        }
        shared.running.store(false, Ordering::Release);
        shared.memory.lock().expect("memory lock").take();
        // 3. Close the channels, then the connection.
        shared.closing.send_replace(true);
        let state = shared.link.send_replace(LinkState::Closed);
        let channels: Vec<_> = match shared.transport.lock().expect("transport lock").take() {
            Some(transport) => {
                std::mem::take(&mut *transport.channels.lock().expect("channels lock"))
            }
            None => Vec::new(),
        };
        let closing = channels
            .iter()
            .map(|channel| channel.close(200, "OK".into()));
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            futures_util::future::join_all(closing),
        )
        .await;
        if let LinkState::Up(link) = state {
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                link.connection.close(200, "OK".into()),
            )
            .await;
            link.mark_dead();
        }
        for task in shared.tasks.lock().expect("tasks lock").drain(..) {
            task.abort();
        }
        tracing::info!(resource = name, "amqp: connection closed");
    }
}

/// The connection as inputs and outputs see it.
#[derive(Clone, Default)]
pub(crate) enum LinkState {
    /// Not started yet.
    #[default]
    Idle,
    /// Connected.
    Up(Arc<Link>),
    /// Lost; reconnecting.
    Down,
    /// Stopped.
    Closed,
}

/// What the resource, its inputs and outputs share.
pub(crate) struct Shared {
    name: OnceLock<String>,
    service: OnceLock<String>,
    config: RwLock<Option<Arc<Config>>>,
    pub(crate) link: watch::Sender<LinkState>,
    /// Raised when the service begins to stop: inputs stop taking messages.
    pub(crate) halt: watch::Sender<bool>,
    /// Raised by `stop`: the supervisor gives up.
    pub(crate) closing: watch::Sender<bool>,
    /// Runs the inputs.
    pub(crate) engine: Engine<AmqpTransport>,
    /// The engine's transport while the resource runs.
    transport: Mutex<Option<Arc<AmqpTransport>>>,
    /// A test's in-memory broker, run on instead of RabbitMQ.
    memory: Mutex<Option<MemoryBroker>>,
    outputs: Mutex<Vec<Arc<OutputInfo>>>,
    running: AtomicBool,
    pub(crate) generation: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    correlations: AtomicU64,
    instance: String,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Shared {
            name: OnceLock::new(),
            service: OnceLock::new(),
            config: RwLock::new(None),
            link: watch::Sender::new(LinkState::Idle),
            halt: watch::Sender::new(false),
            closing: watch::Sender::new(false),
            engine: Engine::new(),
            transport: Mutex::default(),
            memory: Mutex::default(),
            outputs: Mutex::default(),
            running: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            correlations: AtomicU64::new(0),
            instance: format!("{:x}.{nanos:x}", std::process::id()),
            tasks: Mutex::default(),
        }
    }

    pub(crate) fn resource(&self) -> &str {
        self.name.get().map_or("amqp", String::as_str)
    }

    pub(crate) fn service(&self) -> &str {
        self.service.get().map_or("tamarco", String::as_str)
    }

    pub(crate) fn config(&self) -> Option<Arc<Config>> {
        self.config.read().expect("config lock").clone()
    }

    pub(crate) fn stopped(&self) -> Error {
        Error::Stopped {
            resource: self.resource().to_owned(),
        }
    }

    pub(crate) fn publish_deadline(&self) -> Instant {
        let timeout = self
            .config()
            .map_or(Duration::from_secs(30), |c| c.publish_timeout);
        Instant::now() + timeout
    }

    /// A correlation id unique to this process.
    pub(crate) fn correlation_id(&self) -> ShortString {
        let n = self.correlations.fetch_add(1, Ordering::Relaxed);
        ShortString::from(format!("{}.{n:x}", self.instance))
    }

    pub(crate) fn declare_output(
        &self,
        name: &str,
        pattern: Option<Pattern>,
        codec: &str,
    ) -> Arc<OutputInfo> {
        let info = Arc::new(OutputInfo {
            name: name.to_owned(),
            pattern,
            codec: codec.to_owned(),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        });
        self.outputs
            .lock()
            .expect("outputs lock")
            .push(Arc::clone(&info));
        info
    }

    /// What the outputs known so far need declared on a new connection.
    pub(crate) fn output_declarations(&self, config: &Config) -> Vec<Declare> {
        let outputs = self.outputs.lock().expect("outputs lock");
        let mut declarations: Vec<Declare> = Vec::new();
        for info in outputs.iter() {
            let Some(pattern) = info.pattern else {
                continue;
            };
            if let Ok(target) = output::target(config, pattern, &info.name)
                && !declarations.contains(&target.declare)
            {
                declarations.push(target.declare);
            }
        }
        declarations
    }

    /// The live connection, waiting for it until `deadline` while it is down.
    pub(crate) async fn wait_link(&self, deadline: Instant) -> Result<Arc<Link>, Error> {
        if let LinkState::Up(link) = &*self.link.borrow() {
            return Ok(Arc::clone(link));
        }
        let started = Instant::now();
        let mut states = self.link.subscribe();
        let waited = tokio::time::timeout_at(
            deadline,
            states.wait_for(|s| matches!(s, LinkState::Up(_) | LinkState::Closed)),
        )
        .await;
        match waited {
            Ok(Ok(state)) => match &*state {
                LinkState::Up(link) => Ok(Arc::clone(link)),
                _ => Err(self.stopped()),
            },
            Ok(Err(_)) => Err(self.stopped()),
            Err(_) => Err(Error::NotConnected {
                resource: self.resource().to_owned(),
                waited: started.elapsed(),
            }),
        }
    }

    /// Waits until the connection `generation` was replaced (or the resource stopped).
    pub(crate) async fn wait_new_link(
        &self,
        generation: u64,
        deadline: Instant,
    ) -> Result<(), Error> {
        let started = Instant::now();
        let mut states = self.link.subscribe();
        let waited = tokio::time::timeout_at(
            deadline,
            states.wait_for(|s| match s {
                LinkState::Up(link) => link.generation != generation,
                LinkState::Closed => true,
                LinkState::Idle | LinkState::Down => false,
            }),
        )
        .await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(self.stopped()),
            Err(_) => Err(Error::NotConnected {
                resource: self.resource().to_owned(),
                waited: started.elapsed(),
            }),
        }
    }

    /// Publishes with a confirm; across a reconnection, sends again on the new connection.
    pub(crate) async fn publish(
        &self,
        target: &Target,
        body: &[u8],
        properties: BasicProperties,
        deadline: Instant,
    ) -> Result<(), Error> {
        if self.publish_in_memory(target, body, &properties) {
            return Ok(());
        }
        loop {
            let link = self.wait_link(deadline).await?;
            // The deadline bounds the confirm too: a broker that stops confirming (a memory
            // alarm blocks publishers) fails the send instead of hanging it.
            let published =
                tokio::time::timeout_at(deadline, link.publish_once(target, body, &properties))
                    .await
                    .unwrap_or_else(|_| {
                        Err(PublishFailure::Final(Error::Unconfirmed {
                            target: target.label.clone(),
                        }))
                    });
            match published {
                Ok(()) => return Ok(()),
                Err(PublishFailure::Final(error)) => return Err(error),
                Err(PublishFailure::Retry(error)) => {
                    tracing::debug!(
                        resource = self.resource(),
                        "amqp: {}; sending again after reconnecting",
                        error_chain(&error)
                    );
                    link.suspect.notify_one();
                    if Instant::now() >= deadline {
                        return Err(error);
                    }
                    self.wait_new_link(link.generation, deadline).await?;
                }
            }
        }
    }

    fn status_fields(&self) -> Map<String, Value> {
        let connection = match &*self.link.borrow() {
            LinkState::Idle if self.memory().is_some() => "in_memory",
            LinkState::Idle => "not_started",
            LinkState::Up(link) if link.connected() => "connected",
            LinkState::Up(_) | LinkState::Down => "connecting",
            LinkState::Closed => "closed",
        };
        let config = self.config();
        let queues = self
            .transport
            .lock()
            .expect("transport lock")
            .as_ref()
            .map(|t| t.queues.lock().expect("queues lock").clone())
            .unwrap_or_default();
        let mut inputs = self.engine.status_fields();
        for input in inputs.as_array_mut().into_iter().flatten() {
            let kind = input["kind"].as_str().unwrap_or_default();
            let name = input["name"].as_str().unwrap_or_default().to_owned();
            let pattern = pattern_of(kind);
            let source = config
                .as_ref()
                .and_then(|c| c.full_name(pattern, &name).ok())
                .map(String::from);
            let queue = queues.get(&(kind_of(pattern), name)).cloned();
            if let Value::Object(fields) = input {
                fields.insert("pattern".into(), json!(pattern.as_str()));
                fields.insert("source".into(), json!(source));
                fields.insert("queue".into(), json!(queue.unwrap_or_default()));
            }
        }
        let outputs: Vec<Value> = self
            .outputs
            .lock()
            .expect("outputs lock")
            .iter()
            .map(|info| {
                json!({
                    "name": info.name,
                    "pattern": info.pattern.map_or("generic", Pattern::as_str),
                    "codec": info.codec,
                    "sent": info.sent.load(Ordering::Relaxed),
                    "failed": info.failed.load(Ordering::Relaxed),
                })
            })
            .collect();
        let mut fields = Map::new();
        fields.insert("connection".into(), json!(connection));
        if let Some(config) = &config {
            fields.insert("broker".into(), json!(config.describe()));
        }
        fields.insert(
            "reconnects".into(),
            json!(self.reconnects.load(Ordering::Relaxed)),
        );
        fields.insert("inputs".into(), inputs);
        fields.insert("outputs".into(), Value::Array(outputs));
        fields
    }
}

/// Completes once the flag is raised (or its sender is gone).
pub(crate) async fn raised(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|raised| *raised).await;
}
