//! Throughput rounds: produce, then consume (client-side and from the start), through tamarco
//! and through plain rdkafka, alternating which side goes first; the medians and their ratio.

use tamarco_tests::kafka::unique_topic;

use crate::consume::{consume_plain, consume_tamarco};
use crate::produce::{produce_plain, produce_tamarco};
use crate::setup::{Cluster, PARTITIONS, WINDOW};

/// `rounds` rounds of `messages` each way; prints each round and the medians.
pub(crate) async fn throughput(broker: &Cluster, messages: u64, rounds: usize) {
    println!(
        "kafka: {messages} messages of 200 bytes of JSON, {rounds} rounds, {WINDOW} in flight, \
         {PARTITIONS} partition, {}",
        broker.name()
    );
    let (mut produce_t, mut produce_p) = (Vec::new(), Vec::new());
    let (mut consume_t, mut consume_p) = (Vec::new(), Vec::new());
    let (mut whole_t, mut whole_p) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let topic = unique_topic("bench");
        broker.create_topic(&topic, PARTITIONS);
        let other = unique_topic("bench");
        broker.create_topic(&other, PARTITIONS);
        // Alternate which side runs first, so that neither always gets the warmer broker.
        if round % 2 == 0 {
            produce_t.push(produce_tamarco(broker, &topic, messages).await);
            produce_p.push(produce_plain(broker, &other, messages).await);
        } else {
            produce_p.push(produce_plain(broker, &other, messages).await);
            produce_t.push(produce_tamarco(broker, &topic, messages).await);
        }
        // Both topics now hold `messages` records. Both sides consume the same one, each in a
        // new group (so each reads it whole), so that they read the same record batches (the
        // two producers may batch differently). Which producer's topic alternates.
        let read = if round % 2 == 0 { &topic } else { &other };
        let mut t = [0.0; 2];
        let mut p = [0.0; 2];
        for (i, pause) in [true, false].into_iter().enumerate() {
            if round % 2 == 0 {
                t[i] = consume_tamarco(broker, read, messages, pause).await;
                p[i] = consume_plain(broker, read, messages, pause).await;
            } else {
                p[i] = consume_plain(broker, read, messages, pause).await;
                t[i] = consume_tamarco(broker, read, messages, pause).await;
            }
        }
        consume_t.push(t[0]);
        whole_t.push(t[1]);
        consume_p.push(p[0]);
        whole_p.push(p[1]);
        println!(
            "  round {}: produce {:.0} vs {:.0} msg/s; consume, client-side {:.0} vs {:.0} msg/s, \
             from start {:.0} vs {:.0} msg/s (tamarco vs plain)",
            round + 1,
            produce_t[round],
            produce_p[round],
            t[0],
            p[0],
            t[1],
            p[1]
        );
    }
    ratio("produce", &mut produce_t, &mut produce_p);
    ratio(
        "consume, client-side (all fetched before the clock starts)",
        &mut consume_t,
        &mut consume_p,
    );
    ratio(
        "consume, from start (connect, join, fetch, handle)",
        &mut whole_t,
        &mut whole_p,
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn ratio(what: &str, tamarco: &mut [f64], plain: &mut [f64]) {
    let (t, p) = (median(tamarco), median(plain));
    println!(
        "{what}: tamarco {t:.0} msg/s, plain rdkafka {p:.0} msg/s, ratio {:.3} (goal >= 0.9)",
        t / p
    );
}
