//! The message engine allocates nothing per message: the allocations of a whole run (start,
//! N messages decoded, handled and acked, stop) stay flat as N grows tenfold. The in-memory
//! transport's messages are built before counting, and its event log has room reserved, so
//! what is counted is the engine's own path (and the handler, codec and transport, which
//! allocate nothing here).

mod support;

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tamarco_core::codec::Codec;
use tamarco_core::messaging::{InputSpec, Message, bind_input, kind};
use tamarco_core::{BoxError, MicroserviceContext};

use support::memory::{Broker, Event, MemQueue, Meta};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Eight little-endian bytes: decoding allocates nothing.
struct U64;

impl Codec<u64> for U64 {
    fn name(&self) -> &str {
        "u64"
    }
    fn encode(&self, value: &u64) -> Result<Vec<u8>, BoxError> {
        Ok(value.to_le_bytes().to_vec())
    }
    fn decode(&self, bytes: &[u8]) -> Result<u64, BoxError> {
        Ok(u64::from_le_bytes(bytes.try_into()?))
    }
}

/// Allocations made while `n` messages go through an input with `concurrency` workers.
fn allocations_for(n: u64, concurrency: usize) -> usize {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let broker = Broker::new();
        broker.reserve(n as usize + 16);
        let messages: Vec<_> = (0..n).map(|i| broker.make(i.to_le_bytes())).collect();
        broker.push_all("numbers", messages);
        let queue = MemQueue::new(&broker);
        let sum = Arc::new(AtomicU64::new(0));
        let total = Arc::clone(&sum);
        let spec = InputSpec::new("numbers").concurrency(concurrency);
        bind_input::<_, kind::Pull, _, _, _, _, _>(
            &queue,
            spec,
            U64,
            move |m: Message<u64, Meta>| {
                let total = Arc::clone(&total);
                async move {
                    total.fetch_add(*m.value(), Ordering::Relaxed);
                    Ok::<_, BoxError>(())
                }
            },
        )
        .unwrap();
        let mut cx = MicroserviceContext::new("alloc_test");
        let region = Region::new(GLOBAL);
        let _queue = cx.add("numbers", queue);
        cx.start().await.unwrap();
        broker
            .until("every message acked", |e| {
                e.len() == n as usize && matches!(e.last(), Some(Event::Acked(_)))
            })
            .await;
        cx.stop().await.unwrap();
        let allocations = region.change().allocations;
        assert_eq!(
            sum.load(Ordering::Relaxed),
            n * (n - 1) / 2,
            "every message handled"
        );
        allocations
    })
}

#[test]
fn the_engine_allocates_nothing_per_message() {
    for concurrency in [1, 4] {
        let small = allocations_for(1_000, concurrency);
        let large = allocations_for(10_000, concurrency);
        println!("concurrency {concurrency}: 1,000 messages: {small} allocations; 10,000: {large}");
        // 9,000 more messages; a per-message allocation would add at least 9,000.
        assert!(
            large.abs_diff(small) < 100,
            "concurrency {concurrency}: {small} allocations for 1,000 messages, {large} for 10,000"
        );
    }
}
