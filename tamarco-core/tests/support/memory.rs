//! An in-memory transport, written against the public transport traits only, as a plugin
//! would be: one queue per input name, settlements recorded as events.

#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tamarco_core::messaging::{
    Consumer, DeadLetter, Engine, InputInfo, InputOptions, Inputs, Received, Reply, Transport, kind,
};
use tamarco_core::{BoxError, Resource, ResourceContext, ResourceStatus};
use tokio::sync::Notify;

/// What handlers see beside the value.
#[derive(Debug, Default)]
pub struct Meta {
    pub id: u64,
}

impl Meta {
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// A message waiting in a queue.
#[derive(Clone)]
pub struct Msg {
    pub id: u64,
    pub body: Vec<u8>,
    pub deliveries: u32,
    /// Reading its metadata panics (like a header the transport cannot decode).
    pub poison_headers: bool,
    pub meta: Arc<Meta>,
}

/// How a message was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Acked(u64),
    Requeued(u64),
    DeadLettered {
        id: u64,
        reason: &'static str,
        error: String,
        attempts: u32,
    },
    Replied(u64, Vec<u8>),
    ReplyError(u64, String),
}

#[derive(Default)]
struct Queue {
    messages: Mutex<VecDeque<Msg>>,
    arrived: Notify,
}

/// The broker: shared state behind an `Arc`, so that consumers and messages reach it.
#[derive(Default)]
pub struct Broker(Arc<State>);

impl std::ops::Deref for Broker {
    type Target = State;

    fn deref(&self) -> &State {
        &self.0
    }
}

#[derive(Default)]
pub struct State {
    queues: Mutex<HashMap<String, Arc<Queue>>>,
    events: Mutex<Vec<Event>>,
    changed: Notify,
    /// Dead letters refused before one is accepted.
    pub refuse_dead_letters: AtomicU32,
    /// The next consumer's `next` panics.
    pub panic_next: AtomicBool,
    next_id: Mutex<u64>,
}

impl Broker {
    pub fn new() -> Arc<Broker> {
        Arc::new(Broker::default())
    }
}

impl State {
    /// Room for `n` events, so that recording them allocates nothing.
    pub fn reserve(&self, n: usize) {
        self.events.lock().unwrap().reserve(n);
    }

    fn queue(&self, name: &str) -> Arc<Queue> {
        let mut queues = self.queues.lock().unwrap();
        Arc::clone(queues.entry(name.to_owned()).or_default())
    }

    pub fn make(&self, body: impl Into<Vec<u8>>) -> Msg {
        let mut next = self.next_id.lock().unwrap();
        *next += 1;
        Msg {
            id: *next,
            body: body.into(),
            deliveries: 1,
            poison_headers: false,
            meta: Arc::new(Meta { id: *next }),
        }
    }

    /// Queues a message; returns its id.
    pub fn send(&self, queue: &str, body: impl Into<Vec<u8>>) -> u64 {
        let msg = self.make(body);
        let id = msg.id;
        self.push(queue, msg);
        id
    }

    pub fn push(&self, queue: &str, msg: Msg) {
        let queue = self.queue(queue);
        queue.messages.lock().unwrap().push_back(msg);
        queue.arrived.notify_waiters();
        queue.arrived.notify_one();
    }

    pub fn push_all(&self, queue: &str, msgs: impl IntoIterator<Item = Msg>) {
        let queue = self.queue(queue);
        queue.messages.lock().unwrap().extend(msgs);
        queue.arrived.notify_waiters();
        queue.arrived.notify_one();
    }

    pub fn waiting(&self, queue: &str) -> usize {
        self.queue(queue).messages.lock().unwrap().len()
    }

    fn record(&self, event: Event) {
        self.events.lock().unwrap().push(event);
        self.changed.notify_waiters();
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    pub fn event_count(&self) -> usize {
        self.events.lock().unwrap().len()
    }

    /// Waits (at most 10 s) until `done` holds for the events.
    pub async fn until(&self, what: &str, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                {
                    let events = self.events.lock().unwrap();
                    if done(&events) {
                        return events.clone();
                    }
                }
                changed.await;
            }
        };
        match tokio::time::timeout(Duration::from_secs(10), wait).await {
            Ok(events) => events,
            Err(_) => panic!("timed out waiting for {what}; events: {:?}", self.events()),
        }
    }
}

impl Transport for Broker {
    type Meta = Meta;
    type Received = Delivered;
    type Consumer = MemConsumer;

    /// `from`: the queue to read, when not the input's name.
    const INPUT_KEYS: &'static [&'static str] = &["from"];

    async fn open(&self, input: &InputInfo) -> Result<MemConsumer, BoxError> {
        let panics = self.panic_next.swap(false, Ordering::AcqRel);
        let from: Option<String> = input.transport_option("from")?;
        Ok(MemConsumer {
            queue: self.queue(from.as_deref().unwrap_or(input.name())),
            broker: Arc::clone(&self.0),
            panics,
        })
    }
}

pub struct MemConsumer {
    queue: Arc<Queue>,
    broker: Arc<State>,
    panics: bool,
}

impl Consumer for MemConsumer {
    type Received = Delivered;

    async fn next(&mut self) -> Option<Result<Delivered, BoxError>> {
        if self.panics {
            panic!("the consumer broke down");
        }
        loop {
            let arrived = self.queue.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(msg) = self.queue.messages.lock().unwrap().pop_front() {
                return Some(Ok(Delivered {
                    msg,
                    broker: Arc::clone(&self.broker),
                }));
            }
            arrived.await;
        }
    }
}

pub struct Delivered {
    msg: Msg,
    broker: Arc<State>,
}

impl Received for Delivered {
    type Meta = Meta;

    fn body(&self) -> &[u8] {
        &self.msg.body
    }

    fn meta(&self) -> Result<Arc<Meta>, BoxError> {
        if self.msg.poison_headers {
            panic!("header key is not valid UTF-8");
        }
        Ok(Arc::clone(&self.msg.meta))
    }

    fn deliveries(&self) -> Option<u32> {
        Some(self.msg.deliveries)
    }

    async fn ack(&self) -> Result<(), BoxError> {
        self.broker.record(Event::Acked(self.msg.id));
        Ok(())
    }

    async fn requeue(&self) -> Result<(), BoxError> {
        self.broker.record(Event::Requeued(self.msg.id));
        Ok(())
    }

    async fn dead_letter(&self, letter: &DeadLetter<'_>) -> Result<(), BoxError> {
        let refused = self.broker.refuse_dead_letters.fetch_update(
            Ordering::AcqRel,
            Ordering::Acquire,
            |n| n.checked_sub(1),
        );
        if refused.is_ok() {
            return Err("the dead-letter queue refuses it".into());
        }
        self.broker.record(Event::DeadLettered {
            id: self.msg.id,
            reason: letter.reason.as_str(),
            error: letter.error.to_owned(),
            attempts: letter.attempts,
        });
        Ok(())
    }

    async fn reply(&self, reply: Reply<'_>) -> Result<(), BoxError> {
        let event = match reply {
            Reply::Body { body, .. } => Event::Replied(self.msg.id, body.to_vec()),
            Reply::Error(error) => Event::ReplyError(self.msg.id, error.to_owned()),
            _ => return Err("unknown reply".into()),
        };
        self.broker.record(event);
        Ok(())
    }
}

/// A plugin resource over the broker: its engine runs the inputs.
pub struct MemQueue {
    pub engine: Engine<Broker>,
    pub broker: Arc<Broker>,
}

impl MemQueue {
    pub fn new(broker: &Arc<Broker>) -> MemQueue {
        MemQueue {
            engine: Engine::new(),
            broker: Arc::clone(broker),
        }
    }
}

impl Resource for MemQueue {
    async fn start(&self, cx: &ResourceContext) -> Result<(), BoxError> {
        let defaults = InputOptions::default();
        let broker = Arc::clone(&self.broker);
        self.engine
            .start(broker, cx, defaults, Duration::from_secs(5))
            .await
    }

    async fn stop(&self, _cx: &ResourceContext) -> Result<(), BoxError> {
        self.engine.stop(Duration::from_secs(5)).await;
        Ok(())
    }

    fn status(&self) -> Option<ResourceStatus> {
        self.engine.status()
    }
}

impl Inputs<kind::Pull> for MemQueue {
    type Transport = Broker;

    fn engine(&self) -> &Engine<Broker> {
        &self.engine
    }
}

impl Inputs<kind::Request> for MemQueue {
    type Transport = Broker;

    fn engine(&self) -> &Engine<Broker> {
        &self.engine
    }
}
