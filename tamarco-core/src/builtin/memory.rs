//! The memory analyzer, always on: the process's resident and virtual size and the tokio
//! runtime figures that stable tokio offers (workers, global queue depth, alive tasks, and the
//! share of time the workers were busy). The `metrics` resource records them as gauges; the
//! `status` entry of `/status` shows them.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// One reading of the process and its tokio runtime.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Snapshot {
    /// Resident set size (`VmRSS`), bytes.
    pub(crate) rss_bytes: Option<u64>,
    /// Virtual size (`VmSize`), bytes.
    pub(crate) virtual_bytes: Option<u64>,
    /// The tokio runtime of the caller, if any.
    pub(crate) runtime: Option<RuntimeStats>,
    /// jemalloc's counters, when it is the global allocator (feature `jemalloc`).
    #[cfg(feature = "jemalloc")]
    pub(crate) jemalloc: Option<super::heap::Stats>,
}

/// Stable tokio runtime metrics.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RuntimeStats {
    pub(crate) workers: usize,
    pub(crate) alive_tasks: usize,
    pub(crate) global_queue_depth: usize,
    /// Busy time of all workers over (elapsed time × workers) since the previous reading at
    /// least [`BUSY_WINDOW`] ago, 0 to 1; `None` until there are two readings.
    pub(crate) busy_ratio: Option<f64>,
}

/// Readings closer together than this reuse the last busy ratio, so that frequent `/status`
/// requests do not shrink the window to noise.
const BUSY_WINDOW: Duration = Duration::from_secs(1);

/// The last busy-time reading and the ratio computed from it.
static BUSY: Mutex<Option<(Instant, Duration, Option<f64>)>> = Mutex::new(None);

/// Reads the process and the current tokio runtime now.
pub(crate) fn snapshot() -> Snapshot {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    Snapshot {
        rss_bytes: status_kib(&status, "VmRSS:").map(|kib| kib * 1024),
        virtual_bytes: status_kib(&status, "VmSize:").map(|kib| kib * 1024),
        runtime: tokio::runtime::Handle::try_current()
            .ok()
            .map(|runtime| runtime_stats(&runtime.metrics())),
        #[cfg(feature = "jemalloc")]
        jemalloc: super::heap::stats(),
    }
}

fn runtime_stats(metrics: &tokio::runtime::RuntimeMetrics) -> RuntimeStats {
    let workers = metrics.num_workers();
    let busy: Duration = (0..workers)
        .map(|worker| metrics.worker_total_busy_duration(worker))
        .sum();
    let now = Instant::now();
    let mut last = BUSY.lock().expect("busy lock");
    let busy_ratio = match *last {
        Some((at, _, ratio)) if now.duration_since(at) < BUSY_WINDOW => ratio,
        Some((at, before, _)) => {
            let ratio = busy.saturating_sub(before).as_secs_f64()
                / (now.duration_since(at).as_secs_f64() * workers.max(1) as f64);
            let ratio = Some(ratio.clamp(0.0, 1.0));
            *last = Some((now, busy, ratio));
            ratio
        }
        None => {
            *last = Some((now, busy, None));
            None
        }
    };
    RuntimeStats {
        workers,
        alive_tasks: metrics.num_alive_tasks(),
        global_queue_depth: metrics.global_queue_depth(),
        busy_ratio,
    }
}

/// A `/proc/self/status` field in KiB.
fn status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_memory_and_the_runtime() {
        let first = snapshot();
        assert!(first.rss_bytes.unwrap() > 0);
        assert!(first.virtual_bytes.unwrap() >= first.rss_bytes.unwrap());
        assert_eq!(first.runtime.as_ref().unwrap().workers, 2);
        *BUSY.lock().unwrap() = None;
        let _ = snapshot();
        let earlier = BUSY
            .lock()
            .unwrap()
            .map(|(at, busy, ratio)| (at - BUSY_WINDOW, busy, ratio));
        *BUSY.lock().unwrap() = earlier;
        let ratio = snapshot().runtime.unwrap().busy_ratio.unwrap();
        assert!((0.0..=1.0).contains(&ratio), "{ratio}");
    }
}
