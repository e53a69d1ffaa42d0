//! One consumer session of an input: `concurrency` workers take messages from it and dispatch
//! them until the input halts or the consumer ends; then the messages in flight are finished
//! and intake is cancelled.
//!
//! A worker drains what the consumer already has ready without waiting: per message, no
//! `select!`, no lock when it is the only worker, two cheap checks of the halt and the end of
//! the session, and counts kept in a [`Tally`] that reaches the shared counters before the
//! worker waits. Only when nothing is ready does it wait for the consumer, the halt or the end.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, watch};

use super::dispatch::{Dispatch, Flow, Run, raised};
use super::stats::Tally;
use super::traced;
use super::transport::Consumer;
use crate::BoxError;

/// How long a worker takes ready messages back to back before it lets the runtime's other
/// tasks run. A count of messages (tokio's budget, 128) yielded so often that a fast input lost
/// about a twentieth of its throughput on a multi-threaded runtime, some 10 µs per yield
/// (`bench_kafka_client 2500 30` against a bare rdkafka loop: 0.77 and 0.78 with the count,
/// 0.82 and 0.82 with this bound). A millisecond keeps the yields' share near 1%.
const RUN_BEFORE_YIELD: Duration = Duration::from_millis(1);

/// How many messages a worker takes between two looks at the clock (a read per message would
/// cost more than the yields it bounds).
const MESSAGES_BETWEEN_CLOCK_READS: u32 = 32;

/// A worker's run of messages taken back to back, since it last let the other tasks run.
#[derive(Default)]
struct Streak {
    taken: u32,
    /// When the run's first look at the clock was.
    first_look: Option<Instant>,
}

impl Streak {
    /// Counts one more message taken; whether the run has now lasted [`RUN_BEFORE_YIELD`]
    /// (seen at every [`MESSAGES_BETWEEN_CLOCK_READS`]th message).
    fn one_more_is_long(&mut self) -> bool {
        self.taken += 1;
        self.taken.is_multiple_of(MESSAGES_BETWEEN_CLOCK_READS) && {
            let now = Instant::now();
            now - *self.first_look.get_or_insert(now) >= RUN_BEFORE_YIELD
        }
    }
}

/// How a session ended.
pub(crate) enum SessionEnd {
    Halted,
    ReaderGone,
    Closed,
    Broken(BoxError),
}

/// Runs `concurrency` workers over `consumer` until the input halts or the consumer ends, then
/// cancels its intake.
pub(crate) async fn session<C, D>(mut consumer: C, dispatch: &D, run: &Arc<Run>) -> SessionEnd
where
    C: Consumer,
    D: Dispatch<C::Received>,
{
    let (over, over_rx) = watch::channel(false);
    let ends = match run.info.concurrency() {
        1 => {
            let intake = Intake::Alone(&mut consumer);
            vec![worker(intake, dispatch, run, &over, over_rx).await]
        }
        n => {
            let shared = Mutex::new(consumer);
            let workers = (0..n).map(|_| {
                worker(
                    Intake::Shared(&shared),
                    dispatch,
                    run,
                    &over,
                    over_rx.clone(),
                )
            });
            let ends = futures_util::future::join_all(workers).await;
            consumer = shared.into_inner();
            ends
        }
    };
    consumer.cancel().await;
    let mut outcome = SessionEnd::Halted;
    for end in ends {
        outcome = match (outcome, end) {
            (SessionEnd::Broken(e), _) | (_, SessionEnd::Broken(e)) => SessionEnd::Broken(e),
            (SessionEnd::Closed, _) | (_, SessionEnd::Closed) => SessionEnd::Closed,
            (SessionEnd::ReaderGone, _) | (_, SessionEnd::ReaderGone) => SessionEnd::ReaderGone,
            _ => SessionEnd::Halted,
        };
    }
    outcome
}

/// Where a worker takes messages: the consumer itself when it is the session's only worker
/// (messages in order, no lock), or the consumer shared by several, one take at a time.
enum Intake<'a, C> {
    Alone(&'a mut C),
    Shared(&'a Mutex<C>),
}

type Next<R> = Option<Result<R, BoxError>>;

impl<C: Consumer> Intake<'_, C> {
    /// What the consumer has ready now, without waiting; `None` when nothing is (or another
    /// worker holds the consumer).
    fn ready(&mut self) -> Option<Next<C::Received>> {
        match self {
            Intake::Alone(consumer) => consumer.try_next(),
            Intake::Shared(consumer) => consumer.try_lock().ok()?.try_next(),
        }
    }

    async fn next(&mut self) -> Next<C::Received> {
        match self {
            Intake::Alone(consumer) => consumer.next().await,
            Intake::Shared(consumer) => consumer.lock().await.next().await,
        }
    }
}

/// Whether a watch may have moved since its receiver last looked: an atomic read, where
/// reading the value takes the watch's lock. A closed sender counts as moved.
fn moved(watch: &watch::Receiver<bool>) -> bool {
    watch.has_changed().unwrap_or(true)
}

async fn worker<C, D>(
    mut intake: Intake<'_, C>,
    dispatch: &D,
    run: &Arc<Run>,
    over: &watch::Sender<bool>,
    mut over_rx: watch::Receiver<bool>,
) -> SessionEnd
where
    C: Consumer,
    D: Dispatch<C::Received>,
{
    let mut halt = run.halt.clone();
    // Seen once here: from now on a change is what `moved` notices.
    if *halt.borrow_and_update() || *over_rx.borrow_and_update() {
        return SessionEnd::Halted;
    }
    let mut tally = Tally::new(&run.stats);
    let mut streak = Streak::default();
    loop {
        // Taking ready messages does not yield on its own: the worker lets the runtime's other
        // tasks run once it has taken them for `RUN_BEFORE_YIELD`, or sooner when its
        // handlers used up the task's budget (the counts are made current first). A count of
        // its own, where tokio's `consume_budget` would be a future polled per message.
        if streak.one_more_is_long() || !tokio::task::coop::has_budget_remaining() {
            streak = Streak::default();
            tally.flush();
            tokio::task::yield_now().await;
        }
        // The halt and the end of the session are checked first, as the `select!` does. A
        // worker alone ends its session itself: no other worker can.
        let ended = matches!(intake, Intake::Shared(_)) && moved(&over_rx);
        let ready = match moved(&halt) || ended {
            true => None,
            false => intake.ready(),
        };
        let next = match ready {
            Some(next) => next,
            None => {
                tally.flush();
                // Waiting lets the other tasks run: a new run of messages starts after it.
                streak = Streak::default();
                tokio::select! {
                    biased;
                    () = raised(&mut halt) => return SessionEnd::Halted,
                    _ = over_rx.wait_for(|over| *over) => return SessionEnd::Halted,
                    next = intake.next() => next,
                }
            }
        };
        let received = match next {
            Some(Ok(received)) => received,
            Some(Err(error)) => {
                over.send_replace(true);
                return SessionEnd::Broken(error);
            }
            None => {
                over.send_replace(true);
                return SessionEnd::Closed;
            }
        };
        tally.received += 1;
        // Dispatched in place: awaiting a function that did this moved the message path's
        // whole state (a memcpy per message). Should it wait (a handler's I/O, a broker's
        // answer), the message counts as in flight meanwhile and the tally is flushed first,
        // so that `/status` and the metrics are current while the worker waits.
        let mut handling = pin!(traced::dispatch(dispatch, run, received));
        let mut waited = false;
        let flow = poll_fn(|cx| {
            let poll = handling.as_mut().poll(cx);
            if poll.is_pending() && !waited {
                waited = true;
                tally.flush();
                run.stats.in_flight.fetch_add(1, Ordering::Relaxed);
            }
            poll
        })
        .await;
        if waited {
            run.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            // The handler's wait let the other tasks run too.
            streak = Streak::default();
        }
        match flow {
            Flow::Handled => tally.handled += 1,
            Flow::Continue => {}
            Flow::ReaderGone => {
                over.send_replace(true);
                return SessionEnd::ReaderGone;
            }
        }
    }
}
