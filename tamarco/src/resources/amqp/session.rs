//! One consuming session of an AMQP input: its channel and what the messages it delivered
//! need to settle themselves (kept apart so that the transport and the messages both depend on
//! it, not on each other).

use std::sync::Arc;

use lapin::Channel;
use lapin::types::ShortString;
use tokio::sync::Notify;

use super::AmqpState;
use super::connection::Link;
use super::settings::Config;
use super::target::Target;

/// One consuming session: its channel, and what its messages need to settle themselves.
pub(crate) struct Session {
    pub(crate) shared: Arc<AmqpState>,
    pub(crate) link: Arc<Link>,
    pub(crate) channel: Channel,
    /// Told when an ack went unanswered: the engine reopens the input.
    pub(crate) broken: Notify,
    pub(crate) config: Arc<Config>,
    /// The full name of the queue or exchange the input reads.
    pub(crate) source: ShortString,
    pub(crate) dead_letter: Target,
    pub(crate) input: &'static str,
}
