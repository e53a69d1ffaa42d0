//! An input consumer's message stream and the record it handed out last, kept beside the
//! client consumer they borrow. Holding the record lets its headers be read only if someone
//! asks: librdkafka parses a record's headers on demand, and that parse (an allocation, even
//! for a record without headers) costs more than the rest of taking a record, for headers
//! most handlers never read.
//!
//! A record's [`Meta`](super::message::Meta) reads its headers from here on first use, while
//! its record is the one held. Before letting go of a record, the consumer reads the headers
//! into its metadata unless nobody else holds that metadata (then nobody can ask any more).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::StreamExt;
use rdkafka::Message as _;
use rdkafka::consumer::MessageStream;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers as _};

use super::headers::Headers;
use super::member::{ConsumerCallbacks, KafkaConsumer};

/// What borrows the consumer: one stream for the consumer's life (a stream made per record
/// registers and unregisters a waker, under a lock, each time), and the last record.
struct Borrowing<'a> {
    stream: MessageStream<'a, ConsumerCallbacks>,
    record: Option<BorrowedMessage<'a>>,
}

self_cell::self_cell!(
    struct Cell {
        owner: Arc<KafkaConsumer>,
        #[covariant]
        dependent: Borrowing,
    }
);

/// The stream and the record handed out last, shared by the input's consumer (which polls)
/// and the metadata of that record (which reads its headers).
pub(crate) struct HeldStream {
    cell: Mutex<Cell>,
}

impl HeldStream {
    pub(crate) fn new(consumer: Arc<KafkaConsumer>) -> Self {
        let cell = Cell::new(consumer, |consumer| Borrowing {
            stream: consumer.stream(),
            record: None,
        });
        HeldStream {
            cell: Mutex::new(cell),
        }
    }

    /// Lets go of the record held, and polls for the next one; `take` copies what it needs of
    /// a record it yields, which is then held until the next poll (or [`release`](Self::release)).
    pub(crate) fn poll_next<T>(
        &self,
        cx: &mut Context<'_>,
        take: impl FnOnce(&BorrowedMessage<'_>) -> T,
    ) -> Poll<Option<Result<T, KafkaError>>> {
        let mut cell = self.cell.lock().expect("held record lock");
        cell.with_dependent_mut(|_, borrowing| {
            borrowing.record = None;
            match borrowing.stream.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(record))) => {
                    let taken = take(&record);
                    borrowing.record = Some(record);
                    Poll::Ready(Some(Ok(taken)))
                }
                Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
    }

    /// Lets go of the record held.
    pub(crate) fn release(&self) {
        let mut cell = self.cell.lock().expect("held record lock");
        cell.with_dependent_mut(|_, borrowing| borrowing.record = None);
    }

    /// The headers of the record held (none when none is held). A header whose name is not
    /// UTF-8 is left out: the client cannot read it (Kafka's header names are text).
    pub(crate) fn headers(&self) -> Headers {
        let cell = self.cell.lock().expect("held record lock");
        let Some(raw) = cell
            .borrow_dependent()
            .record
            .as_ref()
            .and_then(|record| record.headers())
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
