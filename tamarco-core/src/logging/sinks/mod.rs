//! The sinks other than stdout, and the monitor thread that reports on them.

mod file;
#[cfg(feature = "log-http")]
mod http;
#[cfg(feature = "log-redis")]
mod redis;
mod rotating_file;
mod udp;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::TARGET;
use super::config::Config;
use super::document::DocContext;
use super::sink::{Batch, Sink, SinkCounters};

/// Starts every enabled sink; one that can't start adds a problem naming its key.
pub(crate) fn start(config: &Config, cx: &DocContext, problems: &mut Vec<String>) -> Vec<Sink> {
    let mut sinks = Vec::new();
    let mut add = |result: Result<Sink, String>| match result {
        Ok(sink) => sinks.push(sink),
        Err(problem) => problems.push(problem),
    };
    if let Some(file) = &config.file {
        add(file::start(file, cx));
    }
    if let Some(logstash) = &config.logstash {
        add(udp::start(logstash, cx));
    }
    // Without their cargo feature these are refused before the start (`missing_features`).
    #[cfg(feature = "log-redis")]
    if let Some(redis) = &config.redis {
        add(redis::start(redis, cx));
    }
    #[cfg(feature = "log-http")]
    if let Some(http) = &config.http {
        add(http::start(http, cx));
    }
    sinks
}

/// Spawns a sink's thread; the error names the key.
fn spawn<T: super::sink::Transport>(
    name: &'static str,
    key: &'static str,
    capacity: usize,
    batch: Batch,
    transport: T,
) -> Result<Sink, String> {
    Sink::spawn(name, key, capacity, batch, transport)
        .map_err(|error| format!("logging: setting `{key}`: cannot start the {name} sink: {error}"))
}

/// TLS (Redis `ssl`, `https://` URLs) uses rustls with the ring provider.
#[cfg(any(feature = "log-redis", feature = "log-http"))]
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// What the monitor reports about a sink.
#[derive(Debug)]
pub(crate) enum Report {
    /// The sink can't be reached, and why.
    Down(String),
    /// The sink can be reached again.
    Up,
    /// Records were lost since the last report.
    Dropped(u64),
}

/// Stops the monitor thread when dropped (with the pipeline that owns it).
pub(crate) struct MonitorGuard(Arc<AtomicBool>);

impl Drop for MonitorGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

struct Watched {
    name: &'static str,
    key: &'static str,
    shared: Weak<SinkCounters>,
    was_up: Option<bool>,
    reported_dropped: u64,
    reported_failed: u64,
    warned: u64,
}

/// Every 100 ms: reports sinks going down or up, and adds new drops to the metrics counter
/// `log_records_dropped_total{sink, reason}`; every `warn_every`, warns about the drops.
pub(crate) fn monitor(sinks: &[Sink], warn_every: Duration) -> MonitorGuard {
    let stop = Arc::new(AtomicBool::new(false));
    let mut watched: Vec<Watched> = sinks
        .iter()
        .map(|sink| Watched {
            name: sink.name,
            key: sink.key,
            shared: Arc::downgrade(&sink.shared),
            was_up: None,
            reported_dropped: 0,
            reported_failed: 0,
            warned: 0,
        })
        .collect();
    let stopped = Arc::clone(&stop);
    let spawned = std::thread::Builder::new()
        .name("tamarco-log-monitor".into())
        .spawn(move || {
            let started = Instant::now();
            let mut next_warning = Instant::now() + warn_every;
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let warn_now = Instant::now() >= next_warning;
                if warn_now {
                    next_warning = Instant::now() + warn_every;
                }
                for sink in &mut watched {
                    let Some(shared) = sink.shared.upgrade() else {
                        continue;
                    };
                    check(sink, &shared, warn_now, started.elapsed());
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(target: TARGET, "logging: cannot start the monitor thread: {error}");
    }
    MonitorGuard(stop)
}

fn check(sink: &mut Watched, shared: &SinkCounters, warn_now: bool, running: Duration) {
    let up = shared.connected.load(Ordering::Relaxed);
    let attempted = shared.last_error.lock().expect("sink lock").clone();
    match (sink.was_up, up) {
        (Some(false) | None, true) => {
            if sink.was_up.is_some() {
                report(sink.name, sink.key, Report::Up);
            }
            sink.was_up = Some(true);
        }
        (Some(true) | None, false) => {
            // Not connected yet is only news once the first attempt failed.
            if let Some(error) = attempted {
                report(sink.name, sink.key, Report::Down(error));
                sink.was_up = Some(false);
            } else if running > Duration::from_secs(5) {
                sink.was_up = Some(false);
            }
        }
        _ => {}
    }
    let dropped = shared.dropped.load(Ordering::Relaxed);
    let failed = shared.failed.load(Ordering::Relaxed);
    let new_dropped = dropped - sink.reported_dropped;
    let new_failed = failed - sink.reported_failed;
    if new_dropped > 0 {
        metrics::counter!("log_records_dropped_total", "sink" => sink.name, "reason" => "queue_full")
            .increment(new_dropped);
    }
    if new_failed > 0 {
        metrics::counter!("log_records_dropped_total", "sink" => sink.name, "reason" => "delivery_failed")
            .increment(new_failed);
    }
    sink.reported_dropped = dropped;
    sink.reported_failed = failed;
    if warn_now && dropped + failed > sink.warned {
        report(
            sink.name,
            sink.key,
            Report::Dropped(dropped + failed - sink.warned),
        );
        sink.warned = dropped + failed;
    }
}

/// Logs, from logging's own thread, a change in a sink's reachability or its drops.
fn report(sink: &str, key: &str, event: Report) {
    match event {
        Report::Down(error) => tracing::error!(
            target: TARGET,
            sink,
            "logging sink `{sink}` (setting `{key}`) is unreachable: {error}; its records are dropped until it comes back"
        ),
        Report::Up => {
            tracing::info!(target: TARGET, sink, "logging sink `{sink}` is reachable");
        }
        Report::Dropped(count) => tracing::warn!(
            target: TARGET,
            sink,
            dropped = count,
            "logging sink `{sink}` dropped {count} records: it was slow or down"
        ),
    }
}
