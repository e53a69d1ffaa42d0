//! Consume throughput: a tamarco handler input against a plain rdkafka `StreamConsumer` loop
//! doing the same work (both in `tamarco_bench::kafka_consume`), in messages per second.

use std::time::{Duration, Instant};

use tamarco_bench::kafka_consume::{self, Hold, Pass, Run};

use crate::setup::Cluster;

/// How long the consumers wait after the first of `messages` records, so that the rest is
/// fetched before the client-side clock starts: 3 s on the mock cluster; on tansu, which
/// served about 20000 records a second from SQLite on a 2-core machine (so 50000 took most of
/// 3 s), 3 s more per 10000 records. (With it, the tamarco side's rounds spread 1.12x where
/// they had spread 1.69x; the plain side's spread 1.65x where they had spread 1.49x: most of
/// the noise is the machine's, over a clock of some 50 ms.)
fn prefetch(broker: &Cluster, messages: u64) -> Duration {
    match broker {
        Cluster::Mock(_) => Duration::from_secs(3),
        Cluster::Tansu(_) => Duration::from_secs(3 + 3 * messages.div_ceil(10_000)),
    }
}

const TIMEOUT: Duration = Duration::from_secs(300);

/// Consumes `messages` records with a handler input, and returns messages per second. With
/// `pause`, the clock runs from the end of a pause after the first message (everything
/// fetched by then) to the last: the client's own cost. Without, from the start of the
/// resource to the last message: connect, join, fetch and handle.
pub(crate) async fn consume_tamarco(
    broker: &Cluster,
    topic: &str,
    messages: u64,
    pause: bool,
) -> f64 {
    let bootstrap = broker.bootstrap();
    let topics = [topic];
    let pass =
        kafka_consume::consume_tamarco(&run(broker, &bootstrap, &topics, messages, pause)).await;
    rate(pass, messages, pause)
}

/// The same work with plain rdkafka; the clocks as for [`consume_tamarco`].
pub(crate) async fn consume_plain(
    broker: &Cluster,
    topic: &str,
    messages: u64,
    pause: bool,
) -> f64 {
    let bootstrap = broker.bootstrap();
    let topics = [topic];
    let pass =
        kafka_consume::consume_plain(&run(broker, &bootstrap, &topics, messages, pause)).await;
    rate(pass, messages, pause)
}

/// A pass over `topics` of `broker`; with a `pause` after the first record (see
/// [`prefetch`]), or none.
fn run<'a>(
    broker: &Cluster,
    bootstrap: &'a str,
    topics: &'a [&'a str],
    messages: u64,
    pause: bool,
) -> Run<'a> {
    Run {
        bootstrap,
        topics,
        messages,
        hold: match pause {
            true => Hold::For(prefetch(broker, messages)),
            false => Hold::None,
        },
        timeout: TIMEOUT,
    }
}

fn rate(pass: Pass<Instant>, messages: u64, pause: bool) -> f64 {
    if pause {
        (messages - 1) as f64 / pass.ended.duration_since(pass.began).as_secs_f64()
    } else {
        messages as f64 / pass.ended.duration_since(pass.started).as_secs_f64()
    }
}
