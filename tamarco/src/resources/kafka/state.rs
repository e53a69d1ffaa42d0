//! [`KafkaState`]: what the Kafka resource, its inputs, their records and its outputs share
//! (the configuration, the producer, each input's group membership),
//! and the resource's own work with them: creating topics, flushing the producer.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, Producer as _};
use serde_json::{Value, json};

use tamarco_core::messaging::memory::MemoryBroker;
use tamarco_core::{BoxError, ResourceContext};

use super::Error;
use super::client::{Health, ProducerCallbacks};
use super::member::GroupMember;
use super::settings::Config;

/// How long closing one consumer (final commit, leaving the group) or flushing the producer
/// may take before it is left behind.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) type Producer = FutureProducer<ProducerCallbacks>;

/// What the resource, its inputs and outputs share.
#[derive(Default)]
pub(crate) struct KafkaState {
    pub(crate) cx: Mutex<Option<ResourceContext>>,
    pub(crate) config: RwLock<Option<Arc<Config>>>,
    pub(crate) producer: RwLock<Option<Producer>>,
    /// The test's in-memory broker the resource runs on instead of Kafka (see `memory.rs`).
    pub(crate) memory: Mutex<Option<MemoryBroker>>,
    pub(crate) health: Arc<Health>,
    /// Each input's latest group membership, by input name (for `/status` and `joined`).
    members: Mutex<Vec<(String, Arc<GroupMember>)>>,
    outputs: Mutex<Vec<(Option<String>, String)>>,
}

impl KafkaState {
    pub(crate) fn name(&self) -> String {
        self.cx
            .lock()
            .expect("context lock")
            .as_ref()
            .map_or_else(|| "kafka".to_owned(), |cx| cx.name().to_owned())
    }

    pub(crate) fn config(&self) -> Option<Arc<Config>> {
        self.config.read().expect("config lock").clone()
    }

    pub(crate) fn not_started(&self) -> Error {
        Error::NotStarted {
            resource: self.name(),
        }
    }

    /// The producer, once started.
    pub(crate) fn producer(&self) -> Result<Producer, Error> {
        self.producer
            .read()
            .expect("producer lock")
            .clone()
            .ok_or_else(|| self.not_started())
    }

    pub(crate) fn record_output(&self, topic: Option<&str>, codec: &str) {
        let entry = (topic.map(str::to_owned), codec.to_owned());
        let mut outputs = self.outputs.lock().expect("outputs lock");
        if !outputs.contains(&entry) {
            outputs.push(entry);
        }
    }

    pub(crate) fn outputs(&self) -> Vec<(Option<String>, String)> {
        self.outputs.lock().expect("outputs lock").clone()
    }

    /// Records the group membership of the input named `input`, replacing an earlier one.
    pub(crate) fn joining(&self, input: &str, member: &Arc<GroupMember>) {
        let mut members = self.members.lock().expect("members lock");
        members.retain(|(name, _)| name != input);
        members.push((input.to_owned(), Arc::clone(member)));
    }

    pub(crate) fn member(&self, input: &str) -> Option<Arc<GroupMember>> {
        let members = self.members.lock().expect("members lock");
        members
            .iter()
            .find(|(name, _)| name == input)
            .map(|(_, m)| Arc::clone(m))
    }

    pub(crate) fn all_joined(&self) -> bool {
        let members = self.members.lock().expect("members lock");
        members
            .iter()
            .all(|(_, m)| m.joined.load(Ordering::Acquire))
    }

    /// Adds to the engine's `/status` entry of each input its topics and, once it runs, its
    /// group, whether it joined, its assignment and how many rebalances it saw.
    pub(crate) fn describe_inputs(&self, inputs: &mut Value) {
        for input in inputs.as_array_mut().into_iter().flatten() {
            let name = input["name"].as_str().unwrap_or_default().to_owned();
            let Value::Object(fields) = input else {
                continue;
            };
            let Some(member) = self.member(&name) else {
                // Not opened yet: the topics declared (the engine's entry shows them), else the
                // topic of its name.
                fields.entry("topics").or_insert_with(|| json!([name]));
                continue;
            };
            let assignment: Vec<Value> = member
                .assignment()
                .into_iter()
                .map(|(topic, partition)| json!({"topic": topic, "partition": partition}))
                .collect();
            fields.insert("topics".into(), json!(member.topics));
            fields.insert("group".into(), json!(member.group));
            let joined = member.joined.load(Ordering::Acquire);
            fields.insert("joined".into(), json!(joined));
            fields.insert("assignment".into(), Value::Array(assignment));
            let rebalances = member.rebalances.load(Ordering::Relaxed);
            fields.insert("rebalances".into(), json!(rebalances));
        }
    }

    /// Flushes and closes the producer, within [`CLOSE_TIMEOUT`].
    pub(crate) async fn close_producer(&self) {
        let producer = self.producer.write().expect("producer lock").take();
        let Some(producer) = producer else {
            return;
        };
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

/// Runs blocking librdkafka work (commits, closes, flushes) on a blocking thread; false if it
/// did not finish within `timeout` (the thread is then left to finish on its own).
pub(crate) fn off_runtime(
    timeout: Duration,
    work: impl FnOnce() + Send + 'static,
) -> impl Future<Output = bool> {
    let join = tokio::task::spawn_blocking(work);
    async move { matches!(tokio::time::timeout(timeout, join).await, Ok(Ok(()))) }
}

/// Creates the dead-letter topics of the inputs reading `topics` (as (dead-letter pattern,
/// source topic)) that do not exist yet: best effort, a failure is logged, and dead-lettering
/// retries until the topic can be written.
pub(crate) async fn create_dead_letter_topics(config: Arc<Config>, topics: Vec<(String, String)>) {
    if !config.create_dead_letter_topics {
        return;
    }
    let names = topics
        .into_iter()
        .map(|(pattern, topic)| {
            (
                pattern.replace("{topic}", &topic),
                config.dead_letter_partitions,
            )
        })
        .collect();
    if let Err(error) = create_topics(&config, names).await {
        tracing::warn!("kafka: cannot create the dead-letter topics: {error}");
    }
}

/// Creates the topics that do not exist yet; the error names the first that failed.
pub(crate) async fn create_topics(
    config: &Config,
    mut topics: Vec<(String, i32)>,
) -> Result<(), BoxError> {
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
