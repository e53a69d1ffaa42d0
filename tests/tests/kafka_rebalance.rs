//! A rebalance never stalls the runtime (issue 14): when a second member joins the group, the
//! first commits what it handled before its partitions move, and the work of its runtime goes
//! on meanwhile, even on a current-thread runtime and against a broker that answers slowly.
//!
//! The broker (tansu) advertises a proxy in front of it, so every connection after the first
//! goes through the proxy, which the test slows down before the second member joins.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tamarco::kafka::{Kafka, Message, TopicOutput};
use tamarco::prelude::*;
use tamarco::serde_json::{Value, json};
use tamarco::{Running, TaskSet, tokio};
use tamarco_tests::kafka::{Broker, free_port};
use tamarco_tests::proxy::TcpProxy;
use tamarco_tests::wait_until;

const TOPIC: &str = "orders";
const RECORDS: u64 = 200;
const WAIT: Duration = Duration::from_secs(60);
/// How late the slowed proxy forwards each chunk: a commit through it takes at least twice this.
const SLOW: Duration = Duration::from_millis(1000);

/// A member of the group `member`: records the (partition, offset) of each record it handled.
#[microservice(name = "member")]
#[derive(Default)]
struct Member {
    #[resource]
    kafka: Kafka,
    handled: Mutex<Vec<(i32, i64)>>,
}

#[microservice]
impl Member {
    #[input(kafka, topic = "orders")]
    async fn on_order(&self, record: Message<u64>) -> Result<(), BoxError> {
        let at = (record.partition(), record.offset());
        self.handled.lock().expect("handled lock").push(at);
        Ok(())
    }
}

impl Member {
    fn handled(&self) -> Vec<(i32, i64)> {
        self.handled.lock().expect("handled lock").clone()
    }
}

/// Settings for a client of `bootstrap`. Offsets are committed only at the rebalance (the
/// periodic commit is an hour away), so that what the second member reads shows what the first
/// committed then.
fn settings(bootstrap: &str) -> Value {
    json!({"system": {"resources": {
        "tamarco_http_report_server": {"enabled": false},
        "kafka": {
            "bootstrap_servers": [bootstrap],
            "retry_backoff": "10ms",
            "commit_interval": 3600,
            // The second member's first metadata request goes through the slowed proxy.
            "connect_timeout": 30,
            "consumer": {"heartbeat.interval.ms": "500"},
        },
    }}})
}

async fn start<S: TaskSet>(service: S, bootstrap: &str) -> Running<S> {
    tokio::time::timeout(
        WAIT,
        service
            .runtime()
            .handle_signals(false)
            .with_settings(settings(bootstrap))
            .expect("valid settings")
            .start(),
    )
    .await
    .expect("the service starts in time")
    .expect("the service starts")
}

/// A service with an output to `orders`, used to fill the topic.
#[microservice(name = "producer")]
#[derive(Default)]
struct Producer {
    #[resource]
    kafka: Kafka,
    #[output(kafka, topic = "orders")]
    orders: TopicOutput<u64>,
}

#[microservice]
impl Producer {}

#[test]
fn a_rebalance_commits_what_was_handled_without_stalling_a_current_thread_runtime() {
    // The proxy, the broker's helpers and the second member run on a runtime of their own, so
    // that they go on whatever the first member's runtime does.
    let others = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let port = free_port();
    let proxy = others.block_on(TcpProxy::start(format!("127.0.0.1:{port}")));
    let broker = Broker::start_advertising(port, proxy.port());
    broker.create_topic(TOPIC, 2);
    let bootstrap = proxy.endpoint();
    others.block_on(async {
        let producer = start(Producer::default(), &bootstrap).await;
        for id in 0..RECORDS {
            let partition = i32::try_from(id % 2).unwrap();
            producer
                .service()
                .orders
                .message(&id)
                .partition(partition)
                .push()
                .await
                .expect("the broker takes the record");
        }
        producer.stop().await.expect("the producer stops");
    });

    // The first member runs on a current-thread runtime: anything that blocks its thread
    // stops every task of the service, and the ticker below.
    let first_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    first_runtime.block_on(async {
        let first = start(Member::default(), &bootstrap).await;
        wait_until(
            WAIT,
            || first.service().handled().len() as u64 >= RECORDS,
            || "the first member handled every record",
        )
        .await;
        assert_eq!(
            broker.committed("member", TOPIC),
            vec![None, None],
            "nothing committed before the rebalance"
        );

        // A ticker on the same thread: the longest gap between its ticks is how long the
        // runtime stood still.
        let longest_gap_ms = Arc::new(AtomicU64::new(0));
        let ticker = tokio::spawn({
            let longest_gap_ms = Arc::clone(&longest_gap_ms);
            async move {
                let mut last = Instant::now();
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    let gap = u64::try_from(last.elapsed().as_millis()).unwrap_or(u64::MAX);
                    longest_gap_ms.fetch_max(gap, Ordering::Relaxed);
                    last = Instant::now();
                }
            }
        });

        // The broker turns slow, and a second member joins: the first gives up a partition,
        // committing what it handled through the slow broker.
        proxy.delay(SLOW);
        let joined_at = Instant::now();
        let second = others
            .spawn({
                let bootstrap = bootstrap.clone();
                async move { start(Member::default(), &bootstrap).await }
            })
            .await
            .expect("the second member's start");
        let assigned = |member: &Member| member.kafka.assignment(TOPIC).unwrap_or_default();
        wait_until(
            WAIT,
            || {
                let (a, b) = (assigned(first.service()), assigned(second.service()));
                a.len() == 1 && b.len() == 1
            },
            || "the partitions are split between the members",
        )
        .await;
        let rebalanced_in = joined_at.elapsed();
        ticker.abort();
        let longest_gap = Duration::from_millis(longest_gap_ms.load(Ordering::Relaxed));

        // What the first member handled was committed before the second got its partition:
        // the second has nothing to read.
        proxy.delay(Duration::ZERO);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            second.service().handled(),
            vec![],
            "the second member reads nothing the first handled"
        );
        let committed: i64 = broker.committed("member", TOPIC).iter().flatten().sum();
        assert_eq!(committed, RECORDS as i64, "every handled record is committed");

        eprintln!(
            "rebalance through a broker {SLOW:?} late per chunk: partitions split {rebalanced_in:?} \
             after the second member started; the first member's runtime stood still at most \
             {longest_gap:?}"
        );
        assert!(
            longest_gap < SLOW,
            "the runtime stood still for {longest_gap:?} during the rebalance"
        );

        tokio::time::timeout(WAIT, first.stop())
            .await
            .expect("the first member stops in time")
            .expect("the first member stops cleanly");
        others
            .spawn(async move { second.stop().await })
            .await
            .unwrap()
            .expect("the second member stops cleanly");
    });
    drop(proxy);
    others.shutdown_timeout(Duration::from_secs(5));
}
