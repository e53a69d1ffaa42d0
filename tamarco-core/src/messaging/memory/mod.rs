//! An in-memory broker: a [`Transport`](super::Transport) with no network, for tests. Written against the public
//! transport traits only, as a plugin would be.
//!
//! A [`MemoryBroker`] keeps one queue per input name: [`send`](MemoryBroker::send) feeds the
//! inputs reading that name and returns a [`Sent`] that tells how the engine settled the message
//! ([`Outcome`]: acked, dead-lettered with the reason, replied). What a resource's outputs send
//! goes to [`publish`](MemoryBroker::publish), where a test reads it back
//! ([`published`](MemoryBroker::published)). A requeued message is delivered again, with its
//! delivery count raised. A request an output sends ([`request`](MemoryBroker::request)) is
//! answered by a responder the test registered ([`respond`](MemoryBroker::respond)), else by
//! the inputs reading its name.
//!
//! A resource runs on it instead of its broker when the settings name a registered broker under
//! `system.testing.memory_brokers.<resource>` ([`MemoryBroker::for_resource`]); the engine's
//! [`start_in_memory`](super::Engine::start_in_memory) then runs its inputs here, with the
//! resource's own metadata type built from each [`Envelope`]. `tamarco::testing` does both.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use crate::resource::ResourceContext;
use crate::{BoxError, SettingsError};

mod outcome;
mod transport;

pub use outcome::{Outcome, RequestError, Sent};
pub use transport::{MemoryConsumer, MemoryReceived, MemoryTransport};

/// The settings key (under the root) whose children name, per resource, the registered
/// in-memory broker it runs on.
pub const MEMORY_BROKERS_KEY: &str = "system.testing.memory_brokers";

/// A message as the in-memory broker carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The queue, topic or channel it was sent to (an input's name, an output's target).
    pub name: String,
    /// The encoded body.
    pub body: Vec<u8>,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// A routing or partition key, when the sender gave one.
    pub key: Option<String>,
}

impl Envelope {
    /// A message for `name` with `body` and no headers.
    pub fn new(name: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Envelope {
            name: name.into(),
            body: body.into(),
            ..Envelope::default()
        }
    }

    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

struct Pending {
    id: u64,
    envelope: Arc<Envelope>,
    deliveries: u32,
}

#[derive(Default)]
struct Queue {
    messages: Mutex<VecDeque<Pending>>,
    arrived: Notify,
    /// Consumers open on it: a request with no responder fails at once when there are none.
    consumers: AtomicUsize,
}

impl Queue {
    fn push(&self, pending: Pending, front: bool) {
        let mut messages = self.messages.lock().expect("queue lock");
        if front {
            messages.push_front(pending);
        } else {
            messages.push_back(pending);
        }
        drop(messages);
        self.arrived.notify_one();
    }
}

/// What the clones of one broker share: its queues, settled outcomes, published messages and
/// responders.
#[derive(Default)]
struct BrokerState {
    id: OnceLock<String>,
    queues: Mutex<HashMap<String, Arc<Queue>>>,
    outcomes: Mutex<HashMap<u64, Outcome>>,
    published: Mutex<Vec<Envelope>>,
    responders: Mutex<HashMap<String, Responder>>,
    changed: Notify,
    next_id: AtomicU64,
    /// A resource took it through [`MemoryBroker::for_resource`].
    claimed: AtomicBool,
}

impl BrokerState {
    fn queue(&self, name: &str) -> Arc<Queue> {
        let mut queues = self.queues.lock().expect("queues lock");
        Arc::clone(queues.entry(name.to_owned()).or_default())
    }

    /// The first settlement wins: a request's reply is followed by its ack.
    fn settle(&self, id: u64, outcome: Outcome) {
        self.outcomes
            .lock()
            .expect("outcomes lock")
            .entry(id)
            .or_insert(outcome);
        self.changed.notify_waiters();
    }

    /// Waits until `check` finds something, at most `timeout`.
    async fn until<T>(
        &self,
        timeout: Duration,
        check: impl Fn(&BrokerState) -> Option<T>,
    ) -> Option<T> {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if let Some(found) = check(self) {
                    return found;
                }
                changed.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }
}

/// An in-memory broker: cheap to clone (clones share the queues). See the [module docs](self).
#[derive(Clone, Default)]
pub struct MemoryBroker {
    state: Arc<BrokerState>,
}

impl fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBroker")
            .field("id", &self.state.id.get())
            .field(
                "published",
                &self.state.published.lock().expect("published lock").len(),
            )
            .finish_non_exhaustive()
    }
}

/// A function answering requests: see [`MemoryBroker::respond`].
type Responder = Arc<dyn Fn(&Envelope) -> Result<Vec<u8>, String> + Send + Sync>;

/// Brokers a settings value can name: weak, so a dropped test's broker goes away.
fn registry() -> &'static Mutex<HashMap<String, Weak<BrokerState>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<BrokerState>>>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

impl MemoryBroker {
    /// An empty broker.
    pub fn new() -> Self {
        MemoryBroker::default()
    }

    /// Registers the broker so that settings can name it, and returns that name (unique in the
    /// process). The registry holds it weakly: it lives as long as a clone of the broker.
    pub fn register(&self) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = self
            .state
            .id
            .get_or_init(|| format!("memory-{}", NEXT.fetch_add(1, Ordering::Relaxed)))
            .clone();
        let mut brokers = registry().lock().expect("registry lock");
        brokers.retain(|_, broker| broker.strong_count() > 0);
        brokers.insert(id.clone(), Arc::downgrade(&self.state));
        id
    }

    /// The registered broker called `id`, if it is still alive.
    pub fn lookup(id: &str) -> Option<MemoryBroker> {
        let brokers = registry().lock().expect("registry lock");
        let state = brokers.get(id)?.upgrade()?;
        Some(MemoryBroker { state })
    }

    /// The broker the settings give the resource of `cx` in place of its own
    /// (`system.testing.memory_brokers.<resource>`), if any. A resource that supports it calls
    /// this in `start` and, when it answers, runs on the broker instead of connecting.
    pub fn for_resource(cx: &ResourceContext) -> Result<Option<MemoryBroker>, BoxError> {
        let key = format!("{MEMORY_BROKERS_KEY}.{}", cx.name());
        let id = cx.settings().settings().get_opt::<String>(&key)?;
        let Some(id) = id else { return Ok(None) };
        match MemoryBroker::lookup(&id) {
            Some(broker) => {
                broker.state.claimed.store(true, Ordering::Release);
                Ok(Some(broker))
            }
            None => Err(Box::new(SettingsError::Invalid {
                key,
                message: format!("no in-memory broker `{id}` is alive in this process"),
            })),
        }
    }

    /// Whether a resource took the broker in place of its own ([`for_resource`](Self::for_resource)):
    /// a test can tell a resource that ignores the setting from one that runs on it.
    pub fn is_claimed(&self) -> bool {
        self.state.claimed.load(Ordering::Acquire)
    }

    /// Queues `body` for the inputs reading `name`.
    pub fn send(&self, name: &str, body: impl Into<Vec<u8>>) -> Sent {
        self.send_envelope(Envelope::new(name, body))
    }

    /// Queues a message with headers or a key for the inputs reading `envelope.name`.
    pub fn send_envelope(&self, envelope: Envelope) -> Sent {
        let id = self.state.next_id.fetch_add(1, Ordering::Relaxed);
        let queue = self.state.queue(&envelope.name);
        queue.push(
            Pending {
                id,
                envelope: Arc::new(envelope),
                deliveries: 1,
            },
            false,
        );
        Sent {
            id,
            broker: self.clone(),
        }
    }

    /// Records what an output sends (resources call it in place of their broker's publish), and
    /// returns how many messages were sent to its name before it (an offset, for resources
    /// whose sends answer with one).
    pub fn publish(&self, envelope: Envelope) -> u64 {
        let mut published = self.state.published.lock().expect("published lock");
        let before = published.iter().filter(|e| e.name == envelope.name).count();
        published.push(envelope);
        drop(published);
        self.state.changed.notify_waiters();
        u64::try_from(before).unwrap_or(u64::MAX)
    }

    /// Answers the requests sent to `name` with `responder` (in place of a request input
    /// reading `name`): its `Ok` is the reply's body, its `Err` the responder's refusal.
    pub fn respond(
        &self,
        name: &str,
        responder: impl Fn(&Envelope) -> Result<Vec<u8>, String> + Send + Sync + 'static,
    ) {
        self.state
            .responders
            .lock()
            .expect("responders lock")
            .insert(name.to_owned(), Arc::new(responder));
    }

    /// Sends a request (resources call it in place of their broker's request/response): it is
    /// recorded as [`publish`](Self::publish) records a send, then answered by the responder
    /// registered for its name ([`respond`](Self::respond)), else by the inputs reading its name
    /// (a request input of the service itself), within `timeout`.
    pub async fn request(
        &self,
        envelope: Envelope,
        timeout: Duration,
    ) -> Result<Vec<u8>, RequestError> {
        self.publish(envelope.clone());
        let responder = self
            .state
            .responders
            .lock()
            .expect("responders lock")
            .get(&envelope.name)
            .cloned();
        if let Some(responder) = responder {
            return responder(&envelope).map_err(RequestError::Refused);
        }
        let queue = self.state.queue(&envelope.name);
        if queue.consumers.load(Ordering::Acquire) == 0 {
            return Err(RequestError::NoResponder(envelope.name));
        }
        let sent = self.send_envelope(envelope);
        match sent.settled(timeout).await {
            Some(Outcome::Replied(body)) => Ok(body),
            Some(Outcome::ReplyError(error) | Outcome::DeadLettered { error, .. }) => {
                Err(RequestError::Refused(error))
            }
            Some(Outcome::Acked) => Err(RequestError::Refused(
                "the input acked the request without a reply".to_owned(),
            )),
            None => Err(RequestError::TimedOut),
        }
    }

    /// What outputs sent to `name` so far, oldest first.
    pub fn published(&self, name: &str) -> Vec<Envelope> {
        let published = self.state.published.lock().expect("published lock");
        published
            .iter()
            .filter(|e| e.name == name)
            .cloned()
            .collect()
    }

    /// Waits until outputs sent at least `count` messages to `name` (at most `timeout`) and
    /// returns them all; `None` when fewer came in time.
    pub async fn wait_published(
        &self,
        name: &str,
        count: usize,
        timeout: Duration,
    ) -> Option<Vec<Envelope>> {
        self.state
            .until(timeout, |_| {
                let sent = self.published(name);
                (sent.len() >= count).then_some(sent)
            })
            .await
    }

    /// How many messages wait in the queue of `name`, not yet taken by an input.
    pub fn waiting(&self, name: &str) -> usize {
        let queue = self.state.queue(name);
        let messages = queue.messages.lock().expect("queue lock");
        messages.len()
    }

    /// A transport over this broker whose handlers see `meta(envelope)` beside each value.
    pub fn transport<M, F>(&self, meta: F) -> MemoryTransport<M>
    where
        M: Send + Sync + 'static,
        F: Fn(&Envelope) -> M + Send + Sync + 'static,
    {
        MemoryTransport {
            broker: self.clone(),
            meta: Arc::new(meta),
        }
    }
}
