//! One consuming session of an input, shared by the records it hands out (each record's
//! metadata keeps it): what they need to settle themselves.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Weak};

use super::member::{GroupMember, KafkaConsumer};
use super::state::KafkaState;

/// One consuming session of an input: what its records need to settle themselves.
pub(crate) struct Session {
    pub(crate) state: Arc<KafkaState>,
    pub(crate) member: Arc<GroupMember>,
    /// For seeking back; weak, so that a record a reader keeps never keeps the consumer open.
    pub(crate) consumer: Weak<KafkaConsumer>,
    /// The dead-letter topic; `{topic}` stands for the source topic.
    pub(crate) dead_letter: String,
    /// Raised when the session closes: a requeued record is then left uncommitted, without a
    /// seek.
    pub(crate) closing: AtomicBool,
}
