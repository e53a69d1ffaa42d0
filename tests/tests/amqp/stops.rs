//! A graceful stop in the middle of a stream loses nothing; a refused login fails the start
//! without showing the password.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_during_a_stream_of_messages_loses_none() {
    const N: u64 = 2_000;
    let prefix = unique_prefix("graceful");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let handled = Arc::new(Mutex::new(Vec::new()));
    let consumer_amqp = Amqp::new();
    {
        let handled = Arc::clone(&handled);
        consumer_amqp
            .pull_input("orders", Json)
            .concurrency(4)
            .handle(move |order: Message<Order>| {
                let handled = Arc::clone(&handled);
                async move {
                    sleep(Duration::from_millis(2)).await;
                    handled.lock().unwrap().push(order.value().id);
                    Ok::<_, BoxError>(())
                }
            })
            .unwrap();
    }
    let consumer = start_svc(consumer_amqp, &prefix, json!({})).await;
    let (producer, orders) = order_pusher(&prefix, json!({})).await;
    let pushing = tokio::spawn({
        let orders = orders.clone();
        async move { push_all(&orders, 0..N, 16).await }
    });
    wait_until(
        Duration::from_secs(30),
        || handled.lock().unwrap().len() >= 200,
        || "handling started".to_owned(),
    )
    .await;
    // Stop the consumer in the middle of the stream.
    stop(consumer).await;
    let handled_at_stop: Vec<u64> = handled.lock().unwrap().clone();
    timeout(Duration::from_secs(60), pushing)
        .await
        .expect("pushed in time")
        .unwrap()
        .expect("every push confirmed");
    stop(producer).await;
    assert!((handled_at_stop.len() as u64) < N, "stopped mid-stream");
    sleep(Duration::from_millis(200)).await;
    assert_eq!(
        handled.lock().unwrap().len(),
        handled_at_stop.len(),
        "nothing handled after stop"
    );

    // Everything is either handled (and acked) or still in the queue, and nothing is both.
    let queue = full_name(&prefix, Pattern::PushPull, "orders");
    let left: Vec<u64> = take_bodies(&queue, Duration::from_secs(5))
        .await
        .iter()
        .map(|body| tamarco::serde_json::from_slice::<Order>(body).unwrap().id)
        .collect();
    let handled: HashSet<u64> = handled_at_stop.iter().copied().collect();
    let left: HashSet<u64> = left.into_iter().collect();
    assert_eq!(
        handled.len(),
        handled_at_stop.len(),
        "no message handled twice"
    );
    assert!(
        handled.is_disjoint(&left),
        "no handled message is still queued"
    );
    let all: HashSet<u64> = handled.union(&left).copied().collect();
    assert_eq!(
        all.len() as u64,
        N,
        "{} handled + {} left",
        handled.len(),
        left.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_the_start_without_showing_it() {
    let prefix = unique_prefix("password");
    let secret = "not-the-password-5e1f";
    let result = Svc { amqp: Amqp::new() }
        .runtime()
        .handle_signals(false)
        .with_settings(settings(
            &prefix,
            json!({"amqp": {"password": secret, "connection_timeout": 1}}),
        ))
        .unwrap()
        .start()
        .await;
    let error = result.expect_err("the login is refused");
    let chain = error_chain(&error);
    assert!(chain.contains("resource `amqp` failed in start"), "{chain}");
    assert!(
        chain.contains("cannot connect to amqp://guest@127.0.0.1:5672"),
        "{chain}"
    );
    assert!(!chain.contains(secret), "{chain}");
}
