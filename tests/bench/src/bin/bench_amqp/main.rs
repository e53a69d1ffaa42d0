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
//! process that discards what it gets), alternately. `bench_amqp count VARIANT N` runs one
//! tamarco round of N messages with tracing `off`, or on at the sampling ratio VARIANT (for
//! `tests/bench/amqp_tracing_instructions.sh`, which counts its instructions).
//!
//! The parts: `setup` (the payload, the service, CPU time), `push_pull` (a round through
//! tamarco and one through plain lapin), `request_response` and `tracing_overhead`.

mod push_pull;
mod request_response;
mod setup;
mod tracing_overhead;

use std::time::Duration;

use tamarco::amqp::Pattern;
use tamarco::serde_json::json;
use tamarco::tokio;
use tamarco_tests::amqp::{cleanup, unique_prefix};

use push_pull::{Round, lapin_round, tamarco_round};
use request_response::{REQUESTERS, request_response};
use setup::{PREFETCH, WINDOW, payload};
use tracing_overhead::{count_round, tracing_rounds};

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("tracing") {
        args.next();
        let n: u64 = args.next().map_or(50_000, |a| a.parse().expect("MESSAGES"));
        let rounds: usize = args.next().map_or(3, |a| a.parse().expect("ROUNDS"));
        return tracing_rounds(n, rounds);
    }
    if args.peek().map(String::as_str) == Some("count") {
        args.next();
        let variant = args.next().expect("VARIANT: off or a sampling ratio");
        let n: u64 = args.next().map_or(2_000, |a| a.parse().expect("N"));
        return count_round(&variant, n);
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
