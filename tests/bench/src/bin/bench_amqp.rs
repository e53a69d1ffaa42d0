//! Benchmark of the AMQP resource against the machine's RabbitMQ (run it through
//! `tests/bench/amqp.sh`):
//!
//! - push/pull throughput of ~200-byte JSON messages, published with confirms by `WINDOW`
//!   concurrent senders and consumed with one ack per message, end to end (first publish to
//!   last ack), through tamarco and through plain lapin doing the same, alternately, in the
//!   same run; the best round of each and their ratio (goal: tamarco / lapin >= 0.9);
//! - request/response round trips per second with 16 concurrent requesters.
//!
//! `bench_amqp tracing [MESSAGES] [ROUNDS]` measures the tamarco push/pull rounds only, with
//! tracing off, on at sampling 0 and on at sampling 1 (exporting to an OTLP receiver in this
//! process that discards what it gets), alternately.

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
use tamarco::amqp::{Amqp, Message, Pattern, Request};
use tamarco::codec::Json;
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::{Value, json};
use tamarco::tokio;
use tamarco::tokio::sync::Notify;
use tamarco_tests::amqp::{cleanup, connect, settings, unique_prefix};

const WINDOW: u64 = 256;
const PREFETCH: u16 = 256;
const REQUESTERS: u64 = 16;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Payload {
    id: u64,
    sku: String,
    customer: String,
    quantity: u32,
    price: f64,
    note: String,
}

fn payload(id: u64) -> Payload {
    Payload {
        id,
        sku: format!("SKU-{:08}", id % 100_000),
        customer: "customer-7f3a9c2e-41b8-4d6f-9a1e-5c0b2d8e7f61".to_owned(),
        quantity: (id % 7) as u32 + 1,
        price: 19.99,
        note: "fragile; deliver to the back door between nine and five, ring twice".to_owned(),
    }
}

#[microservice(name = "bench_amqp")]
struct Svc {
    #[resource]
    amqp: Amqp,
}

#[microservice]
impl Svc {}

async fn start(service: Svc, prefix: &str, tracing: &Value) -> tamarco::Running<Svc> {
    let mut settings = settings(
        prefix,
        json!({"amqp": {"prefetch": PREFETCH, "heartbeat": 60}}),
    );
    settings["system"]["tracing"] = tracing.clone();
    service
        .runtime()
        .handle_signals(false)
        .with_settings(settings)
        .expect("settings")
        .start()
        .await
        .expect("the service starts")
}

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

/// This process's CPU time so far (user + system, all threads), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    // After the command: state is field 3, utime 14 and stime 15 (in clock ticks of 10 ms).
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(14) + ticks(15)) * 10)
}

/// What one round measured.
#[derive(Debug, Clone, Copy)]
struct Round {
    /// Messages per second, first publish to last ack.
    rate: f64,
    /// This process's CPU time per message (producer and consumer together).
    cpu_per_message: Duration,
}

/// One round through tamarco, with `tracing` as `system.tracing`.
async fn tamarco_round(prefix: &str, n: u64, tracing: &Value) -> Round {
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
async fn lapin_round(prefix: &str, n: u64) -> Round {
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

/// Answers requests with the same payload.
#[microservice(name = "bench_amqp_server")]
struct Server {
    #[resource]
    amqp: Amqp,
}

#[microservice]
impl Server {
    async fn pre_start(self: Arc<Self>, stage: Stage) -> Result<(), BoxError> {
        self.amqp
            .request_input("echo", Json)
            .handle_with(&self, Self::echo)?;
        stage.run().await?;
        Ok(())
    }

    async fn echo(self: Arc<Self>, request: Request<Payload, Payload>) -> Result<(), BoxError> {
        let reply = request.value().clone();
        request.respond(&reply).await?;
        Ok(())
    }
}

/// Round trips per second with `REQUESTERS` concurrent requesters for `seconds`.
async fn request_response(prefix: &str, seconds: u64) -> (f64, Duration) {
    let server = Server { amqp: Amqp::new() }
        .runtime()
        .handle_signals(false)
        .with_settings(settings(prefix, json!({})))
        .unwrap()
        .start()
        .await
        .unwrap();
    let client = Amqp::new();
    let echo = client.request_output::<Payload, Payload, _>("echo", Json);
    let client = start(Svc { amqp: client }, prefix, &json!({})).await;
    // Warm up: the reply queue is created by the first request.
    echo.request(&payload(0)).await.unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let until = began + Duration::from_secs(seconds);
    let mut requesters = Vec::new();
    for worker in 0..REQUESTERS {
        let echo = echo.clone();
        let done = Arc::clone(&done);
        requesters.push(tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            let mut id = worker;
            while Instant::now() < until {
                let asked = Instant::now();
                let reply = echo.request(&payload(id)).await.expect("a reply");
                assert_eq!(reply.id, id);
                slowest = slowest.max(asked.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
                id += REQUESTERS;
            }
            slowest
        }));
    }
    let mut slowest = Duration::ZERO;
    for requester in requesters {
        slowest = slowest.max(requester.await.unwrap());
    }
    let rate = done.load(Ordering::Relaxed) as f64 / began.elapsed().as_secs_f64();
    client.stop().await.unwrap();
    server.stop().await.unwrap();
    (rate, slowest)
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("tracing") {
        args.next();
        let n: u64 = args.next().map_or(50_000, |a| a.parse().expect("MESSAGES"));
        let rounds: usize = args.next().map_or(3, |a| a.parse().expect("ROUNDS"));
        return tracing_rounds(n, rounds);
    }
    let n: u64 = args.next().map_or(50_000, |a| a.parse().expect("MESSAGES"));
    let rounds: usize = args.next().map_or(3, |a| a.parse().expect("ROUNDS"));
    let seconds: u64 = args.next().map_or(5, |a| a.parse().expect("SECONDS"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let prefix = unique_prefix("bench");
        let body = tamarco::serde_json::to_vec(&payload(12345)).unwrap();
        println!(
            "push/pull: {n} JSON messages of {} bytes, {WINDOW} concurrent senders with confirms, prefetch {PREFETCH}, one ack each; {rounds} rounds",
            body.len()
        );
        let (mut lapin_rounds, mut tamarco_rounds) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            let lapin = lapin_round(&prefix, n).await;
            let tamarco = tamarco_round(&prefix, n, &json!({})).await;
            println!(
                "  round {round}: lapin {:.0} msg/s ({:?} CPU/msg), tamarco {:.0} msg/s ({:?} CPU/msg), ratio {:.3}",
                lapin.rate,
                lapin.cpu_per_message,
                tamarco.rate,
                tamarco.cpu_per_message,
                tamarco.rate / lapin.rate
            );
            lapin_rounds.push(lapin);
            tamarco_rounds.push(tamarco);
        }
        let median = |rounds: &mut Vec<Round>| {
            rounds.sort_by(|a, b| a.rate.total_cmp(&b.rate));
            rounds[rounds.len() / 2]
        };
        let best = |rounds: &[Round]| rounds.iter().map(|r| r.rate).fold(0f64, f64::max);
        let (best_lapin, best_tamarco) = (best(&lapin_rounds), best(&tamarco_rounds));
        let (median_lapin, median_tamarco) = (median(&mut lapin_rounds), median(&mut tamarco_rounds));
        println!(
            "push/pull median: lapin {:.0} msg/s, tamarco {:.0} msg/s, ratio {:.3}; best: lapin {best_lapin:.0}, tamarco {best_tamarco:.0}, ratio {:.3} (goal >= 0.9)",
            median_lapin.rate,
            median_tamarco.rate,
            median_tamarco.rate / median_lapin.rate,
            best_tamarco / best_lapin
        );
        let cpu = |rounds: &[Round]| {
            rounds.iter().map(|r| r.cpu_per_message).sum::<Duration>() / rounds.len() as u32
        };
        println!(
            "client CPU per message (producer + consumer, mean): lapin {:?}, tamarco {:?}",
            cpu(&lapin_rounds),
            cpu(&tamarco_rounds)
        );
        let (rps, slowest) = request_response(&prefix, seconds).await;
        println!(
            "request/response: {rps:.0} round trips/s with {REQUESTERS} concurrent requesters over {seconds} s (slowest {slowest:?})"
        );
        cleanup(
            &prefix,
            &[(Pattern::PushPull, "bench"), (Pattern::RequestResponse, "echo")],
        )
        .await;
    });
}

/// An OTLP/HTTP receiver in this process that answers every export and keeps nothing; returns
/// its base URL.
async fn discarding_receiver() -> String {
    use tamarco::http::axum::{Router, body::Bytes, routing::post};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new().route("/v1/traces", post(|_: Bytes| async {}));
    tokio::spawn(async move { tamarco::http::axum::serve(listener, router).await });
    url
}

/// The tamarco push/pull rounds with tracing off, at sampling 0 and at sampling 1.
fn tracing_rounds(n: u64, rounds: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let prefix = unique_prefix("bench_tracing");
        let collector = discarding_receiver().await;
        let on = |ratio: f64| json!({"enabled": true, "endpoint": collector, "sampling_ratio": ratio});
        let variants = [("off", json!({})), ("sampling 0", on(0.0)), ("sampling 1", on(1.0))];
        println!(
            "push/pull through tamarco, tracing off / on at sampling 0 / on at sampling 1 \
             (exported to a receiver that discards): {n} messages, {rounds} rounds, alternating"
        );
        let mut results = vec![Vec::new(); variants.len()];
        for round in 1..=rounds {
            let mut line = format!("  round {round}:");
            for (i, (name, tracing)) in variants.iter().enumerate() {
                let result = tamarco_round(&prefix, n, tracing).await;
                line += &format!(
                    "  {name} {:.0} msg/s ({:?} CPU/msg)",
                    result.rate, result.cpu_per_message
                );
                results[i].push(result.rate);
            }
            println!("{line}");
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let medians: Vec<f64> = results.iter_mut().map(median).collect();
        println!(
            "  median: off {:.0} msg/s, sampling 0 {:.0} msg/s (ratio {:.3}), sampling 1 {:.0} msg/s (ratio {:.3})",
            medians[0],
            medians[1],
            medians[1] / medians[0],
            medians[2],
            medians[2] / medians[0]
        );
        cleanup(&prefix, &[(Pattern::PushPull, "bench")]).await;
    });
}
