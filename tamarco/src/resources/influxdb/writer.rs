//! The batching writer: callers append lines to a shared buffer without waiting; a buffer that
//! reaches `batch_size` points is sealed as a batch at once (so requests keep that size however
//! fast points come), and one task sends the sealed batches as they come and what is left every
//! `flush_interval`,
//! keeps failed batches in order and sends them again once the server answers. The points
//! waiting (buffered or in failed batches) are bounded by `queue_size`: beyond it a write is
//! refused and counted as dropped, so nothing is lost silently.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tamarco_core::backoff::Backoff;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::point::Point;

/// Lines being gathered, and the full batches waiting for the sending task.
#[derive(Debug, Default)]
struct Buffer {
    lines: String,
    points: usize,
    sealed: VecDeque<Batch>,
}

/// One request's worth of lines, cheap to send again.
#[derive(Debug)]
struct Batch {
    body: Bytes,
    points: usize,
}

/// What a send did with a batch.
pub(crate) enum Sent {
    /// The server took it.
    Delivered,
    /// The server refused it for good (HTTP 4xx: bad points): it is dropped and counted.
    Rejected(String),
    /// The server is unreachable or failing: try again later.
    Retry(String),
}

/// The writer's shared state: the buffer and the counts `/status` shows.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buffer: Mutex<Buffer>,
    /// Points buffered or waiting in failed batches.
    queued: AtomicUsize,
    capacity: AtomicUsize,
    batch_size: AtomicUsize,
    wake: Notify,
    pub(crate) written: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed_requests: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
}

impl Writer {
    pub(crate) fn configure(&self, batch_size: usize, capacity: usize) {
        self.batch_size.store(batch_size, Ordering::Relaxed);
        self.capacity.store(capacity, Ordering::Relaxed);
    }

    /// Appends a point unless the queue is full (then counts it dropped and returns `false`).
    /// Never waits for the network.
    pub(crate) fn push(&self, point: &Point) -> bool {
        let capacity = self.capacity.load(Ordering::Relaxed);
        if self.queued.fetch_add(1, Ordering::AcqRel) >= capacity {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let sealed = {
            let mut buffer = self.buffer.lock().expect("buffer lock");
            point.write_line(&mut buffer.lines);
            buffer.points += 1;
            let full = buffer.points >= self.batch_size.load(Ordering::Relaxed);
            if full {
                // The next batch will be about as long: no reallocation while it grows.
                let capacity = buffer.lines.len();
                let lines = std::mem::replace(&mut buffer.lines, String::with_capacity(capacity));
                let points = std::mem::take(&mut buffer.points);
                buffer.sealed.push_back(Batch {
                    body: Bytes::from(lines),
                    points,
                });
            }
            full
        };
        if sealed {
            self.wake.notify_one();
        }
        true
    }

    /// Points waiting to be sent.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Takes the sealed batches and, when `flush`, what is still gathering.
    fn take(&self, flush: bool) -> VecDeque<Batch> {
        let mut buffer = self.buffer.lock().expect("buffer lock");
        let mut batches = std::mem::take(&mut buffer.sealed);
        if flush && buffer.points > 0 {
            batches.push_back(Batch {
                body: Bytes::from(std::mem::take(&mut buffer.lines)),
                points: std::mem::take(&mut buffer.points),
            });
        }
        batches
    }

    fn settle(&self, batch: &Batch, delivered: bool) {
        self.queued.fetch_sub(batch.points, Ordering::AcqRel);
        let count = u64::try_from(batch.points).unwrap_or(u64::MAX);
        if delivered {
            self.written.fetch_add(count, Ordering::Relaxed);
        } else {
            self.dropped.fetch_add(count, Ordering::Relaxed);
        }
    }

    fn failed(&self, message: String) {
        self.failed_requests.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().expect("error lock") = Some(message);
    }

    /// The sending loop, until `stopping` completes with the stop's deadline; then what is
    /// left is sent until that deadline and the rest counted as dropped. Returns the points
    /// dropped at stop.
    pub(crate) async fn run<S, F>(
        &self,
        flush_interval: Duration,
        max_backoff: Duration,
        stopping: impl Future<Output = Instant>,
        send: S,
    ) -> usize
    where
        S: Fn(Bytes) -> F,
        F: Future<Output = Sent>,
    {
        let mut pending: VecDeque<Batch> = VecDeque::new();
        let mut backoff = Backoff::new(Duration::from_millis(100), max_backoff);
        let mut next_try = Instant::now();
        let mut stopping = std::pin::pin!(stopping);
        let deadline = loop {
            let wait = if pending.is_empty() {
                flush_interval
            } else {
                next_try.saturating_duration_since(Instant::now())
            };
            let flush = tokio::select! {
                deadline = &mut stopping => break deadline,
                () = self.wake.notified() => false,
                () = tokio::time::sleep(wait) => true,
            };
            pending.extend(self.take(flush));
            if Instant::now() < next_try {
                continue;
            }
            match self.send_pending(&mut pending, &send).await {
                Ok(()) => backoff.reset(),
                Err(()) => next_try = Instant::now() + backoff.next_delay(),
            }
        };
        // Stopping: one last round for everything, bounded.
        pending.extend(self.take(true));
        let _ = tokio::time::timeout_at(deadline, async {
            while !pending.is_empty() {
                if self.send_pending(&mut pending, &send).await.is_err() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        })
        .await;
        let mut lost = 0;
        for batch in pending.drain(..) {
            lost += batch.points;
            self.settle(&batch, false);
        }
        lost
    }

    /// Sends the pending batches in order; stops at the first that must be tried again.
    async fn send_pending<S, F>(&self, pending: &mut VecDeque<Batch>, send: &S) -> Result<(), ()>
    where
        S: Fn(Bytes) -> F,
        F: Future<Output = Sent>,
    {
        while let Some(batch) = pending.pop_front() {
            match send(batch.body.clone()).await {
                Sent::Delivered => self.settle(&batch, true),
                Sent::Rejected(message) => {
                    tracing::warn!(points = batch.points, "influxdb: batch refused: {message}");
                    self.failed(message);
                    self.settle(&batch, false);
                }
                Sent::Retry(message) => {
                    self.failed(message);
                    pending.push_front(batch);
                    return Err(());
                }
            }
        }
        Ok(())
    }
}
