//! A value that stays on the thread that made it, inside an object Python
//! may hand to any thread: the loop's `Rc`-based tulip state inside the
//! Python loop object, whose `call_soon_threadsafe` other threads call.

use std::cell::OnceCell;
use std::mem::ManuallyDrop;
use std::sync::OnceLock;
use std::thread::{self, ThreadId};

thread_local! {
    static THIS_THREAD: ThreadId = thread::current().id();
}

/// This thread's id (cached: no `Thread` handle per call).
pub(crate) fn current() -> ThreadId {
    THIS_THREAD.with(|id| *id)
}

/// `T` made on first use by the thread that first asks for it, and then
/// reachable only from that thread (the loop's tulip state: a loop made
/// on one thread may run on another, as asyncio's may, as long as the
/// first thread only used its thread-safe methods).
pub(crate) struct LazyBound<T> {
    owner: OnceLock<ThreadId>,
    value: ManuallyDrop<OnceCell<T>>,
}

// SAFETY: `value` is initialised, read and dropped only on the thread
// recorded in `owner` (set once, before any access; `get` and
// `get_or_try_init` compare it with the current thread, and `drop` leaks
// the value on any other thread); `&T` leaves that thread only if
// `T: Sync`, which the compiler checks where it happens.
unsafe impl<T> Send for LazyBound<T> {}
// SAFETY: as for `Send`.
unsafe impl<T> Sync for LazyBound<T> {}

impl<T> LazyBound<T> {
    /// Nothing made, no owner yet.
    pub(crate) fn new() -> LazyBound<T> {
        LazyBound {
            owner: OnceLock::new(),
            value: ManuallyDrop::new(OnceCell::new()),
        }
    }

    /// The value if it was made and this is its thread.
    pub(crate) fn get(&self) -> Option<&T> {
        if self.owner.get() == Some(&current()) {
            self.value.get()
        } else {
            None
        }
    }

    /// Whether some thread owns it (it was asked for).
    pub(crate) fn is_bound(&self) -> bool {
        self.owner.get().is_some()
    }

    /// The value, made by `make` on first use (binding this thread as the
    /// owner), with whether this call made it; `None` on another thread.
    pub(crate) fn get_or_try_init<E>(
        &self,
        make: impl FnOnce() -> Result<T, E>,
    ) -> Option<Result<(&T, bool), E>> {
        if *self.owner.get_or_init(current) != current() {
            return None;
        }
        if let Some(value) = self.value.get() {
            return Some(Ok((value, false)));
        }
        Some(make().map(|made| (self.value.get_or_init(move || made), true)))
    }
}

impl<T> Drop for LazyBound<T> {
    fn drop(&mut self) {
        if self.owner.get().is_none_or(|owner| *owner == current()) {
            // SAFETY: dropped once, here, on the owner thread (or never
            // made); `value` is never used again.
            unsafe { ManuallyDrop::drop(&mut self.value) }
        }
    }
}
