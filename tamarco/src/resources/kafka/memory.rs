//! The Kafka resource on a test's in-memory broker (`tamarco::testing`): when the settings name
//! one (`system.testing.memory_brokers.<resource>`), the inputs run on it instead of a cluster,
//! what the outputs push is recorded there under its topic (acknowledged at once, partition 0,
//! offsets counted per topic), and `create_topics` has nothing to do. No client is created.

use std::sync::Arc;

use tamarco_core::ResourceContext;
use tamarco_core::messaging::memory::{Envelope, MemoryBroker};

use super::headers::Headers;
use super::message::Meta;
use super::state::KafkaState;

/// What a handler sees of a message fed through the in-memory broker: read from partition 0 of
/// the topic it was sent to, with its key and headers, at offset 0 and without a timestamp.
pub(super) fn meta_of(envelope: &Envelope) -> Meta {
    let headers = envelope
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    let key = envelope.key.as_ref().map(|k| k.as_bytes().to_vec());
    // The engine reads the body from the envelope.
    Meta::new(Arc::from(envelope.name.as_str()), key, headers)
}

/// Puts the resource on `broker`: its outputs record there from now on (the caller starts the
/// engine's inputs on it).
pub(super) fn claim(state: &KafkaState, cx: &ResourceContext, broker: &MemoryBroker) {
    *state.memory.lock().expect("memory lock") = Some(broker.clone());
    tracing::info!(resource = cx.name(), "kafka: on an in-memory broker");
}

/// Whether the settings put the resource on an in-memory broker (before it started, too).
pub(super) fn configured(state: &KafkaState) -> bool {
    if state.memory.lock().expect("memory lock").is_some() {
        return true;
    }
    let cx = state.cx.lock().expect("context lock").clone();
    cx.is_some_and(|cx| matches!(MemoryBroker::for_resource(&cx), Ok(Some(_))))
}

/// Records a push on the in-memory broker, if the resource runs on one, and returns its offset
/// (partition 0); headers and key that are not UTF-8 are recorded lossily.
pub(super) fn push(
    state: &KafkaState,
    topic: &str,
    key: Option<&[u8]>,
    body: &[u8],
    headers: &Headers,
) -> Option<i64> {
    let broker = state.memory.lock().expect("memory lock").clone()?;
    let offset = broker.publish(Envelope {
        name: topic.to_owned(),
        body: body.to_vec(),
        headers: headers
            .iter()
            .map(|(name, value)| (name.to_owned(), String::from_utf8_lossy(value).into_owned()))
            .collect(),
        key: key.map(|k| String::from_utf8_lossy(k).into_owned()),
    });
    Some(i64::try_from(offset).unwrap_or(i64::MAX))
}
