//! Kafka as a transport of the message engine: opening an input creates its consumer in its
//! group, subscribes it to its topics and starts handing the commit positions of finished
//! records to the consumer's offset store (every 100 ms, off the message path); closing it
//! commits what is done, synchronously, then leaves the group.

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

use super::held::HeldStream;
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
            consumer: Arc::downgrade(&consumer),
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
            last: None,
            handed: false,
            lane: Lane::default(),
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
    /// The client's stream and the record handed out last; taken when the input stops, so
    /// that the consumer's last handle closes off the runtime.
    held: Option<Arc<HeldStream>>,
    open: Arc<OpenConsumer>,
    /// The transport's open consumers, which this one leaves when it closes.
    registry: Arc<Mutex<Vec<Arc<OpenConsumer>>>>,
    topics: Topics,
    /// The copy of the record handed out last, kept to be reused for the next record once
    /// nobody else holds it (no allocation per record while handlers let go of their
    /// messages).
    last: Option<Arc<Meta>>,
    /// `last` is a record handed out that the consumer has not moved on from yet.
    handed: bool,
    /// Where records done in order go without the tracker's lock.
    lane: Lane,
}

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
    }

    /// Lets go of the record handed out last.
    fn let_go(&mut self) {
        self.move_on();
        if let Some(held) = &self.held {
            held.release();
        }
    }
}

impl Drop for TopicConsumer {
    fn drop(&mut self) {
        self.let_go();
    }
}

/// The metadata of `message`, taken in `epoch`: `last` refilled when nobody else holds it,
/// else a new one.
fn copied(
    last: &mut Option<Arc<Meta>>,
    topics: &mut Topics,
    held: &Arc<HeldStream>,
    session: &Arc<Session>,
    message: &BorrowedMessage<'_>,
    epoch: u64,
) -> Arc<Meta> {
    let topic = topics.of(message);
    if let Some(meta) = last.as_mut().and_then(Arc::get_mut) {
        // The topic is cloned only when it changes.
        let topic = (!Arc::ptr_eq(topic, &meta.topic)).then(|| Arc::clone(topic));
        meta.refill(message, topic);
        meta.settling.reset(epoch);
    } else {
        let topic = Arc::clone(topic);
        let mut meta = Meta::of(message, topic, Arc::downgrade(held), session);
        meta.settling.reset(epoch);
        *last = Some(Arc::new(meta));
    }
    Arc::clone(last.as_ref().expect("set above"))
}

impl std::fmt::Debug for TopicConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicConsumer")
            .field("input", &self.open.session.member.input)
            .finish_non_exhaustive()
    }
}

impl TopicConsumer {
    /// Polls for the next record, copied out of the consumer. Transient client errors are
    /// logged (throttled) while librdkafka retries, and polling goes on; a fatal one ends the
    /// session (and fails the resource).
    fn poll_record(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Received, BoxError>>> {
        // Polling lets go of the record handed out before.
        self.move_on();
        let Some(held) = self.held.as_ref() else {
            return Poll::Ready(None);
        };
        let session = &self.open.session;
        let member = &session.member;
        loop {
            // Read before each poll (see `Tracker::epoch`).
            let epoch = member.tracker.epoch();
            let (last, topics) = (&mut self.last, &mut self.topics);
            let polled = held.poll_next(cx, |message| {
                copied(last, topics, held, session, message, epoch)
            });
            let error = match polled {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Ok(meta))) => {
                    self.handed = true;
                    return Poll::Ready(Some(Ok(Received::new(meta))));
                }
                Poll::Ready(Some(Err(error))) => error,
            };
            if let KafkaError::MessageConsumptionFatal(_) = error {
                member.health.fail(&member.resource, error.to_string());
                return Poll::Ready(Some(Err(error.into())));
            }
            let what = error.to_string();
            if let Some(held) = member.throttle.admit(&what) {
                tracing::warn!(
                    resource = member.resource,
                    input = member.input,
                    repeats = held,
                    "kafka consumer: {what}; retrying"
                );
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
        self.last = None;
        let state = &self.open.session.state;
        let timeout = state
            .config()
            .map_or(Duration::from_secs(15), |c| c.stop_timeout);
        self.open.close(timeout).await;
        let mut open = self.registry.lock().expect("open lock");
        open.retain(|o| !Arc::ptr_eq(o, &self.open));
    }
}
