//! The timer queue: a radix heap keyed by deadline, which pops in
//! (deadline, scheduling order) order — equal deadlines run FIFO.
//!
//! Timer deadlines are monotone: a new timer is almost never due before the
//! last one the loop popped. A radix heap exploits that. Entries sit in 65
//! buckets by the highest bit in which their deadline differs from `last`
//! (a base never ahead of the clock, at most the earliest deadline queued);
//! bucket 0 holds the entries due exactly at `last`, in scheduling order.
//! Inserting is an append; popping takes bucket 0, and when it is empty the
//! first non-empty bucket is redistributed around a new base, each entry
//! moving to a strictly lower bucket. Every entry moves at most 64 times
//! and in practice a few, and each bucket is a `Vec` walked in order, so
//! timers do not pay a binary heap's cache-missing sift per pop.
//!
//! A pass of the loop costs the same whatever the number of timers that are
//! not due: a bit mask says which buckets are non-empty and every bucket
//! keeps a lower bound of its deadlines, so finding that nothing is due (or
//! how long to sleep) reads one mask and one number, never a bucket's
//! entries. A bucket is walked only when its bound is due, and then every
//! entry in it moves down (or is dropped if cancelled): work paid for once
//! per entry and level, not per pass. The bound is exact unless the entry
//! that set it was cancelled; then it is early, which costs at most one
//! early wake-up, after which that bucket has been split.
//!
//! A timer due before `last` (`call_at` with a time in the past) goes to a
//! small binary heap of its own, drained first, so that such timers still
//! run in deadline order.
//!
//! Cancel is O(1): the entry is flagged and skipped when it is reached. As in
//! asyncio, once half of the queue (and more than 100 entries) is cancelled,
//! it is rebuilt without them and its memory shrunk, so a workload that
//! cancels most of its timers does not grow without bound. The check runs
//! on every pass that has timers, busy or idle.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::rc::Rc;

use crate::event_loop::clock::Nanos;
use crate::event_loop::handle::{self, CallbackRc};

const MIN_ENTRIES_TO_PURGE: usize = 100;

/// The due list's capacity kept after a burst.
const SHRINK_ABOVE: usize = 1024;

/// Buckets 1..=64 by the highest differing bit; bucket 0 is `due`.
const BUCKETS: usize = 65;

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

fn live(e: &Entry) -> bool {
    !handle::is_cancelled(&*e.cb)
}

pub(crate) struct TimerQueue {
    /// Entries due exactly at `last`, in scheduling order.
    due: VecDeque<Entry>,
    /// Entries later than `last`, by highest differing bit (index 0 unused).
    buckets: Vec<Vec<Entry>>,
    /// Per bucket, a deadline no later than any of its entries' (`NEVER`
    /// when the bucket is empty).
    bounds: [Nanos; BUCKETS],
    /// Bit `b - 1` is set when bucket `b` is not empty.
    occupied: u64,
    /// Entries looked at (moved between buckets or checked for
    /// cancellation): the work the queue does, for tests.
    touched: u64,
    /// Entries scheduled before `last`.
    past: BinaryHeap<Entry>,
    /// The radix base: at most every queued deadline (past ones aside) and
    /// never ahead of the clock when it was set.
    last: Nanos,
    len: usize,
    seq: u64,
    /// Cancelled entries still queued; shared with every `TimerHandle`.
    cancelled: Rc<Cell<usize>>,
}

impl TimerQueue {
    pub(crate) fn new() -> TimerQueue {
        TimerQueue {
            due: VecDeque::new(),
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            bounds: [NEVER; BUCKETS],
            occupied: 0,
            touched: 0,
            past: BinaryHeap::new(),
            last: 0,
            len: 0,
            seq: 0,
            cancelled: Rc::new(Cell::new(0)),
        }
    }

    pub(crate) fn cancelled_counter(&self) -> &Rc<Cell<usize>> {
        &self.cancelled
    }

    /// How many entries are queued (cancelled ones included).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn bucket(&self, when: Nanos) -> usize {
        (u64::BITS - (when ^ self.last).leading_zeros()) as usize
    }

    fn place(&mut self, entry: Entry) {
        if entry.when < self.last {
            self.past.push(entry);
        } else if entry.when == self.last {
            self.due.push_back(entry);
        } else {
            let b = self.bucket(entry.when);
            self.bounds[b] = self.bounds[b].min(entry.when);
            self.occupied |= 1 << (b - 1);
            self.buckets[b].push(entry);
        }
    }

    pub(crate) fn push(&mut self, when: Nanos, cb: CallbackRc) {
        handle::set_scheduled(&*cb, true);
        self.seq += 1;
        self.len += 1;
        self.place(Entry {
            when,
            seq: self.seq,
            cb,
        });
    }

    fn forget_cancelled(&mut self) {
        self.len -= 1;
        self.cancelled.set(self.cancelled.get().saturating_sub(1));
    }

    /// The first non-empty bucket.
    fn first_bucket(&self) -> Option<usize> {
        (self.occupied != 0).then(|| self.occupied.trailing_zeros() as usize + 1)
    }

    /// Whether `e` is still armed (counted as work: it reads the entry).
    fn check_live(&mut self, e: &Entry) -> bool {
        self.touched += 1;
        live(e)
    }

    /// If the first non-empty bucket may hold an entry due at `now`, moves
    /// its entries down around a new base `last`: the earliest live
    /// deadline in it, or `now` if the clock has not reached that deadline
    /// (`last` never passes the clock). Cancelled entries met are dropped.
    /// False if nothing was moved.
    fn advance(&mut self, now: Nanos) -> bool {
        loop {
            let Some(b) = self.first_bucket() else {
                return false;
            };
            if self.bounds[b] > now {
                return false;
            }
            let mut entries = std::mem::take(&mut self.buckets[b]);
            self.bounds[b] = NEVER;
            self.occupied &= !(1 << (b - 1));
            let before = entries.len();
            let mut min = NEVER;
            entries.retain(|e| {
                let keep = live(e);
                if keep {
                    min = min.min(e.when);
                }
                keep
            });
            self.touched += before as u64;
            for _ in entries.len()..before {
                self.forget_cancelled();
            }
            if entries.is_empty() {
                // Only cancelled entries: the next bucket may be due.
                continue;
            }
            // Every entry of bucket `b` and the new base agree on the bits
            // above `b - 1` (the old bound and `now`, when it is the smaller,
            // lie within the bucket's range too), so each entry lands in a
            // lower bucket, and the later buckets keep their indices.
            self.last = min.min(now);
            self.touched += entries.len() as u64;
            for entry in entries {
                self.place(entry);
            }
            return true;
        }
    }

    /// Drops cancelled entries from the front, compacting first if most of
    /// the queue is cancelled. Returns the earliest live deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Nanos> {
        self.maybe_purge();
        while let Some(top) = self.past.peek() {
            if live(top) {
                return Some(top.when);
            }
            self.past.pop();
            self.forget_cancelled();
        }
        while let Some(front) = self.due.front() {
            if live(front) {
                return Some(self.last);
            }
            self.due.pop_front();
            self.forget_cancelled();
        }
        // A lower bound: early only when the entry that set it was
        // cancelled (see the module doc).
        self.first_bucket().map(|b| self.bounds[b])
    }

    /// Entries looked at so far: the measure of the queue's work.
    #[cfg(test)]
    pub(crate) fn touched(&self) -> u64 {
        self.touched
    }

    /// Moves every entry due at `now` into `out`, in (deadline, scheduling)
    /// order.
    pub(crate) fn pop_due(&mut self, now: Nanos, mut out: impl FnMut(CallbackRc)) {
        self.maybe_purge();
        let mut emit = |q: &mut TimerQueue, entry: Entry| {
            if q.check_live(&entry) {
                q.len -= 1;
                handle::set_scheduled(&*entry.cb, false);
                out(entry.cb);
            } else {
                q.forget_cancelled();
            }
        };
        // Timers scheduled before `last` come first: they are earlier.
        while let Some(top) = self.past.peek() {
            if top.when > now {
                break;
            }
            let Some(entry) = self.past.pop() else { break };
            emit(self, entry);
        }
        loop {
            // A deadline that saturated (`Duration::MAX` away) never fires,
            // even on a paused clock advanced that far.
            if self.last > now || self.last == NEVER {
                return;
            }
            while let Some(entry) = self.due.pop_front() {
                emit(self, entry);
            }
            if self.due.capacity() > SHRINK_ABOVE {
                // A burst of timers due at one instant: give the memory back.
                self.due.shrink_to(SHRINK_ABOVE);
            }
            if !self.advance(now) {
                return;
            }
        }
    }

    fn maybe_purge(&mut self) {
        let cancelled = self.cancelled.get();
        if self.len > MIN_ENTRIES_TO_PURGE && cancelled * 2 >= self.len {
            self.due.retain(live);
            self.due.shrink_to_fit();
            let past: Vec<Entry> = std::mem::take(&mut self.past)
                .into_vec()
                .into_iter()
                .filter(live)
                .collect();
            self.past = BinaryHeap::from(past);
            self.past.shrink_to_fit();
            self.touched += self.len as u64;
            self.occupied = 0;
            for (b, bucket) in self.buckets.iter_mut().enumerate() {
                bucket.retain(live);
                bucket.shrink_to_fit();
                self.bounds[b] = bucket.iter().map(|e| e.when).min().unwrap_or(NEVER);
                if b > 0 && !bucket.is_empty() {
                    self.occupied |= 1 << (b - 1);
                }
            }
            self.len =
                self.due.len() + self.past.len() + self.buckets.iter().map(Vec::len).sum::<usize>();
            self.cancelled.set(0);
        }
    }

    /// Empties the queue (loop close), returning the callbacks for dropping.
    pub(crate) fn drain(&mut self) -> Vec<CallbackRc> {
        self.cancelled.set(0);
        self.len = 0;
        let mut out: Vec<CallbackRc> = self.due.drain(..).map(|e| e.cb).collect();
        out.extend(
            std::mem::take(&mut self.past)
                .into_vec()
                .into_iter()
                .map(|e| e.cb),
        );
        for bucket in &mut self.buckets {
            out.extend(bucket.drain(..).map(|e| e.cb));
        }
        self.bounds = [NEVER; BUCKETS];
        self.occupied = 0;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_loop::handle::Once;
    use std::cell::RefCell;
    use std::panic::Location;

    type Log = Rc<RefCell<Vec<u64>>>;

    fn cb(log: &Log, n: u64) -> CallbackRc {
        let log = log.clone();
        Once::new(move || log.borrow_mut().push(n), Location::caller())
    }

    fn run(q: &mut TimerQueue, now: Nanos) {
        let mut due = Vec::new();
        q.pop_due(now, |c| due.push(c));
        for c in due {
            c.call();
        }
    }

    /// A tiny deterministic generator (xorshift), to drive the model test.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Random pushes (past, present, near, far, equal deadlines, NEVER),
    /// cancellations and pops against a reference: a sorted list of
    /// (deadline, sequence). Every pop must return exactly what is due, in
    /// (deadline, sequence) order.
    #[test]
    fn matches_a_sorted_reference_under_random_operations() {
        for seed in 1..=20u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let log: Log = Rc::new(RefCell::new(Vec::new()));
            let mut q = TimerQueue::new();
            let mut model: Vec<(u64, u64, CallbackRc)> = Vec::new();
            let mut now: u64 = 1_000;
            let mut next_id = 0u64;
            for _step in 0..3_000 {
                match rng.next() % 10 {
                    0..=4 => {
                        let when = match rng.next() % 6 {
                            0 => now.saturating_sub(rng.next() % 500),
                            1 => now,
                            2 => now + rng.next() % 50,
                            3 => now + rng.next() % 100_000,
                            4 => now + (rng.next() % 4) * 1_000,
                            _ => {
                                if rng.next() % 20 == 0 {
                                    NEVER
                                } else {
                                    now + rng.next() % 10_000_000
                                }
                            }
                        };
                        next_id += 1;
                        let c = cb(&log, next_id);
                        q.push(when, c.clone());
                        model.push((when, next_id, c));
                    }
                    5 => {
                        if !model.is_empty() {
                            let i = (rng.next() % model.len() as u64) as usize;
                            let (_, _, c) = model.remove(i);
                            handle::cancel_timer(&*c, &q.cancelled.clone());
                        }
                    }
                    6 => {
                        let expected = model
                            .iter()
                            .filter(|(w, _, _)| *w != NEVER)
                            .map(|(w, _, _)| *w)
                            .min();
                        // Never later than the earliest live deadline (early
                        // only after the entry that set a bound was cancelled).
                        let got = q.next_deadline();
                        if let Some(e) = expected {
                            assert!(got.is_some_and(|g| g <= e), "{got:?} > {e}, seed {seed}");
                        }
                    }
                    _ => {
                        now += rng.next() % 20_000;
                        model.sort_by_key(|(w, s, _)| (*w, *s));
                        let expected: Vec<u64> = model
                            .iter()
                            .filter(|(w, _, _)| *w <= now && *w != NEVER)
                            .map(|(_, s, _)| *s)
                            .collect();
                        model.retain(|(w, _, _)| *w > now || *w == NEVER);
                        log.borrow_mut().clear();
                        run(&mut q, now);
                        assert_eq!(*log.borrow(), expected, "seed {seed}");
                    }
                }
                assert_eq!(
                    q.len() - q.cancelled.get(),
                    model.len(),
                    "live count, seed {seed}"
                );
            }
        }
    }

    #[test]
    fn cancelled_entries_are_purged_at_half() {
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let mut q = TimerQueue::new();
        let mut cbs = Vec::new();
        for i in 0..1000u64 {
            let c = cb(&log, i);
            q.push(i * 1000 + 1, c.clone());
            cbs.push(c);
        }
        for c in cbs.iter().step_by(2) {
            handle::cancel_timer(&**c, &q.cancelled.clone());
        }
        assert_eq!(q.next_deadline(), Some(1001));
        assert_eq!(q.len(), 500, "the purge dropped every cancelled entry");
        run(&mut q, NEVER - 1);
        let expected: Vec<u64> = (0..1000).filter(|i| i % 2 == 1).collect();
        assert_eq!(*log.borrow(), expected);
    }

    #[test]
    fn never_stays_queued() {
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let mut q = TimerQueue::new();
        q.push(NEVER, cb(&log, 1));
        run(&mut q, NEVER);
        assert!(log.borrow().is_empty());
        assert_eq!(q.len(), 1);
        assert_eq!(q.drain().len(), 1);
    }

    /// A pass with N far-away timers does no work per timer: finding that
    /// nothing is due, and how long to sleep, reads no entry, even while
    /// timers are cancelled and re-armed (a read timeout per connection).
    #[test]
    fn a_pass_does_no_work_per_pending_timer() {
        const SECOND: u64 = 1_000_000_000;
        for n in [0u64, 1_000, 100_000] {
            let log: Log = Rc::new(RefCell::new(Vec::new()));
            let mut q = TimerQueue::new();
            let mut now = 1_000u64;
            let mut armed: VecDeque<CallbackRc> = (0..n)
                .map(|i| {
                    let c = cb(&log, i);
                    q.push(now + 30 * SECOND + i, c.clone());
                    c
                })
                .collect();
            let start = q.touched();
            for pass in 0..10_000u64 {
                now += 1_000;
                run(&mut q, now);
                assert!(q.next_deadline().is_some_and(|d| d > now) || n == 0);
                if pass % 10 == 0 {
                    if let Some(old) = armed.pop_front() {
                        handle::cancel_timer(&*old, &q.cancelled.clone());
                        let c = cb(&log, pass);
                        q.push(now + 30 * SECOND, c.clone());
                        armed.push_back(c);
                    }
                }
            }
            // Only the purge of the 1,000 cancelled timers reads entries
            // (once each, and the live ones once per purge).
            let work = q.touched() - start;
            let rearmed = n.min(1_000);
            assert!(
                work <= 4 * rearmed,
                "{work} entries looked at over 10,000 passes with {n} timers"
            );
            assert!(log.borrow().is_empty(), "nothing fires early");
        }
    }

    /// Far-away timers armed and cancelled on a busy loop (which never asks
    /// for the next deadline) are freed by the purge, and the work stays
    /// proportional to the timers, not to timers times passes.
    #[test]
    fn cancelled_timers_are_purged_on_a_busy_loop() {
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let mut q = TimerQueue::new();
        let mut now = 0u64;
        for i in 0..100_000u64 {
            now += 10;
            let c = cb(&log, i);
            q.push(now + 30_000_000_000, c.clone());
            handle::cancel_timer(&*c, &q.cancelled.clone());
            run(&mut q, now);
        }
        assert!(
            q.len() <= 2 * MIN_ENTRIES_TO_PURGE,
            "{} entries left",
            q.len()
        );
        assert!(q.touched() < 400_000, "{} entries looked at", q.touched());
    }

    /// A bound set by a cancelled entry that comes due splits its bucket
    /// without firing anything early, and the live entries still fire at
    /// their deadlines, in order.
    #[test]
    fn a_cancelled_bound_never_fires_early() {
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let mut q = TimerQueue::new();
        let early = cb(&log, 0);
        q.push(1_000_000, early.clone());
        q.push(1_500_000, cb(&log, 1));
        q.push(1_500_000, cb(&log, 2));
        q.push(1_200_000, cb(&log, 3));
        handle::cancel_timer(&*early, &q.cancelled.clone());
        assert!(q.next_deadline().is_some_and(|d| d <= 1_200_000));
        run(&mut q, 1_100_000);
        assert!(log.borrow().is_empty());
        assert!(
            q.next_deadline()
                .is_some_and(|d| (1_100_000..=1_200_000).contains(&d))
        );
        run(&mut q, 1_499_999);
        assert_eq!(*log.borrow(), vec![3]);
        run(&mut q, 1_500_000);
        assert_eq!(*log.borrow(), vec![3, 1, 2]);
        assert_eq!(q.next_deadline(), None);
    }
}
