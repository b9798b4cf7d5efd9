//! [`Task`], the typed handle to a task's outcome: awaiting it, taking its
//! result, detaching it, and what dropping it does (detach, or cancel when a
//! timeout drops it while it is awaited).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::ptr::NonNull;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use async_task::FallibleTask;

use super::harness::report_never_retrieved;
use super::header::{
    AWAITED, CANCEL_AWAITED, CANCELLED, CallbackId, DETACHED, DONE, PANICKED, RETRIEVED,
    TaskHeader, TaskRef, describe, registered,
};
use crate::error::Error;
use crate::event_loop::base_events::Loop;

/// A task: a future scheduled on the loop, and the handle to its outcome.
/// Awaiting it yields `Ok(output)`, `Err(Error::Cancelled)` or
/// `Err(Error::Panicked(..))`.
///
/// Dropping the handle detaches the task (it runs to completion), except
/// when a timeout ([`wait_for`](crate::wait_for),
/// [`Timeout::run`](crate::Timeout::run)) drops it while it is being
/// awaited: then the task is cancelled, as asyncio's cancellation reaches
/// the task an expired `wait_for` awaits.
///
/// ```
/// let event_loop = tulip::EventLoop::new()?;
/// let lp = event_loop.handle();
/// let answer = event_loop.run_until_complete(async move {
///     let task = lp.create_task(async { 6 * 7 });
///     task.await
/// })?;
/// assert_eq!(answer?, 42);
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// A `Task` cannot leave its thread:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// let event_loop = tulip::EventLoop::new().unwrap();
/// assert_send(event_loop.handle().create_task(async {}));
/// ```
#[must_use = "a Task is awaited for its outcome; drop it (or call detach) to let it run detached"]
pub struct Task<T> {
    /// async-task's handle; `None` only while dropping. Kept after the
    /// outcome was taken (the `RETRIEVED` flag says so), for the header.
    task: Option<FallibleTask<Result<T, Error>, TaskHeader>>,
    /// The task's header (async-task's metadata, which the handle keeps
    /// alive).
    header: NonNull<TaskHeader>,
    /// `!Send` and `!Sync`: the task is the loop thread's.
    _not_send: PhantomData<Rc<()>>,
}

impl<T> Task<T> {
    task_methods!();

    /// The handle of a task async-task has just created.
    pub(super) fn new(task: async_task::Task<Result<T, Error>, TaskHeader>) -> Task<T> {
        Task {
            header: NonNull::from(task.metadata()),
            task: Some(task.fallible()),
            _not_send: PhantomData,
        }
    }

    /// Wakes the task through the registry's waker (no clone); a task no
    /// longer registered is done and needs no wake-up.
    fn wake(&self) {
        let h = self.h();
        if let Some(inner) = h.loop_inner() {
            if let Some(t) = inner.tasks.borrow().get(h) {
                t.waker.wake_by_ref();
            }
        }
    }

    fn h(&self) -> &TaskHeader {
        // SAFETY: the async-task handle in `self.task` keeps the task
        // allocation (with its metadata, the header) alive; it is released
        // only at the end of `drop`, after the last use of the header.
        unsafe { self.header.as_ref() }
    }

    /// A reference to this task: the registry's while it runs, else one made
    /// from the waker kept since completion.
    fn tref_clone(&self) -> Option<TaskRef> {
        let h = self.h();
        if let Some(t) = registered(h) {
            return Some(t);
        }
        let waker = h.self_waker.take()?;
        let t = TaskRef {
            waker: waker.clone(),
            header: NonNull::from(h),
            _not_send: PhantomData,
        };
        h.self_waker.set(Some(waker));
        Some(t)
    }

    /// An untyped reference to this task.
    ///
    /// ```
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let task = spawn(std::future::pending::<()>());
    ///     let tasks: Vec<TaskRef> = vec![task.task_ref()]; // untyped: any output type
    ///     tasks[0].cancel();
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn task_ref(&self) -> TaskRef {
        match self.tref_clone() {
            Some(t) => t,
            None => unreachable!("a live task is registered; a finished one keeps its waker"),
        }
    }

    /// The outcome of a done task, without waiting (asyncio's `result()`):
    /// [`Error::InvalidState`](crate::Error::InvalidState) if the task is not done or its outcome was
    /// already taken.
    ///
    /// ```
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let mut task = spawn(async { 3 });
    ///     assert!(task.result().is_err()); // not done yet
    ///     yield_now().await;
    ///     assert_eq!(task.result()?, 3);
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn result(&mut self) -> Result<T, Error> {
        if !self.done() {
            return Err(Error::InvalidState("Result is not set."));
        }
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        match Pin::new(&mut *self).poll(&mut cx) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(Error::InvalidState("Result is not set.")),
        }
    }

    /// Lets the task run on without this handle (what dropping it does).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let ran = Rc::new(Cell::new(false));
    ///     let flag = ran.clone();
    ///     spawn(async move { flag.set(true) }).detach();
    ///     sleep(Duration::from_millis(1)).await;
    ///     assert!(ran.get());
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn detach(self) {
        drop(self);
    }

    /// The await graph: a combinator (gather, shield, ...) polled this
    /// handle to `Pending`, and says it is the link (see `crate::graph`).
    pub(crate) fn note_awaited_via(&self, via: crate::graph::AwaitVia) {
        super::graph_hooks::note_via(self.h(), via);
    }

    /// Marks the outcome as retrieved without taking it: a panic that ends
    /// the task later is not reported as "never retrieved" (for combinators
    /// that stop caring about a child, as asyncio's `gather` does, or
    /// `shield`). Nobody awaits the task any more either: a timeout that
    /// drops this handle detaches the task rather than cancelling it.
    pub(crate) fn mark_retrieved(&self) {
        let h = self.h();
        h.state.set((h.state.get() | RETRIEVED) & !AWAITED);
    }

    /// Cancels the task and drops this handle *without* detaching, so that
    /// the task's outcome is neither kept nor reported. async-task marks the
    /// task closed and schedules it: its future is dropped when the loop
    /// reaches it (a combinator that needs the future gone *now* keeps the
    /// future in a slot it can empty itself, as `TaskSet` does).
    pub(crate) fn abort(mut self) {
        let h = self.h();
        if h.state.get() & DONE == 0 {
            h.cancel_requests
                .set(h.cancel_requests.get().saturating_add(1));
            h.must_cancel.set(true);
        }
        // No handle is left: like a detached task, it must not keep a
        // waker of itself when it finishes (that would be a cycle keeping
        // its allocation alive).
        h.state.set(h.state.get() | RETRIEVED | DETACHED);
        let kept = h.self_waker.take();
        // Dropping async-task's handle (rather than detaching it) cancels
        // the task; `TaskFuture`'s drop finishes it as cancelled.
        drop(self.task.take());
        drop(kept);
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        let this = &mut *self;
        // SAFETY: as in `h`: the handle below keeps the header alive.
        let h = unsafe { this.header.as_ref() };
        let Some(task) = this.task.as_mut() else {
            return Poll::Ready(Err(Error::InvalidState("task outcome already taken")));
        };
        if h.state.get() & RETRIEVED != 0 {
            return Poll::Ready(Err(Error::InvalidState("task outcome already taken")));
        }
        if h.state.get() & CANCELLED != 0 {
            // Cancelled is the whole outcome, and a task finished in place
            // ([`finish_emptied`]) has it before async-task ran it again.
            h.state.set(h.state.get() | RETRIEVED);
            return Poll::Ready(Err(Error::Cancelled));
        }
        let out = match Pin::new(&mut *task).poll(cx) {
            Poll::Pending => {
                h.state.set(h.state.get() | AWAITED);
                super::graph_hooks::note_task_await(h);
                return Poll::Pending;
            }
            Poll::Ready(Some(r)) => r,
            // The future was dropped without an outcome (loop closed).
            Poll::Ready(None) => Err(Error::Cancelled),
        };
        h.state.set(h.state.get() | RETRIEVED);
        Poll::Ready(out)
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if self.task.is_none() {
            return;
        }
        let h = self.h();
        if h.state.get() & (AWAITED | DONE) == AWAITED {
            let _ = CANCEL_AWAITED.try_with(|c| {
                if let Some(cancelled) = c.borrow_mut().as_mut() {
                    if let Some(t) = self.tref_clone() {
                        t.cancel();
                        cancelled.push(t);
                    }
                }
            });
        }
        h.state.set(h.state.get() | DETACHED);
        super::graph_hooks::note_handle_dropped(h);
        let s = h.state.get();
        if s & PANICKED != 0 && s & RETRIEVED == 0 {
            if let (Some(inner), Some(t)) = (h.loop_inner(), self.tref_clone()) {
                report_never_retrieved(&Loop::from_inner(inner), &t);
            }
        }
        // Release the waker kept since completion only after the handle is
        // gone: it may be what keeps the task allocation alive.
        let kept = h.self_waker.take();
        if let Some(task) = self.task.take() {
            task.detach();
        }
        drop(kept);
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe(self.h(), f, "Task")
    }
}
