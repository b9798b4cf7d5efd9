//! The timer queue: a binary heap ordered by (deadline, sequence number), so
//! equal deadlines run in the order they were scheduled.
//!
//! Insert is O(log n); cancel is O(1): the entry is flagged and skipped when
//! it reaches the top. As in asyncio, once half of the heap (and
//! more than 100 entries) is cancelled, the heap is rebuilt without them and
//! its memory shrunk, so a workload that cancels most of its timers does not
//! grow without bound.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::rc::Rc;

use crate::clock::Nanos;
use crate::handle::{self, CallbackRc};

const MIN_ENTRIES_TO_PURGE: usize = 100;

/// The saturated deadline: never due.
pub(crate) const NEVER: Nanos = Nanos::MAX;

struct Entry {
    when: Nanos,
    seq: u64,
    cb: CallbackRc,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.when == other.when && self.seq == other.seq
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and the earliest entry must be on top.
    fn cmp(&self, other: &Entry) -> Ordering {
        other
            .when
            .cmp(&self.when)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

pub(crate) struct TimerQueue {
    heap: BinaryHeap<Entry>,
    seq: u64,
    /// Cancelled entries still in the heap; shared with every `TimerHandle`.
    cancelled: Rc<Cell<usize>>,
}

impl TimerQueue {
    pub(crate) fn new() -> TimerQueue {
        TimerQueue {
            heap: BinaryHeap::new(),
            seq: 0,
            cancelled: Rc::new(Cell::new(0)),
        }
    }

    pub(crate) fn cancelled_counter(&self) -> &Rc<Cell<usize>> {
        &self.cancelled
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn push(&mut self, when: Nanos, cb: CallbackRc) {
        handle::set_scheduled(&*cb, true);
        self.seq += 1;
        self.heap.push(Entry {
            when,
            seq: self.seq,
            cb,
        });
    }

    /// Drops cancelled entries from the top, then compacts if most of the
    /// heap is cancelled. Returns the earliest live deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Nanos> {
        self.maybe_purge();
        while let Some(top) = self.heap.peek() {
            if handle::is_cancelled(&*top.cb) {
                self.heap.pop();
                self.cancelled.set(self.cancelled.get().saturating_sub(1));
            } else {
                return Some(top.when);
            }
        }
        None
    }

    /// Moves every entry due at `now` into `out` (in deadline order).
    pub(crate) fn pop_due(&mut self, now: Nanos, mut out: impl FnMut(CallbackRc)) {
        while let Some(top) = self.heap.peek() {
            // A deadline that saturated (`Duration::MAX` away) never fires,
            // even on a paused clock advanced that far.
            if top.when > now || top.when == NEVER {
                break;
            }
            let Some(entry) = self.heap.pop() else { break };
            if handle::is_cancelled(&*entry.cb) {
                self.cancelled.set(self.cancelled.get().saturating_sub(1));
                continue;
            }
            handle::set_scheduled(&*entry.cb, false);
            out(entry.cb);
        }
    }

    fn maybe_purge(&mut self) {
        let cancelled = self.cancelled.get();
        if self.heap.len() > MIN_ENTRIES_TO_PURGE && cancelled * 2 >= self.heap.len() {
            let entries = std::mem::take(&mut self.heap).into_vec();
            let live: Vec<Entry> = entries
                .into_iter()
                .filter(|e| !handle::is_cancelled(&*e.cb))
                .collect();
            let mut heap = BinaryHeap::from(live);
            heap.shrink_to_fit();
            self.heap = heap;
            self.cancelled.set(0);
        }
    }

    /// Empties the queue (loop close), returning the callbacks for dropping.
    pub(crate) fn drain(&mut self) -> Vec<CallbackRc> {
        self.cancelled.set(0);
        std::mem::take(&mut self.heap)
            .into_vec()
            .into_iter()
            .map(|e| e.cb)
            .collect()
    }
}
