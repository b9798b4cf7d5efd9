//! A hook around the loop's wait in the reactor
//! ([`EventLoopBuilder::around_wait`]): the one place a pass blocks, so
//! the one place an embedder can let go of a lock it holds while callbacks
//! run (the Python module releases the GIL there) and take it back after.
//!
//! Unset (the default) it costs one branch per polled pass.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::event_loop::events::EventLoopBuilder;

/// The function a loop calls around each wait in the reactor: it receives
/// the pass's timeout (`None`: until something happens; `Some(ZERO)`: a
/// look without blocking) and the wait itself, which it calls once.
///
/// Built by [`EventLoopBuilder::around_wait`].
#[derive(Clone)]
pub struct AroundWait(Arc<HookFn>);

/// The hook's signature: the timeout, then the wait to call.
type HookFn = dyn Fn(Option<Duration>, &mut dyn FnMut()) + Send + Sync;

impl AroundWait {
    /// Runs `wait` through the hook. A hook that never calls `wait` leaves
    /// the pass without polling (no I/O is seen until a pass that does).
    pub(crate) fn call(&self, timeout: Option<Duration>, wait: &mut dyn FnMut()) {
        (self.0)(timeout, wait);
    }
}

impl fmt::Debug for AroundWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AroundWait(..)")
    }
}

impl EventLoopBuilder {
    /// Calls `hook` around every wait of the loop in its reactor, with the
    /// wait's timeout and the wait itself (which `hook` must call once).
    /// User callbacks never run inside the wait, so a hook may release a
    /// lock that callbacks need and take it back afterwards; passes that
    /// skip the reactor (a busy loop with nothing registered) do not call
    /// it. Without a hook the loop waits directly.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::time::Duration;
    ///
    /// let waits = Arc::new(AtomicUsize::new(0));
    /// let counted = waits.clone();
    /// let event_loop = tulip::EventLoop::builder()
    ///     .around_wait(move |_timeout: Option<Duration>, wait: &mut dyn FnMut()| {
    ///         counted.fetch_add(1, Ordering::Relaxed); // e.g. release a lock here
    ///         wait();
    ///         // ... and take it back here
    ///     })
    ///     .build()?;
    /// let lp = event_loop.handle();
    /// event_loop.call_later(Duration::from_millis(5), move || lp.stop())?;
    /// event_loop.run_forever()?;
    /// assert!(waits.load(Ordering::Relaxed) >= 1); // it waited for the timer
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn around_wait<F>(mut self, hook: F) -> EventLoopBuilder
    where
        F: Fn(Option<Duration>, &mut dyn FnMut()) + Send + Sync + 'static,
    {
        self.around_wait = Some(AroundWait(Arc::new(hook)));
        self
    }
}
