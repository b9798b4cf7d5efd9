//! Where the loop meets contexts: the `*_with_context` variants of the
//! scheduling methods (asyncio's `context=` argument),
//! [`Handle::get_context`] and [`TimerHandle::get_context`], and the
//! helpers the callback cells use to run a callback in its context.

use std::cell::Cell;
use std::os::fd::{AsFd, AsRawFd};
use std::panic::Location;
use std::time::{Duration, Instant};

use super::current::{Context, FirstSetGuard, in_use};
use crate::error::Error;
use crate::event_loop::base_events::Loop;
use crate::event_loop::clock::to_nanos;
use crate::event_loop::handle::{CallbackRc, Handle, Once, Repeat, TimerHandle};

/// Runs `f` in the context kept in `cell`, keeping what it sets there
/// (nothing to swap before any variable was set).
#[inline]
pub(crate) fn run_in_cell<R>(cell: &Cell<Context>, f: impl FnOnce() -> R) -> R {
    if !in_use() {
        let _guard = FirstSetGuard { into: Some(cell) };
        return f();
    }
    let mut ctx = cell.take();
    let out = ctx.run(f);
    cell.set(ctx);
    out
}

/// Runs `f` in an empty context of its own (a callback scheduled while
/// every context was empty): nothing to swap while that still holds.
#[inline]
pub(crate) fn run_in_blank<R>(f: impl FnOnce() -> R) -> R {
    if !in_use() {
        let _guard = FirstSetGuard { into: None };
        return f();
    }
    Context::new().run(f)
}

/// A copy of the context kept in `cell`.
pub(crate) fn copy_of_cell(cell: &Cell<Context>) -> Context {
    let ctx = cell.take();
    let copy = ctx.copy();
    cell.set(ctx);
    copy
}

impl Loop {
    /// [`call_soon`](Loop::call_soon), running `callback` in `context`
    /// instead of a copy of the current one (asyncio's
    /// `call_soon(callback, context=ctx)`).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static USER: ContextVar<&str> = ContextVar::new("user");
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let mut ctx = Context::new();
    /// ctx.run(|| USER.set("alice"));
    /// let seen = Rc::new(Cell::new(None));
    /// let s = seen.clone();
    /// let handle = event_loop.call_soon_with_context(move || s.set(USER.get()), ctx)?;
    /// assert_eq!(handle.get_context().get(&USER), Some("alice"));
    /// event_loop.stop();
    /// event_loop.run_forever()?;
    /// assert_eq!(seen.get(), Some("alice"));
    /// assert_eq!(USER.get(), None); // not set here
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn call_soon_with_context<F: FnOnce() + 'static>(
        &self,
        callback: F,
        context: Context,
    ) -> Result<Handle, Error> {
        self.check_closed()?;
        let cb: CallbackRc = Once::with_context(callback, Location::caller(), context);
        self.inner.push_ready(cb.clone());
        Ok(Handle { cb })
    }

    /// [`call_later`](Loop::call_later), running `callback` in `context`
    /// (asyncio's `call_later(delay, callback, context=ctx)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static ATTEMPT: ContextVar<u32> = ContextVar::new("attempt");
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let mut ctx = Context::new();
    /// ctx.run(|| ATTEMPT.set(2));
    /// event_loop.call_later_with_context(
    ///     Duration::from_millis(1),
    ///     move || {
    ///         assert_eq!(ATTEMPT.get(), Some(2));
    ///         lp.stop();
    ///     },
    ///     ctx,
    /// )?;
    /// event_loop.run_forever()?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn call_later_with_context<F: FnOnce() + 'static>(
        &self,
        delay: Duration,
        callback: F,
        context: Context,
    ) -> Result<TimerHandle, Error> {
        self.check_closed()?;
        let when = self.now_nanos().saturating_add(to_nanos(delay));
        Ok(self.schedule_at(
            when,
            Once::with_context(callback, Location::caller(), context),
        ))
    }

    /// [`call_at`](Loop::call_at), running `callback` in `context`
    /// (asyncio's `call_at(when, callback, context=ctx)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static ATTEMPT: ContextVar<u32> = ContextVar::new("attempt");
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let mut ctx = Context::new();
    /// ctx.run(|| ATTEMPT.set(3));
    /// let when = lp.time() + Duration::from_millis(1);
    /// let timer = event_loop.call_at_with_context(when, move || lp.stop(), ctx)?;
    /// assert_eq!(timer.get_context().get(&ATTEMPT), Some(3));
    /// event_loop.run_forever()?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn call_at_with_context<F: FnOnce() + 'static>(
        &self,
        when: Instant,
        callback: F,
        context: Context,
    ) -> Result<TimerHandle, Error> {
        self.check_closed()?;
        let when = self.nanos_of(when);
        Ok(self.schedule_at(
            when,
            Once::with_context(callback, Location::caller(), context),
        ))
    }

    /// [`add_reader`](Loop::add_reader), running every call of `callback`
    /// in `context` (asyncio's `add_reader(fd, callback, context=ctx)`;
    /// what one call sets, the next sees).
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static PEER: ContextVar<&str> = ContextVar::new("peer");
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let (rx, mut tx) = UnixStream::pair()?;
    /// tx.write_all(b"x")?;
    /// let fd = rx.as_raw_fd();
    /// let mut ctx = Context::new();
    /// ctx.run(|| PEER.set("client-1"));
    /// event_loop.add_reader_with_context(&rx, move || {
    ///     assert_eq!(PEER.get(), Some("client-1"));
    ///     lp.remove_reader(fd);
    ///     lp.stop();
    /// }, ctx)?;
    /// event_loop.run_forever()?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn add_reader_with_context<F: FnMut() + 'static>(
        &self,
        fd: impl AsFd,
        callback: F,
        context: Context,
    ) -> Result<Handle, Error> {
        let raw = fd.as_fd().as_raw_fd();
        let cb = Repeat::with_context(callback, raw, true, Location::caller(), context);
        self.watch(fd.as_fd(), true, cb)
    }

    /// [`add_writer`](Loop::add_writer), running every call of `callback`
    /// in `context` (asyncio's `add_writer(fd, callback, context=ctx)`).
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    /// use tulip::contextvars::{Context, ContextVar};
    ///
    /// static PEER: ContextVar<&str> = ContextVar::new("peer");
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let (sock, _peer) = UnixStream::pair()?;
    /// let fd = sock.as_raw_fd();
    /// let mut ctx = Context::new();
    /// ctx.run(|| PEER.set("client-2"));
    /// event_loop.add_writer_with_context(&sock, move || {
    ///     assert_eq!(PEER.get(), Some("client-2"));
    ///     lp.remove_writer(fd);
    ///     lp.stop();
    /// }, ctx)?;
    /// event_loop.run_forever()?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn add_writer_with_context<F: FnMut() + 'static>(
        &self,
        fd: impl AsFd,
        callback: F,
        context: Context,
    ) -> Result<Handle, Error> {
        let raw = fd.as_fd().as_raw_fd();
        let cb = Repeat::with_context(callback, raw, false, Location::caller(), context);
        self.watch(fd.as_fd(), false, cb)
    }
}

impl Handle {
    /// A copy of the context the callback runs in (asyncio's
    /// `Handle.get_context()`): the one current when it was scheduled, or
    /// the one given to a `*_with_context` method.
    ///
    /// ```
    /// use tulip::contextvars::ContextVar;
    ///
    /// static USER: ContextVar<&str> = ContextVar::new("user");
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// USER.set("alice");
    /// let handle = event_loop.call_soon(|| ())?;
    /// USER.set("bob"); // after scheduling: not the callback's
    /// assert_eq!(handle.get_context().get(&USER), Some("alice"));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[doc(alias = "context")]
    pub fn get_context(&self) -> Context {
        self.cb.context()
    }
}

impl TimerHandle {
    /// A copy of the context the timer's callback runs in (asyncio's
    /// `TimerHandle.get_context()`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::contextvars::ContextVar;
    ///
    /// static USER: ContextVar<&str> = ContextVar::new("user");
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// USER.set("carol");
    /// let timer = event_loop.call_later(Duration::from_secs(60), || ())?;
    /// assert_eq!(timer.get_context().get(&USER), Some("carol"));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[doc(alias = "context")]
    pub fn get_context(&self) -> Context {
        self.cb.context()
    }
}
