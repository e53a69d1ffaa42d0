//! Push/pull throughput: one round through tamarco, one through plain lapin doing the same work.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Confirmation};
use tamarco::amqp::{Amqp, Message};
use tamarco::codec::Json;
use tamarco::prelude::*;
use tamarco::serde_json::Value;
use tamarco::tokio;
use tamarco::tokio::sync::Notify;
use tamarco_tests::amqp::connect;

use crate::setup::{PREFETCH, Payload, Svc, WINDOW, cpu_time, payload, start};

/// Received count, and a signal once it reaches the target.
struct Counter {
    count: AtomicU64,
    target: u64,
    done: Notify,
}

impl Counter {
    fn new(target: u64) -> Arc<Self> {
        Arc::new(Counter {
            count: AtomicU64::new(0),
            target,
            done: Notify::new(),
        })
    }

    fn hit(&self) {
        if self.count.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            self.done.notify_one();
        }
    }
}

/// What one round measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Round {
    /// Messages per second, first publish to last ack.
    pub(crate) rate: f64,
    /// This process's CPU time per message (producer and consumer together).
    pub(crate) cpu_per_message: Duration,
}

/// One round through tamarco, with `tracing` as `system.tracing`.
pub(crate) async fn tamarco_round(prefix: &str, n: u64, tracing: &Value) -> Round {
    let counter = Counter::new(n);
    let consumer = Amqp::new();
    {
        let counter = Arc::clone(&counter);
        consumer
            .pull_input("bench", Json)
            .handle(move |message: Message<Payload>| {
                std::hint::black_box(message.value().id);
                counter.hit();
                async { Ok::<_, BoxError>(()) }
            })
            .unwrap();
    }
    let consumer = start(Svc { amqp: consumer }, prefix, tracing).await;
    let producer = Amqp::new();
    let output = producer.push_output::<Payload>("bench", Json);
    let producer = start(Svc { amqp: producer }, prefix, tracing).await;

    let began = Instant::now();
    let cpu = cpu_time();
    let mut senders = Vec::new();
    for worker in 0..WINDOW {
        let output = output.clone();
        senders.push(tokio::spawn(async move {
            let mut id = worker;
            while id < n {
                output.push(&payload(id)).await.expect("confirmed");
                id += WINDOW;
            }
        }));
    }
    for sender in senders {
        sender.await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(300), counter.done.notified())
        .await
        .expect("all consumed");
    let round = Round {
        rate: n as f64 / began.elapsed().as_secs_f64(),
        cpu_per_message: (cpu_time() - cpu) / n as u32,
    };
    producer.stop().await.unwrap();
    consumer.stop().await.unwrap();
    round
}

/// One round through plain lapin, doing the same work.
pub(crate) async fn lapin_round(prefix: &str, n: u64) -> Round {
    let queue = format!("{prefix}.lapin.bench");
    let counter = Counter::new(n);
    let consumer_connection = connect().await;
    let consumer_channel = consumer_connection.create_channel().await.unwrap();
    consumer_channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    consumer_channel
        .queue_declare(queue.as_str().into(), durable, FieldTable::default())
        .await
        .unwrap();
    let mut consumer = consumer_channel
        .basic_consume(
            queue.as_str().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let consuming = {
        let counter = Arc::clone(&counter);
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let message: Payload = tamarco::serde_json::from_slice(&delivery.data).unwrap();
                std::hint::black_box(message.id);
                delivery.ack(BasicAckOptions::default()).await.unwrap();
                counter.hit();
            }
        })
    };
    let producer_connection = connect().await;
    let producer_channel = producer_connection.create_channel().await.unwrap();
    producer_channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();

    let began = Instant::now();
    let cpu = cpu_time();
    let mut senders = Vec::new();
    for worker in 0..WINDOW {
        let channel = producer_channel.clone();
        let queue = queue.clone();
        senders.push(tokio::spawn(async move {
            let mut id = worker;
            while id < n {
                let body = tamarco::serde_json::to_vec(&payload(id)).unwrap();
                let properties = BasicProperties::default()
                    .with_content_type("application/json".into())
                    .with_delivery_mode(2);
                let confirm = channel
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions {
                            mandatory: true,
                            immediate: false,
                        },
                        &body,
                        properties,
                    )
                    .await
                    .unwrap()
                    .await
                    .unwrap();
                assert!(matches!(confirm, Confirmation::Ack(None)));
                id += WINDOW;
            }
        }));
    }
    for sender in senders {
        sender.await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(300), counter.done.notified())
        .await
        .expect("all consumed");
    let round = Round {
        rate: n as f64 / began.elapsed().as_secs_f64(),
        cpu_per_message: (cpu_time() - cpu) / n as u32,
    };
    consuming.abort();
    let _ = consumer_channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = producer_connection.close(200, "OK".into()).await;
    let _ = consumer_connection.close(200, "OK".into()).await;
    round
}
