//! Delivery: one worker in order with an ack each, a stop that finishes what is in flight, request
//! replies, streams of deliveries, and an input declared while the service runs.

use super::*;

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
async fn a_busy_input_lets_the_other_tasks_run_while_it_works_through_a_backlog() {
    // One thread: the test itself runs only when the input yields, which it does after about
    // a millisecond of work; the backlog takes far longer than that.
    let (broker, queue) = accepting_queue();
    let backlog = 20_000;
    for i in 0..backlog {
        broker.send("orders", i.to_string());
    }
    let (mut cx, _queue) = started(queue).await;
    let events = broker.until("an ack", |e| acks(e) >= 1).await;
    assert!(
        acks(&events) < backlog,
        "the input took the whole backlog before anything else ran"
    );
    broker.until("every ack", |e| acks(e) == backlog).await;
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
