//! Kafka: consumer-group inputs and outputs, with codecs, commits after success and dead
//! letters (cargo feature `kafka`; `kafka-tls` adds TLS and SASL/SCRAM through OpenSSL).
//!
//! [`Kafka`] is a resource like any other, and a transport of the message engine: its inputs
//! consume topics in a consumer group and hand each record, decoded by the input's
//! [codec](tamarco_core::codec), to a handler method of the service or to an [`InputStream`];
//! its outputs encode values and push them, resolving once the broker acknowledged them.
//!
//! ```rust,no_run
//! use tamarco::kafka::{Kafka, Message, TopicOutput};
//! use tamarco::prelude::*;
//!
//! #[derive(tamarco::serde::Serialize, tamarco::serde::Deserialize)]
//! #[serde(crate = "tamarco::serde")]
//! struct Order { id: u64 }
//!
//! #[microservice]
//! #[derive(Default)]
//! struct Shop {
//!     #[resource]
//!     kafka: Kafka,
//!     #[output(kafka, topic = "invoices")]
//!     invoices: TopicOutput<Order>,
//! }
//!
//! #[microservice]
//! impl Shop {
//!     /// Committed once it returns `Ok`; an error is retried, then dead-lettered.
//!     #[input(kafka, topic = "orders", retries = 2)]
//!     async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> {
//!         tamarco::tracing::info!(key = ?order.key_str(), partition = order.partition(), "order");
//!         self.invoices.message(order.value()).key(order.value().id.to_string()).push().await?;
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> ExitStatus {
//!     Shop::default().run()
//! }
//! ```
//!
//! `#[input(kafka, topic = "t", stream)]` hands the method an [`InputStream`] instead, to read
//! and [`ack`](tamarco_core::messaging::Delivery::ack) at its own pace. An input may read
//! several topics (`topics = ["a", "b"]`, named by `name = "..."`), in a consumer group of its
//! own (`group = "billing"`), from where `offset_reset` says (`"earliest"` or `"latest"`); the
//! same is declared by hand with [`Kafka::input`], from the `pre_start` hook.
//!
//! # Settings
//!
//! At `system.resources.<name>` (all optional; durations are seconds or text like `250ms`):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `bootstrap_servers` | `["127.0.0.1:9092"]` | brokers, a list or one comma-separated string |
//! | `group_id` | the service's name | consumer group of the inputs that do not name one |
//! | `auto_offset_reset` | `earliest` | where a group with no commit starts: `earliest` or `latest` (the original's `smallest`/`largest` are read as these, with a warning) |
//! | `retries` | 3 | handler retries before a record is dead-lettered |
//! | `retry_backoff` | `100ms` | wait before the first retry; doubles each time, up to 30 s |
//! | `dead_letter_topic` | `{topic}.dead_letter` | where failed records go; `{topic}` is the source topic |
//! | `create_dead_letter_topics` | `true` | create missing dead-letter topics when an input starts |
//! | `dead_letter_partitions` | 1 | partitions of the dead-letter topics it creates (replication: the broker's default) |
//! | `commit_interval` | `1s` | how often handled offsets are committed (also on rebalance and stop) |
//! | `connect_timeout` | `10s` | `start` fails when no broker answers within it |
//! | `stop_timeout` | half the grace period | how long `stop` waits for in-flight records |
//! | `inputs.<input>` | none | per-input options: the engine's `concurrency`, `prefetch`, `retries`, `retry_backoff`, `dead_letter` (a topic pattern), and `topics` (a list), `group`, `offset_reset`, over what the code says |
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
//! At least once. With the default `concurrency` of 1 an input handles one record at a time,
//! in order. A record is committed once its handler succeeded, or it went to the dead-letter
//! topic, and so did every record before it in its partition. A handler error (or panic) is
//! retried `retries` times with a doubling backoff; then the record goes to the dead-letter
//! topic, with the error and its origin in [`dead_letter_headers`], and the input moves on. A
//! record the codec cannot decode (or whose headers cannot be read) goes there at once. A
//! stream delivery dropped unacked seeks its partition back to it: it comes again. Before a
//! rebalance takes partitions away, what is done is committed, and the partitions move on only
//! once the broker answered; librdkafka commits from its own thread, so the runtime goes on
//! meanwhile (a current-thread runtime too).
//!
//! # Lifecycle
//!
//! `start` creates the producer, checks that a broker answers, and starts the inputs declared
//! so far (inputs declared later start at once). The resource reports `CONNECTING` until every
//! input has joined its group. When the service begins to stop, intake stops (streams end);
//! `stop` waits up to `stop_timeout` for the records in flight, commits, closes the consumers
//! and flushes the producer, each step bounded (librdkafka's close runs off the async
//! runtime); a consumer the wait left open still gets a final commit. A fatal client error
//! makes the resource `FAILED`; transient ones (a broker down) are logged and retried by
//! librdkafka. `/status` lists the inputs (topics, group, assignment, counts) and outputs.

mod client;
mod error;
mod headers;
mod held;
mod input;
mod lifecycle;
mod member;
mod memory;
mod message;
mod outgoing;
mod output;
mod received;
mod session;
mod settings;
mod spec;
mod state;
#[cfg(feature = "tracing-otel")]
mod trace;
mod tracker;
mod transport;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tamarco_core::codec::Codec;
use tamarco_core::messaging::{Engine, Inputs, kind};

use state::{KafkaState, create_topics};

pub use error::Error;
pub use headers::Headers;
pub use input::{Delivery, InputBuilder, InputStream};
pub use message::{Message, Meta};
pub use outgoing::{Outgoing, Pending, Receipt};
pub use output::{GenericOutput, TopicOutput};
pub use received::{Received, dead_letter_headers};
pub use spec::OffsetReset;
pub use transport::{KafkaTransport, TopicConsumer};

/// The Kafka resource: declare it as a `#[resource]` field, then its inputs with
/// `#[input(kafka, topic = "...")]` and its outputs with `#[output(kafka, topic = "...")]`
/// (or by hand with [`input`](Kafka::input), [`output`](Kafka::output) and
/// [`generic_output`](Kafka::generic_output)). See the [module docs](self).
pub struct Kafka {
    state: Arc<KafkaState>,
    engine: Arc<Engine<KafkaTransport>>,
    /// The engine's transport while the resource runs.
    transport: Mutex<Option<Arc<KafkaTransport>>>,
}

impl Kafka {
    /// A Kafka resource; its settings are read when the service configures it.
    pub fn new() -> Self {
        Kafka {
            state: Arc::new(KafkaState::default()),
            engine: Arc::new(Engine::new()),
            transport: Mutex::default(),
        }
    }

    /// Starts declaring an input on `topic`, decoded with `codec`; finish it with
    /// [`handle`](InputBuilder::handle), [`handle_with`](InputBuilder::handle_with) or
    /// [`stream`](InputBuilder::stream).
    pub fn input<T: Send + 'static>(&self, topic: &str, codec: impl Codec<T>) -> InputBuilder<T> {
        InputBuilder::new(Arc::clone(&self.engine), topic, codec)
    }

    /// An output to `topic`, encoding with `codec`. It may be made before the resource starts
    /// (to keep it in a field); it sends once the resource started.
    pub fn output<T: 'static>(&self, topic: &str, codec: impl Codec<T>) -> TopicOutput<T> {
        TopicOutput::new(Arc::clone(&self.state), topic, codec)
    }

    /// An output that takes the topic per call.
    pub fn generic_output<T: 'static>(&self, codec: impl Codec<T>) -> GenericOutput<T> {
        GenericOutput::new(Arc::clone(&self.state), codec)
    }

    /// Creates the topics, as (name, partitions), that do not exist yet, with the broker's
    /// default replication. For development and tests; production topics are usually made by
    /// their owners. Works once the resource is configured (from the `pre_start` hook on); does
    /// nothing on a test's in-memory broker.
    pub async fn create_topics(&self, topics: &[(&str, i32)]) -> Result<(), Error> {
        if memory::configured(&self.state) {
            return Ok(());
        }
        let resource = self.state.name();
        let Some(config) = self.state.config() else {
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
        self.state.all_joined()
    }

    /// Waits until every running input has joined its consumer group.
    pub async fn joined(&self) {
        while !self.state.all_joined() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The partitions currently assigned to the input named `input`, as (topic, partition).
    pub fn assignment(&self, input: &str) -> Option<Vec<(String, i32)>> {
        self.state.member(input).map(|member| member.assignment())
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
            .field("name", &self.state.name())
            .field("config", &self.state.config())
            .finish_non_exhaustive()
    }
}

/// `#[input(kafka, topic = "...")]`: topic inputs on the message engine.
impl Inputs<kind::Topic> for Kafka {
    type Transport = KafkaTransport;

    fn engine(&self) -> &Engine<KafkaTransport> {
        &self.engine
    }
}
