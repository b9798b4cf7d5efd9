//! The loop's ready queue of Python handles: asyncio's `_ready` deque.
//!
//! `call_soon` appends a handle here, not a boxed closure to the tulip
//! loop: the handles of a pass go in batches, each run by ONE tulip
//! callback, so a callback costs the handle (the Python object asyncio
//! allocates too) and a slot in a reused vector. A batch takes handles
//! only while the tulip loop's [`ReadyMark`] is the one read when its
//! callback was queued (nothing else queued since, same pass): otherwise
//! a new batch starts, so Python handles keep their first-in, first-out
//! order with everything else the loop runs (transports' protocol calls,
//! timers, other threads' callbacks), as asyncio's one deque does.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use pyo3::prelude::*;
use tulip_executor::ReadyMark;

use crate::gil;
use crate::handle::Handle;

/// Batches of handles, oldest first; each has one tulip callback queued.
pub(crate) struct ReadyQueue {
    lp: tulip_executor::Loop,
    batches: RefCell<VecDeque<Vec<Py<Handle>>>>,
    /// The mark right after the newest batch's callback was queued.
    open: Cell<Option<ReadyMark>>,
    /// Emptied batches, kept for their capacity.
    spare: RefCell<Vec<Vec<Py<Handle>>>>,
}

/// How many emptied batches are kept, and the largest kept.
const SPARE_BATCHES: usize = 4;
const SPARE_CAPACITY: usize = 4096;

impl ReadyQueue {
    /// An empty queue feeding the tulip loop `lp`.
    pub(crate) fn new(lp: tulip_executor::Loop) -> Rc<ReadyQueue> {
        Rc::new(ReadyQueue {
            lp,
            batches: RefCell::new(VecDeque::new()),
            open: Cell::new(None),
            spare: RefCell::new(Vec::new()),
        })
    }

    /// Queues `handle` to run on the next pass, after everything queued
    /// before it.
    pub(crate) fn push(self: &Rc<Self>, handle: Py<Handle>) -> Result<(), tulip_executor::Error> {
        if self.open.get() == Some(self.lp.ready_mark()) {
            if let Some(batch) = self.batches.borrow_mut().back_mut() {
                batch.push(handle);
                return Ok(());
            }
        }
        // The tulip loop holds the callback, and this queue holds the
        // loop: a weak reference back, so that neither keeps the other.
        let queue: Weak<ReadyQueue> = Rc::downgrade(self);
        self.lp.call_soon(move || {
            if let Some(queue) = queue.upgrade() {
                queue.run_batch();
            }
        })?;
        let mut batch = self.spare.borrow_mut().pop().unwrap_or_default();
        batch.push(handle);
        self.batches.borrow_mut().push_back(batch);
        self.open.set(Some(self.lp.ready_mark()));
        Ok(())
    }

    /// Runs the oldest batch (its tulip callback's turn).
    fn run_batch(&self) {
        let Some(mut batch) = self.batches.borrow_mut().pop_front() else {
            return;
        };
        gil::in_loop(|py| {
            for handle in batch.drain(..) {
                // A `Bound`: letting go of it is a plain decref.
                Handle::run(&handle.into_bound(py));
            }
        });
        let mut spare = self.spare.borrow_mut();
        if spare.len() < SPARE_BATCHES && batch.capacity() <= SPARE_CAPACITY {
            spare.push(batch);
        }
    }

    /// Drops every queued handle (the loop is closing).
    pub(crate) fn clear(&self) {
        let batches = std::mem::take(&mut *self.batches.borrow_mut());
        self.open.set(None);
        drop(batches);
    }
}
