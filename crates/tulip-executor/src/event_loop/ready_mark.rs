//! [`ReadyMark`]: where a loop's ready queue stands, for code that keeps a
//! queue of its own and runs it from one callback a pass (the Python loop
//! batches its handles this way). Appending to the batch whose callback
//! was queued last keeps the loop's first-in, first-out order only while
//! nothing else was queued after it; comparing marks tells.

use crate::event_loop::base_events::Loop;

/// A reading of a loop's ready queue, from [`Loop::ready_mark`].
///
/// Two equal readings mean that nothing was queued to run in between (no
/// callback, task wake-up, I/O event or due timer) and that no pass
/// started: work added to a batch whose callback was queued just before
/// the first reading runs where it would have run had it been queued on
/// its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReadyMark {
    pass: u64,
    len: usize,
}

impl Loop {
    /// Where the ready queue stands now (see [`ReadyMark`]).
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// // A batch run by one callback.
    /// let batch = Rc::new(RefCell::new(vec!["a"]));
    /// let (b, l) = (batch.clone(), log.clone());
    /// lp.call_soon(move || l.borrow_mut().extend(b.borrow_mut().drain(..)))?;
    /// let mark = lp.ready_mark();
    /// // Nothing was queued since the batch's callback: "b" may join it.
    /// assert_eq!(lp.ready_mark(), mark);
    /// batch.borrow_mut().push("b");
    /// let l = log.clone();
    /// lp.call_soon(move || l.borrow_mut().push("c"))?;
    /// // Something was: what joins the batch now would run before "c".
    /// assert_ne!(lp.ready_mark(), mark);
    /// let stop = lp.clone();
    /// lp.call_soon(move || stop.stop())?;
    /// event_loop.run_forever()?;
    /// assert_eq!(*log.borrow(), ["a", "b", "c"]);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn ready_mark(&self) -> ReadyMark {
        let inner = &*self.inner;
        ReadyMark {
            pass: inner.pass_seq.get(),
            len: inner.ready.borrow().len(),
        }
    }
}
