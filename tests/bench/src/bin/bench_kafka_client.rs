//! Kafka consume on the client alone: librdkafka's in-process mock cluster, the topics filled
//! beforehand by a plain producer. In each round both consumers start at once and hold after
//! their first record until the rest is fetched; then one runs to its last record, and right
//! after it the other (which goes first alternates), so that the two clocks run milliseconds
//! apart on a machine in the same state, with no consumer starting or stopping meanwhile. Each
//! side's clock and the process's CPU time run from the end of its hold to its last record. (No
//! figure of the consuming thread alone: its task may resume on another of the runtime's worker
//! threads after any `await`, and a thread's CPU clock read at the two marks then counts two
//! threads' time; a plain round here read more CPU time on its thread than in the whole
//! process.) Both sides do the same work per record: decode 200 bytes of JSON, mark the record
//! done for an at-least-once commit (tamarco: a handler input; plain: a `StreamConsumer` loop
//! storing the offset). Run through `tests/bench/kafka.sh`.
//!
//! - `bench_kafka_client [MESSAGES] [ROUNDS]`: ROUNDS rounds, each side over [`TOPICS`] topics
//!   of MESSAGES records of its own; the median msg/s and the process's CPU ns per record of
//!   each, their ratios, and the median of the rounds' own throughput ratios (defaults 2500,
//!   10).
//! - `bench_kafka_client one <tamarco|plain> N`: one side once, without a hold, for
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

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, FutureProducer, FutureRecord};
use tamarco::tokio;
use tamarco_bench::kafka_consume::{self, Clock, Gate, Hold, Pass, Run, payload};
use tamarco_bench::stats::median;
use tamarco_tests::kafka::unique_topic;

type Mock = MockCluster<'static, DefaultProducerContext>;

/// How long the consumers hold after their first record, so that the rest is fetched before
/// either clock starts.
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
                    hold: Hold::None,
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
         fetched before the clock starts; per round both sides hold after their first record, \
         then run one right after the other"
    );
    let mock = MockCluster::new(1).expect("a mock cluster");
    let (mut tamarco, mut plain) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let first = match round % 2 {
            0 => Side::Tamarco,
            _ => Side::Plain,
        };
        let (t, p) = round_of(&mock, messages, first).await;
        println!(
            "  round {}: tamarco {:.0} msg/s, {:.0} ns CPU/record; plain {:.0} msg/s, {:.0} ns \
             CPU/record; ratio {:.3} ({first:?} first)",
            round + 1,
            t.rate,
            t.cpu_ns,
            p.rate,
            p.cpu_ns,
            t.rate / p.rate,
        );
        tamarco.push(t);
        plain.push(p);
    }
    let of = |side: &[Measured], f: fn(&Measured) -> f64| {
        median(&mut side.iter().map(f).collect::<Vec<_>>())
    };
    let (tr, pr) = (of(&tamarco, |m| m.rate), of(&plain, |m| m.rate));
    let (tc, pc) = (of(&tamarco, |m| m.cpu_ns), of(&plain, |m| m.cpu_ns));
    let paired = median(
        &mut tamarco
            .iter()
            .zip(&plain)
            .map(|(t, p)| t.rate / p.rate)
            .collect::<Vec<_>>(),
    );
    println!(
        "throughput: tamarco {tr:.0} msg/s, plain rdkafka {pr:.0} msg/s, ratio {:.3}; median of \
         the rounds' ratios {paired:.3} (goal >= 0.9)",
        tr / pr
    );
    println!(
        "CPU per record: tamarco {tc:.0} ns, plain rdkafka {pc:.0} ns, ratio plain/tamarco {:.3}",
        pc / tc
    );
}

/// One round: both sides consume topics of their own, filled alike, in new groups. Both start
/// at once and hold after their first record; after [`PREFETCH`], `first` runs to its last
/// record, then the other; then both stop. So the two clocks run a few milliseconds apart, on
/// a machine in the same state, with no consumer starting or stopping meanwhile.
async fn round_of(mock: &Mock, messages: u64, first: Side) -> (Measured, Measured) {
    let mut names = [Vec::with_capacity(TOPICS), Vec::with_capacity(TOPICS)];
    for side in &mut names {
        for _ in 0..TOPICS {
            side.push(filled(mock, messages).await);
        }
    }
    let topics: Vec<Vec<&str>> = names
        .iter()
        .map(|side| side.iter().map(String::as_str).collect())
        .collect();
    let bootstrap = mock.bootstrap_servers();
    let total = messages * TOPICS as u64;
    let gates = [Arc::new(Gate::default()), Arc::new(Gate::default())];
    let run = |side: usize| Run {
        bootstrap: &bootstrap,
        topics: &topics[side],
        messages: total,
        hold: Hold::Gate(Arc::clone(&gates[side])),
        timeout: TIMEOUT,
    };
    let (tamarco_run, plain_run) = (run(0), run(1));
    let drive = async {
        gates[0].held().await;
        gates[1].held().await;
        tokio::time::sleep(PREFETCH).await;
        let order = match first {
            Side::Tamarco => [0, 1],
            Side::Plain => [1, 0],
        };
        for side in order {
            gates[side].run().await;
        }
        for gate in &gates {
            gate.close();
        }
    };
    let (tamarco, plain, ()) = tokio::time::timeout(TIMEOUT, async {
        tokio::join!(
            kafka_consume::consume_tamarco::<Mark>(&tamarco_run),
            kafka_consume::consume_plain::<Mark>(&plain_run),
            drive,
        )
    })
    .await
    .expect("a round within the timeout");
    (
        tamarco.began.to(tamarco.ended, total - 1),
        plain.began.to(plain.ended, total - 1),
    )
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
