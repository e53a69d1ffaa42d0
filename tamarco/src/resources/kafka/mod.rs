//! Kafka: consumer-group inputs and outputs, with codecs, commits after success and dead
//! letters (cargo feature `kafka`; `kafka-tls` adds TLS and SASL/SCRAM through OpenSSL).
//!
//! [`Kafka`] is a resource like any other. Its inputs consume topics in a consumer group and
//! hand each message, decoded by the input's [codec](tamarco_core::codec), to a handler method
//! of the service or to an [`InputStream`]; its outputs encode values and push them, resolving
//! once the broker acknowledged them.
//!
//! ```rust,no_run
//! use std::sync::Arc;
//!
//! use tamarco::codec::Json;
//! use tamarco::prelude::*;
//! use tamarco::resources::kafka::{Kafka, Message, Output};
//!
//! #[derive(tamarco::serde::Serialize, tamarco::serde::Deserialize)]
//! #[serde(crate = "tamarco::serde")]
//! struct Order { id: u64 }
//!
//! #[microservice]
//! struct Shop {
//!     #[resource]
//!     kafka: Kafka,
//!     invoices: Output<Order>,
//! }
//!
//! #[microservice]
//! impl Shop {
//!     async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
//!         // Declared before the resource starts: it joins the group as it starts.
//!         self.kafka.input("orders", Json).handle_with(&self, Self::on_order)?;
//!         stage.run().await?;
//!         Ok(())
//!     }
//!
//!     async fn on_order(self: Arc<Self>, order: Message<Order>) -> Result<(), BoxError> {
//!         tamarco::tracing::info!(key = ?order.key_str(), partition = order.partition(), "order");
//!         self.invoices.message(order.value()).key(order.value().id.to_string()).push().await?;
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> ExitStatus {
//!     let kafka = Kafka::new();
//!     let invoices = kafka.output("invoices", Json);
//!     Shop { kafka, invoices }.run()
//! }
//! ```
//!
//! # Settings
//!
//! At `system.resources.<name>` (all optional):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `bootstrap_servers` | `["127.0.0.1:9092"]` | brokers, a list or one comma-separated string |
//! | `group_id` | the service's name | consumer group of the inputs that do not name one |
//! | `auto_offset_reset` | `earliest` | where a group with no commit starts: `earliest` or `latest` |
//! | `retries` | 3 | handler retries before a message is dead-lettered |
//! | `retry_backoff_ms` | 100 | wait before the first retry; doubles each time, up to 30 s |
//! | `dead_letter_topic` | `{topic}.dead_letter` | where failed messages go; `{topic}` is the source topic |
//! | `create_dead_letter_topics` | `true` | create missing dead-letter topics when an input starts |
//! | `dead_letter_partitions` | 1 | partitions of the dead-letter topics it creates (replication: the broker's default) |
//! | `commit_interval_ms` | 1000 | how often handled offsets are committed (also on rebalance and stop) |
//! | `connect_timeout_seconds` | 10 | `start` fails when no broker answers within it |
//! | `stop_timeout_seconds` | half the grace period | how long `stop` waits for in-flight messages |
//! | `client`, `consumer`, `producer` | none | librdkafka options for every client, consumers only, the producer only |
//!
//! The option maps pass straight to librdkafka, nested or dotted alike (`sasl: {mechanism:
//! PLAIN}` is `sasl.mechanism=PLAIN`): TLS (`security.protocol: SSL`, `ssl.ca.location`...;
//! needs the `kafka-tls` feature), SASL (`sasl.username`, `sasl.password`), tuning
//! (`linger.ms`...). Their values are never logged nor shown in `/status`. The options that
//! delivery depends on (`group.id`, `enable.auto.commit`, `enable.auto.offset.store`,
//! `bootstrap.servers`) are refused there.
//!
//! # Delivery
//!
//! At least once, in order per partition. An input handles one message at a time. A message
//! is committed once its handler succeeded, or it went to the dead-letter topic, and so did
//! every message before it in its partition. A handler error (or panic) is retried `retries`
//! times with a doubling backoff; then the message goes to the dead-letter topic, with the
//! error and its origin in [`dead_letter_headers`], and the input moves on. A message the codec
//! cannot decode goes there at once. Before a rebalance takes partitions away, what is done is
//! committed.
//!
//! # Lifecycle
//!
//! `start` creates the producer, checks that a broker answers, and starts the inputs declared
//! so far (inputs declared later start at once). The resource reports `CONNECTING` until every
//! input has joined its group. `stop` pauses intake (already when the service begins to stop,
//! so that stream readers see their stream end), waits up to `stop_timeout_seconds` for
//! in-flight messages, commits, flushes the producer and closes the clients, each step bounded
//! (librdkafka's close runs off the async runtime). A fatal client error makes the resource
//! `FAILED`; transient ones (a broker down) are logged and retried by librdkafka. `/status`
//! lists the inputs (topics, group, assignment, counts) and outputs.

mod client;
mod error;
mod input;
mod message;
mod output;
mod settings;
mod spec;
mod tracker;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::Consumer as _;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, Producer as _};
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use tamarco_core::codec::Codec;
use tamarco_core::{BoxError, Resource, ResourceContext, ResourceStatus};

use client::{Health, InputContext, InputState, ProducerContext, Throttle};
use input::{Consumer, InputCtx, Launch, Run};
use settings::Config;
use spec::InputSpec;

pub use error::Error;
pub use input::{Ack, Delivery, InputBuilder, InputStream, dead_letter_headers};
pub use message::{Headers, Message};
pub use output::{GenericOutput, Outgoing, Output, Pending, Receipt};
pub use spec::OffsetReset;

/// How long closing one consumer (final commit, leaving the group) or flushing the producer
/// may take before it is left behind.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

type Producer = FutureProducer<ProducerContext>;

/// The Kafka resource: declare it as a `#[resource]` field, then make inputs with
/// [`input`](Kafka::input) and outputs with [`output`](Kafka::output) and
/// [`generic_output`](Kafka::generic_output). See the [module docs](self).
pub struct Kafka {
    shared: Arc<Shared>,
}

impl Kafka {
    /// A Kafka resource; its settings are read when the service configures it.
    pub fn new() -> Self {
        Kafka {
            shared: Arc::new(Shared::default()),
        }
    }

    /// Starts declaring an input on `topic`, decoded with `codec`; finish it with
    /// [`handle`](InputBuilder::handle), [`handle_with`](InputBuilder::handle_with) or
    /// [`stream`](InputBuilder::stream).
    pub fn input<T: Send + 'static>(&self, topic: &str, codec: impl Codec<T>) -> InputBuilder<T> {
        InputBuilder::new(Arc::clone(&self.shared), topic, codec)
    }

    /// An output to `topic`, encoding with `codec`. It may be made before the resource starts
    /// (to keep it in a field); it sends once the resource started.
    pub fn output<T: 'static>(&self, topic: &str, codec: impl Codec<T>) -> Output<T> {
        Output::new(Arc::clone(&self.shared), topic, codec)
    }

    /// An output that takes the topic per call.
    pub fn generic_output<T: 'static>(&self, codec: impl Codec<T>) -> GenericOutput<T> {
        GenericOutput::new(Arc::clone(&self.shared), codec)
    }

    /// Creates the topics, as (name, partitions), that do not exist yet, with the broker's
    /// default replication. For development and tests; production topics are usually made by
    /// their owners. Works once the resource is configured (from the `pre_start` hook on).
    pub async fn create_topics(&self, topics: &[(&str, i32)]) -> Result<(), Error> {
        let config = self.shared.config.read().expect("config lock").clone();
        let resource = self.shared.name();
        let Some(config) = config else {
            return Err(Error::NotStarted { resource });
        };
        let topics = topics.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect();
        create_topics(&config, topics)
            .await
            .map_err(|source| Error::Client {
                resource,
                what: "topics".into(),
                source,
            })
    }

    /// Whether every running input has joined its consumer group.
    pub fn is_joined(&self) -> bool {
        self.shared.all_joined()
    }

    /// Waits until every running input has joined its consumer group.
    pub async fn joined(&self) {
        while !self.shared.all_joined() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The partitions currently assigned to the input named `input`, as (topic, partition).
    pub fn assignment(&self, input: &str) -> Option<Vec<(String, i32)>> {
        let declared = self.shared.declared.lock().expect("inputs lock");
        let input = declared.iter().find(|d| d.spec.name == input)?;
        let running = input.running.lock().expect("input lock");
        running.as_ref().map(|r| r.state.assignment())
    }
}

impl Default for Kafka {
    fn default() -> Self {
        Kafka::new()
    }
}

impl std::fmt::Debug for Kafka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kafka")
            .field("name", &self.shared.name())
            .field("config", &self.shared.config.read().expect("config lock"))
            .finish_non_exhaustive()
    }
}

/// What the resource, its inputs and its outputs share.
#[derive(Default)]
pub(crate) struct Shared {
    cx: Mutex<Option<ResourceContext>>,
    config: RwLock<Option<Arc<Config>>>,
    producer: RwLock<Option<Producer>>,
    declared: Mutex<Vec<Arc<Declared>>>,
    outputs: Mutex<Vec<(Option<String>, String)>>,
    started: AtomicBool,
    health: Arc<Health>,
}

/// An input as declared, and its consumer while it runs.
struct Declared {
    spec: InputSpec,
    mode: &'static str,
    launch: Box<dyn Launch>,
    running: Mutex<Option<RunningInput>>,
}

struct RunningInput {
    consumer: Arc<Consumer>,
    state: Arc<InputState>,
    halt: watch::Sender<bool>,
    task: JoinHandle<()>,
    storer: JoinHandle<()>,
}

impl Shared {
    pub(crate) fn name(&self) -> String {
        self.cx
            .lock()
            .expect("context lock")
            .as_ref()
            .map_or_else(|| "kafka".to_owned(), |cx| cx.name().to_owned())
    }

    /// The producer, once started.
    pub(crate) fn producer(&self) -> Result<Producer, Error> {
        self.producer
            .read()
            .expect("producer lock")
            .clone()
            .ok_or_else(|| Error::NotStarted {
                resource: self.name(),
            })
    }

    pub(crate) fn record_output(&self, topic: Option<&str>, codec: &str) {
        let entry = (topic.map(str::to_owned), codec.to_owned());
        let mut outputs = self.outputs.lock().expect("outputs lock");
        if !outputs.contains(&entry) {
            outputs.push(entry);
        }
    }

    fn declare(
        self: &Arc<Self>,
        spec: InputSpec,
        mode: &'static str,
        launch: Box<dyn Launch>,
    ) -> Result<(), Error> {
        let declared = {
            let mut all = self.declared.lock().expect("inputs lock");
            if all.iter().any(|d| d.spec.name == spec.name) {
                return Err(Error::DuplicateInput {
                    resource: self.name(),
                    input: spec.name,
                });
            }
            let declared = Arc::new(Declared {
                spec,
                mode,
                launch,
                running: Mutex::new(None),
            });
            all.push(Arc::clone(&declared));
            declared
        };
        if self.started.load(Ordering::Acquire) {
            let config = self.config.read().expect("config lock").clone();
            if let (Some(config), Ok(runtime)) = (config, tokio::runtime::Handle::try_current()) {
                let spec = declared.spec.clone();
                runtime.spawn(async move { create_dead_letter_topics(&config, &[spec]).await });
            }
            self.launch(&declared)?;
        }
        Ok(())
    }

    /// Creates the input's consumer, subscribes it and spawns its loop.
    fn launch(self: &Arc<Self>, declared: &Declared) -> Result<(), Error> {
        let resource = self.name();
        let client_error = |source: BoxError| Error::Client {
            resource: resource.clone(),
            what: format!("consumer of input `{}`", declared.spec.name),
            source,
        };
        let (Some(cx), Some(config)) = (
            self.cx.lock().expect("context lock").clone(),
            self.config.read().expect("config lock").clone(),
        ) else {
            return Err(Error::NotStarted { resource });
        };
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| client_error("inputs start on the service's tokio runtime".into()))?;
        let spec = declared.spec.clone();
        let state = Arc::new(InputState::new(
            &resource,
            &spec.name,
            config.group(&spec),
            Arc::clone(&self.health),
        ));
        let context = InputContext {
            state: Arc::clone(&state),
        };
        let consumer = {
            let _entered = runtime.enter();
            Consumer::from_config_and_context(&config.consumer(&spec), context)
                .map_err(|e| client_error(e.into()))?
        };
        let topics: Vec<&str> = spec.topics.iter().map(String::as_str).collect();
        if let Err(error) = consumer.subscribe(&topics) {
            close_later(consumer);
            return Err(client_error(error.into()));
        }
        let consumer = Arc::new(consumer);
        let (halt, halted) = watch::channel(cx.shutdown().is_stopping());
        // Intake pauses as soon as the service begins to stop, before its tasks are stopped:
        // a task reading a stream then sees the stream end.
        let shutdown = cx.shutdown().clone();
        let mut closed = halt.subscribe();
        let forward = halt.clone();
        runtime.spawn(async move {
            tokio::select! {
                () = shutdown.stopping() => { forward.send_replace(true); }
                _ = closed.wait_for(|h| *h) => {}
            }
        });
        let run = Run {
            ctx: Arc::new(InputCtx {
                shared: Arc::clone(self),
                spec,
                config,
                state: Arc::clone(&state),
                halt: halted,
            }),
            consumer: Arc::clone(&consumer),
        };
        let Some(future) = declared.launch.launch(run) else {
            tracing::warn!(
                resource,
                input = declared.spec.name,
                "kafka: a stream input does not restart; declare it again"
            );
            if let Ok(consumer) = Arc::try_unwrap(consumer) {
                close_later(consumer);
            }
            return Ok(());
        };
        let task = runtime.spawn(future);
        let storer = runtime.spawn(input::store_periodically(
            Arc::clone(&state),
            Arc::clone(&consumer),
            halt.subscribe(),
        ));
        tracing::info!(
            resource,
            input = declared.spec.name,
            topics = ?declared.spec.topics,
            group = state.group,
            mode = declared.mode,
            "kafka: input started"
        );
        *declared.running.lock().expect("input lock") = Some(RunningInput {
            consumer,
            state,
            halt,
            task,
            storer,
        });
        Ok(())
    }

    fn all_joined(&self) -> bool {
        let declared = self.declared.lock().expect("inputs lock");
        declared.iter().all(|d| {
            d.running
                .lock()
                .expect("input lock")
                .as_ref()
                .is_none_or(|r| r.state.joined.load(Ordering::Acquire))
        })
    }

    /// Stops the inputs (bounded), commits, closes the consumers and flushes the producer.
    async fn teardown(&self) {
        self.started.store(false, Ordering::Release);
        let stop_timeout = self
            .config
            .read()
            .expect("config lock")
            .as_ref()
            .map_or(Duration::from_secs(15), |c| c.stop_timeout);
        let declared: Vec<Arc<Declared>> = self.declared.lock().expect("inputs lock").clone();
        let mut running: Vec<(String, RunningInput)> = declared
            .iter()
            .filter_map(|d| {
                let taken = d.running.lock().expect("input lock").take();
                taken.map(|r| (d.spec.name.clone(), r))
            })
            .collect();
        for (_, input) in &running {
            input.halt.send_replace(true);
        }
        let deadline = tokio::time::Instant::now() + stop_timeout;
        for (name, input) in &mut running {
            let state = &input.state;
            if tokio::time::timeout_at(deadline, &mut input.task)
                .await
                .is_err()
            {
                tracing::warn!(
                    resource = state.resource,
                    input = name.as_str(),
                    "kafka: the in-flight message was not handled within {stop_timeout:?}; \
                     it stays uncommitted and comes again"
                );
                input.task.abort();
                let _ = (&mut input.task).await;
            }
            // It stops with the input; it holds the consumer, which must close last.
            let _ = (&mut input.storer).await;
            if tokio::time::timeout_at(deadline, state.tracker.idle())
                .await
                .is_err()
            {
                tracing::warn!(
                    resource = state.resource,
                    input = name.as_str(),
                    outstanding = state.tracker.outstanding(),
                    "kafka: stream deliveries were not acked within {stop_timeout:?}; \
                     they stay uncommitted and come again"
                );
            }
        }
        let closing = running.into_iter().map(|(name, input)| {
            let RunningInput {
                consumer, state, ..
            } = input;
            let resource = state.resource.clone();
            let closed = off_runtime(CLOSE_TIMEOUT, move || {
                state.store_positions(&*consumer);
                state.commit_sync(&*consumer);
                // Dropping the last handle closes the consumer: it leaves the group, which
                // hands the partitions to the other members at once.
                drop(consumer);
            });
            async move {
                if !closed.await {
                    tracing::warn!(
                        resource,
                        input = name,
                        "kafka: the consumer did not close within {CLOSE_TIMEOUT:?}; left behind"
                    );
                }
            }
        });
        futures_util::future::join_all(closing).await;
        let producer = self.producer.write().expect("producer lock").take();
        if let Some(producer) = producer {
            let resource = self.name();
            let flushed = off_runtime(CLOSE_TIMEOUT, move || {
                if let Err(error) = producer.flush(CLOSE_TIMEOUT) {
                    tracing::warn!("kafka: producer flush failed: {error}");
                }
                drop(producer);
            });
            if !flushed.await {
                tracing::warn!(
                    resource,
                    "kafka: the producer did not flush within {CLOSE_TIMEOUT:?}; left behind"
                );
            }
        }
    }
}

/// Runs blocking librdkafka work (commits, closes, flushes) on a blocking thread; false if it
/// did not finish within `timeout` (the thread is then left to finish on its own).
fn off_runtime(
    timeout: Duration,
    work: impl FnOnce() + Send + 'static,
) -> impl Future<Output = bool> {
    let join = tokio::task::spawn_blocking(work);
    async move { matches!(tokio::time::timeout(timeout, join).await, Ok(Ok(()))) }
}

/// Creates the dead-letter topics of `inputs` that do not exist yet (best effort: a failure
/// is logged, and dead-lettering retries until the topic can be written).
async fn create_dead_letter_topics(config: &Config, inputs: &[InputSpec]) {
    if !config.create_dead_letter_topics {
        return;
    }
    let names: Vec<(String, i32)> = inputs
        .iter()
        .flat_map(|spec| {
            spec.topics.iter().map(|topic| {
                (
                    config.dead_letter_topic(spec, topic),
                    config.dead_letter_partitions,
                )
            })
        })
        .collect();
    if let Err(error) = create_topics(config, names).await {
        tracing::warn!("kafka: cannot create the dead-letter topics: {error}");
    }
}

/// Creates the topics that do not exist yet; the error names the first that failed.
async fn create_topics(config: &Config, mut topics: Vec<(String, i32)>) -> Result<(), BoxError> {
    topics.sort();
    topics.dedup_by(|a, b| a.0 == b.0);
    if topics.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = config.producer().create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new()
        .request_timeout(Some(config.connect_timeout))
        .operation_timeout(Some(config.connect_timeout));
    let created = tokio::time::timeout(
        config.connect_timeout + Duration::from_secs(1),
        admin.create_topics(&new, &options),
    )
    .await;
    drop(new);
    off_runtime(CLOSE_TIMEOUT, move || drop(admin)).await;
    let results = match created {
        Ok(results) => results?,
        Err(_) => return Err(format!("creating topics timed out: {topics:?}").into()),
    };
    for result in results {
        match result {
            Ok(topic) => tracing::info!(topic, "kafka: topic created"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(format!("cannot create topic `{topic}`: {code}").into());
            }
        }
    }
    Ok(())
}

/// Closes a consumer that never ran, without blocking the caller.
fn close_later(consumer: Consumer) {
    std::thread::spawn(move || drop(consumer));
}

impl Resource for Kafka {
    fn bind(&self, cx: &ResourceContext) {
        *self.shared.cx.lock().expect("context lock") = Some(cx.clone());
    }

    async fn configure(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let config = Config::load(cx)?;
        tracing::debug!(resource = cx.name(), ?config, "kafka: configured");
        *self.shared.config.write().expect("config lock") = Some(Arc::new(config));
        Ok(())
    }

    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let shared = &self.shared;
        shared.health.reset();
        let config = shared
            .config
            .read()
            .expect("config lock")
            .clone()
            .ok_or("the kafka resource starts after `configure`")?;
        let context = ProducerContext {
            resource: cx.name().to_owned(),
            health: Arc::clone(&shared.health),
            throttle: Throttle::default(),
        };
        let producer =
            Producer::from_config_and_context(&config.producer(), context).map_err(|e| {
                Error::Client {
                    resource: cx.name().to_owned(),
                    what: "producer".into(),
                    source: e.into(),
                }
            })?;
        // `start` connects: some broker must answer a metadata request.
        let probe = producer.clone();
        let timeout = config.connect_timeout;
        let answered = tokio::task::spawn_blocking(move || {
            probe
                .client()
                .fetch_metadata(None, timeout)
                .map(|metadata| metadata.brokers().len())
        })
        .await?;
        match answered {
            Ok(brokers) => tracing::info!(
                resource = cx.name(),
                servers = ?config.bootstrap_servers,
                brokers,
                "kafka: connected"
            ),
            Err(error) => {
                off_runtime(CLOSE_TIMEOUT, move || drop(producer)).await;
                return Err(format!(
                    "no broker of {:?} answered within {timeout:?}: {error}",
                    config.bootstrap_servers
                )
                .into());
            }
        }
        *shared.producer.write().expect("producer lock") = Some(producer);
        shared.started.store(true, Ordering::Release);
        let declared: Vec<Arc<Declared>> = shared.declared.lock().expect("inputs lock").clone();
        // In the background: only a failing message needs its dead-letter topic, and the
        // producer waits for a topic that is being created.
        let specs: Vec<InputSpec> = declared.iter().map(|d| d.spec.clone()).collect();
        let dead_letters = Arc::clone(&config);
        tokio::spawn(async move { create_dead_letter_topics(&dead_letters, &specs).await });
        for input in declared {
            if let Err(error) = shared.launch(&input) {
                shared.teardown().await;
                return Err(error.into());
            }
        }
        Ok(())
    }

    async fn stop(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        self.shared.teardown().await;
        Ok(())
    }

    fn status(&self) -> Option<ResourceStatus> {
        let shared = &self.shared;
        if shared.health.fatal().is_some() {
            return Some(ResourceStatus::Failed);
        }
        let lifecycle = shared
            .cx
            .lock()
            .expect("context lock")
            .as_ref()
            .map(|cx| cx.status().get());
        if lifecycle == Some(ResourceStatus::Started) && !shared.all_joined() {
            return Some(ResourceStatus::Connecting);
        }
        None
    }

    fn status_fields(&self) -> Map<String, Value> {
        let shared = &self.shared;
        let mut fields = Map::new();
        if let Some(config) = shared.config.read().expect("config lock").as_ref() {
            fields.insert("bootstrap_servers".into(), json!(config.bootstrap_servers));
        }
        let declared = shared.declared.lock().expect("inputs lock").clone();
        let inputs: Vec<Value> = declared
            .iter()
            .map(|d| {
                let running = d.running.lock().expect("input lock");
                let mut input = json!({
                    "name": d.spec.name,
                    "topics": d.spec.topics,
                    "mode": d.mode,
                    "running": running.is_some(),
                });
                if let Some(r) = running.as_ref() {
                    let state = &r.state;
                    let assignment: Vec<Value> = state
                        .assignment()
                        .into_iter()
                        .map(|(topic, partition)| json!({"topic": topic, "partition": partition}))
                        .collect();
                    let extra = json!({
                        "group": state.group,
                        "joined": state.joined.load(Ordering::Acquire),
                        "assignment": assignment,
                        "handled": state.handled.load(Ordering::Relaxed),
                        "retried": state.retried.load(Ordering::Relaxed),
                        "dead_lettered": state.dead_lettered.load(Ordering::Relaxed),
                        "rebalances": state.rebalances.load(Ordering::Relaxed),
                    });
                    if let (Value::Object(input), Value::Object(extra)) = (&mut input, extra) {
                        input.extend(extra);
                    }
                }
                input
            })
            .collect();
        fields.insert("inputs".into(), Value::Array(inputs));
        let outputs: Vec<Value> = shared
            .outputs
            .lock()
            .expect("outputs lock")
            .iter()
            .map(|(topic, codec)| json!({"topic": topic, "codec": codec}))
            .collect();
        fields.insert("outputs".into(), Value::Array(outputs));
        if let Some(fatal) = shared.health.fatal() {
            fields.insert("error".into(), json!(fatal));
        }
        fields
    }
}
