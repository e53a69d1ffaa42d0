//! The AMQP resource on a test's in-memory broker (`tamarco::testing`): when the settings name
//! one (`system.testing.memory_brokers.<resource>`), the inputs run on it instead of RabbitMQ
//! and what the outputs send is recorded there, under the queue or exchange name the code gave
//! (`orders` for `#[output(amqp, push = "orders")]`). A request output's request is recorded
//! the same way and answered by the broker: a responder the test registered for its queue, or
//! the service's own request input on that queue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use tamarco_core::messaging::InputOptions;
use tamarco_core::messaging::memory::{Envelope, MemoryBroker, RequestError};
use tamarco_core::{BoxError, ResourceContext};

use super::message::Meta;
use super::settings::{Config, Pattern};
use super::target::Target;
use super::{AmqpState, Error};

/// What a handler sees of a message fed through the in-memory broker: published on the default
/// exchange with its key (or its queue's name) as routing key, its headers as string headers.
pub(crate) fn meta_of(envelope: &Envelope) -> Meta {
    let mut headers = FieldTable::default();
    for (name, value) in &envelope.headers {
        headers.insert(
            ShortString::from(name.as_str()),
            AMQPValue::LongString(LongString::from(value.as_bytes())),
        );
    }
    let key = envelope.key.as_deref().unwrap_or(&envelope.name);
    Meta {
        exchange: ShortString::default(),
        routing_key: ShortString::from(key),
        redelivered: false,
        properties: BasicProperties::default().with_headers(headers),
        replied: AtomicBool::new(false),
    }
}

impl AmqpState {
    /// The in-memory broker the resource runs on, if any.
    pub(crate) fn memory(&self) -> Option<MemoryBroker> {
        self.memory.lock().expect("memory lock").clone()
    }

    /// Runs the inputs on `broker` instead of connecting.
    pub(crate) async fn start_in_memory(
        &self,
        cx: &ResourceContext,
        config: &Config,
        broker: MemoryBroker,
        defaults: InputOptions,
    ) -> Result<(), BoxError> {
        *self.memory.lock().expect("memory lock") = Some(broker.clone());
        self.running.store(true, Ordering::Release);
        tracing::info!(resource = cx.name(), "amqp: on an in-memory broker");
        self.engine
            .start_in_memory(&broker, meta_of, cx, defaults, config.connection_timeout)
            .await
    }

    /// Records a send on the in-memory broker, if the resource runs on one.
    pub(crate) fn publish_in_memory(
        &self,
        target: &Target,
        body: &[u8],
        properties: &BasicProperties,
    ) -> bool {
        let Some(broker) = self.memory() else {
            return false;
        };
        broker.publish(self.envelope(target, body, properties));
        true
    }

    /// Sends a request through the in-memory broker, if the resource runs on one, and returns
    /// the reply's body. `queue` is the request queue as the code names it, for errors.
    pub(crate) async fn request_in_memory(
        &self,
        target: &Target,
        body: &[u8],
        properties: &BasicProperties,
        queue: &str,
        timeout: Duration,
    ) -> Option<Result<Vec<u8>, Error>> {
        let broker = self.memory()?;
        let envelope = self.envelope(target, body, properties);
        Some(
            broker
                .request(envelope, timeout)
                .await
                .map_err(|error| match error {
                    RequestError::TimedOut => Error::Timeout {
                        queue: queue.to_owned(),
                        timeout,
                    },
                    RequestError::Refused(message) => Error::Remote {
                        queue: queue.to_owned(),
                        message,
                    },
                    other => Error::Remote {
                        queue: queue.to_owned(),
                        message: other.to_string(),
                    },
                }),
        )
    }

    /// A send as the in-memory broker records it: under the name the code gave (the label
    /// without the prefix and pattern), with its string headers and its routing key when it
    /// went through an exchange.
    fn envelope(&self, target: &Target, body: &[u8], properties: &BasicProperties) -> Envelope {
        let config = self.config();
        let name = [
            Pattern::PushPull,
            Pattern::PublishSubscribe,
            Pattern::RequestResponse,
        ]
        .into_iter()
        .filter_map(|pattern| {
            let full = config.as_ref()?.full_name(pattern, "").ok()?;
            target.label.strip_prefix(full.as_str())
        })
        .next()
        .unwrap_or(&target.label);
        let headers = properties
            .headers()
            .as_ref()
            .map(|table| {
                table
                    .inner()
                    .keys()
                    .filter_map(|key| {
                        let value = super::message::header_str(table, key.as_str())?;
                        Some((key.to_string(), value.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let key = (!target.routing_key.as_str().is_empty() && !target.exchange.as_str().is_empty())
            .then(|| target.routing_key.to_string());
        Envelope {
            name: name.to_owned(),
            body: body.to_vec(),
            headers,
            key,
        }
    }
}
