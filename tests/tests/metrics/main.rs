//! Metrics: `/metrics` in valid exposition format with user meters and built-in metrics,
//! label escaping, the Carbon reporter across a listener restart, file and stdout reporters,
//! health probes during a graceful stop, and restart policies.
//!
//! The tests by concept: `exposition` (`/metrics` and its label escapes), `reporters` (Carbon,
//! file and stdout, path schemes), `probes` (readiness during a graceful stop) and `restarts`
//! (the resource and service restart policies). The report-server helpers are below.

mod exposition;
mod probes;
mod reporters;
mod restarts;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tamarco::metrics::{Counter, Gauge, Summary};
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco::{Error, Runtime, TaskSet};
use tamarco_tests::{EventLog, Probe, RecordingResource, http_get};

fn with_report_server<S: TaskSet>(service: S, extra: tamarco::serde_json::Value) -> Runtime<S> {
    let runtime = service.runtime().handle_signals(false);
    runtime
        .settings()
        .update_internal(
            json!({"system": {"resources": {"tamarco_http_report_server": {"port": 0}}}}),
        )
        .unwrap();
    runtime.settings().update_internal(extra).unwrap();
    runtime
}

async fn get(addr: std::net::SocketAddr, path: &'static str) -> (u16, String) {
    tokio::task::spawn_blocking(move || http_get(addr, path))
        .await
        .unwrap()
        .unwrap()
}

/// Polls `check` every 10 ms until it holds, for at most `limit`.
async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
