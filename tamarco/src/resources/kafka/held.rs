//! An input consumer's message stream and the records it took and has not let go of yet (the
//! one handed out last, and those taken ahead of it), kept beside the client consumer they
//! borrow. Holding the records lets their headers be read only if someone asks: librdkafka
//! parses a record's headers on demand, and that parse (an allocation, even for a record
//! without headers) costs more than the rest of taking a record, for headers most handlers
//! never read.
//!
//! A record's [`Meta`](super::message::Meta) reads its headers from here on first use, while
//! its record is held, by the sequence number it was taken under. Before letting go of a
//! record, the consumer reads the headers into its metadata unless nobody else holds that
//! metadata (then nobody can ask any more).
//!
//! A requeued record's partition is sought back here, under the same lock as taking, so that
//! the consumer can tell the records it took ahead of the seek (stale: they come again) from
//! those it took after (see [`Rewound`]).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use rdkafka::consumer::{Consumer as _, MessageStream};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Headers as _};
use rdkafka::{Message as _, Offset};

use super::headers::Headers;
use super::member::{ConsumerCallbacks, KafkaConsumer};

/// What borrows the consumer: one stream for the consumer's life (a stream made per record
/// registers and unregisters a waker, under a lock, each time), and the records held, oldest
/// first, each with its sequence number.
struct Borrowing<'a> {
    stream: MessageStream<'a, ConsumerCallbacks>,
    records: VecDeque<(u64, BorrowedMessage<'a>)>,
    /// The sequence number of the next record taken.
    next: u64,
    /// The seeks since the consumer last looked.
    rewound: Vec<Rewound>,
}

/// A partition sought back: the records of it taken before the seek (sequence numbers below
/// `before`) come again, so the consumer drops those it has not handed out yet.
#[derive(Debug)]
pub(crate) struct Rewound {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    pub(crate) before: u64,
}

impl Rewound {
    /// Whether the record of `topic`/`partition` taken under `seq` comes again.
    pub(crate) fn covers(&self, topic: &str, partition: i32, seq: u64) -> bool {
        seq < self.before && partition == self.partition && topic == &*self.topic
    }
}

self_cell::self_cell!(
    struct Cell {
        owner: Arc<KafkaConsumer>,
        #[covariant]
        dependent: Borrowing,
    }
);

/// The stream and the records held, shared by the input's consumer (which polls) and the
/// metadata of those records (which read their headers).
pub(crate) struct HeldStream {
    cell: Mutex<Cell>,
    /// How many seeks there were: the consumer reads it for every record, without the lock.
    seeks: AtomicU64,
}

impl HeldStream {
    pub(crate) fn new(consumer: Arc<KafkaConsumer>) -> Self {
        let cell = Cell::new(consumer, |consumer| Borrowing {
            stream: consumer.stream(),
            records: VecDeque::new(),
            next: 0,
            rewound: Vec::new(),
        });
        HeldStream {
            cell: Mutex::new(cell),
            seeks: AtomicU64::new(0),
        }
    }

    /// Seeks `topic`/`partition` back to `offset`, without waiting (the client then reads from
    /// there on; what it had fetched past it is discarded), and notes it for the consumer.
    pub(crate) fn seek(&self, topic: &Arc<str>, partition: i32, offset: i64) -> KafkaResult<()> {
        let mut cell = self.cell.lock().expect("held record lock");
        cell.with_dependent_mut(|consumer, borrowing| {
            consumer.seek(topic, partition, Offset::Offset(offset), Duration::ZERO)?;
            borrowing.rewound.push(Rewound {
                topic: Arc::clone(topic),
                partition,
                before: borrowing.next,
            });
            self.seeks.fetch_add(1, Ordering::Release);
            Ok(())
        })
    }

    /// How many seeks there were so far.
    pub(crate) fn seeks(&self) -> u64 {
        self.seeks.load(Ordering::Acquire)
    }

    /// The seeks noted since the last call.
    pub(crate) fn take_rewound(&self) -> Vec<Rewound> {
        let mut cell = self.cell.lock().expect("held record lock");
        cell.with_dependent_mut(|_, borrowing| std::mem::take(&mut borrowing.rewound))
    }

    /// Lets go of the records held, then takes ready records while `take` wants more: `take`
    /// copies what it needs of each (given its sequence number) and says whether to take
    /// another; the records taken are held until the next call (or
    /// [`release_all`](Self::release_all)). One lock for them all. Ends `Ready(Some(Ok(())))`
    /// when `take` wants no more, else with what the client's stream gave instead of a record.
    pub(crate) fn take_ready(
        &self,
        cx: &mut Context<'_>,
        mut take: impl FnMut(&BorrowedMessage<'_>, u64) -> bool,
    ) -> Poll<Option<Result<(), KafkaError>>> {
        let mut cell = self.cell.lock().expect("held record lock");
        cell.with_dependent_mut(|_, borrowing| {
            borrowing.records.clear();
            loop {
                match borrowing.stream.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(record))) => {
                        let seq = borrowing.next;
                        borrowing.next += 1;
                        let more = take(&record, seq);
                        borrowing.records.push_back((seq, record));
                        if !more {
                            return Poll::Ready(Some(Ok(())));
                        }
                    }
                    Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
    }

    /// Lets go of every record held.
    pub(crate) fn release_all(&self) {
        let mut cell = self.cell.lock().expect("held record lock");
        cell.with_dependent_mut(|_, borrowing| borrowing.records.clear());
    }

    /// The headers of the record taken under `seq` (none when it is not held). A header whose
    /// name is not UTF-8 is left out: the client cannot read it (Kafka's header names are
    /// text).
    pub(crate) fn headers(&self, seq: u64) -> Headers {
        let cell = self.cell.lock().expect("held record lock");
        let Some(raw) = cell
            .borrow_dependent()
            .records
            .iter()
            .find(|(s, _)| *s == seq)
            .and_then(|(_, record)| record.headers())
        else {
            return Headers::new();
        };
        // The client's accessor panics on a name that is not UTF-8.
        (0..raw.count())
            .filter_map(|i| {
                catch_unwind(AssertUnwindSafe(|| raw.try_get(i)))
                    .ok()
                    .flatten()
            })
            .map(|header| (header.key, header.value.unwrap_or_default()))
            .collect()
    }
}
