//! A value that stays on the thread that made it, inside an object Python
//! may hand to any thread: the loop's `Rc`-based tulip state inside the
//! Python loop object, whose `call_soon_threadsafe` other threads call.

use std::mem::ManuallyDrop;
use std::thread::{self, ThreadId};

thread_local! {
    static THIS_THREAD: ThreadId = thread::current().id();
}

/// This thread's id (cached: no `Thread` handle per call).
pub(crate) fn current() -> ThreadId {
    THIS_THREAD.with(|id| *id)
}

/// `T` reachable only from its owner thread: [`ThreadBound::get`] is
/// `None` anywhere else, and a drop on another thread leaks the value
/// (as PyO3 leaks an `unsendable` object dropped elsewhere).
pub(crate) struct ThreadBound<T> {
    owner: ThreadId,
    value: ManuallyDrop<T>,
}

// SAFETY: the value is read, borrowed and dropped only on `owner` (every
// access goes through `get`, which compares the thread; `drop` leaks it
// elsewhere), so no other thread ever touches it; `&T` from `get` cannot
// reach another thread unless `T: Sync`, which the compiler checks there.
unsafe impl<T> Send for ThreadBound<T> {}
// SAFETY: as for `Send`: shared references to the wrapper only reach `T`
// on the owner thread.
unsafe impl<T> Sync for ThreadBound<T> {}

impl<T> ThreadBound<T> {
    /// Binds `value` to the current thread.
    pub(crate) fn new(value: T) -> ThreadBound<T> {
        ThreadBound {
            owner: current(),
            value: ManuallyDrop::new(value),
        }
    }

    /// The value, on its owner thread only.
    pub(crate) fn get(&self) -> Option<&T> {
        (current() == self.owner).then_some(&*self.value)
    }
}

impl<T> Drop for ThreadBound<T> {
    fn drop(&mut self) {
        if current() == self.owner {
            // SAFETY: dropped once, here, on the owner thread; `value` is
            // never used again.
            unsafe { ManuallyDrop::drop(&mut self.value) }
        }
    }
}
