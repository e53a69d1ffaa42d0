use super::*;

/// The tracker as the records' settling uses it, one call at a time.
impl Tracker {
    /// `offset` of `topic`/`partition` was taken (in the current epoch) and is in flight.
    fn delivered(&self, topic: &Arc<str>, partition: i32, offset: i64) -> Ticket {
        self.publish(topic, partition, offset, self.epoch())
    }

    fn ack(&self, ticket: &Ticket) {
        self.finish(ticket, Finish::Ack);
    }

    fn abandon(&self, ticket: &Ticket) {
        self.finish(ticket, Finish::Abandon);
    }

    fn rewind(&self, ticket: &Ticket) {
        self.finish(ticket, Finish::Rewind);
    }
}

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

/// A record as the consumer hands it out: taken in the tracker's current epoch.
struct Taken {
    topic: Arc<str>,
    partition: i32,
    offset: i64,
    settling: Settling,
}

impl Taken {
    fn new(tracker: &Tracker, topic: &Arc<str>, partition: i32, offset: i64) -> Self {
        let mut settling = Settling::default();
        settling.reset(tracker.epoch());
        Taken {
            topic: Arc::clone(topic),
            partition,
            offset,
            settling,
        }
    }

    fn settle(&self, tracker: &Tracker, how: Finish) {
        self.settling.settle(tracker, self.offset, how);
    }

    fn move_on(&self, tracker: &Tracker, lane: &mut Lane) {
        let record = HandedOut {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            settling: &self.settling,
        };
        tracker.move_on(lane, record);
    }
}

/// A record taken, settled `how` while the consumer still holds it, then moved on from: the
/// path of a record handled in order.
fn in_turn(
    tracker: &Tracker,
    lane: &mut Lane,
    topic: &Arc<str>,
    partition: i32,
    offset: i64,
    how: Finish,
) {
    let taken = Taken::new(tracker, topic, partition, offset);
    taken.settle(tracker, how);
    taken.move_on(tracker, lane);
}

#[test]
fn records_done_in_order_move_their_partition_without_delivery() {
    let tracker = Tracker::default();
    let mut lane = Lane::default();
    let t = topic();
    for offset in 10..20 {
        in_turn(&tracker, &mut lane, &t, 0, offset, Finish::Ack);
    }
    in_turn(&tracker, &mut lane, &t, 1, 3, Finish::Ack);
    let mut positions = tracker.take_positions();
    positions.sort();
    assert_eq!(positions, vec![(t.clone(), 0, 20), (t.clone(), 1, 4)]);
    assert_eq!(tracker.outstanding(), 0);
    let inner = tracker.inner.lock().unwrap();
    assert!(
        inner
            .tracks
            .iter()
            .all(|(_, _, track)| track.pending.is_empty())
    );
}

#[test]
fn a_record_in_flight_when_the_consumer_moves_on_holds_its_partition_until_done() {
    let tracker = Tracker::default();
    let mut lane = Lane::default();
    let t = topic();
    in_turn(&tracker, &mut lane, &t, 0, 0, Finish::Ack);
    // Still handled (by another worker) when the consumer takes the next record.
    let slow = Taken::new(&tracker, &t, 0, 1);
    slow.move_on(&tracker, &mut lane);
    assert_eq!(tracker.outstanding(), 1);
    for offset in 2..5 {
        in_turn(&tracker, &mut lane, &t, 0, offset, Finish::Ack);
    }
    assert_eq!(tracker.take_positions(), vec![(t.clone(), 0, 1)]);
    slow.settle(&tracker, Finish::Ack);
    assert_eq!(tracker.outstanding(), 0);
    assert_eq!(tracker.take_positions(), vec![(t, 0, 5)]);
}

#[test]
fn a_rewind_keeps_what_was_taken_before_it_from_moving_the_partition() {
    let tracker = Tracker::default();
    let mut lane = Lane::default();
    let t = topic();
    in_turn(&tracker, &mut lane, &t, 0, 0, Finish::Ack);
    let failing = Taken::new(&tracker, &t, 0, 1);
    failing.move_on(&tracker, &mut lane);
    // Taken before the seek back to 1, done after it, or before it: either way the
    // partition stays at 1 until 1 is handled again.
    let before = Taken::new(&tracker, &t, 0, 2);
    let after = Taken::new(&tracker, &t, 0, 3);
    before.settle(&tracker, Finish::Ack);
    before.move_on(&tracker, &mut lane);
    failing.settle(&tracker, Finish::Rewind);
    after.settle(&tracker, Finish::Ack);
    after.move_on(&tracker, &mut lane);
    assert_eq!(tracker.take_positions(), vec![(t.clone(), 0, 1)]);
    assert_eq!(tracker.outstanding(), 0);
    // Read again from 1.
    for offset in 1..4 {
        in_turn(&tracker, &mut lane, &t, 0, offset, Finish::Ack);
    }
    assert_eq!(tracker.take_positions(), vec![(t, 0, 4)]);
}

#[test]
fn a_record_given_back_before_the_consumer_moves_on_is_never_passed() {
    let tracker = Tracker::default();
    let mut lane = Lane::default();
    let t = topic();
    in_turn(&tracker, &mut lane, &t, 0, 0, Finish::Ack);
    in_turn(&tracker, &mut lane, &t, 0, 1, Finish::Rewind);
    assert_eq!(tracker.take_positions(), vec![(t.clone(), 0, 1)]);
    // Abandoned (its input closing): the partition stays before it for good.
    let abandoned = Taken::new(&tracker, &t, 0, 1);
    abandoned.settle(&tracker, Finish::Abandon);
    abandoned.move_on(&tracker, &mut lane);
    in_turn(&tracker, &mut lane, &t, 0, 2, Finish::Ack);
    assert!(tracker.take_positions().is_empty(), "1 was abandoned");
    assert_eq!(tracker.outstanding(), 0);
}

#[test]
fn a_revoke_closes_the_lane_and_records_taken_after_it_count() {
    let tracker = Tracker::default();
    let mut lane = Lane::default();
    let t = topic();
    in_turn(&tracker, &mut lane, &t, 0, 7, Finish::Ack);
    assert_eq!(tracker.take_positions(), vec![(t.clone(), 0, 8)]);
    tracker.revoke(&[("t".into(), 0)]);
    // Assigned again, read from the committed position.
    in_turn(&tracker, &mut lane, &t, 0, 8, Finish::Ack);
    assert_eq!(tracker.take_positions(), vec![(t, 0, 9)]);
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
