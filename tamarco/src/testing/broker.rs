//! [`Broker`]: the in-memory broker standing in for one messaging resource of a test service:
//! feed its inputs, see how each message was settled, read what its outputs sent.

use std::time::Duration;

use tamarco_core::messaging::memory::{Envelope, MemoryBroker, Outcome};

use super::TestError;

/// The in-memory broker of one resource (see
/// [`TestServiceBuilder::in_memory`](super::TestServiceBuilder::in_memory)). Each wait is bounded
/// by the service's time limit; errors name the service and the resource.
#[derive(Debug, Clone)]
pub struct Broker {
    service: &'static str,
    resource: String,
    broker: MemoryBroker,
    timeout: Duration,
}

impl Broker {
    pub(super) fn new(
        service: &'static str,
        resource: &str,
        broker: MemoryBroker,
        timeout: Duration,
    ) -> Self {
        Broker {
            service,
            resource: resource.to_owned(),
            broker,
            timeout,
        }
    }

    fn error(&self, message: String) -> TestError {
        TestError::Broker {
            service: self.service,
            resource: self.resource.clone(),
            message,
        }
    }

    /// Feeds `body` to the input reading `input` (its queue, topic or channel name as the
    /// attribute gives it) and waits until the engine settled it: acked, dead-lettered with the
    /// reason, or, for a request, answered.
    pub async fn send(&self, input: &str, body: impl Into<Vec<u8>>) -> Result<Outcome, TestError> {
        self.send_envelope(Envelope::new(input, body)).await
    }

    /// [`send`](Self::send) with `value` encoded as JSON (the default codec).
    pub async fn send_json(
        &self,
        input: &str,
        value: &impl serde::Serialize,
    ) -> Result<Outcome, TestError> {
        let body = serde_json::to_vec(value)
            .map_err(|error| self.error(format!("encoding the message for `{input}`: {error}")))?;
        self.send(input, body).await
    }

    /// [`send`](Self::send) with headers or a key.
    pub async fn send_envelope(&self, envelope: Envelope) -> Result<Outcome, TestError> {
        let input = envelope.name.clone();
        let sent = self.broker.send_envelope(envelope);
        match sent.settled(self.timeout).await {
            Some(outcome) => Ok(outcome),
            None => {
                let waiting = self.broker.waiting(&input);
                Err(self.error(format!(
                    "the message sent to `{input}` was not settled after {:?} ({waiting} \
                     still waiting: is there an input reading `{input}`?)",
                    self.timeout
                )))
            }
        }
    }

    /// What the outputs sent to `name` so far (the name their attribute gives), oldest first.
    pub fn sent(&self, name: &str) -> Vec<Envelope> {
        self.broker.published(name)
    }

    /// Waits until the outputs sent at least `count` messages to `name`, and returns them all.
    pub async fn wait_sent(&self, name: &str, count: usize) -> Result<Vec<Envelope>, TestError> {
        match self.broker.wait_published(name, count, self.timeout).await {
            Some(sent) => Ok(sent),
            None => Err(self.error(format!(
                "{} message(s) sent to `{name}` after {:?}, expected {count}",
                self.broker.published(name).len(),
                self.timeout
            ))),
        }
    }

    /// Answers the requests the service's request outputs send to `name` (an AMQP request
    /// queue) with `responder`: its `Ok` is the reply's body, its `Err` the refusal the
    /// requester gets as an error. Without one, a request input of the service reading `name`
    /// answers; with neither, the request fails at once.
    pub fn respond(
        &self,
        name: &str,
        responder: impl Fn(&Envelope) -> Result<Vec<u8>, String> + Send + Sync + 'static,
    ) {
        self.broker.respond(name, responder);
    }

    /// [`respond`](Self::respond) with JSON (the default codec) both ways: `responder` gets
    /// the decoded request and returns the reply.
    pub fn respond_json<Q, R>(
        &self,
        name: &str,
        responder: impl Fn(Q) -> Result<R, String> + Send + Sync + 'static,
    ) where
        Q: serde::de::DeserializeOwned,
        R: serde::Serialize,
    {
        self.broker.respond(name, move |envelope| {
            let request = serde_json::from_slice(&envelope.body)
                .map_err(|error| format!("decoding the request: {error}"))?;
            let reply = responder(request)?;
            serde_json::to_vec(&reply).map_err(|error| format!("encoding the reply: {error}"))
        });
    }

    /// The broker itself, for what this wrapper does not offer (sending without waiting).
    pub fn memory(&self) -> &MemoryBroker {
        &self.broker
    }
}
