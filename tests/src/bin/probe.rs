//! A service for the process-level tests (signals, exit codes), chosen by `PROBE_MODE`:
//!
//! - `hello`: a timer and the report server on a free port; stops on a signal.
//! - `fail_start`: the resource `broken` fails in start after `first` started.
//! - `slow_stop`: a resource takes 60 s to stop, the grace period is 0.3 s.
//! - `stuck_stop`: a resource takes 60 s to stop, the grace period is 60 s.
//! - `metrics_reporters`: metrics sent every 50 ms to stdout and to the file `PROBE_METRICS_FILE`.
//! - `metrics_prefix`: the same with `path_scheme: tamarco` and the original's stdout `prefix`.
//! - `busy`: the task `spin_the_profiled_loop` burns CPU (for the profiler test).
//! - `restart_service`: `broken` fails after start; the policy restarts the whole service.
//! - `overrun`: at the stop, the task `ignores_the_stop` never looks at its context, the task
//!   `stuck_in_blocking_code` sleeps in a runtime worker, and `broken` takes 60 s to stop; the
//!   grace period is 1 s, each task gets 0.3 s and the final stop 0.5 s.
//! - `summary_flood`: 10 million observations of a summary, nobody scraping `/metrics`; then a
//!   line says by how much the peak resident memory grew.

use std::time::Duration;

use tamarco::Phase;
use tamarco::metrics::{NO_LABELS, Summary};
use tamarco::prelude::*;
use tamarco::serde_json::json;
use tamarco_tests::{EventLog, RecordingResource};

#[microservice(name = "probe")]
struct Probe {
    #[resource]
    first: RecordingResource,
    #[resource(depends_on = [first])]
    broken: RecordingResource,
}

#[microservice]
impl Probe {
    #[task_timer(interval = "50ms", autostart)]
    async fn tick(&self) {
        tamarco::tracing::debug!("tick");
    }

    /// In mode `busy`, spins (yielding now and then) until the stop, so that a CPU profile
    /// names this function; in other modes it ends at once.
    #[task]
    async fn spin_the_profiled_loop(&self, cx: TaskContext) {
        if std::env::var("PROBE_MODE").as_deref() != Ok("busy") {
            return;
        }
        while !cx.is_stopping() {
            std::hint::black_box(spin_the_profiled_loop_work());
            tamarco::tokio::task::yield_now().await;
        }
    }

    /// In mode `overrun`, runs on after the stop, as a task with a bug would.
    #[task]
    async fn ignores_the_stop(&self, _cx: TaskContext) {
        if overrun() {
            loop {
                tamarco::tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// In mode `overrun`, blocks its runtime worker for a minute: it cannot be cancelled.
    #[task]
    async fn stuck_in_blocking_code(&self) {
        if overrun() {
            std::thread::sleep(Duration::from_secs(60));
        }
    }

    #[task]
    async fn flood(&self) -> Result<(), BoxError> {
        if std::env::var("PROBE_MODE").as_deref() == Ok("summary_flood") {
            let grew = tamarco::tokio::task::spawn_blocking(summary_flood).await?;
            println!("summary flood: peak memory grew by {grew:.1} MiB");
        }
        Ok(())
    }
}

fn overrun() -> bool {
    std::env::var("PROBE_MODE").as_deref() == Ok("overrun")
}

#[inline(never)]
fn spin_the_profiled_loop_work() -> u64 {
    (0..200_000u64).fold(0, |acc, i| acc.wrapping_mul(31).wrapping_add(i))
}

/// Observes a summary 10 million times, about 10,000 per millisecond (a very busy service,
/// not a tight loop); returns by how many MiB the peak resident memory grew meanwhile.
fn summary_flood() -> f64 {
    let peak_kib = || -> f64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let latency = Summary::new("flood_seconds", NO_LABELS);
    let before = peak_kib();
    for batch in 0..1000 {
        for i in 0..10_000 {
            latency.observe(f64::from(batch * 10_000 + i) * 1e-9);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    (peak_kib() - before) / 1024.0
}

fn main() -> ExitStatus {
    let mode = std::env::var("PROBE_MODE").unwrap_or_default();
    let log = EventLog::default();
    let mut broken = RecordingResource::new(&log);
    let mut grace = 30.0;
    let mut extra = json!({});
    match mode.as_str() {
        "fail_start" => broken = broken.failing_in(Phase::Start),
        "slow_stop" => {
            broken = broken.slow_to_stop(Duration::from_secs(60));
            grace = 0.3;
        }
        "overrun" => {
            broken = broken.slow_to_stop(Duration::from_secs(60));
            grace = 1.0;
            extra = json!({"system": {"shutdown": {
                "thread_join_timeout_seconds": 0.3,
                "final_stop_seconds": 0.5
            }}});
        }
        "stuck_stop" => {
            broken = broken.slow_to_stop(Duration::from_secs(60));
            grace = 60.0;
        }
        "metrics_reporters" => {
            let path = std::env::var("PROBE_METRICS_FILE").expect("PROBE_METRICS_FILE");
            extra = json!({"system": {"resources": {"metrics": {
                "collect_frequency": 0.05,
                "handlers": {"stdout": {"enabled": true}, "file": {"enabled": true, "path": path}}
            }}}});
        }
        "metrics_prefix" => {
            let path = std::env::var("PROBE_METRICS_FILE").expect("PROBE_METRICS_FILE");
            extra = json!({"system": {"resources": {"metrics": {
                "collect_frequency": 0.05,
                "path_scheme": "tamarco",
                "handlers": {
                    "stdout": {"enabled": true, "prefix": "custom.prefix"},
                    "file": {"enabled": true, "path": path}
                }
            }}}});
        }
        "summary_flood" => {
            extra = json!({"system": {"resources": {"metrics": {"collect_frequency": 0.02}}}});
        }
        "restart_service" => {
            broken = broken.failing_once_started();
            extra = json!({"system": {"resources": {"status": {"restart_policy": {
                "resources": {"restart_microservice_on_failure": "all"},
                "check_interval_seconds": 0.05
            }}}}});
        }
        _ => {}
    }
    let probe = Probe {
        first: RecordingResource::new(&log),
        broken,
    };
    let settings = json!({"system": {
        "shutdown": {"grace_period_seconds": grace},
        "resources": {"tamarco_http_report_server": {"port": 0}}
    }});
    let runtime = probe
        .runtime()
        .build_info(tamarco::build_info!())
        .with_settings(settings)
        .expect("valid settings");
    runtime
        .settings()
        .update_internal(extra)
        .expect("valid settings");
    runtime.run()
}
