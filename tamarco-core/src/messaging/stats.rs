//! Per-input counts: atomics the engine bumps on its path (no allocation, no lock), shown in
//! `/status` and exported as metrics. A worker keeps the counts of the messages it takes one
//! after another in a [`Tally`] and adds them up in one update before it waits.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::{Value, json};

/// What happened to the messages of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    Received,
    Handled,
    Retried,
    DeadLettered,
    Requeued,
    /// Decode, header or handler panics and errors, each attempt.
    Failed,
}

impl Count {
    const ALL: [Count; 6] = [
        Count::Received,
        Count::Handled,
        Count::Retried,
        Count::DeadLettered,
        Count::Requeued,
        Count::Failed,
    ];

    const fn as_str(self) -> &'static str {
        match self {
            Count::Received => "received",
            Count::Handled => "handled",
            Count::Retried => "retried",
            Count::DeadLettered => "dead_lettered",
            Count::Requeued => "requeued",
            Count::Failed => "failed",
        }
    }
}

/// The counters of one input, and their metric handles (registered once, when it starts).
#[derive(Debug, Default)]
pub(crate) struct InputStats {
    counts: [AtomicU64; 6],
    metrics: std::sync::OnceLock<[metrics::Counter; 6]>,
    pub(crate) consuming: AtomicBool,
    pub(crate) in_flight: AtomicU64,
}

impl InputStats {
    /// Registers `tamarco_messages_total{resource, input, outcome}` for this input.
    pub(crate) fn register_metrics(&self, resource: &str, input: &str) {
        let _ = self.metrics.get_or_init(|| {
            Count::ALL.map(|count| {
                metrics::counter!(
                    "tamarco_messages_total",
                    "resource" => resource.to_owned(),
                    "input" => input.to_owned(),
                    "outcome" => count.as_str(),
                )
            })
        });
    }

    pub(crate) fn add(&self, count: Count) {
        self.add_many(count, 1);
    }

    fn add_many(&self, count: Count, n: u64) {
        if n == 0 {
            return;
        }
        let i = count as usize;
        self.counts[i].fetch_add(n, Ordering::Relaxed);
        if let Some(metrics) = self.metrics.get() {
            metrics[i].increment(n);
        }
    }

    pub(crate) fn get(&self, count: Count) -> u64 {
        self.counts[count as usize].load(Ordering::Relaxed)
    }

    /// The counts as `/status` shows them.
    pub(crate) fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for count in Count::ALL {
            map.insert(count.as_str().to_owned(), json!(self.get(count)));
        }
        map.insert(
            "in_flight".to_owned(),
            json!(self.in_flight.load(Ordering::Relaxed)),
        );
        map.insert(
            "consuming".to_owned(),
            json!(self.consuming.load(Ordering::Relaxed)),
        );
        Value::Object(map)
    }
}

/// The messages a worker received and handled since it last [flushed](Tally::flush): it
/// flushes before it waits (for the consumer, a handler or a yield) and when dropped, so the
/// shared counts lag only while it takes ready messages back to back, and a run of them costs
/// one update of each count instead of one per message.
#[derive(Debug)]
pub(crate) struct Tally<'a> {
    stats: &'a InputStats,
    pub(crate) received: u64,
    pub(crate) handled: u64,
}

impl<'a> Tally<'a> {
    pub(crate) fn new(stats: &'a InputStats) -> Self {
        Tally {
            stats,
            received: 0,
            handled: 0,
        }
    }

    /// Adds what it holds to the input's counts.
    pub(crate) fn flush(&mut self) {
        self.stats
            .add_many(Count::Received, std::mem::take(&mut self.received));
        self.stats
            .add_many(Count::Handled, std::mem::take(&mut self.handled));
    }
}

impl Drop for Tally<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}
