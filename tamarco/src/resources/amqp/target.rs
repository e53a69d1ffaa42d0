//! Where a message goes ([`Target`]: an exchange, a routing key) and what must exist there
//! first ([`Declare`]: a queue or a fanout exchange), from a pattern and a queue name.

use std::sync::atomic::AtomicU64;

use lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};

use super::Error;
use super::settings::{Config, Pattern};

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
    pub(crate) fn key(&self) -> Option<&str> {
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
    pub(crate) declared_on: AtomicU64,
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

/// The target of `pattern` and `queue`, with the settings' prefix.
pub(crate) fn target_of(config: &Config, pattern: Pattern, queue: &str) -> Result<Target, Error> {
    let name = config
        .full_name(pattern, queue)
        .map_err(|reason| Error::InvalidName {
            queue: queue.to_owned(),
            reason,
        })?;
    Ok(match pattern {
        Pattern::PushPull => Target::queue(name, true),
        Pattern::PublishSubscribe => Target::fanout(name),
        Pattern::RequestResponse => Target::queue(name, false),
    })
}
