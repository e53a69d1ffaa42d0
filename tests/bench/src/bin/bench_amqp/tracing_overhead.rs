//! `bench_amqp tracing`: the tamarco push/pull rounds with tracing off, at sampling 0 and at
//! sampling 1, exporting to an OTLP receiver in this process that discards what it gets.
//! `bench_amqp count VARIANT N`: one such round alone (for callgrind,
//! `tests/bench/amqp_tracing_instructions.sh`).

use tamarco::amqp::Pattern;
use tamarco::serde_json::json;
use tamarco::tokio;
use tamarco_bench::stats::median;
use tamarco_tests::amqp::{cleanup, unique_prefix};

use crate::push_pull::tamarco_round;

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

/// One tamarco push/pull round of `n` messages with tracing `variant` (`off`, or the sampling
/// ratio), exporting to the receiver at `BENCH_AMQP_RECEIVER` (a URL; without it, one in this
/// process, whose work is then counted with the service's).
pub(crate) fn count_round(variant: &str, n: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let prefix = unique_prefix("bench_count");
        let tracing = match variant {
            "off" => json!({}),
            ratio => {
                let ratio: f64 = ratio.parse().expect("VARIANT: off or a sampling ratio");
                let collector = match std::env::var("BENCH_AMQP_RECEIVER") {
                    Ok(url) => url,
                    Err(_) => discarding_receiver().await,
                };
                json!({"enabled": true, "endpoint": collector, "sampling_ratio": ratio})
            }
        };
        tamarco_round(&prefix, n, &tracing).await;
        cleanup(&prefix, &[(Pattern::PushPull, "bench")]).await;
    });
}

/// The tamarco push/pull rounds with tracing off, at sampling 0 and at sampling 1.
pub(crate) fn tracing_rounds(n: u64, rounds: usize) {
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
        let medians: Vec<f64> = results.iter_mut().map(|v| median(v)).collect();
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
