//! One connection to the broker ([`Link`]): connecting with the settings' credentials, the
//! shared publisher channel, declarations once per connection, publishing with confirms.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::tcp::OwnedTLSConfig;
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use tokio::sync::{Notify, OnceCell, watch};

use super::replies::Replies;
use super::settings::Config;
use super::target::{Declare, Target, declare};
use super::{AmqpState, Error, raised};

/// A failed publish: worth retrying on a new connection, or final.
pub(crate) enum PublishFailure {
    Retry(Error),
    Final(Error),
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

    /// Whether `error` means this connection is lost. The socket's own failure is the
    /// connection's even while its status still reads connected: lapin hands an operation
    /// its write's error (a broken pipe) before it marks the connection lost.
    pub(crate) fn lost_by(&self, error: &lapin::Error) -> bool {
        matches!(error.kind(), lapin::ErrorKind::IOError(_)) || !self.connected()
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
            let lost = self.lost_by(&error);
            let error = Error::broker(action, target.label.clone(), error);
            match lost {
                true => PublishFailure::Retry(error),
                false => PublishFailure::Final(error),
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
    pub(crate) async fn replies(&self) -> Result<Arc<Replies>, lapin::Error> {
        self.replies
            .get_or_try_init(|| Replies::open(&self.connection, self.generation))
            .await
            .cloned()
    }
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
pub(crate) async fn connect(shared: &AmqpState, config: &Config) -> Result<Arc<Link>, Error> {
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
