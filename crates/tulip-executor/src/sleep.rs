//! `sleep`, `sleep_until` and `yield_now`: futures on the loop's timers.
//!
//! A sleep costs one allocation: its timer entry, shared by the timer heap
//! and the future, which stores the waker in it. Dropping the future cancels
//! the entry (removed lazily).

use std::cell::Cell;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::event_loop::clock::{Nanos, to_nanos};
use crate::event_loop::handle::{self, Callback, CallbackRc};
use crate::graph::{SLEEP, record_raw, until};

struct SleepEntry {
    state: Cell<u8>,
    fired: Cell<bool>,
    waker: Cell<Option<Waker>>,
    site: &'static Location<'static>,
    /// The deadline, on the loop's clock.
    when: Instant,
    /// The same in the loop's nanoseconds (for the await graph).
    when_nanos: Nanos,
    /// The loop's count of cancelled timers still queued.
    cancelled_in_heap: Rc<Cell<usize>>,
}

impl Callback for SleepEntry {
    fn call(&self) {
        self.fired.set(true);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
    fn state(&self) -> &Cell<u8> {
        &self.state
    }
    fn release(&self) {
        drop(self.waker.take());
    }
    fn site(&self) -> &'static Location<'static> {
        self.site
    }
}

enum Deadline {
    After(Duration),
    At(Instant),
}

/// The future of [`sleep`] and [`sleep_until`].
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let nap: tulip::Sleep = sleep(Duration::from_millis(1)); // nothing happens yet
///     nap.await; // the timer is armed at the first poll
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Deadline,
    /// The timer entry once armed (the future stays small: it is moved
    /// around with the task that awaits it).
    armed: Option<Rc<SleepEntry>>,
    yielded: bool,
    site: &'static Location<'static>,
}

/// Waits for `delay` on the running loop's clock (asyncio's `sleep`).
/// `sleep(Duration::ZERO)` yields to the loop once, as `asyncio.sleep(0)`.
///
/// Polled outside a running tulip loop, it completes at once and reports
/// the misuse on standard error (or the `log` facade).
///
/// ```
/// use std::time::Duration;
/// let event_loop = tulip::EventLoop::new()?;
/// event_loop.run_until_complete(async {
///     tulip::sleep(Duration::from_millis(5)).await;
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[track_caller]
pub fn sleep(delay: Duration) -> Sleep {
    Sleep {
        deadline: Deadline::After(delay),
        armed: None,
        yielded: false,
        site: Location::caller(),
    }
}

/// Waits until `deadline` on the running loop's clock.
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let lp = get_running_loop()?;
///     let deadline = lp.time() + Duration::from_millis(5);
///     sleep_until(deadline).await;
///     assert!(lp.time() >= deadline);
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline: Deadline::At(deadline),
        armed: None,
        yielded: false,
        site: Location::caller(),
    }
}

/// Yields to the loop once: the task is rescheduled behind everything already
/// ready (asyncio's `await asyncio.sleep(0)`).
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let ran = Rc::new(Cell::new(false));
///     let flag = ran.clone();
///     let task = spawn(async move { flag.set(true) });
///     assert!(!ran.get());
///     yield_now().await; // the task scheduled before us runs first
///     assert!(ran.get() && task.done());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
///
/// ```
/// tulip::run(async {
///     let once: tulip::YieldNow = tulip::yield_now();
///     once.await;
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl Sleep {
    /// The deadline, on the loop's clock, once the sleep was first polled.
    ///
    /// ```
    /// use std::future::{Future, poll_fn};
    /// use std::pin::pin;
    /// use std::task::Poll;
    /// use std::time::Duration;
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let mut nap = pin!(sleep(Duration::from_secs(3600)));
    ///     assert!(nap.deadline().is_none()); // not polled yet
    ///     poll_fn(|cx| {
    ///         assert!(nap.as_mut().poll(cx).is_pending());
    ///         Poll::Ready(())
    ///     })
    ///     .await;
    ///     let lp = get_running_loop()?;
    ///     assert!(nap.deadline().unwrap() > lp.time());
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.armed.as_ref().map(|entry| entry.when)
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if let Some(entry) = &this.armed {
            if entry.fired.get() {
                return Poll::Ready(());
            }
            let w = entry.waker.take();
            entry.waker.set(Some(match w {
                Some(w) if w.will_wake(cx.waker()) => w,
                _ => cx.waker().clone(),
            }));
            record_raw(&SLEEP, until(entry.when_nanos));
            return Poll::Pending;
        }
        if this.yielded {
            return Poll::Ready(());
        }
        let Ok(lp) = crate::get_running_loop() else {
            crate::event_loop::debug::error(&format!(
                "sleep created at {} polled outside a running tulip loop",
                this.site
            ));
            return Poll::Ready(());
        };
        let now = lp.now_nanos();
        let when: Nanos = match this.deadline {
            Deadline::After(d) => now.saturating_add(to_nanos(d)),
            Deadline::At(i) => lp.nanos_of(i),
        };
        if when <= now {
            // Already due: yield once, as asyncio.sleep(0).
            this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let inner = &lp.inner;
        let entry = Rc::new(SleepEntry {
            state: Cell::new(0),
            fired: Cell::new(false),
            waker: Cell::new(Some(cx.waker().clone())),
            site: this.site,
            when: inner.clock.instant(when),
            when_nanos: when,
            cancelled_in_heap: inner.timers.borrow().cancelled_counter().clone(),
        });
        let cb: CallbackRc = entry.clone();
        inner.schedule_timer(when, cb);
        record_raw(&SLEEP, until(when));
        this.armed = Some(entry);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(entry) = &self.armed {
            if !entry.fired.get() {
                handle::cancel_timer(&**entry, &entry.cancelled_in_heap);
            }
        }
    }
}
