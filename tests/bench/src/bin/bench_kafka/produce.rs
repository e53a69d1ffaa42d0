//! Produce throughput with `WINDOW` messages in flight: a tamarco output against a plain
//! rdkafka `FutureProducer`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tamarco::MicroserviceContext;
use tamarco::codec::Json;
use tamarco::resources::kafka::Kafka;
use tamarco::serde_json::json;
use tamarco::tokio;

use crate::setup::{Cluster, WINDOW, payload, settings};

/// Pushes `messages` through an output; returns messages per second.
pub(crate) async fn produce_tamarco(broker: &Cluster, topic: &str, messages: u64) -> f64 {
    let mut cx = MicroserviceContext::new("bench_producer");
    cx.settings()
        .update_internal(settings(broker, json!({})))
        .unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    let output = kafka.output(topic, Json);
    cx.start().await.unwrap();
    let began = Instant::now();
    let mut in_flight = VecDeque::with_capacity(WINDOW);
    for id in 0..messages {
        if in_flight.len() == WINDOW {
            let pending: tamarco::resources::kafka::Pending = in_flight.pop_front().unwrap();
            pending.await.unwrap();
        }
        in_flight.push_back(output.message(&payload(id, 0)).enqueue().unwrap());
    }
    for pending in in_flight {
        pending.await.unwrap();
    }
    let rate = messages as f64 / began.elapsed().as_secs_f64();
    cx.stop().await.unwrap();
    rate
}

/// The same with a plain `FutureProducer`, after the same metadata round trip.
pub(crate) async fn produce_plain(broker: &Cluster, topic: &str, messages: u64) -> f64 {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .unwrap();
    // The same first step as the resource's start: a metadata round trip.
    let probe = producer.clone();
    tokio::task::spawn_blocking(move || {
        use rdkafka::producer::Producer as _;
        probe
            .client()
            .fetch_metadata(None, Duration::from_secs(10))
            .map(|_| ())
    })
    .await
    .unwrap()
    .unwrap();
    let began = Instant::now();
    let mut in_flight = VecDeque::with_capacity(WINDOW);
    for id in 0..messages {
        if in_flight.len() == WINDOW {
            let delivery: rdkafka::producer::DeliveryFuture = in_flight.pop_front().unwrap();
            delivery.await.unwrap().unwrap();
        }
        let body = tamarco::serde_json::to_vec(&payload(id, 0)).unwrap();
        let record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).payload(&body);
        in_flight.push_back(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    for delivery in in_flight {
        delivery.await.unwrap().unwrap();
    }
    let rate = messages as f64 / began.elapsed().as_secs_f64();
    tokio::task::spawn_blocking(move || drop(producer))
        .await
        .unwrap();
    rate
}
