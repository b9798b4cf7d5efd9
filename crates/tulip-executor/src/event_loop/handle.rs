//! Callback handles: what `call_soon`, `call_later`, `call_at` and
//! `add_reader` return, and the one-allocation callback cells behind them.
//!
//! A scheduled callback is one `Rc` allocation holding the closure and a
//! small state word; the ready queue, the timer heap, the reactor and the
//! user's [`Handle`] share it. Cancelling drops the closure at once (so what it
//! captured is released, as asyncio drops its callback and arguments) and the
//! loop skips the entry when it comes to it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::os::fd::RawFd;
use std::panic::Location;
use std::rc::Rc;
use std::time::Instant;

use crate::context::Context;

const CANCELLED: u8 = 1;
/// In the timer heap, not yet moved to the ready queue.
const SCHEDULED: u8 = 2;

/// A callback the loop can run. Implemented by the cells below and by the
/// timer entry of `sleep`.
pub(crate) trait Callback {
    /// Runs the callback (a one-shot callback releases its closure).
    fn call(&self);
    /// The state word (CANCELLED, SCHEDULED bits).
    fn state(&self) -> &Cell<u8>;
    /// Drops the closure (after a cancel).
    fn release(&self);
    /// Where the callback was scheduled from (`#[track_caller]`).
    fn site(&self) -> &'static Location<'static>;
    /// For a reader or writer callback: its descriptor and whether it reads.
    fn watched(&self) -> Option<(RawFd, bool)> {
        None
    }
    /// A copy of the context the callback runs in (contextvars).
    fn context(&self) -> Context {
        Context::new()
    }
}

pub(crate) type CallbackRc = Rc<dyn Callback>;

pub(crate) fn is_cancelled(cb: &dyn Callback) -> bool {
    cb.state().get() & CANCELLED != 0
}

/// Marks a callback cancelled and releases its closure; false if it already was.
pub(crate) fn cancel(cb: &dyn Callback) -> bool {
    let s = cb.state().get();
    if s & CANCELLED != 0 {
        return false;
    }
    cb.state().set(s | CANCELLED);
    cb.release();
    true
}

/// Cancels a timer's callback, counting it in the loop's tally of
/// cancelled entries still queued if it is queued; false if it already was
/// cancelled.
pub(crate) fn cancel_timer(cb: &dyn Callback, cancelled_in_heap: &Cell<usize>) -> bool {
    let scheduled = is_scheduled(cb);
    let done = cancel(cb);
    if done && scheduled {
        cancelled_in_heap.set(cancelled_in_heap.get() + 1);
    }
    done
}

pub(crate) fn set_scheduled(cb: &dyn Callback, on: bool) {
    let s = cb.state().get();
    cb.state()
        .set(if on { s | SCHEDULED } else { s & !SCHEDULED });
}

pub(crate) fn is_scheduled(cb: &dyn Callback) -> bool {
    cb.state().get() & SCHEDULED != 0
}

/// A one-shot callback (`call_soon`, `call_later`). `S` holds the context
/// it runs in (contextvars): nothing at all ([`BlankContext`]) while no
/// variable was ever set, so that a callback costs what it did before
/// contexts existed.
pub(crate) struct Once<F, S = Cell<Context>> {
    state: Cell<u8>,
    f: Cell<Option<F>>,
    site: &'static Location<'static>,
    context: S,
}

impl<F: FnOnce() + 'static> Once<F> {
    /// A callback run in a copy of the current context: a `Once<F>` or,
    /// before any variable was set, a `Once<F, BlankContext>`, hence the
    /// type-erased return.
    #[inline]
    #[allow(clippy::new_ret_no_self)]
    pub(crate) fn new(f: F, site: &'static Location<'static>) -> CallbackRc {
        if !crate::context::in_use() {
            return Rc::new(Once {
                state: Cell::new(0),
                f: Cell::new(Some(f)),
                site,
                context: BlankContext,
            });
        }
        Once::with_context(f, site, Context::current())
    }

    pub(crate) fn with_context(
        f: F,
        site: &'static Location<'static>,
        context: Context,
    ) -> CallbackRc {
        Rc::new(Once {
            state: Cell::new(0),
            f: Cell::new(Some(f)),
            site,
            context: Cell::new(context),
        })
    }
}

/// Where a callback keeps its context: `Cell<Context>`, or
/// [`BlankContext`] for one scheduled while every context was empty.
pub(crate) trait ContextSlot: 'static {
    fn run<R>(&self, f: impl FnOnce() -> R) -> R;
    fn copy(&self) -> Context;
}

/// The context of a callback scheduled before any variable was set: empty,
/// and not stored. (Should the callback set the process's first variable,
/// that set is dropped with the callback's context when it returns.)
pub(crate) struct BlankContext;

impl ContextSlot for BlankContext {
    #[inline]
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        crate::context::run_in_blank(f)
    }
    fn copy(&self) -> Context {
        Context::new()
    }
}

impl ContextSlot for Cell<Context> {
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        crate::context::run_in_cell(self, f)
    }
    fn copy(&self) -> Context {
        crate::context::copy_of_cell(self)
    }
}

impl<F: FnOnce() + 'static, S: ContextSlot> Callback for Once<F, S> {
    fn call(&self) {
        if let Some(f) = self.f.take() {
            self.context.run(f);
        }
    }
    fn context(&self) -> Context {
        self.context.copy()
    }
    fn state(&self) -> &Cell<u8> {
        &self.state
    }
    fn release(&self) {
        drop(self.f.take());
    }
    fn site(&self) -> &'static Location<'static> {
        self.site
    }
}

/// A callback run every time its descriptor is ready (`add_reader`).
pub(crate) struct Repeat<F> {
    state: Cell<u8>,
    f: RefCell<Option<F>>,
    site: &'static Location<'static>,
    fd: RawFd,
    reader: bool,
    /// The context every call runs in (contextvars).
    context: Cell<Context>,
}

impl<F: FnMut() + 'static> Repeat<F> {
    /// A callback run in a copy of the current context.
    pub(crate) fn new(
        f: F,
        fd: RawFd,
        reader: bool,
        site: &'static Location<'static>,
    ) -> Rc<Repeat<F>> {
        Repeat::with_context(f, fd, reader, site, Context::current())
    }

    pub(crate) fn with_context(
        f: F,
        fd: RawFd,
        reader: bool,
        site: &'static Location<'static>,
        context: Context,
    ) -> Rc<Repeat<F>> {
        Rc::new(Repeat {
            state: Cell::new(0),
            f: RefCell::new(Some(f)),
            site,
            fd,
            reader,
            context: Cell::new(context),
        })
    }
}

impl<F: FnMut() + 'static> Callback for Repeat<F> {
    fn call(&self) {
        let Ok(mut guard) = self.f.try_borrow_mut() else {
            return;
        };
        if let Some(f) = guard.as_mut() {
            crate::context::run_in_cell(&self.context, f);
        }
        // Cancelled from inside its own run: drop the closure now.
        if self.state.get() & CANCELLED != 0 {
            *guard = None;
        }
    }
    fn state(&self) -> &Cell<u8> {
        &self.state
    }
    fn release(&self) {
        // While the callback runs, `call` drops it on its way out.
        if let Ok(mut g) = self.f.try_borrow_mut() {
            *g = None;
        }
    }
    fn site(&self) -> &'static Location<'static> {
        self.site
    }
    fn watched(&self) -> Option<(RawFd, bool)> {
        Some((self.fd, self.reader))
    }
    fn context(&self) -> Context {
        crate::context::copy_of_cell(&self.context)
    }
}

/// A scheduled callback: asyncio's `Handle`, returned by
/// [`Loop::call_soon`](crate::Loop::call_soon) and
/// [`Loop::add_reader`](crate::Loop::add_reader).
///
/// Dropping a `Handle` does not cancel the callback.
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// let event_loop = tulip::EventLoop::new()?;
/// let lp = event_loop.handle();
/// let ran = Rc::new(Cell::new(false));
/// let r = ran.clone();
/// let handle = lp.call_soon(move || r.set(true))?;
/// assert!(handle.cancel());
/// assert!(handle.cancelled());
/// lp.call_soon({ let lp = lp.clone(); move || lp.stop() })?;
/// event_loop.run_forever()?;
/// assert!(!ran.get());
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) cb: CallbackRc,
}

impl Handle {
    /// Cancels the callback: it will not run, and what it captured is
    /// dropped now. Returns false if it was already cancelled. Cancelling a
    /// callback that already ran has no effect (besides the flag).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let handle = event_loop.call_soon(|| unreachable!("cancelled"))?;
    /// assert!(handle.cancel());
    /// assert!(!handle.cancel()); // already cancelled
    /// event_loop.stop();
    /// event_loop.run_forever()?; // one pass: the callback does not run
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        cancel(&*self.cb)
    }

    /// Whether [`cancel`](Handle::cancel) was called.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let handle = event_loop.call_soon(|| ())?;
    /// assert!(!handle.cancelled());
    /// handle.cancel();
    /// assert!(handle.cancelled());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        is_cancelled(&*self.cb)
    }

    /// Where the callback was scheduled from.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let handle = event_loop.call_soon(|| ())?;
    /// assert_eq!(handle.source_location().file(), file!());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn source_location(&self) -> &'static Location<'static> {
        self.cb.site()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("cancelled", &self.cancelled())
            .field("created_at", &format_args!("{}", self.cb.site()))
            .finish()
    }
}

/// A callback scheduled at a time: asyncio's `TimerHandle`, returned by
/// [`Loop::call_later`](crate::Loop::call_later) and
/// [`Loop::call_at`](crate::Loop::call_at).
///
/// ```
/// use std::time::Duration;
/// let event_loop = tulip::EventLoop::new()?;
/// let lp = event_loop.handle();
/// let timer = lp.call_later(Duration::from_secs(3600), || unreachable!())?;
/// assert!(timer.when() > lp.time());
/// timer.cancel();
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct TimerHandle {
    pub(crate) cb: CallbackRc,
    pub(crate) when: Instant,
    /// The loop's count of cancelled entries still in the heap.
    pub(crate) cancelled_in_heap: Rc<Cell<usize>>,
}

impl TimerHandle {
    /// Cancels the timer; returns false if it was already cancelled. The
    /// heap entry is removed lazily, and the heap is compacted once most of
    /// it is cancelled.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let timer = event_loop.call_later(Duration::from_millis(1), || unreachable!("cancelled"))?;
    /// assert!(timer.cancel());
    /// assert!(timer.cancelled());
    /// event_loop.run_until_complete(tulip::sleep(Duration::from_millis(5)))?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        cancel_timer(&*self.cb, &self.cancelled_in_heap)
    }

    /// Whether [`cancel`](TimerHandle::cancel) was called.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let timer = event_loop.call_later(Duration::from_secs(60), || ())?;
    /// assert!(!timer.cancelled());
    /// timer.cancel();
    /// assert!(timer.cancelled());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        is_cancelled(&*self.cb)
    }

    /// When the callback is (or was) due, on the loop's clock
    /// ([`Loop::time`](crate::Loop::time)).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let at = event_loop.time() + Duration::from_secs(60);
    /// let timer = event_loop.call_at(at, || ())?;
    /// assert_eq!(timer.when(), at);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn when(&self) -> Instant {
        self.when
    }

    /// Where the timer was scheduled from.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let timer = event_loop.call_later(Duration::from_secs(60), || ())?;
    /// assert_eq!(timer.source_location().file(), file!());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn source_location(&self) -> &'static Location<'static> {
        self.cb.site()
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("when", &self.when)
            .field("cancelled", &self.cancelled())
            .field("created_at", &format_args!("{}", self.cb.site()))
            .finish()
    }
}
