//! The GIL around the reactor wait, and the Python exceptions that must
//! leave `run_forever` (`KeyboardInterrupt`, `SystemExit`, a signal
//! handler's exception).
//!
//! The loop thread holds the GIL while callbacks run. [`around_wait`] is
//! the loop's `around_wait` hook: it releases the GIL for a blocking wait
//! and, once it has it back, runs Python's pending signal handlers (a
//! signal interrupts the wait), as `selectors` does after `EINTR`.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pyo3::ffi;
use pyo3::prelude::*;

thread_local! {
    /// The exception that ends this thread's running loop, taken by
    /// `_run` when `run_forever` returns.
    static PENDING: RefCell<Option<PyErr>> = const { RefCell::new(None) };
    /// Whether `PENDING` is set (one flag read per callback).
    static ENDING: Cell<bool> = const { Cell::new(false) };
}

/// How many threads have a loop ending (their `ENDING` set): while none
/// has, [`ending`] is one load of a shared counter, not a thread-local
/// lookup (those cost a call in an extension module).
static ANY_ENDING: AtomicUsize = AtomicUsize::new(0);

/// Whether the running loop is ending with an exception: the callbacks
/// left in this pass wait for the next `run_forever`, as asyncio leaves
/// them in its ready queue.
pub(crate) fn ending() -> bool {
    ANY_ENDING.load(Ordering::Relaxed) != 0 && ENDING.with(Cell::get)
}

/// Runs `f` with the GIL token of a loop callback.
///
/// A tulipio loop's callbacks (its handles, timers, watches and
/// transports' protocol calls) run only inside `_BaseLoop._run`, a Python
/// method on the loop's thread, which holds the GIL the whole time except
/// inside [`around_wait`]'s reactor wait, where no callback runs: so the
/// thread is attached, and taking the token costs nothing (no thread-local
/// GIL count to update, as `Python::attach` does).
pub(crate) fn in_loop<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    // SAFETY: as argued above, every caller is a callback of a tulipio
    // loop, run by `run_forever` inside `_run` with the GIL held; the
    // token does not outlive `f`.
    f(unsafe { Python::assume_attached() })
}

/// Ends the running loop with `err` (the first one wins): asyncio lets a
/// `BaseException` that is not an `Exception` leave `run_forever`.
pub(crate) fn raise_from_loop(err: PyErr) {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if p.is_none() {
            *p = Some(err);
        }
    });
    if !ENDING.with(|e| e.replace(true)) {
        ANY_ENDING.fetch_add(1, Ordering::Relaxed);
    }
    if let Ok(lp) = tulip_executor::get_running_loop() {
        lp.stop();
    }
}

/// The exception that ended the loop, if any.
pub(crate) fn take_pending() -> Option<PyErr> {
    if ENDING.with(|e| e.replace(false)) {
        ANY_ENDING.fetch_sub(1, Ordering::Relaxed);
    }
    PENDING.with(|p| p.borrow_mut().take())
}

/// Takes the GIL back when dropped (also on unwind).
struct Restore(*mut ffi::PyThreadState);

impl Drop for Restore {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `PyEval_SaveThread` on this thread,
        // and is restored exactly once.
        unsafe { ffi::PyEval_RestoreThread(self.0) }
    }
}

/// The loop's wait hook: a look without blocking keeps the GIL; a
/// blocking wait runs without it, then pending signal handlers run.
pub(crate) fn around_wait(timeout: Option<Duration>, wait: &mut dyn FnMut()) {
    if timeout == Some(Duration::ZERO) {
        wait();
        return;
    }
    {
        // SAFETY: the hook runs inside `_BaseLoop._run`, a Python method
        // on this thread, so this thread holds the GIL; nothing touches a
        // Python object until `Restore` takes it back (the wait is the
        // reactor's poll only: no user callback runs inside it).
        let state = unsafe { ffi::PyEval_SaveThread() };
        let _restore = Restore(state);
        wait();
    }
    Python::attach(|py| {
        if let Err(err) = py.check_signals() {
            raise_from_loop(err);
        }
    });
}
