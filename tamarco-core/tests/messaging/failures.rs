//! Failures: retries with backoff then a dead letter, panics in the handler, codec and headers,
//! a refused dead letter tried again, and an input loop that dies.

use super::*;

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
