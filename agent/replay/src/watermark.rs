//! Which records are completely replayed: the commit watermark.
//!
//! Every record read is registered and *held* by whatever still needs it: the reader until it has handed the
//! record's contents on, a connection whose unfinished request or unanswered response began in it, and each
//! exchange (request plus captured response) that used its bytes, until that exchange's result is written or
//! it is dead-lettered. A lane's resume point is the oldest record still held — or, when none is, the position
//! after the last record read. Everything before it is done, so committing it never skips work; records after
//! it that were already done are replayed again after a crash (at least once).

use std::collections::{BTreeMap, HashMap};

use crate::source::Cursor;

/// A registered record: its lane and its ordinal in read order within the lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordRef {
    lane: u32,
    ordinal: u64,
}

#[derive(Debug, Default)]
struct Lane {
    next_ordinal: u64,
    /// Held records: where each is and how many holders it has.
    held: BTreeMap<u64, (Cursor, u64)>,
    /// Resume point when nothing is held.
    after_last: Option<Cursor>,
}

/// The holds on every lane.
#[derive(Debug, Default)]
pub struct Watermark {
    lanes: HashMap<u32, Lane>,
}

impl Watermark {
    /// An empty tracker.
    pub fn new() -> Watermark {
        Watermark::default()
    }

    /// Registers a record just read (at `at`, followed by `after`) with one hold, the reader's.
    pub fn read(&mut self, at: Cursor, after: Cursor) -> RecordRef {
        let lane_id = at.lane();
        let lane = self.lanes.entry(lane_id).or_default();
        let ordinal = lane.next_ordinal;
        lane.next_ordinal = lane.next_ordinal.saturating_add(1);
        lane.held.insert(ordinal, (at, 1));
        lane.after_last = Some(after);
        RecordRef { lane: lane_id, ordinal }
    }

    /// Adds a holder to a record that is still held (holders only ever take records someone else holds).
    pub fn hold(&mut self, record: RecordRef) {
        if let Some((_, count)) = self.lanes.get_mut(&record.lane).and_then(|l| l.held.get_mut(&record.ordinal)) {
            *count = count.saturating_add(1);
        }
    }

    /// Removes one holder.
    pub fn release(&mut self, record: RecordRef) {
        let Some(lane) = self.lanes.get_mut(&record.lane) else { return };
        if let Some((_, count)) = lane.held.get_mut(&record.ordinal) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                lane.held.remove(&record.ordinal);
            }
        }
    }

    /// Drops every hold on `lane` and its resume point (a revoked Kafka partition: its new owner resumes it from
    /// the last commit). Holders that release later release nothing, and records read on the lane afterwards
    /// get fresh ordinals, so they are never confused with the forgotten ones.
    pub fn forget(&mut self, lane: u32) {
        if let Some(lane) = self.lanes.get_mut(&lane) {
            lane.held.clear();
            lane.after_last = None;
        }
    }

    /// Per lane, the cursor to resume from: the oldest held record, else the position after the last one read.
    pub fn resume_points(&self) -> Vec<Cursor> {
        let mut points: Vec<Cursor> = self
            .lanes
            .values()
            .filter_map(|lane| lane.held.values().next().map(|(at, _)| *at).or(lane.after_last))
            .collect();
        points.sort();
        points
    }

    /// Records read and not yet completely replayed.
    pub fn held_records(&self) -> usize {
        self.lanes.values().map(|l| l.held.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64) -> Cursor {
        Cursor::Log { segment: 1, offset }
    }

    #[test]
    fn the_watermark_stops_at_the_oldest_record_anyone_holds() {
        let mut w = Watermark::new();
        assert!(w.resume_points().is_empty());
        let r0 = w.read(at(16), at(100));
        let r1 = w.read(at(100), at(200));
        let r2 = w.read(at(200), at(300));
        // r0's request is unanswered (a connection holds it), r1's exchange is in flight, r2 is done.
        w.hold(r0);
        w.hold(r1);
        for r in [r0, r1, r2] {
            w.release(r);
        }
        assert_eq!(w.resume_points(), vec![at(16)]);
        assert_eq!(w.held_records(), 2);
        // A later record finishing first does not move the watermark past an earlier one.
        w.release(r1);
        assert_eq!(w.resume_points(), vec![at(16)]);
        w.release(r0);
        assert_eq!(w.resume_points(), vec![at(300)], "nothing held: resume after the last record");
    }

    #[test]
    fn a_record_with_several_exchanges_waits_for_all_of_them() {
        let mut w = Watermark::new();
        let r = w.read(at(16), at(50));
        w.hold(r);
        w.hold(r);
        w.release(r);
        w.release(r);
        assert_eq!(w.resume_points(), vec![at(16)]);
        w.release(r);
        assert_eq!(w.resume_points(), vec![at(50)]);
        // Releasing more often than held is harmless.
        w.release(r);
        assert_eq!(w.resume_points(), vec![at(50)]);
    }

    #[test]
    fn a_forgotten_lane_has_no_resume_point_and_late_releases_touch_nothing() {
        let kafka = |partition, offset| Cursor::Kafka { partition, offset };
        let mut w = Watermark::new();
        let a = w.read(kafka(0, 7), kafka(0, 8));
        let b = w.read(kafka(1, 3), kafka(1, 4));
        w.hold(a);
        w.release(b);
        assert_eq!(w.resume_points(), vec![kafka(0, 7), kafka(1, 4)]);
        w.forget(0);
        assert_eq!(w.resume_points(), vec![kafka(1, 4)], "partition 0 was revoked: never committed again");
        // Partition 0 comes back (re-delivered from its last commit); the old holder's release is stale.
        let again = w.read(kafka(0, 5), kafka(0, 6));
        w.release(a);
        assert_eq!(w.resume_points(), vec![kafka(0, 5), kafka(1, 4)]);
        w.release(again);
        assert_eq!(w.resume_points(), vec![kafka(0, 6), kafka(1, 4)]);
        assert_eq!(w.held_records(), 0);
    }
}
