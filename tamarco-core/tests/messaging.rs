//! The message engine on an in-memory transport that uses only the public transport traits,
//! as a plugin would: order, retries, dead letters, panics, replies, streams, settings
//! overrides, supervision and a stop with messages in flight.

mod support;

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

#[tokio::test]
async fn one_worker_handles_messages_in_order_and_acks_each() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    bind_input::<_, kind::Pull, _, _, _, _, _>(
        &queue,
        InputSpec::new("orders"),
        Text,
        move |m: Msg| {
            log.lock().unwrap().push(m.into_value());
            async { Ok::<_, BoxError>(()) }
        },
    )
    .unwrap();
    let (mut cx, queue) = started(queue).await;
    let sent: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    for body in &sent {
        broker.send("orders", body.clone());
    }
    broker.until("50 acks", |e| acks(e) == 50).await;
    assert_eq!(*seen.lock().unwrap(), sent, "handled in the order sent");
    let status = queue.engine.status_fields();
    assert_eq!(status[0]["handled"], 50, "{status}");
    assert_eq!(status[0]["received"], 50, "{status}");
    assert_eq!(status[0]["kind"], "pull", "{status}");
    cx.stop().await.unwrap();
}

#[tokio::test]
async fn a_failing_handler_is_retried_with_backoff_then_dead_lettered() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&attempts);
    let spec = InputSpec::new("orders")
        .retries(2)
        .retry_backoff(Duration::from_millis(20));
    bind_input::<_, kind::Pull, _, _, _, _, _>(&queue, spec, Text, move |m: Msg| {
        log.lock()
            .unwrap()
            .push((m.value().clone(), m.attempt(), Instant::now()));
        let fails = m.value() == "bad" || (m.value() == "flaky" && m.attempt() == 1);
        async move {
            if fails {
                Err::<(), BoxError>("no stock".into())
            } else {
                Ok(())
            }
        }
    })
    .unwrap();
    let (mut cx, _queue) = started(queue).await;
    let bad = broker.send("orders", "bad");
    let flaky = broker.send("orders", "flaky");
    let events = broker.until("both settled", |e| e.len() == 2).await;
    assert_eq!(
        events[0],
        Event::DeadLettered {
            id: bad,
            reason: "handler",
            error: "no stock".to_owned(),
            attempts: 3
        }
    );
    assert_eq!(events[1], Event::Acked(flaky), "succeeds on its retry");
    let attempts = attempts.lock().unwrap().clone();
    let bad_times: Vec<_> = attempts.iter().filter(|a| a.0 == "bad").collect();
    assert_eq!(bad_times.iter().map(|a| a.1).collect::<Vec<_>>(), [1, 2, 3]);
    // 20 ms, then 40 ms: the backoff doubles.
    assert!(bad_times[1].2 - bad_times[0].2 >= Duration::from_millis(20));
    assert!(bad_times[2].2 - bad_times[1].2 >= Duration::from_millis(40));
    cx.stop().await.unwrap();
}

/// Carries strings, but panics on a body of `boom` (like a `Deserialize` that panics).
struct PanickyCodec;

impl Codec<String> for PanickyCodec {
    fn name(&self) -> &str {
        "panicky"
    }
    fn encode(&self, value: &String) -> Result<Vec<u8>, BoxError> {
        Ok(value.clone().into_bytes())
    }
    fn decode(&self, bytes: &[u8]) -> Result<String, BoxError> {
        if bytes == b"boom" {
            panic!("the codec blew up");
        }
        Ok(String::from_utf8(bytes.to_vec())?)
    }
}

#[tokio::test]
async fn panics_in_handler_codec_and_headers_dead_letter_the_message_and_the_input_goes_on() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let handled = Arc::new(AtomicU32::new(0));
    let count = Arc::clone(&handled);
    // Two workers: a panic must not leak a worker either.
    let spec = InputSpec::new("orders").concurrency(2);
    bind_input::<_, kind::Pull, _, _, _, _, _>(&queue, spec, PanickyCodec, move |m: Msg| {
        if m.value() == "panic-now" {
            panic!("the handler panicked before its future");
        }
        let count = Arc::clone(&count);
        async move {
            if m.value() == "panic-later" {
                panic!("the handler's future panicked");
            }
            count.fetch_add(1, Ordering::Relaxed);
            Ok::<_, BoxError>(())
        }
    })
    .unwrap();
    let (mut cx, queue) = started(queue).await;
    let mut poison = broker.make("fine");
    poison.poison_headers = true;
    let poison_id = poison.id;
    broker.push("orders", poison);
    let codec = broker.send("orders", "boom");
    let now = broker.send("orders", "panic-now");
    let later = broker.send("orders", "panic-later");
    for _ in 0..10 {
        broker.send("orders", "fine");
    }
    let events = broker.until("14 settled", |e| e.len() == 14).await;
    let reason_of = |id| {
        events.iter().find_map(|e| match e {
            Event::DeadLettered {
                id: i,
                reason,
                error,
                ..
            } if *i == id => Some((*reason, error.clone())),
            _ => None,
        })
    };
    let (reason, error) = reason_of(poison_id).expect("poison headers dead-lettered");
    assert_eq!(reason, "headers");
    assert!(error.contains("not valid UTF-8"), "{error}");
    let (reason, error) = reason_of(codec).expect("panicking codec dead-lettered");
    assert_eq!(reason, "decode");
    assert!(
        error.contains("the codec panicked: the codec blew up"),
        "{error}"
    );
    for id in [now, later] {
        let (reason, error) = reason_of(id).expect("panicking handler dead-lettered");
        assert_eq!(reason, "handler");
        assert!(error.contains("the handler panicked"), "{error}");
    }
    assert_eq!(handled.load(Ordering::Relaxed), 10, "the input went on");
    assert_eq!(acks(&events), 10);
    assert_eq!(cx.status("queue"), Some(ResourceStatus::Started));
    assert_eq!(queue.engine.status_fields()[0]["dead_lettered"], 4);
    cx.stop().await.unwrap();
}

#[tokio::test]
async fn a_refused_dead_letter_is_tried_again_after_a_backoff_and_a_delivery_limit_skips_the_handler()
 {
    let broker = Broker::new();
    broker.refuse_dead_letters.store(2, Ordering::Relaxed);
    let queue = MemQueue::new(&broker);
    let calls = Arc::new(AtomicU32::new(0));
    let count = Arc::clone(&calls);
    let spec = InputSpec::new("orders").max_deliveries(3);
    bind_input::<_, kind::Pull, _, _, _, _, _>(&queue, spec, Text, move |_m: Msg| {
        count.fetch_add(1, Ordering::Relaxed);
        async { Err::<(), BoxError>("always".into()) }
    })
    .unwrap();
    let (mut cx, _queue) = started(queue).await;
    let start = Instant::now();
    let failing = broker.send("orders", "x");
    let events = broker.until("dead letter", |e| dead_letters(e) == 1).await;
    // Refused twice: 200 ms, then 400 ms before the third try; never requeued at once.
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(events.len(), 1, "no requeue in between: {events:?}");
    assert!(matches!(&events[0], Event::DeadLettered { id, .. } if *id == failing));
    let mut redelivered = broker.make("y");
    redelivered.deliveries = 4;
    let id = redelivered.id;
    broker.push("orders", redelivered);
    let events = broker
        .until("second dead letter", |e| dead_letters(e) == 2)
        .await;
    match &events[1] {
        Event::DeadLettered {
            id: i,
            reason,
            error,
            attempts,
        } => {
            assert_eq!((*i, *reason, *attempts), (id, "delivery_limit", 0));
            assert!(error.contains("delivered 4 times"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1,
        "the handler never ran for it"
    );
    cx.stop().await.unwrap();
}

#[tokio::test]
async fn a_stop_finishes_the_messages_in_flight_and_takes_no_more() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let (began, mut begun) = mpsc::unbounded_channel();
    let spec = InputSpec::new("orders").concurrency(4);
    bind_input::<_, kind::Pull, _, _, _, _, _>(&queue, spec, Text, move |m: Msg| {
        let _ = began.send(m.id());
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<_, BoxError>(())
        }
    })
    .unwrap();
    let (mut cx, queue) = started(queue).await;
    let ids: Vec<u64> = (0..4)
        .map(|i| broker.send("orders", i.to_string()))
        .collect();
    for _ in 0..4 {
        tokio::time::timeout(Duration::from_secs(5), begun.recv())
            .await
            .unwrap();
    }
    assert_eq!(queue.engine.status_fields()[0]["in_flight"], 4);
    for i in 0..3 {
        broker.send("orders", format!("late {i}"));
    }
    cx.stop().await.unwrap();
    let events = broker.events();
    assert_eq!(
        events,
        ids.iter().map(|id| Event::Acked(*id)).collect::<Vec<_>>()
    );
    assert_eq!(broker.waiting("orders"), 3, "nothing taken after the stop");
}

#[tokio::test]
async fn a_request_handler_replies_with_its_result_or_the_error() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let spec = InputSpec::new("quotes");
    bind_request_input(&queue, spec, Text, |m: Msg| async move {
        if m.value() == "unicorn" {
            return Err::<String, BoxError>("no such item".into());
        }
        Ok(format!("{} costs 3", m.value()))
    })
    .unwrap();
    let (mut cx, _queue) = started(queue).await;
    let tea = broker.send("quotes", "tea");
    let unicorn = broker.send("quotes", "unicorn");
    let events = broker.until("settled", |e| e.len() == 4).await;
    assert_eq!(events[0], Event::Replied(tea, b"tea costs 3".to_vec()));
    assert_eq!(events[1], Event::Acked(tea));
    assert!(matches!(&events[2], Event::DeadLettered { id, .. } if *id == unicorn));
    assert_eq!(
        events[3],
        Event::ReplyError(unicorn, "no such item".to_owned())
    );
    cx.stop().await.unwrap();
}

#[tokio::test]
async fn a_stream_yields_deliveries_to_settle_and_ends_on_stop() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let mut stream = queue
        .engine
        .stream::<kind::Pull, String, _>(InputSpec::new("orders"), Text)
        .unwrap();
    let (mut cx, _queue) = started(queue).await;
    let a = broker.send("orders", "a");
    let b = broker.send("orders", "b");
    let c = broker.send("orders", "c");
    let first = stream.next().await.unwrap();
    assert_eq!(first.value(), "a");
    assert_eq!(first.id(), a, "the transport's metadata through Deref");
    first.ack().await.unwrap();
    stream
        .next()
        .await
        .unwrap()
        .reject("not today")
        .await
        .unwrap();
    drop(stream.next().await.unwrap());
    let events = broker.until("three settled", |e| e.len() == 3).await;
    assert_eq!(events[0], Event::Acked(a));
    assert!(matches!(&events[1], Event::DeadLettered { id, reason: "handler", .. } if *id == b));
    assert_eq!(events[2], Event::Requeued(c), "dropped unsettled: requeued");
    cx.stop().await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(end.unwrap().is_none(), "the stream ends with the input");
}

#[tokio::test]
async fn settings_override_the_options_given_in_code() {
    let broker = Broker::new();
    let queue = MemQueue::new(&broker);
    let calls = Arc::new(AtomicU32::new(0));
    let count = Arc::clone(&calls);
    let spec = InputSpec::new("orders")
        .retries(5)
        .retry_backoff(Duration::from_millis(10));
    bind_input::<_, kind::Pull, _, _, _, _, _>(&queue, spec, Text, move |_m: Msg| {
        count.fetch_add(1, Ordering::Relaxed);
        async { Err::<(), BoxError>("nope".into()) }
    })
    .unwrap();
    let mut cx = MicroserviceContext::new("engine_test");
    cx.settings()
        .set_internal("system.resources.queue.inputs.orders.retries", 1)
        .unwrap();
    let _queue = cx.add("queue", queue);
    cx.start().await.unwrap();
    broker.send("orders", "x");
    let events = broker.until("dead letter", |e| dead_letters(e) == 1).await;
    assert!(
        matches!(&events[0], Event::DeadLettered { attempts: 2, .. }),
        "{events:?}"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 2);
    cx.stop().await.unwrap();
}

#[tokio::test]
async fn a_bad_input_setting_fails_the_start_naming_the_key() {
    let (_broker, queue) = accepting_queue();
    let mut cx = MicroserviceContext::new("engine_test");
    cx.settings()
        .set_internal("system.resources.queue.inputs.orders.retries", "many")
        .unwrap();
    cx.add("queue", queue);
    let error = cx.start().await.unwrap_err();
    let text = tamarco_core::error_chain(&error);
    assert!(text.contains("inputs.orders"), "{text}");
}

#[tokio::test]
async fn an_input_loop_that_dies_marks_the_resource_failed() {
    let (broker, queue) = accepting_queue();
    broker.panic_next.store(true, Ordering::Relaxed);
    let (mut cx, queue) = started(queue).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while cx.status("queue") != Some(ResourceStatus::Failed) {
        assert!(Instant::now() < deadline, "never FAILED");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(queue.engine.failed());
    cx.stop().await.unwrap();
}

#[tokio::test]
async fn two_inputs_of_one_kind_and_name_are_refused() {
    let (_broker, queue) = accepting_queue();
    let handler = |_m: Msg| async { Ok::<_, BoxError>(()) };
    let error =
        bind_input::<_, kind::Pull, _, _, _, _, _>(&queue, InputSpec::new("orders"), Text, handler)
            .unwrap_err();
    assert_eq!(
        error.to_string(),
        "resource `messaging` already has a pull input `orders`"
    );
}

#[tokio::test]
async fn an_input_declared_while_running_starts_at_once_and_the_stop_finishes_it() {
    let (broker, queue) = accepting_queue();
    let (mut cx, queue) = started(queue).await;
    let (began, mut begun) = mpsc::unbounded_channel();
    let spec = InputSpec::new("late");
    bind_input::<_, kind::Pull, _, _, _, _, _>(&*queue, spec, Text, move |m: Msg| {
        let _ = began.send(m.id());
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok::<_, BoxError>(())
        }
    })
    .unwrap();
    let late = broker.send("late", "x");
    let early = broker.send("orders", "y");
    tokio::time::timeout(Duration::from_secs(5), begun.recv())
        .await
        .unwrap();
    cx.stop().await.unwrap();
    let events = broker.events();
    assert!(events.contains(&Event::Acked(late)), "{events:?}");
    assert!(events.contains(&Event::Acked(early)), "{events:?}");
}
