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

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// A delivered record, to ack or abandon. It names its partition's track by the track's
/// generation (unique to one partition for as long as the input holds it), so that it carries
/// no topic name to clone and drop for every record.
#[derive(Debug)]
pub(crate) struct Ticket {
    offset: i64,
    generation: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Tracker {
    inner: Mutex<Inner>,
    idle: Notify,
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
}

#[derive(Debug)]
struct Track {
    generation: u64,
    /// Delivered records in offset order, with whether each is acked; acked ones leave from
    /// the front.
    pending: VecDeque<(i64, bool)>,
    /// One past the highest delivered offset.
    next: i64,
    /// The last position handed to the consumer's offset store.
    stored: i64,
}

impl Track {
    fn position(&self) -> i64 {
        self.pending
            .front()
            .map_or(self.next, |(offset, _)| *offset)
    }

    fn insert(&mut self, offset: i64) {
        if offset >= self.next || self.pending.back().is_none_or(|(last, _)| *last < offset) {
            self.pending.push_back((offset, false));
        } else {
            // Delivered again (after a fetch reset): keep the order.
            let at = self.pending.partition_point(|(o, _)| *o < offset);
            self.pending.insert(at, (offset, false));
        }
        self.next = self.next.max(offset + 1);
    }

    fn ack(&mut self, offset: i64) {
        // Records are mostly handled in order: the oldest is the one acked.
        let at = match self.pending.front() {
            Some((first, _)) if *first == offset => 0,
            _ => self.pending.partition_point(|(o, _)| *o < offset),
        };
        if let Some(entry) = self.pending.get_mut(at)
            && entry.0 == offset
        {
            entry.1 = true;
        }
        while self.pending.front().is_some_and(|(_, done)| *done) {
            self.pending.pop_front();
        }
    }

    /// Forgets `offset` and what came after it: they are read again.
    fn rewind(&mut self, offset: i64) {
        let keep = self.pending.partition_point(|(o, _)| *o < offset);
        self.pending.truncate(keep);
        self.next = self.next.min(offset);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finish {
    Ack,
    Abandon,
    Rewind,
}

impl Tracker {
    /// Records that `offset` of `topic`/`partition` was taken from the consumer.
    pub(crate) fn delivered(&self, topic: &Arc<str>, partition: i32, offset: i64) -> Ticket {
        let mut inner = self.inner.lock().expect("tracker lock");
        inner.outstanding += 1;
        let at = match inner.find(topic, partition) {
            Some(at) => at,
            None => {
                inner.generations += 1;
                let track = Track {
                    generation: inner.generations,
                    pending: VecDeque::new(),
                    next: offset,
                    stored: -1,
                };
                inner.tracks.push((Arc::clone(topic), partition, track));
                inner.last = inner.tracks.len() - 1;
                inner.last
            }
        };
        let track = &mut inner.tracks[at].2;
        track.insert(offset);
        Ticket {
            offset,
            generation: track.generation,
        }
    }

    /// The record is done: handled, or dead-lettered.
    pub(crate) fn ack(&self, ticket: &Ticket) {
        self.finish(ticket, Finish::Ack);
    }

    /// The record was left unhandled, and the consumer is closing: stop waiting for it, but
    /// never commit past it.
    pub(crate) fn abandon(&self, ticket: &Ticket) {
        self.finish(ticket, Finish::Abandon);
    }

    /// The record goes back to be read again (the consumer seeks its partition back to it):
    /// the partition forgets it and every record after it, which come again, so that nothing
    /// waits for an answer that will never come (a partition pinned for ever, its pending
    /// records piling up).
    pub(crate) fn rewind(&self, ticket: &Ticket) {
        self.finish(ticket, Finish::Rewind);
    }

    fn finish(&self, ticket: &Ticket, how: Finish) {
        let mut inner = self.inner.lock().expect("tracker lock");
        inner.outstanding = inner.outstanding.saturating_sub(1);
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
        let mut inner = self.inner.lock().expect("tracker lock");
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
        let mut inner = self.inner.lock().expect("tracker lock");
        inner
            .tracks
            .retain(|(t, p, _)| !revoked.iter().any(|(rt, rp)| rp == p && **rt == **t));
        inner.last = 0;
    }

    /// Delivered records neither acked nor abandoned.
    pub(crate) fn outstanding(&self) -> usize {
        self.inner.lock().expect("tracker lock").outstanding
    }

    /// Waits until no delivered record is outstanding.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            {
                // Watched before the count is read, under the lock the last finish takes:
                // that finish sees the flag and wakes `notified`.
                let mut inner = self.inner.lock().expect("tracker lock");
                if inner.outstanding == 0 {
                    return;
                }
                inner.watched = true;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic() -> Arc<str> {
        Arc::from("t")
    }

    #[test]
    fn commits_only_past_a_done_prefix() {
        let tracker = Tracker::default();
        let t = topic();
        let tickets: Vec<_> = (10..15).map(|o| tracker.delivered(&t, 0, o)).collect();
        assert!(tracker.take_positions().iter().all(|p| p.2 == 10));
        tracker.ack(&tickets[1]);
        tracker.ack(&tickets[2]);
        assert!(tracker.take_positions().is_empty(), "10 is not done yet");
        tracker.ack(&tickets[0]);
        assert_eq!(tracker.take_positions(), vec![(t.clone(), 0, 13)]);
        tracker.abandon(&tickets[3]);
        tracker.ack(&tickets[4]);
        assert!(tracker.take_positions().is_empty(), "13 was abandoned");
        assert_eq!(tracker.outstanding(), 0);
    }

    #[test]
    fn a_rewound_record_unpins_its_partition_and_is_committed_only_once_handled() {
        let tracker = Tracker::default();
        let t = topic();
        let tickets: Vec<_> = (0..4).map(|o| tracker.delivered(&t, 0, o)).collect();
        tracker.ack(&tickets[0]);
        tracker.rewind(&tickets[1]);
        // 2 and 3 were handled meanwhile; they come again after the seek anyway.
        tracker.ack(&tickets[2]);
        tracker.ack(&tickets[3]);
        assert_eq!(tracker.take_positions(), vec![(t.clone(), 0, 1)]);
        assert_eq!(
            tracker.outstanding(),
            0,
            "nothing waits for the rewound record"
        );
        // Read again from 1: the partition moves on as they are handled.
        let again: Vec<_> = (1..4).map(|o| tracker.delivered(&t, 0, o)).collect();
        again.iter().for_each(|ticket| tracker.ack(ticket));
        assert_eq!(tracker.take_positions(), vec![(t, 0, 4)]);
        let pending: usize = tracker.inner.lock().unwrap().tracks[0].2.pending.len();
        assert_eq!(
            pending, 0,
            "no record is kept once its partition moved past it"
        );
    }

    #[test]
    fn partitions_are_independent() {
        let tracker = Tracker::default();
        let t = topic();
        let a = tracker.delivered(&t, 0, 5);
        let b = tracker.delivered(&t, 1, 7);
        tracker.ack(&b);
        let mut positions = tracker.take_positions();
        positions.sort();
        assert_eq!(positions, vec![(t.clone(), 0, 5), (t.clone(), 1, 8)]);
        tracker.ack(&a);
        assert_eq!(tracker.take_positions(), vec![(t, 0, 6)]);
    }

    #[test]
    fn late_acks_of_revoked_partitions_change_nothing() {
        let tracker = Tracker::default();
        let t = topic();
        let old = tracker.delivered(&t, 0, 3);
        let _ = tracker.take_positions();
        tracker.revoke(&[("t".into(), 0)]);
        let again = tracker.delivered(&t, 0, 1);
        tracker.ack(&old);
        assert_eq!(tracker.take_positions(), vec![(t.clone(), 0, 1)]);
        tracker.ack(&again);
        assert_eq!(tracker.take_positions(), vec![(t, 0, 2)]);
    }

    #[tokio::test]
    async fn idle_wakes_when_the_last_record_is_done() {
        let tracker = Arc::new(Tracker::default());
        let ticket = tracker.delivered(&topic(), 0, 0);
        let waiter = tokio::spawn({
            let tracker = Arc::clone(&tracker);
            async move { tracker.idle().await }
        });
        tokio::task::yield_now().await;
        tracker.ack(&ticket);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
