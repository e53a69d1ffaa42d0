//! One partition's track: its delivered records in offset order, and the commit position
//! they allow.

use std::collections::VecDeque;

#[derive(Debug)]
pub(super) struct Track {
    pub(super) generation: u64,
    /// Delivered records in offset order, with whether each is acked; acked ones leave from
    /// the front.
    pub(super) pending: VecDeque<(i64, bool)>,
    /// One past the highest delivered offset (but for pinned records).
    pub(super) next: i64,
    /// The last position handed to the consumer's offset store.
    pub(super) stored: i64,
}

impl Track {
    pub(super) fn position(&self) -> i64 {
        self.pending
            .front()
            .map_or(self.next, |(offset, _)| self.next.min(*offset))
    }

    pub(super) fn insert(&mut self, offset: i64) {
        self.pin(offset);
        self.next = self.next.max(offset + 1);
    }

    /// Holds the position at or before `offset` until it is acked, without counting it as
    /// delivered (a record handed out before a rewind or revoke).
    pub(super) fn pin(&mut self, offset: i64) {
        if self.pending.back().is_none_or(|(last, _)| *last < offset) {
            self.pending.push_back((offset, false));
        } else {
            // Delivered again (after a fetch reset): keep the order.
            let at = self.pending.partition_point(|(o, _)| *o < offset);
            self.pending.insert(at, (offset, false));
        }
    }

    pub(super) fn ack(&mut self, offset: i64) {
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
    pub(super) fn rewind(&mut self, offset: i64) {
        let keep = self.pending.partition_point(|(o, _)| *o < offset);
        self.pending.truncate(keep);
        self.next = self.next.min(offset);
    }
}
