//! One consuming session of an input, shared by the records it hands out (each record's
//! metadata keeps it): what they need to settle themselves.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::member::GroupMember;
use super::state::KafkaState;

/// One consuming session of an input: what its records need to settle themselves.
pub(crate) struct Session {
    pub(crate) state: Arc<KafkaState>,
    pub(crate) member: Arc<GroupMember>,
    /// The dead-letter topic; `{topic}` stands for the source topic.
    pub(crate) dead_letter: String,
    /// Raised when the session closes: a requeued record is then left uncommitted, without a
    /// seek.
    pub(crate) closing: AtomicBool,
}
