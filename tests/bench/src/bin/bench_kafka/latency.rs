//! End-to-end latency from `push` to the handler at a low rate, with the default client
//! settings and with short fetch waits.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tamarco::MicroserviceContext;
use tamarco::codec::Json;
use tamarco::resources::kafka::{Kafka, Message};
use tamarco::serde_json::json;
use tamarco::tokio;
use tamarco_tests::kafka::unique_topic;

use crate::setup::{Cluster, Payload, payload, settings};

/// The median, 99th percentile and slowest push-to-handler times, at 50 messages a second.
pub(crate) async fn latencies(broker: &Cluster) {
    // tansu answers a fetch only after waiting about half of `fetch.wait.max.ms` (500 by
    // default), even when records are there; a Kafka broker answers as soon as they arrive.
    let tunings = [
        ("default client settings", json!({})),
        (
            "fetch.wait.max.ms 10, linger.ms 0",
            json!({"consumer": {"fetch.wait.max.ms": 10}, "producer": {"linger.ms": 0}}),
        ),
    ];
    for (label, extra) in tunings {
        let rate = 50;
        let mut latencies = latency(broker, rate, Duration::from_secs(10), extra).await;
        latencies.sort_by(f64::total_cmp);
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
        println!(
            "latency push -> handler at {rate} msg/s, {label} ({} samples): median {:.2} ms, \
             p99 {:.2} ms, max {:.2} ms",
            latencies.len(),
            at(0.5),
            at(0.99),
            at(1.0),
        );
    }
}

/// Pushes at `rate` per second for `length` through one service's output to its own input;
/// returns each message's push-to-handler time in milliseconds.
async fn latency(
    broker: &Cluster,
    rate: u32,
    length: Duration,
    extra: tamarco::serde_json::Value,
) -> Vec<f64> {
    let topic = unique_topic("latency");
    broker.create_topic(&topic, 1);
    let mut cx = MicroserviceContext::new("bench_latency");
    cx.settings()
        .update_internal(settings(broker, extra))
        .unwrap();
    let kafka = cx.add("kafka", Kafka::new());
    let epoch = Instant::now();
    let samples: Arc<Mutex<Vec<f64>>> = Arc::default();
    {
        let samples = Arc::clone(&samples);
        kafka
            .input(&topic, Json)
            .handle(move |message: Message<Payload>| {
                let now = epoch.elapsed().as_micros() as u64;
                let took = now.saturating_sub(message.value().sent_us);
                samples.lock().unwrap().push(took as f64 / 1000.0);
                async { Ok::<_, std::convert::Infallible>(()) }
            })
            .unwrap();
    }
    let output = kafka.output(&topic, Json);
    cx.start().await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), kafka.joined())
        .await
        .expect("joined");
    let total = (rate as u64) * length.as_secs();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    for id in 0..total {
        tick.tick().await;
        let sent_us = epoch.elapsed().as_micros() as u64;
        output.push(&payload(id, sent_us)).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while (samples.lock().unwrap().len() as u64) < total && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cx.stop().await.unwrap();
    samples.lock().unwrap().clone()
}
