//! AMQP as a transport of the message engine: opening an input declares what it reads (a
//! durable queue, or an exclusive queue bound to a fanout exchange) and its dead-letter queue
//! on a fresh channel, then consumes it. Reconnection is the connection supervisor's; a
//! consumer whose connection dies reports it, and the engine opens a new one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::Channel;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use tokio::sync::Notify;

use tamarco_core::BoxError;
use tamarco_core::messaging::Kind;
use tamarco_core::messaging::{Consumer, InputInfo, Transport, kind};

use super::connection::Link;
use super::message::Meta;
use super::received::Received;
use super::session::Session;
use super::settings::{Pattern, short};
use super::target::{Declare, Target, declare};
use super::{AmqpState, Error, LinkState};

/// The pattern of an input kind.
pub(crate) fn pattern_of(kind: &str) -> Pattern {
    match kind {
        k if k == kind::Subscribe::NAME => Pattern::PublishSubscribe,
        k if k == kind::Request::NAME => Pattern::RequestResponse,
        _ => Pattern::PushPull,
    }
}

/// The kind of a pattern's inputs.
pub(crate) fn kind_of(pattern: Pattern) -> &'static str {
    match pattern {
        Pattern::PushPull => kind::Pull::NAME,
        Pattern::PublishSubscribe => kind::Subscribe::NAME,
        Pattern::RequestResponse => kind::Request::NAME,
    }
}

/// The AMQP resource's side of the message engine (handlers of `#[input(amqp, ...)]` see its
/// [`Meta`]).
pub struct AmqpTransport {
    pub(crate) shared: Arc<AmqpState>,
    /// The queue each input consumes (for `/status`), by kind and name.
    pub(crate) queues: Mutex<HashMap<(&'static str, String), String>>,
    /// The consuming channels, closed when the resource stops (stream readers may still ack
    /// what they hold until then).
    pub(crate) channels: Mutex<Vec<Channel>>,
}

impl std::fmt::Debug for AmqpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpTransport").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AmqpConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpConsumer")
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl AmqpTransport {
    pub(crate) fn new(shared: Arc<AmqpState>) -> Self {
        AmqpTransport {
            shared,
            queues: Mutex::default(),
            channels: Mutex::default(),
        }
    }

    /// The live connection, waiting for one.
    async fn link(&self) -> Result<Arc<Link>, Error> {
        let mut links = self.shared.link.subscribe();
        let state = links
            .wait_for(|s| matches!(s, LinkState::Up(_) | LinkState::Closed))
            .await;
        match state.as_deref() {
            Ok(LinkState::Up(link)) => Ok(Arc::clone(link)),
            _ => Err(self.shared.stopped()),
        }
    }
}

impl Transport for AmqpTransport {
    type Meta = Meta;
    type Received = Received;
    type Consumer = AmqpConsumer;

    async fn open(&self, input: &InputInfo) -> Result<AmqpConsumer, BoxError> {
        let shared = &self.shared;
        let config = shared.config().ok_or_else(|| shared.stopped())?;
        let link = self.link().await?;
        let pattern = pattern_of(input.kind());
        let invalid = |reason: String| Error::InvalidName {
            queue: input.name().to_owned(),
            reason,
        };
        let source = config.full_name(pattern, input.name()).map_err(invalid)?;
        let failed = |action: &'static str| {
            let target = source.to_string();
            move |error: lapin::Error| Error::broker(action, target, error)
        };
        let opening = async {
            let channel = link
                .connection
                .create_channel()
                .await
                .map_err(failed("open a channel for"))?;
            let prefetch = input.options().prefetch.unwrap_or(config.settings.prefetch);
            channel
                .basic_qos(prefetch, BasicQosOptions::default())
                .await
                .map_err(failed("set the prefetch of"))?;
            let queue = match pattern {
                Pattern::PushPull | Pattern::RequestResponse => {
                    let durable = pattern == Pattern::PushPull;
                    let what = Declare::Queue {
                        name: source.clone(),
                        durable,
                    };
                    declare(&channel, &what).await.map_err(failed("declare"))?;
                    source.clone()
                }
                Pattern::PublishSubscribe => {
                    declare(&channel, &Declare::Fanout(source.clone()))
                        .await
                        .map_err(failed("declare"))?;
                    // Exclusive: named by the broker, gone with the connection. Durable: named
                    // for this service and resource, kept across reconnections and restarts.
                    let durable = config.settings.durable_subscriptions;
                    let (name, options) = if durable {
                        let name = format!("{source}.{}.{}", shared.service(), shared.resource());
                        let options = QueueDeclareOptions {
                            durable: true,
                            ..QueueDeclareOptions::default()
                        };
                        (short(name).map_err(invalid)?, options)
                    } else {
                        let options = QueueDeclareOptions {
                            exclusive: true,
                            auto_delete: true,
                            ..QueueDeclareOptions::default()
                        };
                        (ShortString::default(), options)
                    };
                    let queue = channel
                        .queue_declare(name, options, FieldTable::default())
                        .await
                        .map_err(failed("declare a subscriber queue for"))?;
                    channel
                        .queue_bind(
                            queue.name().clone(),
                            source.clone(),
                            ShortString::default(),
                            QueueBindOptions::default(),
                            FieldTable::default(),
                        )
                        .await
                        .map_err(failed("bind a subscriber queue to"))?;
                    queue.name().clone()
                }
            };
            let dead_letter_queue = config
                .dead_letter_queue(input.options().dead_letter.as_deref(), source.as_str())
                .map_err(invalid)?;
            let dead_letter = Target::queue(dead_letter_queue, true);
            declare(&channel, &dead_letter.declare)
                .await
                .map_err(failed("declare the dead-letter queue of"))?;
            let tag = short(format!(
                "{}.{}.{}.{}",
                shared.service(),
                shared.resource(),
                input.name(),
                link.generation
            ))
            .unwrap_or_default();
            let consumer = channel
                .basic_consume(
                    queue.clone(),
                    tag,
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(failed("consume from"))?;
            Ok::<_, Error>((channel, consumer, queue, dead_letter))
        };
        let (channel, consumer, queue, dead_letter) =
            link.unless_dead(opening).await.unwrap_or_else(|| {
                Err(Error::broker(
                    "consume from",
                    input.name().to_owned(),
                    "the connection was lost",
                ))
            })?;
        self.queues
            .lock()
            .expect("queues lock")
            .insert((input.kind(), input.name().to_owned()), queue.to_string());
        let mut channels = self.channels.lock().expect("channels lock");
        channels.retain(|c| c.status().connected());
        channels.push(channel.clone());
        drop(channels);
        let session = Arc::new(Session {
            shared: Arc::clone(shared),
            link,
            channel,
            broken: Notify::new(),
            config,
            source,
            dead_letter,
            input: input.name(),
        });
        Ok(AmqpConsumer {
            session,
            consumer,
            queue,
        })
    }
}

/// A lapin consumer of one input, on a channel of its own.
pub struct AmqpConsumer {
    session: Arc<Session>,
    consumer: lapin::Consumer,
    queue: ShortString,
}

impl Consumer for AmqpConsumer {
    type Received = Received;

    async fn next(&mut self) -> Option<Result<Received, BoxError>> {
        let session = &self.session;
        let lost = |why: &'static str| -> Option<Result<Received, BoxError>> {
            let error = Error::broker("consume from", self.queue.to_string(), why);
            Some(Err(error.into()))
        };
        tokio::select! {
            biased;
            () = session.link.died() => {
                session.link.suspect.notify_one();
                lost("the connection was lost")
            }
            () = session.broken.notified() => lost("an ack went unanswered"),
            next = self.consumer.next() => match next {
                Some(Ok(delivery)) => Some(Ok(Received::new(Arc::clone(session), delivery))),
                Some(Err(error)) => {
                    session.link.suspect.notify_one();
                    Some(Err(Error::broker("consume from", self.queue.to_string(), error).into()))
                }
                None => lost("the broker cancelled the consumer"),
            },
        }
    }

    /// Stops intake; what the broker already sent ahead goes back to the queue when the
    /// channel closes.
    async fn cancel(&mut self) {
        let cancelling = self
            .session
            .channel
            .basic_cancel(self.consumer.tag(), BasicCancelOptions::default());
        let cancelling = self.session.link.unless_dead(cancelling);
        let _ = tokio::time::timeout(Duration::from_secs(2), cancelling).await;
    }
}
