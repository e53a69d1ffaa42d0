//! The user-facing meters: thin, cloneable handles on the `metrics` registry.

use std::future::Future;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use metrics::{IntoLabels, KeyName};

/// A value that only goes up: requests served, errors seen.
///
/// ```
/// use tamarco_core::metrics::{Counter, NO_LABELS};
/// let requests = Counter::new("requests_total", &[("route", "/orders")]);
/// requests.increment();
/// let parsed: Result<u32, _> = Counter::new("parse_errors_total", NO_LABELS).count_errors(|| "7".parse());
/// # assert_eq!(parsed, Ok(7));
/// ```
#[derive(Clone, Debug)]
pub struct Counter(metrics::Counter);

impl Counter {
    /// The counter named `name` with `labels` (`&[("route", "/orders")]`, or owned `String`s);
    /// the same name and labels give the same counter. Static strings cost no allocation.
    pub fn new(name: impl Into<KeyName>, labels: impl IntoLabels) -> Self {
        Counter(metrics::counter!(name, labels))
    }

    /// [`new`](Counter::new), with the unit the Carbon, file and stdout reporters show
    /// (`requests`), as the Python original's meters took it.
    pub fn with_unit(name: impl Into<KeyName>, unit: &str, labels: impl IntoLabels) -> Self {
        let name = name.into();
        super::unit::set_unit(name.as_str(), unit);
        Counter::new(name, labels)
    }

    /// Adds one.
    pub fn increment(&self) {
        self.0.increment(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.increment(n);
    }

    /// Counts one call of `f`.
    pub fn count_calls<T>(&self, f: impl FnOnce() -> T) -> T {
        self.increment();
        f()
    }

    /// Counts one call of the future.
    pub async fn count_calls_async<F: Future>(&self, future: F) -> F::Output {
        self.increment();
        future.await
    }

    /// Counts one if `f` returns an error.
    pub fn count_errors<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let result = f();
        if result.is_err() {
            self.increment();
        }
        result
    }

    /// Counts one if the future ends in an error.
    pub async fn count_errors_async<T, E>(
        &self,
        future: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let result = future.await;
        if result.is_err() {
            self.increment();
        }
        result
    }
}

/// A value that goes up and down: queue depth, connections, last run time.
#[derive(Clone, Debug)]
pub struct Gauge(metrics::Gauge);

impl Gauge {
    /// The gauge named `name` with `labels`; the same name and labels give the same gauge.
    pub fn new(name: impl Into<KeyName>, labels: impl IntoLabels) -> Self {
        Gauge(metrics::gauge!(name, labels))
    }

    /// [`new`](Gauge::new), with the unit the Carbon, file and stdout reporters show.
    pub fn with_unit(name: impl Into<KeyName>, unit: &str, labels: impl IntoLabels) -> Self {
        let name = name.into();
        super::unit::set_unit(name.as_str(), unit);
        Gauge::new(name, labels)
    }

    /// Adds `value`.
    pub fn increment(&self, value: f64) {
        self.0.increment(value);
    }

    /// Subtracts `value`.
    pub fn decrement(&self, value: f64) {
        self.0.decrement(value);
    }

    /// Sets the value.
    pub fn set(&self, value: f64) {
        self.0.set(value);
    }

    /// Sets the value to the current Unix time in seconds.
    pub fn set_to_current_time(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.0.set(now.as_secs_f64());
    }

    /// Runs `f` and sets the gauge to how long it took, in seconds.
    pub fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let began = Instant::now();
        let value = f();
        self.set(began.elapsed().as_secs_f64());
        value
    }

    /// Awaits the future and sets the gauge to how long it took, in seconds.
    pub async fn time_async<F: Future>(&self, future: F) -> F::Output {
        let began = Instant::now();
        let value = future.await;
        self.set(began.elapsed().as_secs_f64());
        value
    }
}

/// Observations summarised by quantiles (0.5, 0.75, 0.9, 0.95, 0.99), a sum and a count:
/// latencies, sizes.
#[derive(Clone, Debug)]
pub struct Summary(metrics::Histogram);

impl Summary {
    /// The summary named `name` with `labels`; the same name and labels give the same summary.
    pub fn new(name: impl Into<KeyName>, labels: impl IntoLabels) -> Self {
        Summary(metrics::histogram!(name, labels))
    }

    /// [`new`](Summary::new), with the unit the Carbon, file and stdout reporters show.
    pub fn with_unit(name: impl Into<KeyName>, unit: &str, labels: impl IntoLabels) -> Self {
        let name = name.into();
        super::unit::set_unit(name.as_str(), unit);
        Summary::new(name, labels)
    }

    /// Records one observation.
    pub fn observe(&self, value: f64) {
        self.0.record(value);
    }

    /// Runs `f` and observes how long it took, in seconds.
    pub fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let _timer = self.start_timer();
        f()
    }

    /// Awaits the future and observes how long it took, in seconds.
    pub async fn time_async<F: Future>(&self, future: F) -> F::Output {
        let _timer = self.start_timer();
        future.await
    }

    /// Starts timing a block: the time until the guard drops is observed, in seconds.
    pub fn start_timer(&self) -> SummaryTimer {
        SummaryTimer {
            summary: self.0.clone(),
            began: Instant::now(),
        }
    }
}

/// Observes, when dropped, the seconds since [`Summary::start_timer`].
#[derive(Debug)]
#[must_use = "the time is observed when the timer drops"]
pub struct SummaryTimer {
    summary: metrics::Histogram,
    began: Instant,
}

impl Drop for SummaryTimer {
    fn drop(&mut self) {
        self.summary.record(self.began.elapsed().as_secs_f64());
    }
}
