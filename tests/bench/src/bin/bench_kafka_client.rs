//! Kafka consume on the client alone: librdkafka's in-process mock cluster, the topics filled
//! beforehand by a plain producer, each consumer paused after its first record until the rest
//! is fetched; then the clock and the process's CPU time run to the last record. Both sides do
//! the same work per record: decode 200 bytes of JSON, mark the record done for an
//! at-least-once commit (tamarco: a handler input; plain: a `StreamConsumer` loop storing the
//! offset). Run through `tests/bench/kafka.sh`.
//!
//! - `bench_kafka_client [MESSAGES] [ROUNDS]`: both sides ROUNDS times, alternating which goes
//!   first, each round over [`TOPICS`] topics of MESSAGES records; the median msg/s and CPU ns
//!   per record of each, and the ratios (defaults 2500, 10).
//! - `bench_kafka_client one <tamarco|plain> N`: one side once, without the pause, for
//!   `valgrind --tool=callgrind --separate-threads=yes` (`tests/bench/kafka_instructions.sh`):
//!   a topic of N records, consumed whole by a task on the runtime's worker threads, while the
//!   producer ran on the main thread; instructions per record on the consuming side are the
//!   difference of the worker threads' counts with 2N and with N records, divided by N. (A
//!   tamarco input takes every record that is ready until it is stopped, so the topic holds
//!   exactly the records to consume.) `tests/bench/kafka_footprint.sh` runs it the same way
//!   to count the lines of machine code each record's path touches.
//!
//! The mock cluster stalls with more than about 10000 records in a topic, or in the topics a
//! consumer reads at once (4 topics of 8000 stalled): keep TOPICS x MESSAGES and 2N under it.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, FutureProducer, FutureRecord};
use tamarco::tokio;
use tamarco_bench::kafka_consume::{self, Clock, Pass, Run, payload};
use tamarco_tests::kafka::unique_topic;

type Mock = MockCluster<'static, DefaultProducerContext>;

/// How long a consumer waits after its first record, so that the rest is fetched before the
/// clock starts.
const PREFETCH: Duration = Duration::from_secs(2);

const TIMEOUT: Duration = Duration::from_secs(600);

/// How many topics of MESSAGES records a round reads: one topic of 8000 took 4 ms on a fast
/// machine, about one scheduler tick, so that a preemption or a tick's work moved a round's
/// rate by tens of percent.
const TOPICS: usize = 4;

/// This process's CPU time so far, all threads, in nanoseconds: the kernel's process CPU
/// clock, which counts the running threads up to now (the per-thread `schedstat` files lag by
/// up to a scheduler tick for a thread that is running, a large part of a round of a few
/// milliseconds).
fn cpu_ns() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// What one side measured: records per second and CPU nanoseconds per record.
#[derive(Debug, Clone, Copy)]
struct Measured {
    rate: f64,
    cpu_ns: f64,
}

/// A moment: wall clock and CPU time.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    cpu: u64,
}

impl Clock for Mark {
    fn now() -> Mark {
        Mark {
            at: Instant::now(),
            cpu: cpu_ns(),
        }
    }
}

impl Mark {
    fn to(self, end: Mark, records: u64) -> Measured {
        Measured {
            rate: records as f64 / end.at.duration_since(self.at).as_secs_f64(),
            cpu_ns: end.cpu.saturating_sub(self.cpu) as f64 / records as f64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Tamarco,
    Plain,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if args.first().map(String::as_str) == Some("one") {
        let side = match args.get(1).map(String::as_str) {
            Some("tamarco") => Side::Tamarco,
            Some("plain") => Side::Plain,
            _ => panic!("usage: bench_kafka_client one <tamarco|plain> N"),
        };
        let messages: u64 = args[2].parse().expect("N");
        runtime.block_on(async {
            let mock = MockCluster::new(1).expect("a mock cluster");
            let topic = filled(&mock, messages).await;
            let bootstrap = mock.bootstrap_servers();
            tokio::spawn(async move {
                let topics = [topic.as_str()];
                let run = Run {
                    bootstrap: &bootstrap,
                    topics: &topics,
                    messages,
                    pause: None,
                    timeout: TIMEOUT,
                };
                let _: Pass<Instant> = match side {
                    Side::Tamarco => kafka_consume::consume_tamarco(&run).await,
                    Side::Plain => kafka_consume::consume_plain(&run).await,
                };
            })
            .await
            .unwrap();
            println!("{side:?}: consumed {messages}");
        });
        return;
    }
    let messages: u64 = args.first().map_or(2_500, |n| n.parse().expect("MESSAGES"));
    let rounds: usize = args.get(1).map_or(10, |n| n.parse().expect("ROUNDS"));
    runtime.block_on(rounds_of(messages, rounds));
}

async fn rounds_of(messages: u64, rounds: usize) {
    println!(
        "kafka consume, client alone: {TOPICS} topics of {messages} records of 200 bytes of \
         JSON, {rounds} rounds, librdkafka mock cluster in process, 1 partition each, all \
         fetched before the clock starts"
    );
    let mock = MockCluster::new(1).expect("a mock cluster");
    let (mut tamarco, mut plain) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut topics = Vec::with_capacity(TOPICS);
        for _ in 0..TOPICS {
            topics.push(filled(&mock, messages).await);
        }
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        let total = messages * TOPICS as u64;
        let order = match round % 2 {
            0 => [Side::Tamarco, Side::Plain],
            _ => [Side::Plain, Side::Tamarco],
        };
        for side in order {
            let measured = consume(&mock, &topics, side, total, true).await;
            match side {
                Side::Tamarco => tamarco.push(measured),
                Side::Plain => plain.push(measured),
            }
        }
        let (t, p) = (tamarco[round], plain[round]);
        println!(
            "  round {}: tamarco {:.0} msg/s, {:.0} ns CPU/record; plain {:.0} msg/s, {:.0} ns \
             CPU/record",
            round + 1,
            t.rate,
            t.cpu_ns,
            p.rate,
            p.cpu_ns
        );
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (mut tr, mut pr): (Vec<f64>, Vec<f64>) = (
        tamarco.iter().map(|m| m.rate).collect(),
        plain.iter().map(|m| m.rate).collect(),
    );
    let (mut tc, mut pc): (Vec<f64>, Vec<f64>) = (
        tamarco.iter().map(|m| m.cpu_ns).collect(),
        plain.iter().map(|m| m.cpu_ns).collect(),
    );
    let (tr, pr, tc, pc) = (
        median(&mut tr),
        median(&mut pr),
        median(&mut tc),
        median(&mut pc),
    );
    println!(
        "throughput: tamarco {tr:.0} msg/s, plain rdkafka {pr:.0} msg/s, ratio {:.3} (goal >= 0.9)",
        tr / pr
    );
    println!(
        "CPU per record: tamarco {tc:.0} ns, plain rdkafka {pc:.0} ns, ratio plain/tamarco {:.3}",
        pc / tc
    );
}

/// A new topic of `messages` records, produced by a plain producer.
async fn filled(mock: &Mock, messages: u64) -> String {
    let topic = unique_topic("bench");
    mock.create_topic(&topic, 1, 1).unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", mock.bootstrap_servers())
        .create()
        .unwrap();
    let mut in_flight = Vec::with_capacity(messages as usize);
    for id in 0..messages {
        let body = tamarco::serde_json::to_vec(&payload(id, 0)).unwrap();
        let record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&topic).payload(&body);
        in_flight.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
    }
    for delivery in in_flight {
        delivery.await.unwrap().unwrap();
    }
    tokio::task::spawn_blocking(move || drop(producer))
        .await
        .unwrap();
    topic
}

/// Consumes the `messages` records of `topics` on `side`, in a new group. With `pause`,
/// measures from the end of a pause after the first record to the last.
async fn consume(mock: &Mock, topics: &[&str], side: Side, messages: u64, pause: bool) -> Measured {
    let bootstrap = mock.bootstrap_servers();
    let run = Run {
        bootstrap: &bootstrap,
        topics,
        messages,
        pause: pause.then_some(PREFETCH),
        timeout: TIMEOUT,
    };
    let pass: Pass<Mark> = match side {
        Side::Tamarco => kafka_consume::consume_tamarco(&run).await,
        Side::Plain => kafka_consume::consume_plain(&run).await,
    };
    pass.began.to(pass.ended, messages - 1)
}
