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
//! | push/pull | `#[input(amqp, pull = "q")]` | `#[output(amqp, push = "q")]` [`PushOutput`] | durable queue `P + "push_pull." + q`, persistent messages, competing consumers |
//! | publish/subscribe | `#[input(amqp, subscribe = "q")]` | `#[output(amqp, publish = "q")]` [`PublishOutput`] | durable fanout exchange `P + "publish_subscribe." + q`; one queue per subscriber |
//! | request/response | `#[input(amqp, request = "q")]` (returns the reply) | `#[output(amqp, request = "q")]` [`RequestOutput`] | queue `P + "request_response." + q`; requests carry `reply_to` and `correlation_id` |
//!
//! A [`GenericOutput`] (`#[output(amqp, generic)]`) takes the queue per call.
//!
//! ```rust,no_run
//! use tamarco::amqp::{Amqp, Message, PushOutput};
//! use tamarco::prelude::*;
//!
//! #[derive(tamarco::serde::Serialize, tamarco::serde::Deserialize)]
//! #[serde(crate = "tamarco::serde")]
//! struct Order { id: u64, total: f64 }
//!
//! #[microservice]
//! #[derive(Default)]
//! struct Shop {
//!     #[resource]
//!     amqp: Amqp,
//!     #[output(amqp, push = "invoices")]
//!     invoices: PushOutput<Order>,
//! }
//!
//! #[microservice]
//! impl Shop {
//!     /// Acked once it returns `Ok`; an error is retried, then dead-lettered.
//!     #[input(amqp, pull = "orders", concurrency = 4)]
//!     async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> {
//!         self.invoices.push(order.value()).await?;
//!         Ok(())
//!     }
//!
//!     /// The returned value is the reply.
//!     #[input(amqp, request = "totals")]
//!     async fn on_total(&self, order: Message<Order>) -> Result<f64, BoxError> {
//!         Ok(order.value().total * 1.21)
//!     }
//! }
//!
//! fn main() -> ExitStatus {
//!     Shop::default().run()
//! }
//! ```
//!
//! By hand, the same inputs and outputs come from the resource's methods
//! ([`pull_input`](Amqp::pull_input), [`push_output`](Amqp::push_output)...); an input can
//! also be read as a stream from a task (`amqp.pull_input::<Order>("orders", Json).stream()?`
//! gives [`Delivery`]s to [`ack`](Delivery::ack)), which ends when the service begins to stop.
//!
//! # Settings
//!
//! At `system.resources.<name>`, all optional; see [`AmqpSettings`]: `host`, `port`, `vhost`,
//! `user`, `password` (never logged, never in `/status` nor in errors), `connection_timeout`,
//! `queues_prefix`, `tls` and `tls_ca_file`, the delivery defaults below, and `inputs.<queue>`
//! for one input's own options, which override the attribute's.
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
//! A subscription's queue is exclusive and dies with its connection, so messages published
//! while it reconnects are not seen; `durable_subscriptions: true` gives each subscription a
//! durable queue named after the service instead, which keeps them.
//!
//! # Connection
//!
//! `start` connects (retrying until `connection_timeout`), declares the outputs' queues and
//! exchanges, and starts the inputs declared so far (later ones start at once). When the
//! connection drops (a broker restart, a network cut), the resource reports `CONNECTING`,
//! reconnects with a doubling backoff (`reconnect_backoff` up to `reconnect_max_backoff`),
//! declares everything again and resumes consuming; sends wait for the new connection (at most
//! `publish_timeout`) and are then sent again, so a message may arrive twice but is not lost.
//! Requests waiting for a reply when the connection drops fail with [`Error::ConnectionLost`].
//!
//! # Stop
//!
//! When the service begins to stop, inputs cancel their consumers (streams end); `stop` then
//! waits up to `stop_timeout` for the handlers in flight, closes the input channels and the
//! connection. Messages the broker had sent ahead but nobody handled go back to their queue.
//! `/status` lists the connection state, the inputs (queue, codec, counts) and the outputs.

mod by_hand;
mod connection;
mod error;
mod input;
mod memory;
mod message;
mod output;
mod publish;
mod received;
mod replies;
mod request;
mod resource;
mod session;
mod settings;
mod status;
mod supervisor;
mod target;
#[cfg(feature = "tracing-otel")]
mod trace;
mod transport;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use lapin::types::ShortString;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use tamarco_core::messaging::memory::MemoryBroker;
use tamarco_core::messaging::{Engine, Inputs, kind};

use connection::Link;
use output::OutputInfo;
use settings::Config;
use target::{Declare, target_of};

pub use error::Error;
pub use input::{Delivery, InputBuilder, InputStream, RequestInputBuilder, dead_letter_headers};
/// The AMQP client underneath, for what this module does not wrap
/// ([`Meta::properties`]...).
pub use lapin;
pub use message::{Message, Meta};
pub use output::{GenericOutput, PublishOutput, PushOutput, RequestOutput};
pub use received::Received;
pub use request::{Request, RequestStream};
pub use settings::{AmqpSettings, Pattern};
pub use transport::{AmqpConsumer, AmqpTransport};

/// The AMQP resource: declare it as a `#[resource]` field, then make inputs and outputs with
/// its methods. See the [module docs](self).
pub struct Amqp {
    shared: Arc<AmqpState>,
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
            shared: Arc::new(AmqpState::new()),
        }
    }

    /// The settings read in the configure phase (the password stays a [`Secret`](crate::secret::Secret)).
    pub fn settings(&self) -> Option<AmqpSettings> {
        self.shared.config().map(|config| config.settings.clone())
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
pub(crate) struct AmqpState {
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

impl AmqpState {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        AmqpState {
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
            if let Ok(target) = target_of(config, pattern, &info.name)
                && !declarations.contains(&target.declare)
            {
                declarations.push(target.declare);
            }
        }
        declarations
    }
}

/// Completes once the flag is raised (or its sender is gone).
pub(crate) async fn raised(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|raised| *raised).await;
}
