//! The message engine on an in-memory transport that uses only the public transport traits,
//! as a plugin would: order, retries, dead letters, panics, replies, streams, settings
//! overrides, supervision and a stop with messages in flight.
//!
//! The tests by concept: `delivery` (order, acks, replies, streams, the stop, inputs added
//! while running), `failures` (retries, dead letters, panics, a dying input loop) and `options`
//! (settings over code, bad settings, duplicate inputs).

#[path = "../support/mod.rs"]
mod support;

mod delivery;
mod failures;
mod options;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tamarco_core::codec::{Codec, Text};
use tamarco_core::messaging::{InputSpec, Message, bind_input, bind_request_input, kind};
use tamarco_core::{BoxError, MicroserviceContext, ResourceStatus};
use tokio::sync::mpsc;

use support::memory::{Broker, Event, MemQueue, Meta};

type Msg = Message<String, Meta>;

async fn started(queue: MemQueue) -> (MicroserviceContext, Arc<MemQueue>) {
    let mut cx = MicroserviceContext::new("engine_test");
    let queue = cx.add("queue", queue);
    cx.start().await.expect("the context starts");
    (cx, queue)
}

fn dead_letters(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::DeadLettered { .. }))
        .count()
}

fn acks(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Acked(_)))
        .count()
}

/// A queue with one input, `orders`, whose handler accepts everything.
fn accepting_queue() -> (Arc<Broker>, MemQueue) {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let handler = |_m: Msg| async { Ok::<_, BoxError>(()) };
    bind_input::<_, kind::Pull, _, _, _, _, _>(&queue, InputSpec::new("orders"), Text, handler)
        .unwrap();
    (broker, queue)
}
