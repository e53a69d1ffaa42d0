//! The per-input `retry_backoff` in settings is a duration like every other (`"250ms"`, `0.25`),
//! and the former `retry_backoff_ms` (milliseconds) still works, with a warning naming both
//! keys. In-memory transport.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tamarco_core::codec::Text;
use tamarco_core::messaging::{InputSpec, Message, bind_input, kind};
use tamarco_core::settings::KeyNoteKind;
use tamarco_core::{BoxError, MicroserviceContext};

use support::memory::{Broker, Event, MemQueue, Meta};

/// Runs an input that always fails, with one retry and `input` as its settings; returns the
/// wait between the first attempt and the retry, and the context's key notes.
async fn retry_wait(input: Value) -> (Duration, Vec<tamarco_core::settings::KeyNote>) {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let at = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&at);
    // In code: 1 ms, so that only the settings can make the wait long.
    let spec = InputSpec::new("orders")
        .retries(1)
        .retry_backoff(Duration::from_millis(1));
    bind_input::<_, kind::Pull, _, _, _, _, _>(
        &queue,
        spec,
        Text,
        move |_m: Message<String, Meta>| {
            log.lock().unwrap().push(Instant::now());
            async { Err::<(), BoxError>("no stock".into()) }
        },
    )
    .unwrap();
    let mut cx = MicroserviceContext::new("backoff_test");
    cx.settings()
        .set_internal("system.resources.queue.inputs.orders", input)
        .unwrap();
    cx.add("queue", queue);
    cx.start().await.unwrap();
    broker.send("orders", "x");
    broker
        .until("a dead letter", |e| {
            e.iter().any(|e| matches!(e, Event::DeadLettered { .. }))
        })
        .await;
    let notes = cx.settings().key_notes();
    cx.stop().await.unwrap();
    let at = at.lock().unwrap().clone();
    assert_eq!(at.len(), 2, "one attempt and one retry");
    (at[1] - at[0], notes)
}

#[tokio::test]
async fn retry_backoff_in_settings_is_a_duration_with_units_or_seconds() {
    let (wait, notes) = retry_wait(json!({"retry_backoff": "150ms"})).await;
    assert!(wait >= Duration::from_millis(150), "waited {wait:?}");
    assert!(notes.is_empty(), "{notes:?}");
    let (wait, _) = retry_wait(json!({"retry_backoff": 0.15})).await;
    assert!(wait >= Duration::from_millis(150), "waited {wait:?}");
}

#[tokio::test]
async fn the_former_retry_backoff_ms_is_read_as_milliseconds_with_a_warning_naming_both_keys() {
    let (wait, notes) = retry_wait(json!({"retry_backoff_ms": 150, "retries": 1})).await;
    assert!(wait >= Duration::from_millis(150), "waited {wait:?}");
    assert!(
        wait < Duration::from_secs(10),
        "milliseconds, not seconds: {wait:?}"
    );
    let old = "system.resources.queue.inputs.orders.retry_backoff_ms";
    let new = "system.resources.queue.inputs.orders.retry_backoff";
    let note = notes.iter().find(|n| n.key == old).expect("a note");
    assert_eq!(
        note.kind,
        KeyNoteKind::Renamed {
            instead: new.to_owned()
        }
    );
    assert!(
        note.message.contains(old) && note.message.contains(new),
        "{}",
        note.message
    );

    // Both set: the new key wins.
    let (wait, _) = retry_wait(json!({"retry_backoff_ms": 5000, "retry_backoff": "150ms"})).await;
    assert!(wait < Duration::from_secs(2), "the new key wins: {wait:?}");
}
