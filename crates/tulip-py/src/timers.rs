//! The loop's clock and timers: asyncio's `time()` and its `_scheduled`
//! heap of `TimerHandle`s.
//!
//! `call_later` and `call_at` put the handle on this heap, ordered by
//! loop time (then by scheduling order), and the tulip loop holds ONE
//! timer, armed for the earliest deadline: a Python timer costs its
//! `TimerHandle` and a heap slot, with no Rust allocation, no `Instant`
//! arithmetic and nothing to take off tulip's heap when it is cancelled.
//! When the tulip timer fires, every handle due runs, in order, in that
//! pass (as asyncio moves its due timers to the ready queue), and the
//! timer is armed again for the next deadline.
//!
//! A cancelled handle lets go of its callback at once and stays on the
//! heap until it is due or a sweep removes it: the heap is swept when it
//! has doubled since the last sweep (and holds at least
//! [`SWEEP_MIN`]), so cancelled timers never hold more than about as
//! much memory as live ones, at an amortised constant cost.

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::gil;
use crate::handle::{Handle, TimerHandle};

/// The loop's clock: `time.monotonic()` read at `base_instant` (tulip's
/// clock is the same monotonic clock, as `Instant`s).
#[derive(Clone, Copy)]
pub(crate) struct Clock {
    base_instant: Instant,
    base_time: f64,
}

/// `time.monotonic()`'s resolution on Linux: a timer due within it of
/// now is due (asyncio's `_clock_resolution`).
const RESOLUTION: f64 = 1e-9;

impl Clock {
    /// A clock reading `base_time` now.
    pub(crate) fn new(base_time: f64) -> Clock {
        Clock {
            base_instant: Instant::now(),
            base_time,
        }
    }

    /// Loop time now, in seconds.
    pub(crate) fn now(&self) -> f64 {
        self.base_time + self.base_instant.elapsed().as_secs_f64()
    }

    /// Loop time `when` as the clock's `Instant` (`None`: beyond what an
    /// `Instant` holds, never due). `when` is not NaN.
    fn instant_of(&self, when: f64) -> Option<Instant> {
        let offset = when - self.base_time;
        if offset >= 0.0 {
            Duration::try_from_secs_f64(offset)
                .ok()
                .and_then(|d| self.base_instant.checked_add(d))
        } else {
            Some(
                Duration::try_from_secs_f64(-offset)
                    .ok()
                    .and_then(|d| self.base_instant.checked_sub(d))
                    .unwrap_or(self.base_instant),
            )
        }
    }
}

/// The smallest heap that is swept of cancelled handles.
const SWEEP_MIN: usize = 256;

/// A scheduled handle: due at `when`, after those scheduled before it
/// for the same time.
struct Entry {
    when: f64,
    seq: u64,
    handle: Py<TimerHandle>,
}

impl Entry {
    fn key(&self) -> (f64, u64) {
        (self.when, self.seq)
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Entry) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed: `BinaryHeap` is a max-heap, the earliest must be on top.
    fn cmp(&self, other: &Entry) -> Ordering {
        let (a, b) = (self.key(), other.key());
        b.0.total_cmp(&a.0).then(b.1.cmp(&a.1))
    }
}

/// The heap, and the one tulip timer armed for its earliest deadline.
pub(crate) struct Timers {
    lp: tulip_executor::Loop,
    clock: Clock,
    heap: RefCell<BinaryHeap<Entry>>,
    seq: Cell<u64>,
    /// The tulip timer and the loop time it is armed for.
    armed: RefCell<Option<(f64, tulip_executor::TimerHandle)>>,
    /// The heap's size after the last sweep.
    swept_len: Cell<usize>,
}

impl Timers {
    /// No timers, on the tulip loop `lp`, by `clock`.
    pub(crate) fn new(lp: tulip_executor::Loop, clock: Clock) -> Rc<Timers> {
        Rc::new(Timers {
            lp,
            clock,
            heap: RefCell::new(BinaryHeap::new()),
            seq: Cell::new(0),
            armed: RefCell::new(None),
            swept_len: Cell::new(0),
        })
    }

    /// Schedules `handle` to run at loop time `when` (not NaN).
    pub(crate) fn push(
        self: &Rc<Self>,
        py: Python<'_>,
        when: f64,
        handle: Py<TimerHandle>,
    ) -> Result<(), tulip_executor::Error> {
        let seq = self.seq.get();
        self.seq.set(seq.wrapping_add(1));
        let len = {
            let mut heap = self.heap.borrow_mut();
            heap.push(Entry { when, seq, handle });
            heap.len()
        };
        if len >= SWEEP_MIN.max(2 * self.swept_len.get()) {
            self.sweep(py);
        }
        let earlier = match &*self.armed.borrow() {
            Some((at, _)) => when < *at,
            None => true,
        };
        if earlier {
            self.arm(when)?;
        }
        Ok(())
    }

    /// Drops the cancelled handles (they let go of their callbacks when
    /// cancelled; this lets go of the handles).
    fn sweep(&self, py: Python<'_>) {
        let mut heap = self.heap.borrow_mut();
        heap.retain(|entry| !entry.handle.bind(py).as_super().get().is_cancelled());
        self.swept_len.set(heap.len());
    }

    /// Arms the tulip timer for loop time `when` (replacing the armed one).
    fn arm(self: &Rc<Self>, when: f64) -> Result<(), tulip_executor::Error> {
        if let Some((_, timer)) = self.armed.borrow_mut().take() {
            timer.cancel();
        }
        // Beyond an `Instant`'s range: never due, nothing to arm.
        let Some(at) = self.clock.instant_of(when) else {
            return Ok(());
        };
        // The tulip loop holds the callback, and this heap holds the
        // loop: a weak reference back, so that neither keeps the other.
        let timers: Weak<Timers> = Rc::downgrade(self);
        let timer = self.lp.call_at(at, move || {
            if let Some(timers) = timers.upgrade() {
                timers.fire();
            }
        })?;
        *self.armed.borrow_mut() = Some((when, timer));
        Ok(())
    }

    /// The tulip timer fired: runs every handle due, in order, after
    /// arming the timer for the next deadline.
    fn fire(self: &Rc<Self>) {
        self.armed.borrow_mut().take();
        gil::in_loop(|py| {
            let due = self.take_due(py);
            let next = self.heap.borrow().peek().map(|entry| entry.when);
            if let Some(next) = next {
                if let Err(err) = self.arm(next) {
                    // Only a closed tulip loop refuses a timer, and a
                    // closed loop runs nothing: reported, not raised.
                    PyRuntimeError::new_err(format!("tulipio: a timer was not armed: {err}"))
                        .write_unraisable(py, None);
                }
            }
            for handle in due {
                Handle::run(handle.into_bound(py).as_super());
            }
        });
    }

    /// Takes the handles due now off the heap (and cancelled ones at its
    /// top, so that the timer is not armed for them).
    fn take_due(&self, py: Python<'_>) -> Vec<Py<TimerHandle>> {
        let end = self.clock.now() + RESOLUTION;
        let mut heap = self.heap.borrow_mut();
        let mut due = Vec::new();
        while let Some(top) = heap.peek() {
            let cancelled = top.handle.bind(py).as_super().get().is_cancelled();
            if top.when > end && !cancelled {
                break;
            }
            let Some(entry) = heap.pop() else {
                break;
            };
            if cancelled {
                drop(entry.handle.into_bound(py));
            } else {
                due.push(entry.handle);
            }
        }
        if heap.len() < self.swept_len.get() {
            self.swept_len.set(heap.len());
        }
        due
    }

    /// Drops every timer (the loop is closing).
    pub(crate) fn clear(&self) {
        if let Some((_, timer)) = self.armed.borrow_mut().take() {
            timer.cancel();
        }
        let heap = std::mem::take(&mut *self.heap.borrow_mut());
        drop(heap);
        self.swept_len.set(0);
    }
}
