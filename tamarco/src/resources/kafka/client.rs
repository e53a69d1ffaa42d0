//! librdkafka callbacks: logs into `tracing`, fatal errors into the resource's health, and
//! rebalances into the input's state (commit what is done before partitions are revoked).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use super::tracker::Tracker;

/// What made the resource FAILED, if anything: a fatal client error.
#[derive(Debug, Default)]
pub(crate) struct Health {
    fatal: Mutex<Option<String>>,
}

impl Health {
    pub(crate) fn fail(&self, resource: &str, what: String) {
        tracing::error!(
            resource,
            "kafka: fatal error, the resource is FAILED: {what}"
        );
        self.fatal.lock().expect("health lock").get_or_insert(what);
    }

    pub(crate) fn fatal(&self) -> Option<String> {
        self.fatal.lock().expect("health lock").clone()
    }

    pub(crate) fn reset(&self) {
        *self.fatal.lock().expect("health lock") = None;
    }
}

/// Logs the same transient error at most once per interval, with a count of the repeats.
#[derive(Debug)]
pub(crate) struct Throttle {
    last: Mutex<Option<(String, Instant, u64)>>,
    every: Duration,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            last: Mutex::new(None),
            every: Duration::from_secs(10),
        }
    }
}

impl Throttle {
    /// Whether to log `what` now, and how many repeats were held back.
    pub(crate) fn admit(&self, what: &str) -> Option<u64> {
        let mut last = self.last.lock().expect("throttle lock");
        let now = Instant::now();
        match &mut *last {
            Some((seen, at, held)) if seen == what && now.duration_since(*at) < self.every => {
                *held += 1;
                None
            }
            slot => {
                let held = slot.as_ref().map_or(0, |(_, _, held)| *held);
                *slot = Some((what.to_owned(), now, 0));
                Some(held)
            }
        }
    }
}

fn log(resource: &str, client: &str, level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", resource, client, facility, "{message}");
        }
        RDKafkaLogLevel::Warning => {
            tracing::warn!(target: "librdkafka", resource, client, facility, "{message}");
        }
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", resource, client, facility, "{message}");
        }
        RDKafkaLogLevel::Debug => {
            tracing::debug!(target: "librdkafka", resource, client, facility, "{message}");
        }
    }
}

fn is_fatal(error: &KafkaError) -> bool {
    matches!(
        error,
        KafkaError::Global(RDKafkaErrorCode::Fatal) | KafkaError::MessageConsumptionFatal(_)
    ) || error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal)
}

/// The producer's callbacks.
pub(crate) struct ProducerContext {
    pub(crate) resource: String,
    pub(crate) health: Arc<Health>,
    pub(crate) throttle: Throttle,
}

impl ClientContext for ProducerContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log(&self.resource, "producer", level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if is_fatal(&error) {
            self.health
                .fail(&self.resource, format!("{error}: {reason}"));
        } else if let Some(held) = self.throttle.admit(reason) {
            tracing::warn!(
                resource = self.resource,
                repeats = held,
                "kafka producer: {error}: {reason}; retrying"
            );
        }
    }
}

/// The state of one input's consumer, shared with its callbacks.
#[derive(Debug)]
pub(crate) struct InputState {
    pub(crate) resource: String,
    pub(crate) input: String,
    pub(crate) group: String,
    pub(crate) tracker: Tracker,
    pub(crate) health: Arc<Health>,
    /// The group was joined at least once (an assignment arrived).
    pub(crate) joined: AtomicBool,
    pub(crate) assignment: Mutex<Vec<(String, i32)>>,
    pub(crate) handled: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) rebalances: AtomicU64,
    pub(crate) throttle: Throttle,
    /// Held while positions go from the tracker to the offset store, so that a commit (on
    /// rebalance or stop) never misses positions that were taken but not stored yet.
    storing: Mutex<()>,
}

impl InputState {
    pub(crate) fn new(resource: &str, input: &str, group: String, health: Arc<Health>) -> Self {
        InputState {
            resource: resource.to_owned(),
            input: input.to_owned(),
            group,
            tracker: Tracker::default(),
            health,
            joined: AtomicBool::new(false),
            assignment: Mutex::new(Vec::new()),
            handled: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            rebalances: AtomicU64::new(0),
            throttle: Throttle::default(),
            storing: Mutex::new(()),
        }
    }

    /// Hands the commit positions that moved to the consumer's offset store; librdkafka
    /// commits the store every `commit_interval_ms`, before a revocation and on close.
    pub(crate) fn store_positions<C: ConsumerContext>(&self, consumer: &impl Consumer<C>) {
        let _storing = self.storing.lock().expect("store lock");
        let positions = self.tracker.take_positions();
        if positions.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::with_capacity(positions.len());
        for (topic, partition, offset) in &positions {
            // Only fails for an invalid offset, which the tracker never produces.
            let _ = list.add_partition_offset(topic, *partition, Offset::Offset(*offset));
        }
        if let Err(error) = consumer.store_offsets(&list) {
            // A partition revoked meanwhile; its records come back to its next owner.
            tracing::debug!(
                resource = self.resource,
                input = self.input,
                "kafka: offsets not stored: {error}"
            );
        }
        drop(list);
    }

    /// Commits the stored offsets and waits for the broker's answer.
    pub(crate) fn commit_sync<C: ConsumerContext>(&self, consumer: &impl Consumer<C>) {
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => tracing::debug!(
                resource = self.resource,
                input = self.input,
                "kafka: offsets committed"
            ),
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => tracing::warn!(
                resource = self.resource,
                input = self.input,
                "kafka: commit failed: {error}"
            ),
        }
    }

    pub(crate) fn assignment(&self) -> Vec<(String, i32)> {
        self.assignment.lock().expect("assignment lock").clone()
    }
}

/// One input consumer's callbacks.
pub(crate) struct InputContext {
    pub(crate) state: Arc<InputState>,
}

impl ClientContext for InputContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log(
            &self.state.resource,
            &self.state.input,
            level,
            facility,
            message,
        );
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if is_fatal(&error) {
            self.state
                .health
                .fail(&self.state.resource, format!("{error}: {reason}"));
        } else if let Some(held) = self.state.throttle.admit(reason) {
            tracing::warn!(
                resource = self.state.resource,
                input = self.state.input,
                repeats = held,
                "kafka consumer: {error}: {reason}; retrying"
            );
        }
    }
}

fn partitions(list: &TopicPartitionList) -> Vec<(String, i32)> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

impl ConsumerContext for InputContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let state = &self.state;
        if let Rebalance::Revoke(list) = rebalance {
            let revoked = partitions(list);
            // Commit what is done before the partitions go to another member.
            state.store_positions(consumer);
            state.commit_sync(consumer);
            state.tracker.revoke(&revoked);
            state
                .assignment
                .lock()
                .expect("assignment lock")
                .retain(|p| !revoked.contains(p));
            tracing::info!(
                resource = state.resource,
                input = state.input,
                group = state.group,
                ?revoked,
                "kafka: partitions revoked"
            );
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let state = &self.state;
        match rebalance {
            Rebalance::Assign(list) => {
                let assigned = partitions(list);
                {
                    let mut assignment = state.assignment.lock().expect("assignment lock");
                    for partition in &assigned {
                        if !assignment.contains(partition) {
                            assignment.push(partition.clone());
                        }
                    }
                    assignment.sort();
                }
                state.rebalances.fetch_add(1, Ordering::Relaxed);
                state.joined.store(true, Ordering::Release);
                tracing::info!(
                    resource = state.resource,
                    input = state.input,
                    group = state.group,
                    ?assigned,
                    "kafka: partitions assigned"
                );
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => tracing::warn!(
                resource = state.resource,
                input = state.input,
                "kafka: rebalance failed: {error}"
            ),
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => {
                if let Some(held) = self.state.throttle.admit("commit") {
                    tracing::warn!(
                        resource = self.state.resource,
                        input = self.state.input,
                        repeats = held,
                        "kafka: commit failed: {error}; retried at the next commit"
                    );
                }
            }
        }
    }
}
