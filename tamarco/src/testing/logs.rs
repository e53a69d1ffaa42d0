//! Captured log records of one test service ([`Logs`]). The process has one global subscriber
//! and `cargo test` runs tests on parallel threads, so a record cannot say which service made
//! it; but the threads that made it can. A service started with
//! [`capture_logs`](super::TestServiceBuilder::capture_logs) runs on a tokio runtime of its
//! own, every thread of which (workers and blocking pool) has [`Capture`] as its default
//! subscriber: whatever the service's tasks log (they spawn onto that runtime) is recorded there,
//! and nothing another test's service logs is.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tamarco_core::secret::is_secret_name;
use tokio::sync::Notify;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Subscriber;
use tracing::{Event, Level, Metadata};

use super::TestError;

/// One captured log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Its level.
    pub level: Level,
    /// Its target (`tamarco::messaging`, your crate's module path...).
    pub target: String,
    /// Its message.
    pub message: String,
    /// Its other fields, as text; those with a secret's name (`password`...) read `[redacted]`.
    pub fields: BTreeMap<String, String>,
}

impl LogRecord {
    /// The field `name`, as text.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

impl fmt::Display for LogRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.level, self.target, self.message)?;
        for (name, value) in &self.fields {
            write!(f, " {name}={value}")?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Records {
    records: Mutex<Vec<LogRecord>>,
    added: Notify,
}

/// The log records of one test service, from its start on (DEBUG and above). Cheap to clone.
#[derive(Clone)]
pub struct Logs {
    service: &'static str,
    records: Arc<Records>,
    timeout: Duration,
}

impl fmt::Debug for Logs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logs")
            .field("service", &self.service)
            .field("records", &self.records().len())
            .finish()
    }
}

impl Logs {
    pub(super) fn new(service: &'static str, timeout: Duration) -> Self {
        Logs {
            service,
            records: Arc::default(),
            timeout,
        }
    }

    /// Every record so far, oldest first.
    pub fn records(&self) -> Vec<LogRecord> {
        self.records.records.lock().expect("records lock").clone()
    }

    /// The records so far whose message contains `text`.
    pub fn containing(&self, text: &str) -> Vec<LogRecord> {
        let records = self.records.records.lock().expect("records lock");
        records
            .iter()
            .filter(|r| r.message.contains(text))
            .cloned()
            .collect()
    }

    /// Waits (within the service's time limit) for a record that `matches`, and returns it.
    pub async fn wait_for(
        &self,
        what: &str,
        matches: impl Fn(&LogRecord) -> bool,
    ) -> Result<LogRecord, TestError> {
        let wait = async {
            loop {
                let added = self.records.added.notified();
                tokio::pin!(added);
                added.as_mut().enable();
                if let Some(found) = self.records().into_iter().find(&matches) {
                    return found;
                }
                added.await;
            }
        };
        tokio::time::timeout(self.timeout, wait)
            .await
            .map_err(|_| TestError::Logs {
                service: self.service,
                message: format!(
                    "no record {what} after {:?} ({} captured)",
                    self.timeout,
                    self.records().len()
                ),
            })
    }

    /// The subscriber that records into these logs.
    pub(super) fn subscriber(&self) -> Capture {
        Capture {
            records: Arc::clone(&self.records),
            next_span: AtomicU64::new(1),
        }
    }
}

/// A subscriber that keeps events as [`LogRecord`]s. Spans get ids and nothing more: the
/// service's own subscriber (sinks, OpenTelemetry) is not used on the capturing runtime.
pub(super) struct Capture {
    records: Arc<Records>,
    next_span: AtomicU64,
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::DEBUG
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::DEBUG)
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let record = LogRecord {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            message: fields.message,
            fields: fields.others,
        };
        self.records
            .records
            .lock()
            .expect("records lock")
            .push(record);
        self.records.added.notify_waiters();
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// An event's fields: the message apart, secrets redacted.
#[derive(Default)]
struct Fields {
    message: String,
    others: BTreeMap<String, String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.keep(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.keep(field, format!("{value:?}"));
    }
}

impl Fields {
    fn keep(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = value,
            name if is_secret_name(name) => {
                self.others.insert(name.to_owned(), "[redacted]".to_owned());
            }
            name => {
                self.others.insert(name.to_owned(), value);
            }
        }
    }
}

/// The tokio runtime of a service that captures its logs: every thread it starts has the
/// capture as its default subscriber. Shut down in the background when dropped (a runtime must
/// not be dropped inside another one).
pub(super) struct CaptureRuntime {
    runtime: Option<tokio::runtime::Runtime>,
    dispatch: tracing::Dispatch,
}

impl CaptureRuntime {
    /// A runtime of two workers for `logs`' service.
    pub(super) fn new(logs: &Logs) -> std::io::Result<Self> {
        let dispatch = tracing::Dispatch::new(logs.subscriber());
        let on_thread = dispatch.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("{}-service", logs.service))
            .enable_all()
            .on_thread_start(move || {
                // For the thread's whole life: the guard is never dropped.
                std::mem::forget(tracing::dispatcher::set_default(&on_thread));
            })
            .build()?;
        Ok(CaptureRuntime {
            runtime: Some(runtime),
            dispatch,
        })
    }

    /// Runs `work` there (so that what it spawns runs there too) and returns its output.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> T {
        let runtime = self.runtime.as_ref().expect("a runtime until dropped");
        match runtime.spawn(work).await {
            Ok(output) => output,
            Err(error) => match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(error) => panic!("the service's runtime dropped its work: {error}"),
            },
        }
    }

    /// The capture, for work polled on the test's own thread.
    pub(super) fn dispatch(&self) -> &tracing::Dispatch {
        &self.dispatch
    }
}

impl Drop for CaptureRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
