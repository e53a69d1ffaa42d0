//! Stream inputs read by a reader the engine runs (`Engine::read`, what
//! `#[input(..., stream)]` binds), on the in-memory transport: the reader gets the stream as
//! the input is declared, the stop waits for it to finish what it holds, and a reader that
//! fails marks the resource FAILED.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tamarco_core::codec::Text;
use tamarco_core::messaging::{InputSpec, InputStream, bind_stream_input, kind};
use tamarco_core::{BoxError, MicroserviceContext, ResourceStatus};

use support::memory::{Broker, Delivered, Event, MemQueue};

type Stream = InputStream<String, Delivered>;

#[tokio::test]
async fn the_reader_reads_and_acks_and_the_stop_waits_for_it() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let read = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let (counter, done) = (Arc::clone(&read), Arc::clone(&finished));
    let reader = move |mut stream: Stream| async move {
        while let Some(delivery) = stream.next().await {
            // Slow enough that the stop arrives while a delivery is held.
            tokio::time::sleep(Duration::from_millis(50)).await;
            delivery.ack().await?;
            counter.fetch_add(1, Ordering::SeqCst);
        }
        done.store(true, Ordering::SeqCst);
        Ok::<_, BoxError>(())
    };
    bind_stream_input::<_, kind::Pull, _, _, _, _, _>(
        &queue,
        InputSpec::new("orders"),
        Text,
        reader,
    )
    .unwrap();
    let mut cx = MicroserviceContext::new("reader_test");
    cx.add("queue", queue);
    cx.start().await.unwrap();
    let ids: Vec<u64> = ["a", "b", "c"]
        .into_iter()
        .map(|body| broker.send("orders", body))
        .collect();
    broker.until("the first ack", |e| !e.is_empty()).await;
    cx.stop().await.unwrap();
    assert!(
        finished.load(Ordering::SeqCst),
        "the stop returned only after the reader did"
    );
    let events = broker.events();
    let acked = read.load(Ordering::SeqCst);
    assert!(acked >= 1, "it read before the stop");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Acked(_)))
            .count(),
        acked,
        "what it read, it acked: {events:?}"
    );
    // What it did not read went back to the broker: nothing is lost.
    let settled: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Acked(id) | Event::Requeued(id) => Some(*id),
            _ => None,
        })
        .collect();
    for id in ids.iter().take(acked) {
        assert!(settled.contains(id), "{id} settled: {events:?}");
    }
}

#[tokio::test]
async fn a_failing_reader_marks_the_resource_failed() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let reader = |mut stream: Stream| async move {
        let delivery = stream.next().await.ok_or("the stream ended")?;
        Err::<(), BoxError>(format!("cannot read {}", delivery.value()).into())
    };
    bind_stream_input::<_, kind::Pull, _, _, _, _, _>(
        &queue,
        InputSpec::new("orders"),
        Text,
        reader,
    )
    .unwrap();
    let mut cx = MicroserviceContext::new("reader_test");
    cx.add("queue", queue);
    cx.start().await.unwrap();
    broker.send("orders", "poison");
    let deadline = Instant::now() + Duration::from_secs(10);
    while cx.status("queue") != Some(ResourceStatus::Failed) {
        assert!(Instant::now() < deadline, "never FAILED");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cx.stop().await.unwrap();
}
