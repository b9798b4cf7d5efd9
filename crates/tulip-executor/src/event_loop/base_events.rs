//! The loop itself: [`Loop`], the cheap `!Send` handle every API takes, and
//! one iteration of the loop (asyncio's `BaseEventLoop._run_once`).
//!
//! One pass: compute the poll timeout (zero if something is ready or the loop
//! is stopping, else the time to the next timer, else forever); poll the
//! reactor once; queue the callbacks of ready descriptors and wake the tasks
//! waiting on them; take what other threads queued; move due timers to the
//! ready queue; then run exactly the entries that were ready at that point,
//! leaving whatever they schedule for the next pass.
//!
//! A loop that is busy (its ready queue never empties) polls the reactor
//! with a zero timeout before every pass that runs a task which yielded
//! (woke itself while it ran: `yield_now`, `sleep(Duration::ZERO)`), so that
//! I/O that arrived meanwhile is let in before the task runs again, as
//! asyncio polls its selector on every pass. Busy passes that only run
//! callbacks and tasks woken by others poll every [`POLL_INTERVAL`] passes:
//! I/O is still seen within microseconds, without a system call per pass.
//! A busy loop with no descriptor registered does not poll at all.
//!
//! Work other threads queue (`call_soon_threadsafe`, wake-ups) is taken in
//! batches of at most [`REMOTE_BATCH`] items per pass, with a poll between
//! two batches, so a thread flooding the loop can neither grow the ready
//! queue without bound nor keep I/O waiting. The ready queues and the task
//! registry give their memory back once a burst is over.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tulip_reactor::{BackendKind, Completion, Dispatch, IoSource, OpHandler, Reactor};

use crate::error::{Error, PanicError};
use crate::event_loop::clock::{Clock, Nanos, to_nanos};
use crate::event_loop::debug::DebugSettings;
use crate::event_loop::exception_handler::{ExceptionContext, ExceptionHandler};
use crate::event_loop::handle::{self, CallbackRc, Handle, Once, Repeat, TimerHandle};
use crate::event_loop::remote::{Remote, RemoteItem, RemoteLoop};
use crate::event_loop::timers::TimerQueue;
use crate::task::header::{Runnable, TaskRegistry, all_task_refs};

/// A busy loop polls the reactor (with a zero timeout) at least every this
/// many passes; before every pass, when a task yielded in the one before.
pub const POLL_INTERVAL: u32 = 61;

/// The most items taken from the cross-thread queue in one pass.
pub(crate) const REMOTE_BATCH: usize = 1024;

/// The capacity each ready queue starts with and keeps after a burst.
const READY_CAPACITY: usize = 1024;

/// The longest single wait; a longer one is split (the loop polls again).
const MAX_WAIT: Duration = Duration::from_secs(24 * 3600);

pub(crate) enum Ready {
    Callback(CallbackRc),
    Task(Runnable),
    Remote(Box<dyn FnOnce() + Send>),
    /// A completion of an I/O operation, for its handler (`uring` only).
    Completion(Rc<dyn OpHandler>, Completion),
}

pub(crate) struct LoopInner {
    /// What runs on the next pass, in order. Only ever appended to and then
    /// taken whole, so a `Vec` (cheaper to push than a `VecDeque`).
    pub(crate) ready: RefCell<Vec<Ready>>,
    /// The other half of the double-buffered ready queue (empty between passes).
    spare_ready: Cell<Vec<Ready>>,
    pub(crate) timers: RefCell<TimerQueue>,
    pub(crate) reactor: RefCell<Reactor<CallbackRc>>,
    dispatch_buf: Cell<Vec<Dispatch<CallbackRc>>>,
    pub(crate) remote: Arc<Remote<Runnable>>,
    pub(crate) clock: Clock,
    pub(crate) stopping: Cell<bool>,
    pub(crate) running: Cell<bool>,
    pub(crate) closed: Cell<bool>,
    passes_without_poll: Cell<u32>,
    /// Passes run so far: with the ready queue's length, the loop's
    /// [`ReadyMark`](crate::ReadyMark).
    pub(crate) pass_seq: Cell<u64>,
    /// Poll the reactor before the next pass even if it is busy: a task
    /// yielded, or other threads' work was left queued.
    pub(crate) poll_soon: Cell<bool>,
    /// Hooks that run once after this pass's ready batch, before the next
    /// poll ([`Loop::call_before_poll`]).
    pub(crate) before_poll: RefCell<Vec<Box<dyn FnOnce()>>>,
    pub(crate) exception_handler: RefCell<Option<ExceptionHandler>>,
    pub(crate) debug: DebugSettings,
    pub(crate) tasks: RefCell<TaskRegistry>,
    /// Work handed to executor threads whose result has not come back; the
    /// paused clock does not jump ahead while any is outstanding.
    pub(crate) pending_executor_jobs: Cell<usize>,
    pub(crate) default_executor: RefCell<Option<Arc<dyn crate::thread_pool::Executor>>>,
    /// The `tulip-ps` socket, when the loop enabled the live view.
    #[cfg(unix)]
    pub(crate) ps: crate::graph::ps::PsSlot,
    /// [`EventLoopBuilder::around_wait`](crate::EventLoopBuilder::around_wait)'s hook.
    pub(crate) around_wait: std::cell::OnceCell<crate::event_loop::wait_hook::AroundWait>,
    /// `Loop::set_task_factory` (contextvars and the task factory:
    /// `context/`), and whether one is set (`create_task`'s one check).
    pub(crate) task_factory: RefCell<Option<crate::context::TaskFactory>>,
    pub(crate) has_task_factory: Cell<bool>,
}

/// A handle on an event loop: asyncio's loop object as seen by callbacks and
/// tasks. Cheap to clone; `!Send` (use [`Loop::remote`] from other threads).
///
/// [`get_running_loop`](crate::get_running_loop) returns it inside the loop;
/// [`EventLoop::handle`](crate::EventLoop::handle) outside.
///
/// ```
/// use std::time::Duration;
/// let event_loop = tulip::EventLoop::new()?;
/// let lp = event_loop.handle();
/// lp.call_soon(|| println!("first"))?;
/// lp.call_later(Duration::from_millis(1), {
///     let lp = lp.clone();
///     move || lp.stop()
/// })?;
/// event_loop.run_forever()?;
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// A `Loop` cannot leave its thread:
///
/// ```compile_fail
/// let event_loop = tulip::EventLoop::new().unwrap();
/// let lp = event_loop.handle();
/// std::thread::spawn(move || drop(lp));
/// ```
#[derive(Clone)]
pub struct Loop {
    pub(crate) inner: Rc<LoopInner>,
}

impl fmt::Debug for Loop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loop")
            .field("running", &self.is_running())
            .field("closed", &self.is_closed())
            .field("debug", &self.get_debug())
            .finish()
    }
}

thread_local! {
    /// The loop running on this thread, if any.
    static RUNNING: RefCell<Option<Loop>> = const { RefCell::new(None) };
}

/// The loop running on this thread (asyncio's `get_running_loop`), or
/// [`Error::NoRunningLoop`] outside a running loop.
///
/// ```
/// let event_loop = tulip::EventLoop::new()?;
/// assert!(tulip::get_running_loop().is_err());
/// let inside = event_loop.run_until_complete(async {
///     tulip::get_running_loop().is_ok()
/// })?;
/// assert!(inside);
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn get_running_loop() -> Result<Loop, Error> {
    RUNNING
        .with(|r| r.borrow().clone())
        .ok_or(Error::NoRunningLoop)
}

/// Calls `f` with the running loop's inner state, if a loop runs here.
pub(crate) fn with_running<R>(f: impl FnOnce(&Rc<LoopInner>) -> R) -> Option<R> {
    RUNNING
        .try_with(|r| r.borrow().as_ref().map(|l| f(&l.inner)))
        .ok()
        .flatten()
}

/// Schedules a task's runnable: a queue push on its loop's thread while the
/// loop runs, the lock-free remote queue (plus one notify) otherwise.
/// `yielded`: the task woke itself while it ran; the loop then polls for I/O
/// before it runs the task again.
pub(crate) fn schedule_runnable(remote: &Arc<Remote<Runnable>>, runnable: Runnable, yielded: bool) {
    let runnable = RUNNING
        .try_with(|r| {
            if let Some(l) = r.borrow().as_ref() {
                if Arc::ptr_eq(&l.inner.remote, remote) {
                    if yielded {
                        l.inner.poll_soon.set(true);
                    }
                    l.inner.ready.borrow_mut().push(Ready::Task(runnable));
                    return None;
                }
            }
            Some(runnable)
        })
        .unwrap_or(None);
    if let Some(runnable) = runnable {
        remote.schedule(runnable);
    }
}

/// Sets this thread's running loop for the duration of a `run_forever`.
pub(crate) struct RunningGuard {
    previous: Option<Loop>,
}

impl RunningGuard {
    pub(crate) fn enter(lp: &Loop) -> Result<RunningGuard, Error> {
        if lp.inner.closed.get() {
            return Err(Error::LoopClosed);
        }
        if lp.inner.running.get() {
            return Err(Error::LoopRunning);
        }
        RUNNING.with(|r| {
            let mut r = r.borrow_mut();
            if r.is_some() {
                return Err(Error::LoopRunning);
            }
            lp.inner.running.set(true);
            Ok(RunningGuard {
                previous: r.replace(lp.clone()),
            })
        })
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let lp = RUNNING.with(|r| std::mem::replace(&mut *r.borrow_mut(), self.previous.take()));
        if let Some(lp) = lp {
            lp.inner.running.set(false);
            lp.inner.stopping.set(false);
        }
    }
}

impl LoopInner {
    pub(crate) fn new(
        backend: BackendKind,
        paused_clock: bool,
        debug: bool,
    ) -> Result<Rc<LoopInner>, Error> {
        let reactor = Reactor::new(backend)?;
        let remote = Arc::new(Remote::new(reactor.notifier()));
        Ok(Rc::new(LoopInner {
            ready: RefCell::new(Vec::with_capacity(READY_CAPACITY)),
            spare_ready: Cell::new(Vec::with_capacity(READY_CAPACITY)),
            timers: RefCell::new(TimerQueue::new()),
            reactor: RefCell::new(reactor),
            dispatch_buf: Cell::new(Vec::with_capacity(256)),
            remote,
            clock: Clock::new(paused_clock),
            stopping: Cell::new(false),
            running: Cell::new(false),
            closed: Cell::new(false),
            passes_without_poll: Cell::new(0),
            pass_seq: Cell::new(0),
            poll_soon: Cell::new(false),
            before_poll: RefCell::new(Vec::new()),
            exception_handler: RefCell::new(None),
            debug: DebugSettings::new(debug),
            tasks: RefCell::new(TaskRegistry::default()),
            pending_executor_jobs: Cell::new(0),
            default_executor: RefCell::new(None),
            #[cfg(unix)]
            ps: RefCell::new(None),
            around_wait: std::cell::OnceCell::new(),
            task_factory: RefCell::new(None),
            has_task_factory: Cell::new(false),
        }))
    }

    pub(crate) fn push_ready(&self, cb: CallbackRc) {
        self.ready.borrow_mut().push(Ready::Callback(cb));
    }

    pub(crate) fn schedule_timer(&self, when: Nanos, cb: CallbackRc) -> Rc<std::cell::Cell<usize>> {
        let mut timers = self.timers.borrow_mut();
        timers.push(when, cb);
        timers.cancelled_counter().clone()
    }
}

impl Loop {
    pub(crate) fn from_inner(inner: Rc<LoopInner>) -> Loop {
        Loop { inner }
    }

    pub(crate) fn downgrade(&self) -> Weak<LoopInner> {
        Rc::downgrade(&self.inner)
    }

    pub(crate) fn check_closed(&self) -> Result<(), Error> {
        if self.inner.closed.get() {
            Err(Error::LoopClosed)
        } else {
            Ok(())
        }
    }

    /// Schedules `callback` to run on the next pass of the loop, after the
    /// callbacks already scheduled (FIFO). asyncio's `call_soon`.
    ///
    /// [`Error::LoopClosed`] if the loop is closed.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// for n in 1..=3 {
    ///     let log = log.clone();
    ///     event_loop.call_soon(move || log.borrow_mut().push(n))?;
    /// }
    /// event_loop.stop(); // one pass: the callbacks run in order, then it stops
    /// event_loop.run_forever()?;
    /// assert_eq!(*log.borrow(), [1, 2, 3]);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn call_soon<F: FnOnce() + 'static>(&self, callback: F) -> Result<Handle, Error> {
        self.check_closed()?;
        let cb = Once::new(callback, Location::caller());
        self.inner.push_ready(cb.clone());
        Ok(Handle { cb })
    }

    /// Schedules `callback` to run once `delay` has passed (asyncio's
    /// `call_later`). Callbacks due at the same time run in the order they
    /// were scheduled. A delay too large to represent never fires.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let start = lp.time();
    /// event_loop.call_later(Duration::from_millis(10), move || lp.stop())?;
    /// event_loop.run_forever()?;
    /// assert!(event_loop.time() - start >= Duration::from_millis(10));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn call_later<F: FnOnce() + 'static>(
        &self,
        delay: Duration,
        callback: F,
    ) -> Result<TimerHandle, Error> {
        self.check_closed()?;
        let when = self.inner.clock.now().saturating_add(to_nanos(delay));
        Ok(self.schedule_at(when, Once::new(callback, Location::caller())))
    }

    /// Schedules `callback` to run at `when`, on the loop's clock
    /// ([`Loop::time`]); a time in the past runs on the next pass. asyncio's
    /// `call_at`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let when = lp.time() + Duration::from_millis(10);
    /// event_loop.call_at(when, move || lp.stop())?;
    /// event_loop.run_forever()?;
    /// assert!(event_loop.time() >= when);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn call_at<F: FnOnce() + 'static>(
        &self,
        when: Instant,
        callback: F,
    ) -> Result<TimerHandle, Error> {
        self.check_closed()?;
        let when = self.inner.clock.nanos_of(when);
        Ok(self.schedule_at(when, Once::new(callback, Location::caller())))
    }

    pub(crate) fn schedule_at(&self, when: Nanos, cb: CallbackRc) -> TimerHandle {
        let cancelled_in_heap = self.inner.schedule_timer(when, cb.clone());
        TimerHandle {
            cb,
            when: self.inner.clock.instant(when),
            cancelled_in_heap,
        }
    }

    /// The loop's current time (asyncio's `loop.time()`): `Instant::now()`,
    /// or the virtual time of a loop built with a paused clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     let start = lp.time();
    ///     sleep(Duration::from_millis(5)).await;
    ///     assert!(lp.time() - start >= Duration::from_millis(5));
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn time(&self) -> Instant {
        self.inner.clock.instant(self.inner.clock.now())
    }

    pub(crate) fn now_nanos(&self) -> Nanos {
        self.inner.clock.now()
    }

    pub(crate) fn nanos_of(&self, when: Instant) -> Nanos {
        self.inner.clock.nanos_of(when)
    }

    /// Whether this loop's clock is paused (virtual time).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
    /// assert!(event_loop.is_clock_paused());
    /// assert!(!tulip::EventLoop::new()?.is_clock_paused());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn is_clock_paused(&self) -> bool {
        self.inner.clock.is_paused()
    }

    /// Moves a paused clock forward by `by`: timers that become due run on
    /// the loop's next pass. [`Error::InvalidState`] on a real clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
    /// let lp = event_loop.handle();
    /// let t0 = lp.time();
    /// lp.advance(Duration::from_secs(3600))?;
    /// assert_eq!(lp.time() - t0, Duration::from_secs(3600));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn advance(&self, by: Duration) -> Result<(), Error> {
        if self.inner.clock.advance(by) {
            Ok(())
        } else {
            Err(Error::InvalidState("the loop's clock is not paused"))
        }
    }

    /// Calls `callback` whenever `fd` is readable (level-triggered, as
    /// asyncio's `add_reader`), until [`remove_reader`](Loop::remove_reader).
    /// Replaces (and cancels) an earlier reader of the same descriptor.
    ///
    /// Errors: [`Error::LoopClosed`]; [`Error::Io`] if the descriptor cannot
    /// be watched (e.g. a regular file under epoll) or is used by an async
    /// I/O object (`AlreadyExists`).
    ///
    /// ```
    /// use std::io::Write;
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let (rx, mut tx) = UnixStream::pair()?;
    /// tx.write_all(b"x")?;
    /// let fd = rx.as_raw_fd();
    /// event_loop.add_reader(&rx, move || {
    ///     assert!(lp.remove_reader(fd)); // level-triggered: stop watching once handled
    ///     lp.stop();
    /// })?;
    /// event_loop.run_forever()?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn add_reader<F: FnMut() + 'static>(
        &self,
        fd: impl AsFd,
        callback: F,
    ) -> Result<Handle, Error> {
        self.watch(
            fd.as_fd(),
            true,
            Repeat::new(callback, fd.as_fd().as_raw_fd(), true, Location::caller()),
        )
    }

    /// Calls `callback` whenever `fd` is writable; as [`add_reader`](Loop::add_reader).
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// let (sock, _peer) = UnixStream::pair()?;
    /// let fd = sock.as_raw_fd();
    /// event_loop.add_writer(&sock, move || {
    ///     lp.remove_writer(fd); // an empty buffer is writable at once
    ///     lp.stop();
    /// })?;
    /// event_loop.run_forever()?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn add_writer<F: FnMut() + 'static>(
        &self,
        fd: impl AsFd,
        callback: F,
    ) -> Result<Handle, Error> {
        self.watch(
            fd.as_fd(),
            false,
            Repeat::new(callback, fd.as_fd().as_raw_fd(), false, Location::caller()),
        )
    }

    pub(crate) fn watch(
        &self,
        fd: BorrowedFd<'_>,
        reader: bool,
        cb: CallbackRc,
    ) -> Result<Handle, Error> {
        self.check_closed()?;
        let mut reactor = self.inner.reactor.borrow_mut();
        let old = if reader {
            reactor.set_reader(fd, cb.clone())
        } else {
            reactor.set_writer(fd, cb.clone())
        };
        drop(reactor);
        if let Some(old) = old? {
            handle::cancel(&*old);
        }
        Ok(Handle { cb })
    }

    /// Stops watching `fd` for readability. Returns whether a reader was
    /// registered (false on a closed loop). The removed callback never runs
    /// again, even if it was already queued for this pass.
    ///
    /// Takes the descriptor number (`sock.as_raw_fd()`), as asyncio takes an
    /// fd, so that a reader can be removed even after its descriptor was
    /// closed.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let (sock, _peer) = UnixStream::pair()?;
    /// assert!(!event_loop.remove_reader(sock.as_raw_fd())); // nothing registered
    /// event_loop.add_reader(&sock, || ())?;
    /// assert!(event_loop.remove_reader(sock.as_raw_fd()));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn remove_reader(&self, fd: impl AsRawFd) -> bool {
        self.remove(fd.as_raw_fd(), true)
    }

    /// Stops watching `fd` for writability; as [`remove_reader`](Loop::remove_reader).
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let (sock, _peer) = UnixStream::pair()?;
    /// event_loop.add_writer(&sock, || ())?;
    /// assert!(event_loop.remove_writer(sock.as_raw_fd()));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn remove_writer(&self, fd: impl AsRawFd) -> bool {
        self.remove(fd.as_raw_fd(), false)
    }

    fn remove(&self, fd: std::os::fd::RawFd, reader: bool) -> bool {
        if self.inner.closed.get() {
            return false;
        }
        let mut reactor = self.inner.reactor.borrow_mut();
        let removed = if reader {
            reactor.remove_reader(fd)
        } else {
            reactor.remove_writer(fd)
        };
        drop(reactor);
        match removed {
            Ok(Some(cb)) => {
                handle::cancel(&*cb);
                true
            }
            Ok(None) => false,
            Err(e) => {
                self.call_exception_handler(
                    &ExceptionContext::new(format!(
                        "error removing file descriptor {fd} from the poller"
                    ))
                    .with_error(Error::from(e)),
                );
                true
            }
        }
    }

    /// Registers `fd` for async I/O (edge-triggered readiness delivered to
    /// wakers). For the transport layer; see [`IoSource`].
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let (sock, _peer) = UnixStream::pair()?;
    /// sock.set_nonblocking(true)?;
    /// let source = event_loop.register_io(&sock)?;
    /// event_loop.deregister_io(&source)?; // before the descriptor closes
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn register_io(&self, fd: impl AsFd) -> Result<Rc<IoSource>, Error> {
        self.check_closed()?;
        Ok(self.inner.reactor.borrow_mut().register(fd.as_fd())?)
    }

    /// Removes a source registered with [`register_io`](Loop::register_io),
    /// waking whatever still waits on it. Call before closing the descriptor.
    ///
    /// ```
    /// use std::os::unix::net::UnixStream;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// let (sock, _peer) = UnixStream::pair()?;
    /// sock.set_nonblocking(true)?;
    /// let source = event_loop.register_io(&sock)?;
    /// event_loop.deregister_io(&source)?;
    /// drop(sock); // the descriptor closes after it left the reactor
    /// // The same descriptor number may be registered again by a new owner.
    /// let (again, _peer2) = UnixStream::pair()?;
    /// let source = event_loop.register_io(&again)?;
    /// event_loop.deregister_io(&source)?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn deregister_io(&self, source: &IoSource) -> Result<(), Error> {
        if self.inner.closed.get() {
            return Ok(());
        }
        let wakers = self.inner.reactor.borrow_mut().deregister(source)?;
        wakers.into_iter().for_each(std::task::Waker::wake);
        Ok(())
    }

    /// The reactor backend this loop polls with.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::builder().backend(tulip::BackendKind::Polling).build()?;
    /// assert_eq!(event_loop.backend_kind(), tulip::BackendKind::Polling);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn backend_kind(&self) -> BackendKind {
        self.inner.reactor.borrow().backend_kind()
    }

    /// A `Send + Sync` handle for other threads.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let remote = event_loop.remote();
    /// std::thread::spawn(move || remote.stop()).join().unwrap()?;
    /// event_loop.run_forever()?; // stopped from the other thread
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn remote(&self) -> RemoteLoop {
        RemoteLoop::new(self.inner.remote.clone())
    }

    /// Stops the loop (asyncio's `stop`): the callbacks already scheduled for
    /// the current pass run, then `run_forever` returns; callbacks scheduled
    /// after that wait for the next `run_forever`. Called before
    /// `run_forever`, it makes that run do one pass.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// event_loop.call_soon(move || lp.stop())?;
    /// event_loop.run_forever()?; // returns once the callback stopped it
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn stop(&self) {
        self.inner.stopping.set(true);
    }

    /// Whether the loop is running.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// assert!(!lp.is_running());
    /// let inside = event_loop.run_until_complete(async move { lp.is_running() })?;
    /// assert!(inside);
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn is_running(&self) -> bool {
        self.inner.running.get()
    }

    /// Whether the loop was closed.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// assert!(!event_loop.is_closed());
    /// event_loop.close()?;
    /// assert!(event_loop.is_closed());
    /// assert!(matches!(event_loop.call_soon(|| ()), Err(tulip::Error::LoopClosed)));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.closed.get()
    }

    /// Whether `self` and `other` are handles on the same loop.
    ///
    /// ```
    /// let a = tulip::EventLoop::new()?;
    /// let b = tulip::EventLoop::new()?;
    /// assert!(a.handle().same_loop(&a.handle()));
    /// assert!(!a.handle().same_loop(&b.handle()));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn same_loop(&self, other: &Loop) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// Runs one pass of the loop. The caller holds the running guard.
    pub(crate) fn run_once(&self) -> Result<(), Error> {
        let inner = &*self.inner;
        // Hooks added outside a pass (before the loop ran) run before its
        // first poll; those added during a pass ran at its end.
        if !inner.before_poll.borrow().is_empty() {
            self.run_before_poll();
        }
        let stopping = inner.stopping.get();
        let busy = stopping || !inner.ready.borrow().is_empty();
        let mut timeout = if busy {
            Some(Duration::ZERO)
        } else {
            match inner.timers.borrow_mut().next_deadline() {
                // Paused clock: look for I/O without waiting, then jump to
                // the timer; but while executor work is out, wait for it
                // (its completion wakes the poll) instead of spinning, and
                // a timer that never fires is no reason to wake either.
                Some(when) if inner.clock.is_paused() => {
                    if inner.pending_executor_jobs.get() > 0
                        || when == crate::event_loop::timers::NEVER
                    {
                        None
                    } else {
                        Some(Duration::ZERO)
                    }
                }
                Some(when) => Some(Duration::from_nanos(when.saturating_sub(inner.clock.now()))),
                None => None,
            }
        };
        // A busy pass need not look when no descriptor is registered:
        // nothing can be ready (other threads' work is taken from its queue
        // on every pass, poll or not).
        let skip_poll = busy
            && !stopping
            && (inner.reactor.borrow().is_empty()
                || (!inner.poll_soon.get() && inner.passes_without_poll.get() < POLL_INTERVAL));
        let mut saw_io = false;
        if skip_poll {
            inner
                .passes_without_poll
                .set(inner.passes_without_poll.get() + 1);
        } else {
            inner.passes_without_poll.set(0);
            inner.poll_soon.set(false);
            if !inner.remote.queue.is_empty() {
                timeout = Some(Duration::ZERO);
            }
            let timeout = timeout.map(|t| t.min(MAX_WAIT));
            let mut buf = inner.dispatch_buf.take();
            let res = match inner.around_wait.get() {
                None => inner.reactor.borrow_mut().poll(timeout, &mut buf),
                Some(hook) => {
                    let mut res = Ok(0);
                    hook.call(timeout, &mut || {
                        res = inner.reactor.borrow_mut().poll(timeout, &mut buf);
                    });
                    res
                }
            };
            saw_io = !buf.is_empty();
            for d in buf.drain(..) {
                match d {
                    Dispatch::Callback(cb) => {
                        if handle::is_cancelled(&*cb) {
                            self.forget_cancelled(&*cb);
                        } else {
                            inner.push_ready(cb);
                        }
                    }
                    Dispatch::Waker(w) => w.wake(),
                    Dispatch::Completion(h, c) => {
                        inner.ready.borrow_mut().push(Ready::Completion(h, c))
                    }
                }
            }
            inner.dispatch_buf.set(buf);
            if let Err(e) = res {
                self.call_exception_handler(
                    &ExceptionContext::new("error polling for I/O").with_error(e.into()),
                );
            }
        }
        self.drain_remote(REMOTE_BATCH);

        // Timers. A paused clock jumps to the next deadline when nothing
        // else can happen first.
        if inner.clock.is_paused()
            && !saw_io
            && inner.ready.borrow().is_empty()
            && inner.pending_executor_jobs.get() == 0
            && !inner.stopping.get()
        {
            if let Some(when) = inner.timers.borrow_mut().next_deadline() {
                if when != crate::event_loop::timers::NEVER {
                    inner.clock.advance_to(when);
                }
            }
        }
        {
            let mut timers = inner.timers.borrow_mut();
            if timers.len() > 0 {
                let now = inner.clock.now();
                let mut ready = inner.ready.borrow_mut();
                timers.pop_due(now, |cb| ready.push(Ready::Callback(cb)));
            }
        }

        // Take the whole batch at once: what runs now is exactly what was
        // ready, and what it schedules lands in the (empty) queue for the
        // next pass. The two queues swap roles each pass, keeping capacity.
        let mut batch = inner.spare_ready.take();
        std::mem::swap(&mut *inner.ready.borrow_mut(), &mut batch);
        inner.pass_seq.set(inner.pass_seq.get().wrapping_add(1));
        let ran = batch.len();
        if inner.debug.enabled() {
            for item in batch.drain(..) {
                self.run_item_timed(item);
            }
        } else {
            for item in batch.drain(..) {
                self.run_item(item);
            }
        }
        if batch.capacity() > 4 * ran.max(READY_CAPACITY) {
            // The burst that grew this queue is over: give the memory back.
            batch.shrink_to(ran.max(READY_CAPACITY));
        }
        inner.spare_ready.set(batch);
        if !inner.before_poll.borrow().is_empty() {
            self.run_before_poll();
        }
        Ok(())
    }

    /// A reader or writer whose handle was cancelled rather than removed:
    /// stop watching its descriptor, as asyncio does when it next finds the
    /// descriptor ready. The reactor just reported this very callback and no
    /// user code ran since, so it is still the descriptor's current one.
    fn forget_cancelled(&self, cb: &dyn handle::Callback) {
        if let Some((fd, reader)) = cb.watched() {
            let mut reactor = self.inner.reactor.borrow_mut();
            let _ = if reader {
                reactor.remove_reader(fd)
            } else {
                reactor.remove_writer(fd)
            };
        }
    }

    /// Moves up to `limit` items (in a pass, [`REMOTE_BATCH`]) of other
    /// threads' work to the ready queue. When more are left, the next pass
    /// polls first (and does not wait): a flood is taken in slices, with
    /// I/O between them.
    fn drain_remote(&self, limit: usize) {
        let inner = &*self.inner;
        if inner.remote.queue.is_empty() {
            return;
        }
        let mut ready = inner.ready.borrow_mut();
        for item in inner.remote.queue.try_iter().take(limit) {
            match item {
                RemoteItem::Callback(f) => ready.push(Ready::Remote(f)),
                RemoteItem::Task(r) => ready.push(Ready::Task(r)),
                RemoteItem::Stop => inner.stopping.set(true),
            }
        }
        if !inner.remote.queue.is_empty() {
            inner.poll_soon.set(true);
        }
    }

    #[inline]
    fn run_item(&self, item: Ready) {
        match item {
            Ready::Task(r) => {
                r.run();
            }
            Ready::Callback(cb) => {
                if handle::is_cancelled(&*cb) {
                    return;
                }
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| cb.call())) {
                    self.report_callback_panic(payload, Some(Handle { cb }));
                }
            }
            Ready::Remote(f) => {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
                    self.report_callback_panic(payload, None);
                }
            }
            Ready::Completion(h, c) => {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| h.complete(c))) {
                    self.report_callback_panic(payload, None);
                }
            }
        }
    }

    fn run_item_timed(&self, item: Ready) {
        let what = match &item {
            Ready::Callback(cb) => format!("<Handle created at {}>", cb.site()),
            Ready::Task(_) => String::from("<Task step>"),
            Ready::Remote(_) => String::from("<Handle call_soon_threadsafe>"),
            Ready::Completion(_, c) => format!("<I/O completion {:?}>", c.id()),
        };
        let started = Instant::now();
        let task = crate::task::header::last_polled_reset();
        self.run_item(item);
        let took = started.elapsed();
        if took >= self.inner.debug.slow_callback_duration() {
            let what = match (task, crate::task::header::last_polled_reset()) {
                (_, Some(desc)) => desc,
                _ => what,
            };
            crate::event_loop::debug::warn(&format!(
                "Executing {what} took {:.3} seconds",
                took.as_secs_f64()
            ));
        }
    }

    pub(crate) fn report_callback_panic(
        &self,
        payload: Box<dyn std::any::Any + Send>,
        handle: Option<Handle>,
    ) {
        let mut ctx = ExceptionContext::new(match &handle {
            Some(h) => format!("Exception in callback created at {}", h.source_location()),
            None => String::from("Exception in callback scheduled with call_soon_threadsafe"),
        })
        .with_error(Error::Panicked(PanicError::new(payload)));
        ctx.handle = handle;
        self.call_exception_handler(&ctx);
    }

    /// Closes the loop's resources: every task still pending is cancelled
    /// and run to completion (its future dropped, destructors run), then
    /// queued callbacks, timers and registrations are dropped and other
    /// threads can no longer schedule anything.
    pub(crate) fn close_inner(&self) -> Result<(), Error> {
        let inner = &*self.inner;
        if inner.running.get() {
            return Err(Error::LoopRunning);
        }
        if inner.closed.get() {
            return Ok(());
        }
        // Let pending tasks drop their futures on this thread.
        let pending = all_task_refs(self);
        if !pending.is_empty() || !inner.ready.borrow().is_empty() {
            for t in &pending {
                t.cancel();
            }
            let guard = RunningGuard::enter(self);
            if guard.is_ok() {
                let mut rounds = 0;
                while !all_task_refs(self).is_empty() && rounds < 1000 {
                    self.drain_remote(usize::MAX);
                    let batch = std::mem::take(&mut *inner.ready.borrow_mut());
                    for item in batch {
                        if let Ready::Task(r) = item {
                            r.run();
                        }
                    }
                    rounds += 1;
                    if inner.ready.borrow().is_empty() && inner.remote.queue.is_empty() {
                        break;
                    }
                }
            }
        }
        inner.closed.set(true);
        inner.remote.queue.close();
        self.drain_remote(usize::MAX);
        let ready = std::mem::take(&mut *inner.ready.borrow_mut());
        drop(ready);
        let timers = inner.timers.borrow_mut().drain();
        // A `TimerHandle` may outlive the loop: let go of what its
        // callback captured now, not when the last handle goes.
        timers.iter().for_each(|cb| cb.release());
        drop(timers);
        // In-flight I/O operations: cancelled and waited for, so the kernel
        // writes into none of their buffers once the loop is closed; their
        // final completions (and handlers) are dropped outside the borrow.
        let hooks = std::mem::take(&mut *inner.before_poll.borrow_mut());
        drop(hooks);
        let finals = inner.reactor.borrow_mut().cancel_all();
        drop(finals);
        let (callbacks, wakers) = inner.reactor.borrow_mut().clear();
        drop(callbacks);
        #[cfg(unix)]
        drop(inner.ps.borrow_mut().take());
        wakers.into_iter().for_each(std::task::Waker::wake);
        let tasks = inner.tasks.borrow_mut().clear();
        drop(tasks);
        let executor = inner.default_executor.borrow_mut().take();
        drop(executor);
        *inner.exception_handler.borrow_mut() = None;
        inner.has_task_factory.set(false);
        let factory = inner.task_factory.borrow_mut().take();
        drop(factory);
        Ok(())
    }
}

// Debug mode's switches (the settings and the diagnostics live in `debug`).
impl Loop {
    /// Whether debug mode is on (asyncio's `get_debug`). Off unless the
    /// loop was built with [`EventLoopBuilder::debug`](crate::EventLoopBuilder::debug)
    /// or switched on with [`set_debug`](Loop::set_debug).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// assert!(!event_loop.get_debug());
    /// let debugging = tulip::EventLoop::builder().debug(true).build()?;
    /// assert!(debugging.get_debug());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn get_debug(&self) -> bool {
        self.inner.debug.enabled()
    }

    /// Turns debug mode on or off (asyncio's `set_debug`): in debug mode,
    /// callbacks and task steps slower than
    /// [`slow_callback_duration`](Loop::slow_callback_duration) are
    /// reported with where they were created.
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// event_loop.set_debug(true);
    /// assert!(event_loop.get_debug());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn set_debug(&self, enabled: bool) {
        self.inner.debug.set_enabled(enabled);
    }

    /// The duration above which a callback counts as slow in debug mode
    /// (default 100 ms).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// assert_eq!(event_loop.slow_callback_duration(), Duration::from_millis(100));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn slow_callback_duration(&self) -> Duration {
        self.inner.debug.slow_callback_duration()
    }

    /// Sets the slow-callback threshold of debug mode.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// event_loop.set_slow_callback_duration(Duration::from_millis(10));
    /// assert_eq!(event_loop.slow_callback_duration(), Duration::from_millis(10));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn set_slow_callback_duration(&self, d: Duration) {
        self.inner.debug.set_slow_callback_duration(d);
    }
}
