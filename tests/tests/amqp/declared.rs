//! Services wired as `#[input]` and `#[output]` do it, and settings under an input's key
//! overriding its attribute.

use super::*;

/// A service wired the way the code of `#[input]` and `#[output]` does it: `Default` outputs
/// bound at pre-start, inputs whose handlers take `&self`, a request handler whose result is
/// the reply.
#[microservice(name = "amqp_bound")]
#[derive(Default)]
struct Bound {
    #[resource]
    amqp: Amqp,
    orders: PushOutput<Order>,
    quotes: tamarco::amqp::RequestOutput<Order, Quote>,
    seen: Mutex<Vec<u64>>,
}

#[microservice]
impl Bound {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        use tamarco::__private::{InputSpec, bind_input, bind_output, bind_request_input, kind};
        bind_output(&self.amqp, &self.orders, "orders", Json)?;
        bind_output(&self.amqp, &self.quotes, "quotes", Json)?;
        let service = Arc::clone(&self);
        bind_input::<_, kind::Pull, _, _, _, _, _>(
            &self.amqp,
            InputSpec::new("orders").concurrency(2),
            Json,
            move |m| {
                let service = Arc::clone(&service);
                async move { service.on_order(m).await }
            },
        )?;
        let service = Arc::clone(&self);
        bind_request_input(
            &self.amqp,
            InputSpec::new("quotes").retries(0),
            Json,
            move |m| {
                let service = Arc::clone(&service);
                async move { service.quote(m).await }
            },
        )?;
        stage.run().await?;
        Ok(())
    }

    async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> {
        assert!(
            order.routing_key().ends_with("orders"),
            "AMQP metadata through Deref"
        );
        self.seen.lock().unwrap().push(order.value().id);
        Ok(())
    }

    async fn quote(&self, asked: Message<Order>) -> Result<Quote, BoxError> {
        if asked.value().item == "unicorn" {
            return Err("no unicorns".into());
        }
        Ok(Quote {
            id: asked.value().id,
            cents: 250,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_and_inputs_bound_as_the_attributes_do_round_trip_with_replies_and_errors() {
    let prefix = unique_prefix("bound");
    let _cleanup = Cleanup::new(
        &prefix,
        &[
            (Pattern::PushPull, "orders"),
            (Pattern::RequestResponse, "quotes"),
        ],
    );
    let unbound = Bound::default();
    let error = unbound.orders.push(&order(0)).await.unwrap_err();
    assert!(matches!(error, AmqpError::Unbound(_)), "{error}");
    let running = start(Bound::default(), settings(&prefix, json!({}))).await;
    let service = running.service();
    for id in 1..=5 {
        service.orders.push(&order(id)).await.expect("confirmed");
    }
    let quote = service.quotes.request(&order(7)).await.expect("a reply");
    assert_eq!((quote.id, quote.cents), (7, 250));
    let mut unicorn = order(8);
    unicorn.item = "unicorn".to_owned();
    let error = service.quotes.request(&unicorn).await.expect_err("refused");
    assert!(
        matches!(&error, AmqpError::Remote { message, .. } if message.contains("no unicorns")),
        "{error}"
    );
    wait_until(
        Duration::from_secs(10),
        || service.seen.lock().unwrap().len() >= 5,
        || "all orders handled in time".to_owned(),
    )
    .await;
    let mut seen = service.seen.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    stop(running).await;
}

/// An input whose attribute says no retries and its own dead-letter queue; settings under the
/// input's own key (`system.resources.amqp.inputs.orders`) override both.
#[microservice(name = "amqp_overrides")]
#[derive(Default)]
struct Overridden {
    #[resource]
    amqp: Amqp,
    #[output(amqp, push = "orders")]
    orders: PushOutput<Order>,
    attempts: Mutex<Vec<u32>>,
}

#[microservice]
impl Overridden {
    #[input(
        amqp,
        pull = "orders",
        retries = 0,
        dead_letter = "in_code.dead_letter"
    )]
    async fn on_order(&self, order: Message<Order>) -> Result<(), BoxError> {
        self.attempts.lock().unwrap().push(order.attempt());
        Err(format!("order {} always fails", order.value().id).into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_under_the_input_key_override_the_attribute_options() {
    let prefix = unique_prefix("overrides");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let dead_letter = format!("{prefix}.overridden.dead_letter");
    let inputs =
        json!({"orders": {"retries": 2, "retry_backoff_ms": 10, "dead_letter": dead_letter}});
    let running = start(
        Overridden::default(),
        settings(&prefix, json!({"amqp": {"inputs": inputs}})),
    )
    .await;
    running.service().orders.push(&order(7)).await.unwrap();
    let broker = connect().await;
    let dead = take_all(&broker, &dead_letter, Duration::from_secs(20)).await;
    assert_eq!(
        dead.len(),
        1,
        "the order reached the dead-letter queue the settings name"
    );
    assert_eq!(
        *running.service().attempts.lock().unwrap(),
        [1, 2, 3],
        "the handler ran 1 + the 2 retries the settings ask for"
    );
    stop(running).await;
    let channel = broker.create_channel().await.unwrap();
    let _ = channel
        .queue_delete(dead_letter.as_str().into(), Default::default())
        .await;
    let _ = broker.close(200, "OK".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_durations_and_input_options_in_settings_stop_the_start_naming_their_key() {
    let prefix = unique_prefix("bad_option");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    for (amqp, key, value) in [
        (
            json!({"inputs": {"orders": {"concurrency": "plenty-7c1e"}}}),
            "system.resources.amqp.inputs.orders.concurrency",
            "plenty-7c1e",
        ),
        (
            json!({"retry_backoff": "soon-9f2a"}),
            "system.resources.amqp.retry_backoff",
            "soon-9f2a",
        ),
    ] {
        let result = Overridden::default()
            .runtime()
            .handle_signals(false)
            .with_settings(settings(&prefix, json!({ "amqp": amqp })))
            .unwrap()
            .start()
            .await;
        let chain = error_chain(&result.expect_err("the start fails"));
        println!("{chain}");
        assert!(chain.contains(key), "{chain}");
        assert!(!chain.contains(value), "the value stays out: {chain}");
    }
}
