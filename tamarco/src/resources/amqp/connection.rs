//! The connection to the broker: connecting, the shared publisher channel, declarations,
//! publishing with confirms, and the supervisor that reconnects with backoff.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    QueueDeclareOptions,
};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::{FieldTable, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, Event, ExchangeKind,
};
use tokio::sync::{Notify, OnceCell, oneshot, watch};
use tokio::time::Instant;

use tamarco_core::error_chain;

use super::message::header_str;
use super::settings::Config;
use super::{Error, LinkState, Shared, raised};

/// What a target needs to exist before messages are sent to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Declare {
    /// Nothing (a reply queue, which its requester declared).
    Nothing,
    /// A queue; durable for push/pull and dead letters, transient for requests.
    Queue { name: ShortString, durable: bool },
    /// A durable fanout exchange, for publish/subscribe.
    Fanout(ShortString),
}

impl Declare {
    fn key(&self) -> Option<&str> {
        match self {
            Declare::Nothing => None,
            Declare::Queue { name, .. } | Declare::Fanout(name) => Some(name.as_str()),
        }
    }
}

/// Declares `what` on `channel`. A declaration that conflicts with an existing queue or
/// exchange closes the channel, so callers use a channel of their own.
pub(crate) async fn declare(channel: &Channel, what: &Declare) -> Result<(), lapin::Error> {
    match what {
        Declare::Nothing => Ok(()),
        Declare::Queue { name, durable } => {
            let options = QueueDeclareOptions {
                durable: *durable,
                ..QueueDeclareOptions::default()
            };
            channel
                .queue_declare(name.clone(), options, FieldTable::default())
                .await
                .map(drop)
        }
        Declare::Fanout(name) => {
            let options = ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            };
            channel
                .exchange_declare(
                    name.clone(),
                    ExchangeKind::Fanout,
                    options,
                    FieldTable::default(),
                )
                .await
        }
    }
}

/// Where a message goes: an exchange and a routing key, and what must exist first.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) exchange: ShortString,
    pub(crate) routing_key: ShortString,
    pub(crate) declare: Declare,
    /// Ask the broker to return the message when no queue takes it.
    pub(crate) mandatory: bool,
    /// The queue or exchange, for errors.
    pub(crate) label: String,
    /// The connection generation it was last declared on (0: none yet).
    declared_on: AtomicU64,
}

impl Target {
    /// A queue, through the default exchange.
    pub(crate) fn queue(name: ShortString, durable: bool) -> Target {
        Target {
            exchange: ShortString::default(),
            routing_key: name.clone(),
            label: name.to_string(),
            declare: Declare::Queue { name, durable },
            mandatory: true,
            declared_on: AtomicU64::new(0),
        }
    }

    /// A fanout exchange.
    pub(crate) fn fanout(name: ShortString) -> Target {
        Target {
            exchange: name.clone(),
            routing_key: ShortString::default(),
            label: name.to_string(),
            declare: Declare::Fanout(name),
            mandatory: false,
            declared_on: AtomicU64::new(0),
        }
    }

    /// A reply queue, declared by its requester; a reply to a requester that is gone is
    /// dropped by the broker.
    pub(crate) fn reply(queue: ShortString) -> Target {
        Target {
            exchange: ShortString::default(),
            label: queue.to_string(),
            routing_key: queue,
            declare: Declare::Nothing,
            mandatory: false,
            declared_on: AtomicU64::new(u64::MAX),
        }
    }
}

/// A failed publish: worth retrying on a new connection, or final.
pub(crate) enum PublishFailure {
    Retry(Error),
    Final(Error),
}

/// A reply to a request, as the requester's reply consumer received it.
pub(crate) struct Reply {
    pub(crate) data: Vec<u8>,
    pub(crate) error: Option<String>,
}

/// The header a responder sets when it gives up on a request.
pub(crate) const REPLY_ERROR_HEADER: &str = "tamarco.error";

/// The requester's side of request/response on one connection: an exclusive, server-named
/// reply queue and the requests waiting on it.
pub(crate) struct Replies {
    pub(crate) queue: ShortString,
    pub(crate) pending: Mutex<std::collections::HashMap<ShortString, oneshot::Sender<Reply>>>,
    _channel: Channel,
}

/// One live connection with its publisher channel. Replaced as a whole on reconnect.
pub(crate) struct Link {
    pub(crate) generation: u64,
    pub(crate) connection: Connection,
    publisher: Mutex<Channel>,
    renewing: tokio::sync::Mutex<()>,
    declared: Mutex<HashSet<String>>,
    /// Poked by whoever sees an error, so the supervisor checks the connection at once.
    pub(crate) suspect: Notify,
    /// Raised once the supervisor found the connection lost (or the resource closed it):
    /// whatever still waits on it (an ack, a confirm) gives up then, since lapin may leave
    /// such waits unanswered when the socket dies.
    dead: watch::Sender<bool>,
    replies: OnceCell<Arc<Replies>>,
}

impl Link {
    pub(crate) fn connected(&self) -> bool {
        self.connection.status().connected()
    }

    /// Marks the connection lost for good.
    pub(crate) fn mark_dead(&self) {
        self.dead.send_replace(true);
    }

    /// Completes once the connection is marked lost.
    pub(crate) async fn died(&self) {
        let mut dead = self.dead.subscribe();
        raised(&mut dead).await;
    }

    /// Runs `work` unless the connection is marked lost first (`None` then).
    pub(crate) async fn unless_dead<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            value = work => Some(value),
            () = self.died() => None,
        }
    }

    async fn publisher(&self) -> Result<Channel, lapin::Error> {
        let channel = self.publisher.lock().expect("publisher lock").clone();
        if channel.status().connected() {
            return Ok(channel);
        }
        self.renew_publisher(channel.id()).await
    }

    /// Replaces a publisher channel that the broker closed (the connection being fine).
    async fn renew_publisher(&self, old: u16) -> Result<Channel, lapin::Error> {
        let _renewing = self.renewing.lock().await;
        let current = self.publisher.lock().expect("publisher lock").clone();
        if current.id() != old && current.status().connected() {
            return Ok(current);
        }
        let channel = self.connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        *self.publisher.lock().expect("publisher lock") = channel.clone();
        Ok(channel)
    }

    /// Declares `what` once per connection, on a channel of its own.
    pub(crate) async fn ensure_declared(&self, what: &Declare) -> Result<(), lapin::Error> {
        let Some(key) = what.key() else {
            return Ok(());
        };
        if self.declared.lock().expect("declared lock").contains(key) {
            return Ok(());
        }
        let channel = self.connection.create_channel().await?;
        declare(&channel, what).await?;
        let _ = channel.close(200, "OK".into()).await;
        self.declared
            .lock()
            .expect("declared lock")
            .insert(key.to_owned());
        Ok(())
    }

    /// Publishes one message and waits for the broker's confirm.
    pub(crate) async fn publish_once(
        &self,
        target: &Target,
        body: &[u8],
        properties: &BasicProperties,
    ) -> Result<(), PublishFailure> {
        match self
            .unless_dead(self.publish_inner(target, body, properties))
            .await
        {
            Some(outcome) => outcome,
            None => Err(PublishFailure::Retry(Error::broker(
                "publish to",
                target.label.clone(),
                "the connection was lost",
            ))),
        }
    }

    async fn publish_inner(
        &self,
        target: &Target,
        body: &[u8],
        properties: &BasicProperties,
    ) -> Result<(), PublishFailure> {
        let failed = |action: &'static str, error: lapin::Error| {
            let error = Error::broker(action, target.label.clone(), error);
            if self.connected() {
                PublishFailure::Final(error)
            } else {
                PublishFailure::Retry(error)
            }
        };
        if target.declared_on.load(Ordering::Relaxed) != self.generation
            && target.declare != Declare::Nothing
        {
            self.ensure_declared(&target.declare)
                .await
                .map_err(|e| failed("declare", e))?;
            target.declared_on.store(self.generation, Ordering::Relaxed);
        }
        let options = BasicPublishOptions {
            mandatory: target.mandatory,
            immediate: false,
        };
        let mut attempts = 0;
        let confirm = loop {
            let channel = self
                .publisher()
                .await
                .map_err(|e| failed("publish to", e))?;
            let published = channel
                .basic_publish(
                    target.exchange.clone(),
                    target.routing_key.clone(),
                    options,
                    body,
                    properties.clone(),
                )
                .await;
            match published {
                Ok(confirm) => break confirm,
                // Another publisher's mistake may have closed the shared channel: renew it.
                Err(_) if self.connected() && attempts < 3 && !channel.status().connected() => {
                    attempts += 1;
                }
                Err(error) => return Err(failed("publish to", error)),
            }
        };
        match confirm.await {
            Ok(Confirmation::Ack(None) | Confirmation::NotRequested) => Ok(()),
            Ok(Confirmation::Ack(Some(returned))) => {
                Err(PublishFailure::Final(Error::Unroutable {
                    target: target.label.clone(),
                    reason: returned.reply_text.to_string(),
                }))
            }
            Ok(Confirmation::Nack(_)) => Err(PublishFailure::Final(Error::Nacked {
                target: target.label.clone(),
            })),
            Err(error) => Err(failed("publish to", error)),
        }
    }

    /// The reply queue of this connection, created on first use.
    pub(crate) async fn replies(self: &Arc<Self>) -> Result<Arc<Replies>, lapin::Error> {
        self.replies
            .get_or_try_init(|| async {
                let channel = self.connection.create_channel().await?;
                let queue = channel
                    .queue_declare(
                        ShortString::default(),
                        QueueDeclareOptions {
                            exclusive: true,
                            auto_delete: true,
                            ..QueueDeclareOptions::default()
                        },
                        FieldTable::default(),
                    )
                    .await?;
                let consumer = channel
                    .basic_consume(
                        queue.name().clone(),
                        format!("replies.{}", self.generation).into(),
                        BasicConsumeOptions {
                            no_ack: true,
                            ..BasicConsumeOptions::default()
                        },
                        FieldTable::default(),
                    )
                    .await?;
                let replies = Arc::new(Replies {
                    queue: queue.name().clone(),
                    pending: Mutex::default(),
                    _channel: channel,
                });
                tokio::spawn(dispatch_replies(Arc::clone(&replies), consumer));
                Ok(replies)
            })
            .await
            .cloned()
    }
}

/// Hands each reply to the request waiting for it; when the connection ends, the waiting
/// requests learn that it was lost.
async fn dispatch_replies(replies: Arc<Replies>, mut consumer: lapin::Consumer) {
    while let Some(Ok(delivery)) = consumer.next().await {
        let Some(id) = delivery.properties.correlation_id() else {
            continue;
        };
        let waiting = replies.pending.lock().expect("pending lock").remove(id);
        match waiting {
            Some(sender) => {
                let error = delivery
                    .properties
                    .headers()
                    .as_ref()
                    .and_then(|h| header_str(h, REPLY_ERROR_HEADER))
                    .map(str::to_owned);
                let _ = sender.send(Reply {
                    data: delivery.data,
                    error,
                });
            }
            None => {
                tracing::debug!(correlation_id = %id, "amqp: a reply came after its request gave up");
            }
        }
    }
    replies.pending.lock().expect("pending lock").clear();
}

/// SASL PLAIN from the settings. The password stays out of the URI given to lapin, whose
/// connector traces the URI.
struct PlainAuth {
    response: String,
}

impl PlainAuth {
    fn new(config: &Config) -> Self {
        let settings = &config.settings;
        PlainAuth {
            response: format!("\0{}\0{}", settings.user, settings.password.expose()),
        }
    }
}

impl lapin::auth::AuthProvider for PlainAuth {
    fn mechanism(&self) -> ShortString {
        "PLAIN".into()
    }

    fn auth_starter(&self) -> Result<lapin::types::LongString, String> {
        Ok(self.response.as_str().into())
    }
}

/// Opens a connection and its publisher channel, and declares the outputs known so far.
pub(crate) async fn connect(shared: &Shared, config: &Config) -> Result<Arc<Link>, Error> {
    let resource = shared.resource();
    let failed = |source: tamarco_core::BoxError| Error::Connect {
        resource: resource.to_owned(),
        broker: config.describe(),
        source,
    };
    let properties = ConnectionProperties::default()
        .with_connection_name(format!("{}/{resource}", shared.service()).into())
        .with_auth_provider(PlainAuth::new(config));
    let tls = OwnedTLSConfig {
        identity: None,
        cert_chain: config.tls_ca.clone(),
    };
    let uri = config.uri();
    let opening = async {
        let runtime = lapin::runtime::default_runtime()?;
        let connection = Connection::connect_uri_with_config(uri, properties, tls, runtime).await?;
        let publisher = connection.create_channel().await?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok::<_, lapin::Error>((connection, publisher))
    };
    let (connection, publisher) = tokio::time::timeout(config.connection_timeout, opening)
        .await
        .map_err(|_| failed(format!("no answer within {:?}", config.connection_timeout).into()))?
        .map_err(|e| failed(e.into()))?;
    let link = Arc::new(Link {
        generation: shared.generation.fetch_add(1, Ordering::Relaxed) + 1,
        connection,
        publisher: Mutex::new(publisher),
        renewing: tokio::sync::Mutex::new(()),
        declared: Mutex::default(),
        suspect: Notify::new(),
        dead: watch::Sender::new(false),
        replies: OnceCell::new(),
    });
    for declare in shared.output_declarations(config) {
        if let Err(error) = link.ensure_declared(&declare).await {
            let _ = link.connection.close(200, "OK".into()).await;
            return Err(Error::broker(
                "declare",
                declare.key().unwrap_or_default().to_owned(),
                error,
            ));
        }
    }
    Ok(link)
}

/// The first connection, at start: retried with backoff until `connection_timeout` has
/// passed, so that a broker that starts at the same time as the service is waited for.
pub(crate) async fn connect_first(shared: &Shared, config: &Config) -> Result<Arc<Link>, Error> {
    let deadline = Instant::now() + config.connection_timeout;
    let mut backoff = config.reconnect_backoff;
    loop {
        match connect(shared, config).await {
            Ok(link) => return Ok(link),
            Err(error) if Instant::now() + backoff < deadline => {
                tracing::warn!(
                    resource = shared.resource(),
                    "amqp: {}; retrying in {backoff:?}",
                    error_chain(&error)
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(config.reconnect_max_backoff);
            }
            Err(error) => return Err(error),
        }
    }
}

/// Watches the connection; when it is lost, reports `CONNECTING` (through the link state)
/// and reconnects with a doubling backoff until it succeeds or the resource stops.
pub(crate) async fn supervise(shared: Arc<Shared>, config: Arc<Config>, mut link: Arc<Link>) {
    let mut closing = shared.closing.subscribe();
    loop {
        let mut events: Option<Pin<Box<dyn Stream<Item = Event> + Send>>> =
            Some(Box::pin(link.connection.events_listener()));
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        while link.connected() {
            tokio::select! {
                event = next_event(&mut events) => {
                    if event.is_none() {
                        events = None;
                    }
                }
                () = link.suspect.notified() => {}
                _ = tick.tick() => {}
                () = raised(&mut closing) => return,
            }
        }
        link.mark_dead();
        if *closing.borrow() {
            return;
        }
        tracing::warn!(
            resource = shared.resource(),
            broker = config.describe(),
            "amqp: connection lost; reconnecting"
        );
        shared.link.send_if_modified(|state| match state {
            LinkState::Up(current) if current.generation == link.generation => {
                *state = LinkState::Down;
                true
            }
            _ => false,
        });
        let mut backoff = config.reconnect_backoff;
        link = loop {
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = raised(&mut closing) => return,
            }
            match connect(&shared, &config).await {
                Ok(link) => break link,
                Err(error) => {
                    backoff = (backoff * 2).min(config.reconnect_max_backoff);
                    tracing::warn!(
                        resource = shared.resource(),
                        "amqp: {}; next attempt in {backoff:?}",
                        error_chain(&error)
                    );
                }
            }
        };
        shared.reconnects.fetch_add(1, Ordering::Relaxed);
        let published = shared.link.send_if_modified(|state| match state {
            LinkState::Closed => false,
            _ => {
                *state = LinkState::Up(Arc::clone(&link));
                true
            }
        });
        if !published {
            let _ = link.connection.close(200, "OK".into()).await;
            return;
        }
        tracing::info!(
            resource = shared.resource(),
            broker = config.describe(),
            "amqp: reconnected"
        );
    }
}

async fn next_event(
    events: &mut Option<Pin<Box<dyn Stream<Item = Event> + Send>>>,
) -> Option<Event> {
    match events {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}
