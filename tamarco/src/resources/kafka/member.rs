//! One input's membership of its consumer group: which partitions it holds, which offsets may
//! be committed ([`Tracker`]), and the consumer's callbacks that keep both right across
//! rebalances: before partitions are taken away, what is done goes to the offset store, and
//! librdkafka commits it from its own thread before the group moves on; the thread that polls
//! the consumer (a runtime worker) never waits for the broker.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use super::client::{Health, Throttle, is_fatal, log};
use super::tracker::Tracker;

/// An input's consumer, as the resource creates it.
pub(crate) type KafkaConsumer = rdkafka::consumer::StreamConsumer<ConsumerCallbacks>;

/// One input's place in its consumer group, shared by its consumer's callbacks, its messages
/// and `/status`.
#[derive(Debug)]
pub(crate) struct GroupMember {
    pub(crate) resource: String,
    pub(crate) input: String,
    pub(crate) group: String,
    pub(crate) topics: Vec<String>,
    pub(crate) tracker: Tracker,
    pub(crate) health: Arc<Health>,
    /// The group was joined at least once (an assignment arrived).
    pub(crate) joined: AtomicBool,
    pub(crate) assignment: Mutex<Vec<(String, i32)>>,
    pub(crate) rebalances: AtomicU64,
    /// How many revocations there were: the consumer drops the records of revoked partitions
    /// that it took but had not handed out.
    pub(crate) revocations: AtomicU64,
    pub(crate) throttle: Throttle,
    /// Held while positions go from the tracker to the offset store, so that a commit (on
    /// rebalance or stop) never misses positions that were taken but not stored yet.
    storing: Mutex<()>,
}

impl GroupMember {
    pub(crate) fn new(
        resource: &str,
        input: &str,
        group: String,
        topics: Vec<String>,
        health: Arc<Health>,
    ) -> Self {
        GroupMember {
            resource: resource.to_owned(),
            input: input.to_owned(),
            group,
            topics,
            tracker: Tracker::default(),
            health,
            joined: AtomicBool::new(false),
            assignment: Mutex::new(Vec::new()),
            rebalances: AtomicU64::new(0),
            revocations: AtomicU64::new(0),
            throttle: Throttle::default(),
            storing: Mutex::new(()),
        }
    }

    /// Hands the commit positions that moved to the consumer's offset store; librdkafka
    /// commits the store every `commit_interval`, before a revocation and on close.
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
    }

    /// Commits the stored offsets and waits for the broker's answer: blocking, so only from a
    /// blocking thread (the close runs it there).
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
pub(crate) struct ConsumerCallbacks {
    pub(crate) member: Arc<GroupMember>,
}

impl ClientContext for ConsumerCallbacks {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let member = &self.member;
        log(&member.resource, &member.input, level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let member = &self.member;
        if is_fatal(&error) {
            member
                .health
                .fail(&member.resource, format!("{error}: {reason}"));
        } else if let Some(held) = member.throttle.admit(reason) {
            tracing::warn!(
                resource = member.resource,
                input = member.input,
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

impl ConsumerContext for ConsumerCallbacks {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let member = &self.member;
        if let Rebalance::Revoke(list) = rebalance {
            let revoked = partitions(list);
            // What is done goes to the offset store. With `enable.auto.commit`, librdkafka
            // commits the stored offsets of the partitions it takes away, from its own thread,
            // and rejoins the group only once the broker answered: the partitions reach another
            // member after the commit, and this callback (run by the thread that polls the
            // consumer, a runtime worker) does not wait for the broker.
            member.store_positions(consumer);
            member.tracker.revoke(&revoked);
            member
                .assignment
                .lock()
                .expect("assignment lock")
                .retain(|p| !revoked.contains(p));
            member.revocations.fetch_add(1, Ordering::AcqRel);
            tracing::info!(
                resource = member.resource,
                input = member.input,
                group = member.group,
                ?revoked,
                "kafka: partitions revoked"
            );
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let member = &self.member;
        match rebalance {
            Rebalance::Assign(list) => {
                let assigned = partitions(list);
                {
                    let mut assignment = member.assignment.lock().expect("assignment lock");
                    for partition in &assigned {
                        if !assignment.contains(partition) {
                            assignment.push(partition.clone());
                        }
                    }
                    assignment.sort();
                }
                member.rebalances.fetch_add(1, Ordering::Relaxed);
                member.joined.store(true, Ordering::Release);
                tracing::info!(
                    resource = member.resource,
                    input = member.input,
                    group = member.group,
                    ?assigned,
                    "kafka: partitions assigned"
                );
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(error) => tracing::warn!(
                resource = member.resource,
                input = member.input,
                "kafka: rebalance failed: {error}"
            ),
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => {
                if let Some(held) = self.member.throttle.admit("commit") {
                    tracing::warn!(
                        resource = self.member.resource,
                        input = self.member.input,
                        repeats = held,
                        "kafka: commit failed: {error}; retried at the next commit"
                    );
                }
            }
        }
    }
}
