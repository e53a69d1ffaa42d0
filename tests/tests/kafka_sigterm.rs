//! A Kafka consumer process under load, stopped by a real SIGTERM (issue 14's fault scenario):
//! the records handled before the signal are committed, the process exits 0, and the next
//! consumer of the group resumes exactly after the last handled record: none lost, none
//! handled twice. The consumer is `src/bin/kafka_probe.rs`, against this test's own tansu.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use tamarco::MicroserviceContext;
use tamarco::codec::Text;
use tamarco::kafka::Kafka;
use tamarco::serde_json::json;
use tamarco_tests::Probe;
use tamarco_tests::handled::read as handled;
use tamarco_tests::kafka::Broker;

const PROBE: &str = env!("CARGO_BIN_EXE_kafka_probe");
const TOPIC: &str = "load";
const RECORDS: u64 = 2000;
const PARTITIONS: u32 = 2;
const WAIT: Duration = Duration::from_secs(90);

/// Waits until the handled file holds at least `count` ids.
fn wait_handled(path: &Path, count: usize) {
    let deadline = Instant::now() + WAIT;
    while handled(path).len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} handled within {WAIT:?}",
            handled(path).len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pushes the ids 0..RECORDS as text, alternating partitions; returns where each landed.
fn produce(broker: &Broker) -> BTreeMap<u64, (i32, i64)> {
    let runtime = tamarco::tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut cx = MicroserviceContext::new("load_producer");
        cx.settings()
            .update_internal(json!({"system": {"resources": {
                "kafka": {"bootstrap_servers": broker.bootstrap()},
            }}}))
            .unwrap();
        let kafka = cx.add("kafka", Kafka::new());
        let output = kafka.output::<String>(TOPIC, Text);
        cx.start().await.unwrap();
        let mut pending = Vec::new();
        for id in 0..RECORDS {
            let partition = i32::try_from(id % u64::from(PARTITIONS)).unwrap();
            let message = output.message(&id.to_string()).partition(partition);
            pending.push((id, message.enqueue().unwrap()));
        }
        let mut landed = BTreeMap::new();
        for (id, receipt) in pending {
            let receipt = receipt.await.expect("the broker acknowledges");
            landed.insert(id, (receipt.partition, receipt.offset));
        }
        cx.stop().await.unwrap();
        landed
    })
}

#[test]
fn sigterm_under_load_commits_what_was_handled_and_the_next_consumer_resumes_exactly_there() {
    let broker = Broker::start();
    broker.create_topic(TOPIC, PARTITIONS);
    let landed = produce(&broker);
    let dir = std::env::temp_dir().join(format!("tamarco-kafka-sigterm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let first_file = dir.join("first");
    let second_file = dir.join("second");
    let _ = std::fs::remove_file(&first_file);
    let _ = std::fs::remove_file(&second_file);
    let env = |file: &Path| {
        vec![
            ("PROBE_BOOTSTRAP", broker.bootstrap()),
            ("PROBE_HANDLED_FILE", file.display().to_string()),
        ]
    };
    let spawn = |file: &Path| {
        let env = env(file);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Probe::spawn_with(PROBE, "kafka", &env)
    };

    // The first consumer is stopped by SIGTERM a quarter of the way through.
    let first = spawn(&first_file);
    wait_handled(&first_file, RECORDS as usize / 4);
    first.signal("TERM");
    let (code, took, lines) = first.wait_exit(WAIT);
    assert_eq!(code, 0, "a clean exit after SIGTERM:\n{}", lines.join("\n"));
    let first_ids = handled(&first_file);
    assert!(
        (first_ids.len() as u64) < RECORDS,
        "stopped in the middle ({} handled)",
        first_ids.len()
    );
    eprintln!(
        "first consumer: {} handled, exit 0 {took:?} after SIGTERM",
        first_ids.len()
    );

    // What was handled is exactly what was committed: per partition, a run from offset 0 up
    // to the committed offset.
    let committed = broker.committed("kafka_probe", TOPIC);
    let mut by_partition: BTreeMap<i32, BTreeSet<i64>> = BTreeMap::new();
    for id in &first_ids {
        let (partition, offset) = landed[id];
        assert!(
            by_partition.entry(partition).or_default().insert(offset),
            "record {id} handled twice by the first consumer"
        );
    }
    for partition in 0..PARTITIONS as i32 {
        let offsets = by_partition.remove(&partition).unwrap_or_default();
        let commit = committed[partition as usize].unwrap_or(0);
        assert_eq!(
            offsets,
            (0..commit).collect::<BTreeSet<i64>>(),
            "partition {partition}: the commit ({commit}) is right after the last handled record"
        );
    }

    // The next consumer of the group handles exactly the rest.
    let second = spawn(&second_file);
    let rest = RECORDS as usize - first_ids.len();
    wait_handled(&second_file, rest);
    second.signal("TERM");
    let (code, _, lines) = second.wait_exit(WAIT);
    assert_eq!(code, 0, "{}", lines.join("\n"));
    let second_ids = handled(&second_file);
    let mut all: Vec<u64> = first_ids.iter().chain(&second_ids).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..RECORDS).collect::<Vec<_>>(),
        "every record handled once across the two consumers"
    );
    let committed: i64 = broker
        .committed("kafka_probe", TOPIC)
        .iter()
        .flatten()
        .sum();
    assert_eq!(committed, RECORDS as i64, "all committed in the end");
    let _ = std::fs::remove_dir_all(&dir);
}
