//! Which offsets may be committed: per partition, the first offset not yet handled.
//!
//! Every record an input takes from its consumer is *delivered* here; it is *acked* once its
//! handler succeeded (or it went to the dead-letter topic). A partition's commit position is the
//! lowest delivered offset that is not acked yet, or one past the highest delivered offset when
//! all are acked: a record is committed only when it and every record before it in its
//! partition are done. A record that is dropped unhandled is *abandoned*: the input no longer
//! waits for it, but the commit position stays before it.
//!
//! A rebalance that revokes a partition forgets it: acks that arrive later for records of the
//! revoked partition change nothing (the records come back to whoever owns it next).
//!
//! Most records never take the tracker's lock. The consumer hands records out one at a time
//! and looks at the one it handed out last before it takes the next (see
//! [`Settling`]): settled by then, as a handler input's record is, it needs no delivery
//! here. Done, it joins the consumer's *lane*: one past the last record done in order on one
//! partition, which the consumer moves on its own (a store, no lock) and the tracker folds into
//! that partition's position when it reads positions. Still in flight, it is delivered here
//! (*published*) and settled here later. So at any moment every record in flight is either
//! the one handed out last or delivered here, and a partition's position never passes one.
//! A rewind or a revoke closes the lane. A rewind also starts a new *epoch*: a record taken
//! before it no longer moves any position on its own (it may come again). A revoke needs no
//! epoch: it happens while the consumer polls, after it moved on from every record before.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use track::Track;

mod track;

/// A delivered record, to ack or abandon. It names its partition's track by the track's
/// generation (unique to one partition for as long as the input holds it), so that it carries
/// no topic name to clone and drop for every record.
#[derive(Debug)]
pub(crate) struct Ticket {
    offset: i64,
    generation: u64,
}

/// How a record handed out by the consumer is settled, shared by the consumer and the record:
/// the record settles on its own (one atomic operation) until the consumer moves on from it,
/// then through the tracker.
#[derive(Debug, Default)]
pub(crate) struct Settling {
    state: AtomicU8,
    /// Its track's generation, once published.
    generation: AtomicU64,
    /// The tracker's epoch when the consumer took it.
    pub(crate) epoch: u64,
}

/// A record's [`Settling`] states.
mod state {
    /// Handed out, not settled, not published.
    pub(super) const PENDING: u8 = 0;
    /// Settled before the consumer moved on: done, sought back, or abandoned.
    pub(super) const ACKED: u8 = 1;
    pub(super) const REWOUND: u8 = 2;
    pub(super) const ABANDONED: u8 = 3;
    /// Published (delivered in the tracker), not settled yet.
    pub(super) const PUBLISHED: u8 = 4;
    /// Published, then settled through the tracker.
    pub(super) const SETTLED: u8 = 5;
}

/// How a record is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// Done: handled, or dead-lettered.
    Ack,
    /// Left unhandled while the consumer closes: never committed past, not waited for.
    Abandon,
    /// Sought back: it and what followed it in its partition come again.
    Rewind,
}

impl Finish {
    const fn state(self) -> u8 {
        match self {
            Finish::Ack => state::ACKED,
            Finish::Abandon => state::ABANDONED,
            Finish::Rewind => state::REWOUND,
        }
    }
}

impl Settling {
    /// Ready for a new record taken in `epoch`.
    pub(crate) fn reset(&mut self, epoch: u64) {
        *self.state.get_mut() = state::PENDING;
        *self.generation.get_mut() = 0;
        self.epoch = epoch;
    }

    /// Whether the record was settled already.
    pub(crate) fn is_settled(&self) -> bool {
        matches!(
            self.state.load(Ordering::Acquire),
            state::ACKED | state::REWOUND | state::ABANDONED | state::SETTLED
        )
    }

    /// Settles the record (the first call only): on its own while the consumer has not moved
    /// on from it, else in `tracker`.
    pub(crate) fn settle(&self, tracker: &Tracker, offset: i64, how: Finish) {
        let published = match self.state.compare_exchange(
            state::PENDING,
            how.state(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return,
            Err(state::PUBLISHED) => self
                .state
                .compare_exchange(
                    state::PUBLISHED,
                    state::SETTLED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok(),
            Err(_) => false,
        };
        if published {
            let ticket = Ticket {
                offset,
                generation: self.generation.load(Ordering::Acquire),
            };
            tracker.finish(&ticket, how);
        }
    }
}

/// The consumer's side of its lane: the partition it is open on, and when it was opened: as the
/// count of the lanes closed before it (the tracker's side is `Inner::lane` and
/// `Tracker::lane_end`).
#[derive(Debug, Default)]
pub(crate) struct Lane {
    open: Option<(Arc<str>, i32, u64)>,
}

/// What the consumer knows of the record it handed out last, when it moves on from it.
#[derive(Debug)]
pub(crate) struct HandedOut<'a> {
    pub(crate) topic: &'a Arc<str>,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) settling: &'a Settling,
}

#[derive(Debug, Default)]
pub(crate) struct Tracker {
    inner: Mutex<Inner>,
    idle: Notify,
    /// One past the last record done in order on the lane's partition: stored by the consumer
    /// without the lock, folded into the lane's track under it (while the lane is open).
    lane_end: AtomicI64,
    /// How many lanes were closed (by rewinds and revokes), moved under the lock, read by the
    /// consumer without it: its lane is open while the count has not moved.
    closed: AtomicU64,
    /// How many rewinds there were, moved under the lock.
    epoch: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    /// One entry per partition in use: few, so a scan (starting at the last one used) beats
    /// hashing the topic name for every record.
    tracks: Vec<(Arc<str>, i32, Track)>,
    last: usize,
    /// Delivered records neither acked nor abandoned.
    outstanding: usize,
    generations: u64,
    /// Someone waits in [`Tracker::idle`]: only then does the last finished record wake it
    /// (an unwatched wake-up would take the notifier's lock for every record).
    watched: bool,
    /// The generation of the track the lane is open on.
    lane: Option<u64>,
}

impl Inner {
    fn find(&mut self, topic: &Arc<str>, partition: i32) -> Option<usize> {
        // Topic names are interned per consumer: the pointer is the same, the text compare
        // is for a name interned elsewhere.
        self.find_by(|(t, p, _)| *p == partition && (Arc::ptr_eq(t, topic) || **t == **topic))
    }

    fn find_by(&mut self, hit: impl Fn(&(Arc<str>, i32, Track)) -> bool) -> Option<usize> {
        if self.tracks.get(self.last).is_some_and(&hit) {
            return Some(self.last);
        }
        let found = self.tracks.iter().position(hit)?;
        self.last = found;
        Some(found)
    }

    /// The track of `topic`/`partition`, made (starting at `offset`) if there is none.
    fn track(&mut self, topic: &Arc<str>, partition: i32, offset: i64) -> &mut Track {
        let at = match self.find(topic, partition) {
            Some(at) => at,
            None => {
                self.generations += 1;
                let track = Track {
                    generation: self.generations,
                    pending: VecDeque::new(),
                    next: offset,
                    stored: -1,
                };
                self.tracks.push((Arc::clone(topic), partition, track));
                self.last = self.tracks.len() - 1;
                self.last
            }
        };
        &mut self.tracks[at].2
    }

    /// Moves the lane's partition up to `lane_end`.
    fn fold(&mut self, lane_end: i64) {
        if let Some(generation) = self.lane
            && let Some(at) = self.find_by(|(_, _, t)| t.generation == generation)
        {
            let track = &mut self.tracks[at].2;
            track.next = track.next.max(lane_end);
        }
    }
}

impl Tracker {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("tracker lock")
    }

    /// Closes the lane, after folding it.
    fn close_lane(&self, inner: &mut Inner) {
        inner.fold(self.lane_end.load(Ordering::Acquire));
        inner.lane = None;
        self.closed.fetch_add(1, Ordering::AcqRel);
    }

    /// The epoch a record taken now belongs to. Read before the consumer polls: a record
    /// polled before a seek (which comes before its rewind) then never counts as taken after
    /// it.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Counts a record taken in `epoch` as delivered from now on. One taken before a rewind
    /// only holds back the position of its partition, if the input still has it: it must not
    /// move it forward (it may come again).
    fn publish(&self, topic: &Arc<str>, partition: i32, offset: i64, epoch: u64) -> Ticket {
        let mut inner = self.lock();
        inner.outstanding += 1;
        if self.epoch.load(Ordering::Relaxed) == epoch {
            let track = inner.track(topic, partition, offset);
            track.insert(offset);
            return Ticket {
                offset,
                generation: track.generation,
            };
        }
        let generation = match inner.find(topic, partition) {
            Some(at) => {
                let track = &mut inner.tracks[at].2;
                track.pin(offset);
                track.generation
            }
            // No generation is 0: settling it changes no position.
            None => 0,
        };
        Ticket { offset, generation }
    }

    /// The consumer moves on from the record it handed out last: done, it joins the lane
    /// (without the lock while the lane is open on its partition); still in flight, it is
    /// published, and settles through the tracker from now on.
    pub(crate) fn move_on(&self, lane: &mut Lane, record: HandedOut<'_>) {
        let HandedOut {
            topic,
            partition,
            offset,
            settling,
        } = record;
        match settling.state.load(Ordering::Acquire) {
            state::PENDING => {
                let ticket = self.publish(topic, partition, offset, settling.epoch);
                settling
                    .generation
                    .store(ticket.generation, Ordering::Relaxed);
                if let Err(state) = settling.state.compare_exchange(
                    state::PENDING,
                    state::PUBLISHED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    // Settled on its own meanwhile: settled here instead.
                    self.finish(&ticket, finish_of(state));
                }
            }
            state::ACKED => self.done(lane, topic, partition, offset, settling.epoch),
            // Nothing was handed out after it: no position has passed it, and it comes again.
            state::REWOUND => {}
            state::ABANDONED => {
                let ticket = self.publish(topic, partition, offset, settling.epoch);
                self.finish(&ticket, Finish::Abandon);
            }
            // Published already.
            _ => {}
        }
    }

    /// A record taken in `epoch` was done before the consumer moved on from it.
    fn done(&self, lane: &mut Lane, topic: &Arc<str>, partition: i32, offset: i64, epoch: u64) {
        // Open since before the record was taken (it was opened by a record moved on from
        // before this one was polled): no rewind since, or the lane would be closed.
        if let Some((t, p, closed)) = &lane.open
            && *p == partition
            && Arc::ptr_eq(t, topic)
            && self.closed.load(Ordering::Acquire) == *closed
        {
            // Should the lane close from now on, it is folded first, and this store moves
            // nothing.
            self.lane_end.store(offset + 1, Ordering::Release);
            return;
        }
        let mut inner = self.lock();
        inner.fold(self.lane_end.load(Ordering::Acquire));
        inner.lane = None;
        lane.open = None;
        if self.epoch.load(Ordering::Relaxed) != epoch {
            // Taken before a rewind or revoke: it moves no position.
            return;
        }
        let track = inner.track(topic, partition, offset);
        track.next = track.next.max(offset + 1);
        let generation = track.generation;
        inner.lane = Some(generation);
        self.lane_end.store(offset + 1, Ordering::Release);
        let closed = self.closed.load(Ordering::Relaxed);
        lane.open = Some((Arc::clone(topic), partition, closed));
    }

    fn finish(&self, ticket: &Ticket, how: Finish) {
        let mut inner = self.lock();
        inner.outstanding = inner.outstanding.saturating_sub(1);
        if how == Finish::Rewind {
            self.close_lane(&mut inner);
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
        if how != Finish::Abandon
            && let Some(at) = inner.find_by(|(_, _, t)| t.generation == ticket.generation)
        {
            let track = &mut inner.tracks[at].2;
            match how {
                Finish::Ack => track.ack(ticket.offset),
                _ => track.rewind(ticket.offset),
            }
        }
        if inner.outstanding == 0 && inner.watched {
            self.idle.notify_waiters();
        }
    }

    /// The commit positions that moved since the last call, as (topic, partition, offset of
    /// the next record to read); they are marked stored.
    pub(crate) fn take_positions(&self) -> Vec<(Arc<str>, i32, i64)> {
        let mut inner = self.lock();
        inner.fold(self.lane_end.load(Ordering::Acquire));
        let mut moved = Vec::new();
        for (topic, partition, track) in &mut inner.tracks {
            let position = track.position();
            if position > track.stored {
                track.stored = position;
                moved.push((Arc::clone(topic), *partition, position));
            }
        }
        moved
    }

    /// Forgets the revoked partitions.
    pub(crate) fn revoke(&self, revoked: &[(String, i32)]) {
        let mut inner = self.lock();
        self.close_lane(&mut inner);
        inner
            .tracks
            .retain(|(t, p, _)| !revoked.iter().any(|(rt, rp)| rp == p && **rt == **t));
        inner.last = 0;
    }

    /// Delivered records neither acked nor abandoned.
    pub(crate) fn outstanding(&self) -> usize {
        self.lock().outstanding
    }

    /// Waits until no delivered record is outstanding.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            {
                // Watched before the count is read, under the lock the last finish takes:
                // that finish sees the flag and wakes `notified`.
                let mut inner = self.lock();
                if inner.outstanding == 0 {
                    return;
                }
                inner.watched = true;
            }
            notified.await;
        }
    }
}

/// The settling a state records (a state the record reached on its own).
fn finish_of(state: u8) -> Finish {
    match state {
        state::ACKED => Finish::Ack,
        state::REWOUND => Finish::Rewind,
        _ => Finish::Abandon,
    }
}

#[cfg(test)]
mod tests;
