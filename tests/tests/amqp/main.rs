//! The AMQP resource against the machine's RabbitMQ (127.0.0.1:5672, guest/guest). Each test
//! uses its own `queues_prefix`, so they run in parallel, and deletes what it declared.
//! Services run in this process, without signal handling or report server.
//!
//! The tests by concept: `patterns` (push/pull, publish/subscribe, request/response, dead
//! letters), `streams` (inputs read as streams), `recovery` (lost connections, broker
//! restarts), `stops` (a graceful stop mid-stream, a refused login) and `declared` (services
//! wired as the attributes do, settings overriding them).

mod declared;
mod patterns;
mod recovery;
mod stops;
mod streams;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tamarco::amqp::{
    Amqp, Error as AmqpError, Message, Pattern, PushOutput, Request, dead_letter_headers,
};
use tamarco::codec::{Json, Raw};
use tamarco::prelude::*;
use tamarco::serde::{Deserialize, Serialize};
use tamarco::serde_json::{Value, json};
use tamarco::tokio::sync::mpsc;
use tamarco::tokio::time::{Instant, sleep, timeout};
use tamarco::{Running, TaskSet, error_chain, tokio};
use tamarco_tests::amqp::{
    BROKER, Cleanup, connect, full_name, settings, take_all, take_bodies, unique_prefix,
};
use tamarco_tests::proxy::TcpProxy;
use tamarco_tests::{Order, order, wait_until};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "tamarco::serde")]
struct Quote {
    id: u64,
    cents: u64,
}

/// A service with one AMQP resource, `amqp`.
#[microservice(name = "amqp_test")]
struct Svc {
    #[resource]
    amqp: Amqp,
}

#[microservice]
impl Svc {}

/// A service with two AMQP resources, each with its own connection and settings.
#[microservice(name = "amqp_test_two")]
struct TwoSvc {
    #[resource]
    amqp: Amqp,
    #[resource]
    audit: Amqp,
}

#[microservice]
impl TwoSvc {}

async fn start<S: TaskSet>(service: S, settings: Value) -> Running<S> {
    timeout(
        Duration::from_secs(20),
        service
            .runtime()
            .handle_signals(false)
            .with_settings(settings)
            .expect("valid settings")
            .start(),
    )
    .await
    .expect("the service starts in time")
    .expect("the service starts")
}

async fn stop<S: TaskSet>(running: Running<S>) {
    timeout(Duration::from_secs(20), running.stop())
        .await
        .expect("the service stops in time")
        .expect("the service stops cleanly");
}

/// Starts a [`Svc`] around `amqp` with the test's prefix and these resource settings.
async fn start_svc(amqp: Amqp, prefix: &str, resources: Value) -> Running<Svc> {
    start(Svc { amqp }, settings(prefix, resources)).await
}

/// A started service whose only part is a push output to `orders`, and that output.
async fn order_pusher(prefix: &str, resources: Value) -> (Running<Svc>, PushOutput<Order>) {
    let amqp = Amqp::new();
    let orders = amqp.push_output("orders", Json);
    (start_svc(amqp, prefix, resources).await, orders)
}

/// Receives `n` items from `receiver`, failing after `wait`.
async fn receive<T>(receiver: &mut mpsc::UnboundedReceiver<T>, n: usize, wait: Duration) -> Vec<T> {
    let deadline = Instant::now() + wait;
    let mut items = Vec::with_capacity(n);
    while items.len() < n {
        match tokio::time::timeout_at(deadline, receiver.recv()).await {
            Ok(Some(item)) => items.push(item),
            _ => panic!("received {} of {n} within {wait:?}", items.len()),
        }
    }
    items
}

fn status_of<S: TaskSet>(running: &Running<S>, name: &str) -> ResourceStatus {
    running
        .statuses()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .expect("a resource of that name")
}

/// Pushes `ids` from `workers` concurrent senders; returns once all are confirmed.
async fn push_all(
    orders: &PushOutput<Order>,
    ids: std::ops::Range<u64>,
    workers: u64,
) -> Result<(), AmqpError> {
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let orders = orders.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            for id in ids.filter(|id| id % workers == worker) {
                orders.push(&order(id)).await?;
            }
            Ok::<_, AmqpError>(())
        }));
    }
    for task in tasks {
        task.await.expect("a sender task")?;
    }
    Ok(())
}
