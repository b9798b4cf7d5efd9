//! Helpers shared by the integration tests of `tulip-executor`: drop flags,
//! one-pass runs, a watchdog that turns a hang into a failure, an
//! exception handler that records what it is given. What every crate's
//! tests share (the heap in use, a paused-clock loop) comes from
//! `tulip-test`.
//!
//! Each test binary uses only some of these, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use tulip_executor::{EventLoop, ExceptionContext, Loop, TimerHandle};

/// Sets its flag when dropped: a stand-in for a destructor (`finally`).
#[derive(Debug)]
pub struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A [`DropFlag`] and the flag it sets.
pub fn drop_flag() -> (DropFlag, Rc<Cell<bool>>) {
    let flag = Rc::new(Cell::new(false));
    (DropFlag(flag.clone()), flag)
}

/// Runs exactly one pass of the loop (asyncio: `stop()` then
/// `run_forever()` polls once with a zero timeout and runs the ready batch).
pub fn run_once(el: &EventLoop) {
    el.stop();
    el.run_forever().expect("run_forever");
}

/// Schedules a stop after `delay`.
pub fn stop_after(lp: &Loop, delay: Duration) -> TimerHandle {
    let l = lp.clone();
    lp.call_later(delay, move || l.stop()).expect("call_later")
}

/// A watchdog: after `delay` it stops the loop and sets the returned flag,
/// so a test that would hang fails instead. Cancel the handle when done.
pub fn watchdog(lp: &Loop, delay: Duration) -> (TimerHandle, Rc<Cell<bool>>) {
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let l = lp.clone();
    let handle = lp
        .call_later(delay, move || {
            f.set(true);
            l.stop();
        })
        .expect("call_later");
    (handle, fired)
}

/// Installs an exception handler that records every context it receives.
pub fn capture_exceptions(lp: &Loop) -> Rc<RefCell<Vec<ExceptionContext>>> {
    let seen: Rc<RefCell<Vec<ExceptionContext>>> = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(move |_: &Loop, ctx: &ExceptionContext| {
        s.borrow_mut().push(ctx.clone());
    });
    seen
}

/// A shared log of events, in the order they happened.
pub type Log<T> = Rc<RefCell<Vec<T>>>;

/// An empty [`Log`].
pub fn new_log<T>() -> Log<T> {
    Rc::new(RefCell::new(Vec::new()))
}

/// Whether the last component of `path` (e.g. a `Location::file()`) is `file`.
pub fn ends_with_file(path: &str, file: &str) -> bool {
    std::path::Path::new(path)
        .file_name()
        .is_some_and(|n| n == file)
}
