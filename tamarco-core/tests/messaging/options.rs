//! Options: settings override what code gave, a bad input setting fails the start naming the
//! key, and two inputs of one kind and name are refused.

use super::*;

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
