//! Kafka as a transport of the message engine: opening an input creates its consumer in its
//! group, subscribes it to its topics and starts handing the commit positions of finished
//! records to the consumer's offset store (every 100 ms, off the message path); closing it
//! commits what is done, synchronously, then leaves the group.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::Consumer as _;
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use tamarco_core::BoxError;
use tamarco_core::messaging::{Consumer, InputInfo, Transport};

use super::held::{HeldStream, Rewound};
use super::member::{ConsumerCallbacks, GroupMember, KafkaConsumer};
use super::message::{Meta, Topics};
use super::received::Received;
use super::session::Session;
use super::spec::{INPUT_KEYS, Subscription};
use super::state::{CLOSE_TIMEOUT, KafkaState, create_dead_letter_topics, off_runtime};
use super::tracker::{HandedOut, Lane};

/// How often an input hands the positions of finished records to its consumer's offset store.
const STORE_EVERY: Duration = Duration::from_millis(100);

/// The Kafka resource's side of the message engine (handlers of `#[input(kafka, ...)]` see
/// its [`Meta`]).
pub struct KafkaTransport {
    pub(crate) state: Arc<KafkaState>,
    /// The consumers open now.
    open: Arc<Mutex<Vec<Arc<OpenConsumer>>>>,
}

impl KafkaTransport {
    pub(crate) fn new(state: Arc<KafkaState>) -> Self {
        KafkaTransport {
            state,
            open: Arc::default(),
        }
    }

    /// Commits and closes the consumers still open (those the engine's stop could not close
    /// in time), without waiting for what they handed out.
    pub(crate) async fn close_all(&self) {
        let left: Vec<Arc<OpenConsumer>> = self.open.lock().expect("open lock").drain(..).collect();
        futures_util::future::join_all(left.iter().map(|open| open.close(Duration::ZERO))).await;
    }
}

impl std::fmt::Debug for KafkaTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaTransport").finish_non_exhaustive()
    }
}

impl Transport for KafkaTransport {
    type Meta = Meta;
    type Received = Received;
    type Consumer = TopicConsumer;

    const INPUT_KEYS: &'static [&'static str] = INPUT_KEYS;

    async fn open(&self, input: &InputInfo) -> Result<TopicConsumer, BoxError> {
        let state = &self.state;
        let config = state.config().ok_or_else(|| state.not_started())?;
        let subscription = Subscription::of(input)?;
        let group = subscription
            .group
            .clone()
            .unwrap_or_else(|| config.group_id.clone());
        let topics: Vec<String> = subscription
            .topics(input.name())
            .into_iter()
            .map(str::to_owned)
            .collect();
        let resource = state.name();
        let member = Arc::new(GroupMember::new(
            &resource,
            input.name(),
            group.clone(),
            topics.clone(),
            Arc::clone(&state.health),
        ));
        let client_config = config.consumer(input.name(), &group, subscription.offset_reset);
        let callbacks = ConsumerCallbacks {
            member: Arc::clone(&member),
        };
        let consumer = KafkaConsumer::from_config_and_context(&client_config, callbacks)?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        if let Err(error) = consumer.subscribe(&names) {
            off_runtime(CLOSE_TIMEOUT, move || drop(consumer)).await;
            return Err(error.into());
        }
        let consumer = Arc::new(consumer);
        let (stop_storing, stopped) = watch::channel(false);
        let storer = tokio::spawn(store_periodically(
            Arc::clone(&member),
            Arc::clone(&consumer),
            stopped,
        ));
        let dead_letter = input
            .options()
            .dead_letter
            .clone()
            .unwrap_or_else(|| config.dead_letter_topic.clone());
        // In the background: only a failing record needs its dead-letter topic, and the
        // producer waits for a topic that is being created.
        let dead_letters = topics
            .iter()
            .map(|t| (dead_letter.clone(), t.clone()))
            .collect();
        tokio::spawn(create_dead_letter_topics(Arc::clone(&config), dead_letters));
        let session = Arc::new(Session {
            state: Arc::clone(state),
            member: Arc::clone(&member),
            dead_letter,
            closing: Default::default(),
        });
        let open = Arc::new(OpenConsumer {
            session: Arc::clone(&session),
            consumer: Mutex::new(Some(Arc::clone(&consumer))),
            storer: Mutex::new(Some((stop_storing, storer))),
        });
        state.joining(input.name(), &member);
        self.open.lock().expect("open lock").push(Arc::clone(&open));
        tracing::info!(
            resource,
            input = input.name(),
            ?topics,
            group,
            "kafka: input subscribed"
        );
        Ok(TopicConsumer {
            held: Some(Arc::new(HeldStream::new(consumer))),
            open,
            registry: Arc::clone(&self.open),
            topics: Topics::new(&topics),
            batch: VecDeque::with_capacity(BATCH),
            spare: Vec::with_capacity(BATCH),
            last: None,
            handed: false,
            lane: Lane::default(),
            failed: None,
            seeks: 0,
        })
    }
}

/// An input's consumer while it is open, as the resource keeps it: closed by the engine when
/// the input stops, or by the resource's final close if the engine's stop ran out of time.
pub(crate) struct OpenConsumer {
    pub(crate) session: Arc<Session>,
    consumer: Mutex<Option<Arc<KafkaConsumer>>>,
    storer: Mutex<Option<(watch::Sender<bool>, JoinHandle<()>)>>,
}

impl OpenConsumer {
    /// Waits (at most `idle_timeout`) for the records handed out to be settled, then stores
    /// their positions, commits synchronously and closes the consumer (it leaves the group,
    /// which hands its partitions to the other members at once), within [`CLOSE_TIMEOUT`].
    /// Only the first call does anything.
    pub(crate) async fn close(&self, idle_timeout: Duration) {
        let member = Arc::clone(&self.session.member);
        if tokio::time::timeout(idle_timeout, member.tracker.idle())
            .await
            .is_err()
        {
            tracing::warn!(
                resource = member.resource,
                input = member.input,
                outstanding = member.tracker.outstanding(),
                "kafka: records still unsettled after {idle_timeout:?}; they stay uncommitted \
                 and come again"
            );
        }
        self.session.closing.store(true, Ordering::Release);
        let storer = self.storer.lock().expect("storer lock").take();
        if let Some((stop, storer)) = storer {
            stop.send_replace(true);
            let _ = storer.await;
        }
        let Some(consumer) = self.consumer.lock().expect("consumer lock").take() else {
            return;
        };
        let committing = Arc::clone(&member);
        let closed = off_runtime(CLOSE_TIMEOUT, move || {
            committing.store_positions(&*consumer);
            committing.commit_sync(&*consumer);
            drop(consumer);
        });
        if !closed.await {
            tracing::warn!(
                resource = member.resource,
                input = member.input,
                "kafka: the consumer did not close within {CLOSE_TIMEOUT:?}; left behind"
            );
        }
    }
}

/// Hands the commit positions of finished records to the consumer's offset store every
/// [`STORE_EVERY`], until told to stop.
async fn store_periodically(
    member: Arc<GroupMember>,
    consumer: Arc<KafkaConsumer>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(STORE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => break,
            _ = tick.tick() => member.store_positions(&*consumer),
        }
    }
}

/// The consumer of one input, read by the engine's workers.
pub struct TopicConsumer {
    /// The client's stream and the records taken; taken when the input stops, so that the
    /// consumer's last handle closes off the runtime.
    held: Option<Arc<HeldStream>>,
    open: Arc<OpenConsumer>,
    /// The transport's open consumers, which this one leaves when it closes.
    registry: Arc<Mutex<Vec<Arc<OpenConsumer>>>>,
    topics: Topics,
    /// Records taken from the client and not handed out yet, oldest first.
    batch: VecDeque<Arc<Meta>>,
    /// Copies of records that nobody holds any more, reused for the next records taken (no
    /// allocation per record while handlers let go of their messages).
    spare: Vec<Arc<Meta>>,
    /// The copy of the record handed out last.
    last: Option<Arc<Meta>>,
    /// `last` is a record handed out that the consumer has not moved on from yet.
    handed: bool,
    /// Where records done in order go without the tracker's lock.
    lane: Lane,
    /// A fatal client error met while records taken before it were still to be handed out.
    failed: Option<KafkaError>,
    /// How many seeks the consumer had seen when it last dropped the records they made stale.
    seeks: u64,
}

/// How many ready records the consumer takes from the client in a row, before it hands the
/// first out. Taken one by one, the client's code and the engine's (decode, handler, settling)
/// ran in turns, and together they did not fit the processor's instruction cache; in runs,
/// each has it to itself while it runs. Callgrind's cache simulation, worker threads, per
/// record: 53 instruction-cache misses one by one, 4 in runs of 16 (3 in runs of 32, but with
/// twice the data-cache misses of 16: the records held outgrow that cache).
///
/// The client still hands the records over one poll each. librdkafka can hand over a run in
/// one call (`rd_kafka_consume_batch_queue`): a bare loop over it took 3009 instructions per
/// record where the same loop over the crate's poll took 4197 (callgrind, mock cluster). But
/// rdkafka has no safe API for it (its issue #402 was closed without one), the workspace
/// forbids `unsafe`, and on the consumer's own queue librdkafka would serve a rebalance itself,
/// past the callbacks in [`member`](super::member).
const BATCH: usize = 16;

impl TopicConsumer {
    /// Moves on from the record handed out last: its settling (done, still in flight...) goes
    /// to the tracker (see its lane). Its headers are read if anyone but this consumer holds
    /// its metadata, before the record is let go: they may still be asked for.
    fn move_on(&mut self) {
        if !std::mem::take(&mut self.handed) {
            return;
        }
        let Some(last) = &self.last else {
            return;
        };
        // Held elsewhere (a count read, where `Arc::get_mut` would take the count's lock):
        // no `Weak` to it is ever made, and only its holders can clone it.
        if Arc::strong_count(last) > 1 {
            let _ = last.headers();
        }
        let record = HandedOut {
            topic: &last.topic,
            partition: last.partition,
            offset: last.offset,
            settling: &last.settling,
        };
        let tracker = &self.open.session.member.tracker;
        tracker.move_on(&mut self.lane, record);
        let last = self.last.take().expect("checked above");
        // Held elsewhere only by a handler that kept its message: then it is not reused.
        if Arc::strong_count(&last) == 1 {
            self.spare.push(last);
        }
    }

    /// Lets go of the record handed out last and of those taken ahead of it: positions never
    /// passed them, so they come again.
    fn let_go(&mut self) {
        self.move_on();
        self.batch.clear();
        if let Some(held) = &self.held {
            held.release_all();
        }
    }

    /// Drops the records taken but not handed out that a seek made stale: their partition was
    /// sought back to a record before them after they were taken, so they come again (handed
    /// out now, they would be handled twice, and ahead of the record requeued).
    fn drop_rewound(&mut self, rewound: &[Rewound]) {
        let spare = &mut self.spare;
        self.batch.retain(|meta| {
            let stale = rewound
                .iter()
                .any(|r| r.covers(&meta.topic, meta.partition, meta.seq));
            if stale && Arc::strong_count(meta) == 1 {
                spare.push(Arc::clone(meta));
            }
            !stale
        });
    }

    /// Drops the records taken but not handed out of the partitions revoked while they were
    /// taken: their next owner reads them from the committed position, which never passed
    /// them.
    fn drop_revoked(&mut self) {
        let assignment = self.open.session.member.assignment();
        self.batch.retain(|meta| {
            assignment
                .iter()
                .any(|(t, p)| *p == meta.partition && **t == *meta.topic)
        });
    }
}

impl Drop for TopicConsumer {
    fn drop(&mut self) {
        self.let_go();
    }
}

/// The metadata of `message`, taken in `epoch` under `seq`: a spare copy refilled, else a new
/// one.
fn copied(
    spare: &mut Vec<Arc<Meta>>,
    topics: &mut Topics,
    held: &Arc<HeldStream>,
    session: &Arc<Session>,
    message: &BorrowedMessage<'_>,
    seq: u64,
    epoch: u64,
) -> Arc<Meta> {
    let topic = topics.of(message);
    let fill = |meta: &mut Meta| {
        meta.seq = seq;
        meta.settling.reset(epoch);
    };
    match spare.pop() {
        Some(mut meta) => {
            // Spares are held by nobody else, and no `Weak` to them is ever made.
            let reused = Arc::get_mut(&mut meta).expect("a spare copy is held by nobody else");
            // The topic is cloned only when it changes.
            let topic = (!Arc::ptr_eq(topic, &reused.topic)).then(|| Arc::clone(topic));
            reused.refill(message, topic);
            fill(reused);
            meta
        }
        None => {
            let topic = Arc::clone(topic);
            let mut meta = Meta::of(message, topic, Arc::downgrade(held), session);
            fill(&mut meta);
            Arc::new(meta)
        }
    }
}

impl std::fmt::Debug for TopicConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicConsumer")
            .field("input", &self.open.session.member.input)
            .finish_non_exhaustive()
    }
}

impl TopicConsumer {
    /// Hands out the next record, copied out of the consumer: the next one taken ahead, else
    /// the first of the ready records taken now (see [`BATCH`]).
    fn poll_record(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Received, BoxError>>> {
        // Polling lets go of the record handed out before.
        self.move_on();
        if let Some(held) = &self.held {
            let seeks = held.seeks();
            if seeks != self.seeks {
                self.seeks = seeks;
                let rewound = held.take_rewound();
                self.drop_rewound(&rewound);
            }
        }
        if self.batch.is_empty() {
            if let Some(error) = self.failed.take() {
                return Poll::Ready(Some(Err(error.into())));
            }
            match self.take_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(end)) => return Poll::Ready(end.map(|e| Err(e.into()))),
                Poll::Pending => return Poll::Pending,
            }
        }
        let meta = self.batch.pop_front().expect("taken above");
        self.last = Some(Arc::clone(&meta));
        self.handed = true;
        Poll::Ready(Some(Ok(Received::new(meta))))
    }

    /// Takes up to [`BATCH`] ready records into the batch: `Ok` once it took one, `Pending` when
    /// none is ready, `Err` with what ended the session (`None`: the stream ended) when it
    /// took none. Transient client errors are logged (throttled) while librdkafka retries, and
    /// polling goes on; a fatal one ends the session (and fails the resource), after the
    /// records taken before it.
    fn take_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Option<KafkaError>>> {
        let Some(held) = self.held.as_ref() else {
            return Poll::Ready(Err(None));
        };
        let session = &self.open.session;
        let member = &session.member;
        let revocations = member.revocations.load(Ordering::Acquire);
        // Read before polling (see `Tracker::epoch`).
        let epoch = member.tracker.epoch();
        let mut waiting;
        let end = loop {
            let (batch, spare, topics) = (&mut self.batch, &mut self.spare, &mut self.topics);
            let polled = held.take_ready(cx, |message, seq| {
                batch.push_back(copied(spare, topics, held, session, message, seq, epoch));
                batch.len() < BATCH
            });
            waiting = polled.is_pending();
            let error = match polled {
                Poll::Ready(Some(Ok(()))) | Poll::Pending => break None,
                Poll::Ready(None) => break Some(None),
                Poll::Ready(Some(Err(error))) => error,
            };
            if let KafkaError::MessageConsumptionFatal(_) = error {
                member.health.fail(&member.resource, error.to_string());
                break Some(Some(error));
            }
            let what = error.to_string();
            if let Some(repeats) = member.throttle.admit(&what) {
                tracing::warn!(
                    resource = member.resource,
                    input = member.input,
                    repeats,
                    "kafka consumer: {what}; retrying"
                );
            }
            if !self.batch.is_empty() {
                break None;
            }
        };
        // A revocation runs in the client's poll: records taken before it may be of a
        // partition this consumer no longer has.
        if member.revocations.load(Ordering::Acquire) != revocations {
            self.drop_revoked();
        }
        match (self.batch.is_empty(), end) {
            (true, Some(end)) => Poll::Ready(Err(end)),
            (true, None) => {
                // Only revoked records were taken: the client has more, and no wake-up would
                // come for them.
                if !waiting {
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
            (false, end) => {
                // Handed out after the records taken before it.
                self.failed = end.flatten();
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl Consumer for TopicConsumer {
    type Received = Received;

    /// The next record (see `poll_record`).
    async fn next(&mut self) -> Option<Result<Received, BoxError>> {
        std::future::poll_fn(|cx| self.poll_record(cx)).await
    }

    /// A record ready in the client's queue, taken without a future: a poll whose waker does
    /// nothing (the engine waits through [`next`](Consumer::next), which registers its own).
    fn try_next(&mut self) -> Option<Option<Result<Received, BoxError>>> {
        let mut cx = Context::from_waker(Waker::noop());
        match self.poll_record(&mut cx) {
            Poll::Ready(next) => Some(next),
            Poll::Pending => None,
        }
    }

    /// Waits for the records handed out (stream deliveries) to be settled, commits and closes
    /// the consumer.
    async fn cancel(&mut self) {
        self.let_go();
        self.held = None;
        self.spare.clear();
        let state = &self.open.session.state;
        let timeout = state
            .config()
            .map_or(Duration::from_secs(15), |c| c.stop_timeout);
        self.open.close(timeout).await;
        let mut open = self.registry.lock().expect("open lock");
        open.retain(|o| !Arc::ptr_eq(o, &self.open));
    }
}
