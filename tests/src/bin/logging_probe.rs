//! A service for the logging tests (`tests/tests/logging/`). The global `tracing` subscriber is
//! process-wide, so each scenario runs in its own process. `LOGPROBE_SETTINGS` (JSON) is merged
//! into the in-code settings; `LOGPROBE_SCENARIO` picks what it logs:
//!
//! - `emit`: the original docs' example record (tags as a map); a record with tags, fields
//!   and a span; one with secrets; one with an error chain;
//!   a debug record; then stops.
//! - `profile`: debug records around changes of `system.logging.profile` at run time.
//! - `batch`: waits, logs 12 records at once, waits 1.5 s, then stops (HTTP batching).
//! - `spam`: logs `LOGPROBE_COUNT` records as fast as it can, timing each call; prints the
//!   timings, waits `LOGPROBE_WAIT_MS`, then stops.
//! - `trickle`: logs `LOGPROBE_COUNT` numbered records 100 ms apart, then stops.
//! - `rotate`: logs `LOGPROBE_COUNT` numbered records, then stops.
//!
//! It ends by printing `LOGPROBE_STATS` lines, one per sink, from `tamarco::logging::stats()`.

use std::error::Error;
use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tamarco::logging::Secret;
use tamarco::prelude::*;
use tamarco::serde_json::{self, Value, json};
use tamarco::tracing::{debug, error, info, info_span};

#[microservice(name = "logprobe")]
#[derive(Default)]
struct LogProbe {}

#[microservice]
impl LogProbe {}

/// An error with a cause, for the error chain.
#[derive(Debug)]
struct Declined(std::io::Error);

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("card declined")
    }
}

impl Error for Declined {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

async fn scenario(name: &str, settings: &Settings) {
    match name {
        "emit" => {
            // The original's docs' example: tags as a map, and an extra field.
            info!(
                tags = "tag=tag_value",
                extra_field = "extra_field_value",
                "logger line"
            );
            let span = info_span!("request", request_id = "r-1", tags = "api");
            let _guard = span.enter();
            info!(target: "logprobe", tags = "billing,slow", order = 7, user = "ann", ratio = 0.5, ok = true, "order paid");
            let pin = Secret::new("pw-secret-77");
            info!(
                password = "hunter2-secret",
                auth_token = "tok-secret-42",
                api_key = %Secret::new("sk-secret-99"),
                "login for ann with {pin}"
            );
            let err = Declined(std::io::Error::other("insufficient funds"));
            error!(error = &err as &dyn Error, order = 7, "payment failed");
            debug!("a debug record");
        }
        "profile" => {
            debug!("before-change");
            settings
                .set_internal("system.logging.profile", "DEVELOP")
                .unwrap();
            debug!("after-change");
            settings
                .set_internal("system.logging.profile", "PRODUCTION")
                .unwrap();
            debug!("after-revert");
            settings
                .set_internal("system.microservices.logprobe.logging.profile", "TESTING")
                .unwrap();
            debug!("after-override");
            info!("profile-done");
        }
        "batch" => {
            // Let the start's own records go out in their own batch first.
            tamarco::tokio::time::sleep(Duration::from_millis(1500)).await;
            for n in 0..12 {
                info!(n, "batch-record");
            }
            tamarco::tokio::time::sleep(Duration::from_millis(1500)).await;
            println!("LOGPROBE_STOPPING {}", unix_ms());
        }
        "spam" => {
            let count = env_number("LOGPROBE_COUNT", 20_000);
            let mut took = Vec::with_capacity(count as usize);
            let began = Instant::now();
            for n in 0..count {
                let at = Instant::now();
                info!(n, "spam-record");
                took.push(at.elapsed());
            }
            let total = began.elapsed();
            took.sort();
            let micros = |d: Duration| d.as_secs_f64() * 1e6;
            println!(
                "LOGPROBE_TIMING count={count} total_ms={} median_us={:.2} p99_us={:.2} max_us={:.2}",
                total.as_millis(),
                micros(took[took.len() / 2]),
                micros(took[took.len() * 99 / 100]),
                micros(took[took.len() - 1]),
            );
            let wait = env_number("LOGPROBE_WAIT_MS", 0);
            tamarco::tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        "trickle" => {
            for n in 0..env_number("LOGPROBE_COUNT", 40) {
                info!(n, "trickle-record");
                tamarco::tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        "rotate" => {
            for n in 0..env_number("LOGPROBE_COUNT", 200) {
                info!(
                    n,
                    padding = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    "rotate-record"
                );
            }
        }
        other => panic!("unknown LOGPROBE_SCENARIO {other:?}"),
    }
}

fn main() -> ExitStatus {
    let name = std::env::var("LOGPROBE_SCENARIO").unwrap_or_else(|_| "emit".into());
    let extra: Value = match std::env::var("LOGPROBE_SETTINGS") {
        Ok(text) => serde_json::from_str(&text).expect("LOGPROBE_SETTINGS is JSON"),
        Err(_) => json!({}),
    };
    let runtime = LogProbe::default()
        .runtime()
        .with_settings(tamarco_tests::quiet_settings())
        .and_then(|r| r.with_settings(extra))
        .expect("valid settings")
        .handle_signals(false);
    let tokio = tamarco::tokio::runtime::Runtime::new().expect("a tokio runtime");
    let status = tokio.block_on(async {
        let running = match runtime.start().await {
            Ok(running) => running,
            Err(error) => {
                eprintln!("start failed: {}", tamarco::error_chain(&error));
                return ExitStatus::Failure;
            }
        };
        scenario(&name, running.settings()).await;
        let outcome = running.stop().await;
        ExitStatus::of(&outcome)
    });
    for s in tamarco::logging::stats() {
        println!(
            "LOGPROBE_STATS sink={} sent={} dropped={} failed={} queued={} connected={}",
            s.name, s.sent, s.dropped, s.failed, s.queued, s.connected
        );
    }
    status
}
