//! The Redis resource on a test's in-memory broker (`tamarco::testing`): when the settings name
//! one (`system.testing.memory_brokers.<resource>`), the `subscribe` and `stream` inputs run on
//! it instead of a server, and what the publish and stream outputs send is recorded there under
//! the channel or stream name. Nothing connects: the key-value commands (`get`, `query`...)
//! and [`Redis::publish`](super::Redis::publish) fail as before a start.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tamarco_core::messaging::InputOptions;
use tamarco_core::messaging::memory::{Envelope, MemoryBroker};
use tamarco_core::{BoxError, ResourceContext};

use super::{PubSubMeta, RedisState, StreamMeta};

/// Runs both engines' inputs on `broker` instead of connecting; `defaults` are the `subscribe`
/// inputs' then the `stream` inputs'.
pub(super) async fn start(
    shared: &RedisState,
    broker: MemoryBroker,
    cx: &ResourceContext,
    [defaults, stream_defaults]: [InputOptions; 2],
    ready_timeout: Duration,
) -> Result<(), BoxError> {
    *shared.memory.lock().expect("memory lock") = Some(broker.clone());
    let failed = |e: BoxError| -> BoxError {
        format!(
            "redis resource `{}` (in memory): {}",
            cx.name(),
            tamarco_core::error_chain(&*e)
        )
        .into()
    };
    // A channel's message, as a subscriber sees it.
    let channel = |e: &Envelope| PubSubMeta {
        channel: e.name.clone(),
    };
    shared
        .engine
        .start_in_memory(&broker, channel, cx, defaults, ready_timeout)
        .await
        .map_err(failed)?;
    // An entry, with an id of its own (`0-1`, `0-2`...).
    let next = AtomicU64::new(1);
    let entry = move |e: &Envelope| {
        let id = format!("0-{}", next.fetch_add(1, Ordering::Relaxed));
        StreamMeta::new(Arc::from(e.name.as_str()), id, None)
    };
    shared
        .streams
        .start_in_memory(&broker, entry, cx, stream_defaults, ready_timeout)
        .await
        .map_err(failed)?;
    tracing::info!(resource = cx.name(), "redis: on an in-memory broker");
    Ok(())
}

impl RedisState {
    /// Records a send on the in-memory broker, if the resource runs on one, and returns its
    /// position among the sends to `name`.
    pub(super) fn send_in_memory(&self, name: &str, body: &[u8]) -> Option<u64> {
        let broker = self.memory.lock().expect("memory lock").clone()?;
        Some(broker.publish(Envelope::new(name, body)))
    }
}
