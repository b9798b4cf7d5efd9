//! Timeouts: asyncio 3.11's reschedulable [`Timeout`] scope ([`timeout`],
//! [`timeout_at`]) and `wait_for` ([`wait_for`], [`wait_for_task`]).
//!
//! The body's first step runs before the deadline can fire (the deadline
//! is a timer, as asyncio's is a callback), even a deadline already past.
//! When the deadline passes, a [`Task`] handle the body was awaiting is cancelled,
//! not detached, as it is dropped with the body (asyncio's cancellation
//! travels into the awaited task), and the scope reports
//! [`Error::Timeout`] once those tasks are done.
//!
//! A [`Timeout`] is a cheap `Clone` handle on a deadline;
//! [`Timeout::run`] runs a body under it and yields `Ok(value)`, or
//! `Err(Error::Timeout)` when the deadline passes first, in which case the
//! body is dropped (its destructors are its cleanup). The deadline can be
//! read ([`when`](Timeout::when)), moved ([`reschedule`](Timeout::reschedule),
//! from inside the body or from anywhere else on the loop thread) and
//! queried ([`expired`](Timeout::expired)).
//!
//! # Mapping onto asyncio's `cancelling()` / `uncancel()`
//!
//! asyncio delivers a timeout by cancelling the *current task* and turning
//! the `CancelledError` back into `TimeoutError` at the scope's exit. It
//! needs the task's `cancelling()` count and `uncancel()` to tell its own
//! cancellation from a foreign one (`task.cancel()` from elsewhere, or an
//! outer timeout) arriving in the same step, and to nest scopes.
//!
//! tulip does not need them here: a scope never cancels the task; it drops
//! only its own body. So
//!
//! - an inner scope's expiry ends only the inner body, and only the inner
//!   [`Timeout::run`] yields [`Error::Timeout`]; the outer body goes on;
//! - an outer scope's expiry drops the outer body, inner scopes included,
//!   and only the outer `run` yields [`Error::Timeout`];
//! - a foreign cancellation of the task drops the task's whole future,
//!   every scope in it included: the task ends [`Error::Cancelled`], and no
//!   scope can mistake it for its own expiry or swallow it.
//!
//! The task's `cancelling()` count is therefore never touched by timeouts.
//!
//! # Spawned children of the body
//!
//! Dropping the body drops what it owns. A [`gather`](crate::gather),
//! [`as_completed`](crate::as_completed) or [`task_group`](crate::task_group)
//! in the body owns child *tasks*, and its drop ends them. When
//! [`Err(Error::Timeout)`](Error::Timeout) is returned:
//!
//! - every child's future has been dropped, its destructors run, whether
//!   the child was suspended (on a timer, I/O, a lock...) or already woken
//!   and queued for this pass; none is polled again;
//! - every child *task* is [`done`](Task::done) (cancelled) and no longer
//!   listed by [`all_tasks`](crate::all_tasks). (async-task frees a task's
//!   future only from the loop; the toolkit keeps each child's future in a
//!   slot of its own so that it can drop it sooner, and then finishes the
//!   task in place.)
//!
//! The one exception is a child whose poll is on the stack at that moment,
//! which happens only if the timed-out body was driven from inside that
//! very child: its future is dropped when that poll returns.
//!
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::sleep::{Sleep, sleep_until};
use crate::task::{Task, TaskRef, drop_cancelling_awaited};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Created,
    Entered,
    Expired,
    Exited,
}

struct State {
    when: Cell<Option<Instant>>,
    /// A relative delay not yet turned into an instant (no running loop
    /// when [`timeout`] was called): resolved on first use.
    delay: Cell<Option<Duration>>,
    phase: Cell<Phase>,
    /// Bumped by every reschedule, so that the running scope re-arms.
    version: Cell<u64>,
    waker: RefCell<Option<Waker>>,
}

impl State {
    fn resolve(&self) {
        if let Some(d) = self.delay.get() {
            if let Ok(lp) = crate::get_running_loop() {
                self.delay.set(None);
                self.when.set(lp.time().checked_add(d));
            }
        }
    }
}

/// A reschedulable deadline (asyncio 3.11's `asyncio.Timeout`). Create one
/// with [`timeout`] or [`timeout_at`], run a body under it with
/// [`Timeout::run`]. Clones share the deadline.
///
/// ```
/// use std::time::Duration;
/// use tulip::{sleep, timeout};
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// event_loop.run_until_complete(async {
///     let t = timeout(Duration::from_secs(1));
///     let r = t.run(sleep(Duration::from_secs(10))).await;
///     assert!(r.unwrap_err().is_timeout());
///     assert!(t.expired());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct Timeout {
    state: Rc<State>,
}

/// A [`Timeout`] `delay` from now on the running loop's clock (asyncio's
/// `asyncio.timeout(delay)`). Called outside a running loop, the delay
/// counts from the scope's first poll.
///
/// ```
/// use std::time::Duration;
/// use tulip::{sleep, timeout};
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// let r = event_loop.run_until_complete(async {
///     timeout(Duration::from_secs(5)).run(async { sleep(Duration::from_secs(1)).await; 7 }).await
/// })?;
/// assert_eq!(r?, 7);
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn timeout(delay: Duration) -> Timeout {
    let t = Timeout::new(None);
    t.state.delay.set(Some(delay));
    t.state.resolve();
    t
}

/// A [`Timeout`] at `deadline` on the loop's clock (asyncio's
/// `asyncio.timeout_at(when)`).
///
/// ```
/// use std::time::Duration;
/// use tulip::{get_running_loop, sleep, timeout_at};
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// event_loop.run_until_complete(async {
///     let deadline = get_running_loop().unwrap().time() + Duration::from_secs(1);
///     let t = timeout_at(deadline);
///     assert_eq!(t.when(), Some(deadline));
///     assert!(t.run(sleep(Duration::from_secs(2))).await.is_err());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn timeout_at(deadline: Instant) -> Timeout {
    Timeout::new(Some(deadline))
}

impl Timeout {
    /// A timeout at `when`, or none at all (`None`, asyncio's
    /// `timeout(None)`), to be [rescheduled](Timeout::reschedule) later.
    ///
    /// ```
    /// let t = tulip::Timeout::new(None);
    /// assert_eq!(t.when(), None);
    /// ```
    pub fn new(when: Option<Instant>) -> Timeout {
        Timeout {
            state: Rc::new(State {
                when: Cell::new(when),
                delay: Cell::new(None),
                phase: Cell::new(Phase::Created),
                version: Cell::new(0),
                waker: RefCell::new(None),
            }),
        }
    }

    /// The deadline, `None` for no deadline (asyncio's `when()`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
    /// event_loop.run_until_complete(async {
    ///     let now = tulip::get_running_loop().unwrap().time();
    ///     let t = tulip::timeout(Duration::from_secs(3));
    ///     assert_eq!(t.when(), Some(now + Duration::from_secs(3)));
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn when(&self) -> Option<Instant> {
        self.state.resolve();
        self.state.when.get()
    }

    /// Moves the deadline (`None`: no deadline), asyncio's `reschedule()`.
    /// A deadline already past expires the scope at the loop's next pass.
    /// Works from inside the body or from any other code on the loop
    /// thread. [`Error::InvalidState`] once the scope expired or exited.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::{get_running_loop, sleep, timeout};
    /// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
    /// event_loop.run_until_complete(async {
    ///     let t = timeout(Duration::from_secs(1));
    ///     let t2 = t.clone();
    ///     let r = t.run(async move {
    ///         let later = get_running_loop().unwrap().time() + Duration::from_secs(10);
    ///         t2.reschedule(Some(later)).unwrap();
    ///         sleep(Duration::from_secs(5)).await;
    ///         "done"
    ///     }).await;
    ///     assert_eq!(r.unwrap(), "done");
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn reschedule(&self, when: Option<Instant>) -> Result<(), Error> {
        let s = &self.state;
        match s.phase.get() {
            Phase::Expired => return Err(Error::InvalidState("Timeout has expired")),
            Phase::Exited => return Err(Error::InvalidState("Timeout has exited")),
            Phase::Created | Phase::Entered => {}
        }
        s.delay.set(None);
        s.when.set(when);
        s.version.set(s.version.get().wrapping_add(1));
        if let Some(w) = s.waker.borrow().as_ref() {
            w.wake_by_ref();
        }
        Ok(())
    }

    /// Whether the deadline passed while the body ran (asyncio's
    /// `expired()`).
    ///
    /// ```
    /// let t = tulip::Timeout::new(None);
    /// assert!(!t.expired());
    /// ```
    pub fn expired(&self) -> bool {
        self.state.phase.get() == Phase::Expired
    }

    /// Runs `body` under this timeout (asyncio's `async with timeout:`):
    /// `Ok(value)` if it completes first, `Err(Error::Timeout)` if the
    /// deadline passes first (the body is then dropped). A timeout runs one
    /// body: a second `run` yields [`Error::InvalidState`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::{sleep, timeout};
    /// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
    /// event_loop.run_until_complete(async {
    ///     let t = timeout(Duration::from_secs(1));
    ///     assert_eq!(t.run(async { 5 }).await.unwrap(), 5);
    ///     assert!(!t.expired());
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the body (the scope is then
    /// exited, not expired); a task the body was awaiting is cancelled with
    /// it (see [`Task`]); nothing else is affected.
    pub fn run<F: Future>(&self, body: F) -> TimeoutScope<F> {
        TimeoutScope {
            state: self.state.clone(),
            body: Some(body),
            sleep: None,
            armed: None,
            entered: false,
            draining: None,
        }
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("when", &self.state.when.get())
            .field("state", &self.state.phase.get())
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Timeout::run`] and [`wait_for`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let quick = wait_for(async { 5 }, Duration::from_secs(1));
    ///     assert_eq!(quick.await?, 5);
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[must_use = "futures do nothing unless awaited"]
    pub struct TimeoutScope<F> {
        state: Rc<State>,
        #[pin]
        body: Option<F>,
        sleep: Option<Sleep>,
        // The version the sleep was armed for.
        armed: Option<u64>,
        entered: bool,
        // Expired: the tasks the body was awaiting, cancelled when it was
        // dropped; `Err(Timeout)` comes once they are all done.
        draining: Option<Vec<TaskRef>>,
    }

    impl<F> PinnedDrop for TimeoutScope<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Only the scope that entered owns the shared state: a second
            // `run` (refused, or never polled) must not take the running
            // scope's waker, or a later `reschedule` would wake nobody.
            if *this.entered {
                if this.state.phase.get() == Phase::Entered {
                    this.state.phase.set(Phase::Exited);
                }
                this.state.waker.borrow_mut().take();
            }
            // Cancelled from outside: the tasks the body awaits are
            // cancelled too (not waited for: a drop cannot wait).
            let mut body = this.body;
            drop_cancelling_awaited(|| body.set(None));
        }
    }
}

impl<F: Future> Future for TimeoutScope<F> {
    type Output = Result<F::Output, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let state = &**this.state;
        if !*this.entered {
            if state.phase.get() != Phase::Created {
                return Poll::Ready(Err(Error::InvalidState("Timeout has already been entered")));
            }
            state.phase.set(Phase::Entered);
            *this.entered = true;
        }
        if let Some(tasks) = this.draining.as_mut() {
            tasks.retain(|t| !t.done());
            if tasks.is_empty() {
                *this.draining = None;
                return Poll::Ready(Err(Error::Timeout));
            }
            set_waker(state, cx);
            return Poll::Pending;
        }
        if this.body.is_none() {
            return Poll::Ready(Err(Error::InvalidState(
                "timeout scope polled after completion",
            )));
        }
        state.resolve();
        let mut body_polled = false;
        loop {
            let version = state.version.get();
            if *this.armed != Some(version) {
                *this.sleep = state.when.get().map(sleep_until);
                *this.armed = Some(version);
            }
            if let Some(s) = this.sleep.as_mut() {
                if Pin::new(s).poll(cx).is_ready() {
                    state.phase.set(Phase::Expired);
                    *this.sleep = None;
                    let mut body = this.body;
                    let awaited = drop_cancelling_awaited(|| body.set(None));
                    let pending: Vec<TaskRef> = awaited.into_iter().filter(|t| !t.done()).collect();
                    if pending.is_empty() {
                        return Poll::Ready(Err(Error::Timeout));
                    }
                    for t in &pending {
                        let state = this.state.clone();
                        t.add_done_callback(move |_| {
                            if let Some(w) = state.waker.borrow().as_ref() {
                                w.wake_by_ref();
                            }
                        });
                    }
                    *this.draining = Some(pending);
                    set_waker(state, cx);
                    return Poll::Pending;
                }
            }
            if body_polled {
                break;
            }
            body_polled = true;
            let body = this.body.as_mut().as_pin_mut().expect("checked above");
            if let Poll::Ready(v) = body.poll(cx) {
                state.phase.set(Phase::Exited);
                this.body.set(None);
                *this.sleep = None;
                return Poll::Ready(Ok(v));
            }
            if state.version.get() == version {
                break;
            }
        }
        set_waker(state, cx);
        Poll::Pending
    }
}

/// Keeps the waker of the task running the scope, for `reschedule` and
/// for the tasks an expired scope waits on.
fn set_waker(state: &State, cx: &Context<'_>) {
    let mut w = state.waker.borrow_mut();
    match w.as_ref() {
        Some(old) if old.will_wake(cx.waker()) => {}
        _ => *w = Some(cx.waker().clone()),
    }
}

/// Waits for `fut` for at most `timeout` (asyncio's `wait_for`): its
/// value, or `Err(Error::Timeout)` after dropping it — its destructors run,
/// so its cancellation has completed, before the error is returned.
///
/// `fut` may be a [`Task`] (or await one): on timeout the task is
/// cancelled, as asyncio's `wait_for` cancels it, and the error comes once
/// it is done. (A `Task` dropped anywhere else detaches; to keep the task
/// running past the timeout, pass `&mut task`, or use
/// [`shield`](crate::shield).)
///
/// ```
/// use std::time::Duration;
/// use tulip::{sleep, spawn, wait_for};
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// event_loop.run_until_complete(async {
///     let task = spawn(sleep(Duration::from_secs(60)));
///     let probe = task.task_ref();
///     let r = wait_for(task, Duration::from_secs(1)).await;
///     assert!(r.unwrap_err().is_timeout());
///     assert!(probe.done() && probe.cancelled());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// ```
/// use std::time::Duration;
/// use tulip::{sleep, wait_for};
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// event_loop.run_until_complete(async {
///     let r = wait_for(sleep(Duration::from_secs(60)), Duration::from_secs(1)).await;
///     assert!(r.unwrap_err().is_timeout());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// # Cancel safety
///
/// Dropping the returned future (for instance because the task awaiting it
/// was cancelled) drops `fut`: the outer cancellation always wins.
pub fn wait_for<F: Future>(fut: F, timeout: Duration) -> TimeoutScope<F> {
    self::timeout(timeout).run(fut)
}

/// [`wait_for`] for a task, by name: on timeout the task is cancelled and
/// awaited, so it is done (its future dropped) before `Err(Error::Timeout)`
/// is returned. [`wait_for`] does the same with a `Task`; this one also
/// yields the value of a task that completes anyway (with a value, in the
/// same pass as its cancellation), as asyncio's `wait_for` does.
///
/// ```
/// use std::time::Duration;
/// use tulip::{sleep, spawn, wait_for_task};
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// event_loop.run_until_complete(async {
///     let task = spawn(sleep(Duration::from_secs(60)));
///     let r = wait_for_task(task, Duration::from_secs(1)).await;
///     assert!(r.unwrap_err().is_timeout());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// # Cancel safety
///
/// Dropping the returned future cancels the task (asyncio: cancelling
/// `wait_for` cancels the inner); its value, if it had one ready, is lost.
pub fn wait_for_task<T>(task: Task<T>, timeout: Duration) -> WaitForTask<T> {
    WaitForTask {
        task,
        sleep: crate::sleep::sleep(timeout),
        timed_out: false,
        finished: false,
    }
}

/// The future of [`wait_for_task`].
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let task = spawn(async { "in time" });
///     assert_eq!(wait_for_task(task, Duration::from_secs(1)).await?, "in time");
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited; dropping it cancels the task"]
pub struct WaitForTask<T> {
    task: Task<T>,
    sleep: Sleep,
    timed_out: bool,
    finished: bool,
}

impl<T> Future for WaitForTask<T> {
    type Output = Result<T, Error>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if !this.timed_out && Pin::new(&mut this.sleep).poll(cx).is_ready() {
            this.timed_out = true;
            this.task.cancel();
        }
        match Pin::new(&mut this.task).poll(cx) {
            Poll::Pending => {
                this.task.note_awaited_via(crate::graph::AwaitVia::WaitFor);
                Poll::Pending
            }
            Poll::Ready(out) => {
                this.finished = true;
                Poll::Ready(match out {
                    Err(Error::Cancelled) if this.timed_out => Err(Error::Timeout),
                    other => other,
                })
            }
        }
    }
}

impl<T> Drop for WaitForTask<T> {
    fn drop(&mut self) {
        if !self.finished {
            self.task.cancel();
        }
    }
}
