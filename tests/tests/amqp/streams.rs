//! Inputs read as streams: acks, rejects to the dead-letter queue and requeues, request
//! streams answering with a binary codec, and generic outputs.

use super::*;

async fn next(stream: &mut tamarco::amqp::InputStream<Order>) -> tamarco::amqp::Delivery<Order> {
    timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("in time")
        .expect("a delivery")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_reader_can_reject_to_the_dead_letter_queue_and_requeue() {
    let prefix = unique_prefix("stream_reject");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let amqp = Amqp::new();
    let orders = amqp.push_output("orders", Json);
    let mut stream = amqp.pull_input::<Order>("orders", Json).stream().unwrap();
    let running = start_svc(amqp, &prefix, json!({})).await;
    orders.push(&order(1)).await.unwrap();
    orders.push(&order(2)).await.unwrap();
    let first = next(&mut stream).await;
    assert_eq!(first.value().id, 1);
    first.requeue().await;
    // Requeued: it comes again (maybe after 2), marked redelivered.
    let mut again = next(&mut stream).await;
    if again.value().id == 2 {
        again.reject("two is refused").await.unwrap();
        again = next(&mut stream).await;
    } else {
        let two = next(&mut stream).await;
        two.reject("two is refused").await.unwrap();
    }
    assert_eq!(again.value().id, 1);
    assert!(again.redelivered());
    again.ack().await.unwrap();

    let broker = connect().await;
    let queue = format!(
        "{}.dead_letter",
        full_name(&prefix, Pattern::PushPull, "orders")
    );
    let dead = take_all(&broker, &queue, Duration::from_secs(10)).await;
    assert_eq!(dead.len(), 1);
    let body: Order = tamarco::serde_json::from_slice(&dead[0].data).unwrap();
    assert_eq!(body.id, 2);
    let _ = broker.close(200, "OK".into()).await;
    stop(running).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_streams_answer_and_reject_with_a_binary_codec_and_generic_outputs_publish() {
    use tamarco::codec::Postcard;
    let prefix = unique_prefix("request_stream");
    let _cleanup = Cleanup::new(
        &prefix,
        &[
            (Pattern::RequestResponse, "quotes"),
            (Pattern::PublishSubscribe, "events"),
        ],
    );
    let server_amqp = Amqp::new();
    let mut requests = server_amqp
        .request_input::<Order, Quote, _>("quotes", Postcard)
        .stream()
        .unwrap();
    let (sender, mut events) = mpsc::unbounded_channel();
    server_amqp
        .subscription_input("events", Json)
        .handle(move |event: Message<Order>| {
            let sender = sender.clone();
            async move { sender.send(event.into_value()).map_err(BoxError::from) }
        })
        .unwrap();
    let server = start_svc(server_amqp, &prefix, json!({})).await;
    let answering = tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let id = request.value().id;
            if id == 2 {
                request.reject("no quote for 2").await.unwrap();
            } else {
                request.respond(&Quote { id, cents: 42 }).await.unwrap();
            }
        }
    });

    let client_amqp = Amqp::new();
    let quotes = client_amqp.request_output::<Order, Quote, _>("quotes", Postcard);
    let generic = client_amqp.generic_output::<Order>(Json);
    let client = start_svc(client_amqp, &prefix, json!({})).await;
    assert_eq!(
        quotes.request(&order(1)).await.unwrap(),
        Quote { id: 1, cents: 42 }
    );
    let error = quotes.request(&order(2)).await.expect_err("rejected");
    assert!(error_chain(&error).contains("no quote for 2"), "{error}");
    generic.publish("events", &order(9)).await.unwrap();
    assert_eq!(
        receive(&mut events, 1, Duration::from_secs(10)).await,
        [order(9)]
    );

    let broker = connect().await;
    let queue = format!(
        "{}.dead_letter",
        full_name(&prefix, Pattern::RequestResponse, "quotes")
    );
    let dead = take_all(&broker, &queue, Duration::from_secs(10)).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0]
            .properties
            .content_type()
            .as_ref()
            .map(|c| c.as_str()),
        Some("application/x-postcard")
    );
    let _ = broker.close(200, "OK".into()).await;
    stop(client).await;
    stop(server).await;
    timeout(Duration::from_secs(5), answering)
        .await
        .expect("the request stream ended with the service")
        .unwrap();
}
