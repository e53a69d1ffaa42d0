//! A sink behind a bounded queue, served by its own thread: the log call only tries to enqueue
//! (dropping and counting when the queue is full), the thread renders and delivers, reconnecting
//! with backoff while the endpoint is down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};

use super::record::Record;
use crate::backoff::Backoff;

/// The counters of one sink, from [`stats`](super::stats).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkStats {
    /// `file`, `logstash`, `redis` or `http`.
    pub name: &'static str,
    /// Records delivered.
    pub sent: u64,
    /// Records dropped because the queue was full (the sink was slow or down).
    pub dropped: u64,
    /// Records taken from the queue whose delivery failed.
    pub failed: u64,
    /// Records waiting in the queue.
    pub queued: u64,
    /// Whether the last attempt to reach the endpoint succeeded.
    pub connected: bool,
}

/// How a sink groups records.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Batch {
    /// Whatever is queued, up to this many, without waiting.
    Drain(usize),
    /// Until `max_records` are queued or `max_time` passed since the first (HTTP).
    #[cfg_attr(not(feature = "log-http"), allow(dead_code))]
    Timed {
        max_records: usize,
        max_time: Duration,
    },
}

/// Where a sink delivers: connect (again) and send rendered records.
pub(crate) trait Transport: Send + 'static {
    /// Renders one record (a JSON document, or a text line for the file).
    fn render(&self, record: &Record) -> String;
    /// Opens the connection (or checks the endpoint); the error says why it failed.
    async fn connect(&mut self) -> Result<(), String>;
    /// Delivers a batch; on error the connection is opened again before the next one.
    async fn send(&mut self, batch: Vec<String>) -> Result<(), String>;
}

/// One sink's live counts and connection state, shared by the log calls, the sink's thread
/// and the monitor ([`SinkStats`] is a copy taken from them).
#[derive(Debug, Default)]
pub(crate) struct SinkCounters {
    pub(crate) enqueued: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) failed: AtomicU64,
    /// Logging's own reports that could not be delivered: not counted as failed.
    ignored: AtomicU64,
    pub(crate) connected: AtomicBool,
    /// The last delivery error, for the monitor to report.
    pub(crate) last_error: Mutex<Option<String>>,
    flush: Notify,
}

impl SinkCounters {
    fn done(&self) -> u64 {
        self.sent.load(Ordering::Acquire)
            + self.failed.load(Ordering::Acquire)
            + self.ignored.load(Ordering::Acquire)
    }

    /// Counts `batch` as failed, except logging's own reports about failures.
    fn fail(&self, batch: &[Arc<Record>]) {
        let own = batch.iter().filter(|r| r.target == super::TARGET).count() as u64;
        self.ignored.fetch_add(own, Ordering::Release);
        self.failed
            .fetch_add(batch.len() as u64 - own, Ordering::Release);
    }

    fn up(&self) {
        self.connected.store(true, Ordering::Release);
    }

    fn down(&self, error: String) {
        *self.last_error.lock().expect("sink lock") = Some(error);
        self.connected.store(false, Ordering::Release);
    }
}

/// A running sink. Dropping it closes the queue: the thread delivers what is left and ends.
pub(crate) struct Sink {
    pub(crate) name: &'static str,
    /// The settings key, for messages: `system.logging.redis`.
    pub(crate) key: &'static str,
    tx: mpsc::Sender<Arc<Record>>,
    pub(crate) shared: Arc<SinkCounters>,
}

impl Sink {
    /// Starts the thread serving `transport` through a queue of `capacity` records.
    pub(crate) fn spawn<T: Transport>(
        name: &'static str,
        key: &'static str,
        capacity: usize,
        batch: Batch,
        transport: T,
    ) -> std::io::Result<Sink> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let shared = Arc::new(SinkCounters::default());
        let worker = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("tamarco-log-{name}"))
            .spawn(move || {
                // What the sink's own libraries log (connection errors, TLS...) must not come
                // back into the sinks: this thread logs nowhere.
                let _quiet =
                    tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => runtime.block_on(serve(transport, rx, batch, worker)),
                    Err(error) => worker.down(format!("cannot start its thread: {error}")),
                }
            })?;
        Ok(Sink {
            name,
            key,
            tx,
            shared,
        })
    }

    /// Enqueues `record` without waiting; counts it as dropped when the queue is full.
    /// Logging's own reports (about the drops) are not counted, or every warning about drops
    /// would cause the next one.
    pub(crate) fn push(&self, record: &Arc<Record>) {
        match self.tx.try_send(Arc::clone(record)) {
            Ok(()) => {
                self.shared.enqueued.fetch_add(1, Ordering::Release);
            }
            Err(_) if record.target == super::TARGET => {}
            Err(_) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Asks the thread to deliver what it holds now; returns the count to wait for.
    pub(crate) fn request_flush(&self) -> u64 {
        let target = self.shared.enqueued.load(Ordering::Acquire);
        self.shared.flush.notify_one();
        target
    }

    /// Waits until `target` records were delivered or given up on, or `deadline` passes.
    pub(crate) fn wait_flushed(&self, target: u64, deadline: Instant) -> bool {
        loop {
            if self.shared.done() >= target {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub(crate) fn stats(&self) -> SinkStats {
        let shared = &self.shared;
        SinkStats {
            name: self.name,
            sent: shared.sent.load(Ordering::Relaxed),
            dropped: shared.dropped.load(Ordering::Relaxed),
            failed: shared.failed.load(Ordering::Relaxed),
            queued: shared
                .enqueued
                .load(Ordering::Relaxed)
                .saturating_sub(shared.done()),
            connected: shared.connected.load(Ordering::Relaxed),
        }
    }
}

/// Reconnection waits while the endpoint is down.
fn reconnect_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(100), Duration::from_secs(2))
}

/// The sink's thread: batch, render, deliver; reconnect with backoff while down.
async fn serve<T: Transport>(
    mut transport: T,
    mut rx: mpsc::Receiver<Arc<Record>>,
    batch_policy: Batch,
    shared: Arc<SinkCounters>,
) {
    let mut connected = match transport.connect().await {
        Ok(()) => {
            shared.up();
            true
        }
        Err(error) => {
            shared.down(error);
            false
        }
    };
    let mut backoff = reconnect_backoff();
    let mut retry_at = Instant::now();
    let mut batch: Vec<Arc<Record>> = Vec::new();
    loop {
        let first = tokio::select! {
            biased;
            record = rx.recv() => record,
            () = shared.flush.notified() => continue,
        };
        let Some(first) = first else { break };
        batch.push(first);
        let mut flushing = false;
        match batch_policy {
            Batch::Drain(max) => {
                while batch.len() < max {
                    match rx.try_recv() {
                        Ok(record) => batch.push(record),
                        Err(_) => break,
                    }
                }
            }
            Batch::Timed {
                max_records,
                max_time,
            } => {
                let deadline = tokio::time::Instant::now() + max_time;
                while batch.len() < max_records {
                    tokio::select! {
                        biased;
                        record = rx.recv() => match record {
                            Some(record) => batch.push(record),
                            None => break,
                        },
                        () = shared.flush.notified() => {
                            flushing = true;
                            break;
                        }
                        () = tokio::time::sleep_until(deadline) => break,
                    }
                }
            }
        }
        let count = batch.len() as u64;
        if !connected {
            // While down, try again at most once per backoff; meanwhile records fail at once
            // (and the queue, full, drops at the caller).
            if Instant::now() < retry_at && !flushing {
                shared.fail(&batch);
                batch.clear();
                let wait = retry_at.saturating_duration_since(Instant::now());
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = shared.flush.notified() => {}
                }
                continue;
            }
            match transport.connect().await {
                Ok(()) => {
                    connected = true;
                    backoff.reset();
                    shared.up();
                }
                Err(error) => {
                    shared.down(error);
                    shared.fail(&batch);
                    batch.clear();
                    retry_at = Instant::now() + backoff.next_delay();
                    continue;
                }
            }
        }
        let rendered: Vec<String> = batch.iter().map(|r| transport.render(r)).collect();
        let sent = transport.send(rendered).await;
        match sent {
            Ok(()) => {
                shared.sent.fetch_add(count, Ordering::Release);
            }
            Err(error) => {
                shared.fail(&batch);
                shared.down(error);
                connected = false;
                retry_at = Instant::now() + backoff.next_delay();
            }
        }
        batch.clear();
    }
}
