//! AMQP faults that need a real process or a network that misbehaves (issue 14), against the
//! machine's RabbitMQ (127.0.0.1:5672, guest/guest):
//!
//! - a real SIGTERM to a separate consumer process (`src/bin/amqp_probe.rs`) while a stream of
//!   10,000 messages flows: every message is either handled (and acked) or still queued, none
//!   both, none lost; the process exits 0 within the grace period;
//! - a broker that stops answering while the connection stays open (a proxy that holds every
//!   byte): a publish fails within `publish_timeout` instead of hanging.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tamarco::amqp::{Amqp, Error as AmqpError, Pattern, PushOutput};
use tamarco::codec::Text;
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco::{Running, tokio};
use tamarco_tests::Probe;
use tamarco_tests::amqp::{BROKER, Cleanup, full_name, settings, take_bodies, unique_prefix};
use tamarco_tests::handled::read as handled;
use tamarco_tests::proxy::TcpProxy;

const PROBE: &str = env!("CARGO_BIN_EXE_amqp_probe");
const MESSAGES: u64 = 10_000;
const WAIT: Duration = Duration::from_secs(90);

/// A service with one AMQP resource, `amqp`, run in this process.
#[microservice(name = "amqp_faults")]
struct Svc {
    #[resource]
    amqp: Amqp,
}

#[microservice]
impl Svc {}

async fn start(amqp: Amqp, prefix: &str, resources: tamarco::serde_json::Value) -> Running<Svc> {
    tokio::time::timeout(
        Duration::from_secs(20),
        Svc { amqp }
            .runtime()
            .handle_signals(false)
            .with_settings(settings(prefix, resources))
            .expect("valid settings")
            .start(),
    )
    .await
    .expect("the service starts in time")
    .expect("the service starts")
}

/// Pushes the ids 0..MESSAGES as text from 16 senders; returns once the broker confirmed all.
async fn push_all(orders: PushOutput<String>) -> Result<(), AmqpError> {
    const SENDERS: u64 = 16;
    let mut senders = Vec::new();
    for sender in 0..SENDERS {
        let orders = orders.clone();
        senders.push(tokio::spawn(async move {
            for id in (0..MESSAGES).filter(|id| id % SENDERS == sender) {
                orders.push(&id.to_string()).await?;
            }
            Ok::<_, AmqpError>(())
        }));
    }
    for sender in senders {
        sender.await.expect("a sender task")?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_to_a_consumer_process_under_load_loses_no_message_and_acks_none_unhandled() {
    let prefix = unique_prefix("sigterm");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let dir = std::env::temp_dir().join(format!("tamarco-amqp-sigterm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("handled");
    let _ = std::fs::remove_file(&file);
    let file_name = file.display().to_string();
    let mut probe = Probe::spawn_with(
        PROBE,
        "amqp",
        &[
            ("PROBE_PREFIX", prefix.as_str()),
            ("PROBE_HANDLED_FILE", file_name.as_str()),
        ],
    );
    // The probe declared its queue once it started.
    tokio::task::block_in_place(|| {
        probe.wait_for_line("started service=\"amqp_probe\"", Duration::from_secs(30))
    });

    let amqp = Amqp::new();
    let orders = amqp.push_output("orders", Text);
    let producer = start(amqp, &prefix, json!({})).await;
    let pushing = tokio::spawn(push_all(orders));

    // SIGTERM a quarter of the way through, while messages still arrive.
    let deadline = Instant::now() + WAIT;
    while (handled(&file).len() as u64) < MESSAGES / 4 {
        assert!(
            Instant::now() < deadline,
            "only {} handled within {WAIT:?}",
            handled(&file).len()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let handled_at_signal = handled(&file).len();
    probe.signal("TERM");
    let (code, took, lines) = tokio::task::block_in_place(|| probe.wait_exit(WAIT));
    let shown = lines.join("\n");
    assert_eq!(code, 0, "a clean exit after SIGTERM:\n{shown}");
    // The grace period is 20 s; a stop that waits for the handlers in flight takes far less.
    assert!(took < Duration::from_secs(10), "took {took:?}:\n{shown}");

    tokio::time::timeout(WAIT, pushing)
        .await
        .expect("every message pushed in time")
        .expect("the pushing task")
        .expect("the broker confirmed every message");
    tokio::time::timeout(Duration::from_secs(20), producer.stop())
        .await
        .expect("the producer stops in time")
        .expect("the producer stops cleanly");

    // Every message is either handled (and so acked) or still queued, and none is both.
    let handled_ids = handled(&file);
    let handled: BTreeSet<u64> = handled_ids.iter().copied().collect();
    assert_eq!(handled.len(), handled_ids.len(), "no message handled twice");
    assert!(
        (handled.len() as u64) < MESSAGES,
        "stopped in the middle ({} handled)",
        handled.len()
    );
    let queue = full_name(&prefix, Pattern::PushPull, "orders");
    let left: Vec<u64> = take_bodies(&queue, Duration::from_secs(5))
        .await
        .iter()
        .map(|body| {
            std::str::from_utf8(body)
                .expect("text")
                .parse()
                .expect("an id")
        })
        .collect();
    let queued: BTreeSet<u64> = left.iter().copied().collect();
    assert_eq!(queued.len(), left.len(), "no message queued twice");
    let both: Vec<&u64> = handled.intersection(&queued).collect();
    assert!(
        both.is_empty(),
        "handled but not acked (still queued): {both:?}"
    );
    let all: BTreeSet<u64> = handled.union(&queued).copied().collect();
    let lost: Vec<u64> = (0..MESSAGES).filter(|id| !all.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "acked without being handled (lost): {} of them, first {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    eprintln!(
        "amqp SIGTERM under load: {handled_at_signal} handled at the signal, {} by the exit, \
         {} left queued, 0 lost; exit {code} {took:?} after SIGTERM",
        handled.len(),
        queued.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_to_a_broker_that_stalls_fails_within_publish_timeout() {
    const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);
    let prefix = unique_prefix("stalled");
    let _cleanup = Cleanup::new(&prefix, &[(Pattern::PushPull, "orders")]);
    let proxy = TcpProxy::start(BROKER).await;
    let amqp = Amqp::new();
    let orders = amqp.push_output("orders", Text);
    let running = start(
        amqp,
        &prefix,
        json!({"amqp": {"port": proxy.port(), "publish_timeout": "1s"}}),
    )
    .await;
    orders
        .push(&"before".to_owned())
        .await
        .expect("a push while the network flows");

    // Every packet is lost from now on, and the connection stays open: nothing tells the
    // client that the broker is gone.
    proxy.stall(true);
    let started = Instant::now();
    let pushed = tokio::time::timeout(
        PUBLISH_TIMEOUT + Duration::from_secs(10),
        orders.push(&"during".to_owned()),
    )
    .await;
    let took = started.elapsed();
    let error = pushed
        .unwrap_or_else(|_| panic!("the push still hangs {took:?} after it began"))
        .expect_err("a push nobody confirms fails");
    assert!(
        matches!(error, AmqpError::Unconfirmed { .. }),
        "the error says the broker did not confirm: {error}"
    );
    assert!(
        took >= PUBLISH_TIMEOUT - Duration::from_millis(50),
        "it waited for the confirm: {took:?}"
    );
    // A small margin for a loaded machine.
    assert!(
        took < PUBLISH_TIMEOUT + Duration::from_millis(500),
        "it failed within publish_timeout: {took:?}"
    );
    eprintln!("a push to a stalled broker failed after {took:?} (publish_timeout 1 s): {error}");

    proxy.stall(false);
    tokio::time::timeout(Duration::from_secs(20), running.stop())
        .await
        .expect("the service stops in time")
        .expect("the service stops cleanly");
}
