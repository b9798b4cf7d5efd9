//! `TaskGroup`: structured concurrency (asyncio 3.11's `asyncio.TaskGroup`).
//!
//! [`task_group`] runs a body that receives a [`TaskGroup`] handle; the body
//! creates children with [`TaskGroup::create_task`] (or
//! [`TaskGroup::try_create_task`] for children yielding `Result`). Leaving
//! the group waits for every child. The first failure — a child that
//! panics, or a `try_create_task` child that returns `Err` — aborts the
//! group: every other child is cancelled and the body is dropped (asyncio
//! cancels the parent task; here the body alone ends, the task does not).
//! The abort happens at the next pass of the loop (asyncio runs it from the
//! failed child's done callback), so children that fail in the same pass
//! all run and all their failures are kept. All failures are then reported
//! together as a [`TaskGroupError`] (asyncio's `ExceptionGroup`), except that a panic in a child is resumed
//! (`resume_unwind`) in the awaiting task when the group exits, as asyncio
//! re-raises `BaseException`s. A child cancelled from outside is not a
//! failure. Dropping the group's future (the parent task cancelled, or a
//! timeout around the group expiring) cancels every child, so no task
//! outlives the group.
//!
//! That drop drops each child's future right away, inside the drop, so
//! its destructors have run when the drop returns (whether the child was
//! suspended or already woken and queued), and finishes its task as
//! cancelled there and then: the child is [`done`](Task::done) and no longer
//! listed by [`all_tasks`](crate::all_tasks) when the drop returns. The one
//! exception is a child whose poll is on the stack at that moment (the group
//! was dropped from inside that very child): it ends when that poll
//! returns.
//!
//! The handle is a `Clone`; a clone kept after the group exited is harmless:
//! [`create_task`](TaskGroup::create_task) then returns
//! [`Error::InvalidState`], as it does while the group is shutting down.
//!
//! A [`try_create_task`](TaskGroup::try_create_task) child that returns
//! `Err(e)` keeps its outcome: its own [`Task`] handle yields `Ok(Err(e))`
//! while the group reports `e`. A child that panics ends
//! [`Error::Cancelled`] on its own handle: the panic is the group's to
//! resume.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::error::{Error, PanicError};
use crate::task::{Task, TaskRef, current_task};
use crate::toolkit::task_set::{ChildSlot, EmptySlot, empty_slot, new_slot};

/// The errors of a failed [`TaskGroup`] (asyncio's `ExceptionGroup`), in the
/// order they happened.
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let r = task_group(|tg| async move {
///         tg.create_task(async { 1 })?;
///         tg.try_create_task(async { Err::<(), _>(tulip::Error::Timeout) })?;
///         Ok::<_, tulip::Error>(())
///     })
///     .await;
///     let group_error: tulip::TaskGroupError = r.unwrap_err();
///     assert_eq!(group_error.errors.len(), 1);
///     assert!(group_error.errors[0].is_timeout());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TaskGroupError {
    /// Every child failure.
    pub errors: Vec<Error>,
}

impl fmt::Display for TaskGroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unhandled errors in a TaskGroup ({} sub-error",
            self.errors.len()
        )?;
        if self.errors.len() != 1 {
            f.write_str("s")?;
        }
        f.write_str(")")?;
        for e in &self.errors {
            write!(f, "; {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TaskGroupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errors.first().map(|e| e as _)
    }
}

/// What the group keeps of a live child.
#[derive(Clone)]
struct ChildEntry {
    task: TaskRef,
    fut: Rc<dyn EmptySlot>,
}

#[derive(Default)]
struct GroupState {
    children: RefCell<HashMap<u64, ChildEntry>>,
    next_key: Cell<u64>,
    live: Cell<usize>,
    errors: RefCell<Vec<Error>>,
    aborting: Cell<bool>,
    abort_scheduled: Cell<bool>,
    exiting: Cell<bool>,
    finished: Cell<bool>,
    parent: RefCell<Option<Waker>>,
    /// The id of the task running the group (the await graph links each
    /// child to it, as asyncio does); 0 until the scope is first polled.
    owner: Cell<u64>,
}

impl GroupState {
    fn wake_parent(&self) {
        if let Some(w) = self.parent.borrow().as_ref() {
            w.wake_by_ref();
        }
    }

    /// Records a child's failure. The abort comes from a callback on the
    /// next pass, as asyncio handles a failure in the child's done
    /// callback: siblings already queued for this pass still run, and their
    /// failures are recorded too (not lost to a cancellation that reached
    /// them before their poll).
    fn fail(self: &Rc<Self>, error: Error) {
        self.errors.borrow_mut().push(error);
        if self.abort_scheduled.replace(true) {
            return;
        }
        let state = self.clone();
        let scheduled =
            crate::get_running_loop().and_then(|lp| lp.call_soon(move || state.abort()));
        if scheduled.is_err() {
            self.abort();
        }
    }

    fn abort(&self) {
        if !self.aborting.replace(true) {
            self.cancel_children();
        }
        self.wake_parent();
    }

    /// Cancels every child: each ends at its next poll.
    fn cancel_children(&self) {
        let children: Vec<TaskRef> = self
            .children
            .borrow()
            .values()
            .map(|c| c.task.clone())
            .collect();
        for c in children {
            c.cancel();
        }
    }

    /// Cancels every child and drops its future now (the group's drop).
    fn drop_children(&self) {
        let children: Vec<ChildEntry> =
            self.children.borrow_mut().drain().map(|(_, c)| c).collect();
        for c in &children {
            c.task.cancel();
        }
        for c in children {
            empty_slot(&*c.fut, c.task.clone());
        }
    }
}

/// The handle a [`task_group`] body creates children with.
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let sum = task_group(|tg: tulip::TaskGroup| async move {
///         let tasks: Vec<_> = (1..=3).map(|i| tg.create_task(async move { i * i })).collect::<Result<_, _>>()?;
///         let mut sum = 0;
///         for t in tasks {
///             sum += t.await?;
///         }
///         Ok::<_, tulip::Error>(sum)
///     })
///     .await
///     .unwrap()?;
///     assert_eq!(sum, 14);
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone)]
pub struct TaskGroup {
    state: Rc<GroupState>,
}

/// Runs `body` with a new [`TaskGroup`] and waits for all its children
/// (asyncio's `async with asyncio.TaskGroup() as tg:`): `Ok(body's value)`,
/// or a [`TaskGroupError`] with every failure.
///
/// ```
/// use std::time::Duration;
/// use tulip::{sleep, task_group};
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// let r = event_loop.run_until_complete(task_group(|tg| async move {
///     let a = tg.create_task(async { sleep(Duration::from_secs(1)).await; 1 })?;
///     let b = tg.create_task(async { 2 })?;
///     Ok::<_, tulip::Error>((a, b))
/// }))?;
/// let (a, b) = r.unwrap()?; // the group is done: both children finished
/// assert!(a.done() && b.done());
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// # Cancel safety
///
/// Dropping the returned future (the parent task cancelled, or a timeout
/// around it expiring) drops the body and every child's future at once
/// and finishes the children's tasks as cancelled (but for a child whose
/// poll is on the stack: it ends when that poll returns).
pub fn task_group<B, Fut>(body: B) -> TaskGroupScope<Fut>
where
    B: FnOnce(TaskGroup) -> Fut,
    Fut: Future,
{
    let state = Rc::new(GroupState::default());
    let fut = body(TaskGroup {
        state: state.clone(),
    });
    TaskGroupScope {
        state,
        body: Some(Box::pin(fut)),
        output: None,
    }
}

impl TaskGroup {
    fn check_open(&self) -> Result<(), Error> {
        let s = &self.state;
        if s.finished.get() {
            return Err(Error::InvalidState("TaskGroup is finished"));
        }
        if s.aborting.get() {
            return Err(Error::InvalidState("TaskGroup is shutting down"));
        }
        Ok(())
    }

    /// Spawns `fut` as a child of the group. If it panics, the group aborts
    /// (see [`task_group`]). [`Error::InvalidState`] if the group is
    /// shutting down or finished, [`Error::NoRunningLoop`] outside a running
    /// loop.
    ///
    /// ```
    /// use tulip::task_group;
    /// tulip::run(task_group(|tg| async move {
    ///     let t = tg.create_task(async { 1 }).unwrap();
    ///     assert_eq!(t.await.unwrap(), 1);
    /// }))?
    /// .unwrap();
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn create_task<F>(&self, fut: F) -> Result<Task<F::Output>, Error>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.spawn_child(fut, |_| None)
    }

    /// Spawns `fut`, a child yielding `Result<T, E>`, whose `Err(e)` counts
    /// as a failure of the group (converted with `Error::from`; use
    /// [`Error::exception`] to convert any error type beforehand). The task
    /// itself yields `Ok(Err(e))` as well (the group cancels the other
    /// children, not the failing one).
    ///
    /// ```
    /// use tulip::{Error, task_group};
    /// let r = tulip::run(task_group(|tg| async move {
    ///     tg.try_create_task(async { Err::<(), _>(Error::Timeout) }).unwrap();
    /// }))?;
    /// assert!(r.unwrap_err().errors[0].is_timeout());
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn try_create_task<F, T, E>(&self, fut: F) -> Result<Task<Result<T, Error>>, Error>
    where
        F: Future<Output = Result<T, E>> + 'static,
        T: 'static,
        E: Into<Error>,
    {
        self.spawn_child(
            async move { fut.await.map_err(Into::into) },
            |r: &Result<T, Error>| r.as_ref().err().cloned(),
        )
    }

    #[track_caller]
    fn spawn_child<F>(
        &self,
        fut: F,
        failure: fn(&F::Output) -> Option<Error>,
    ) -> Result<Task<F::Output>, Error>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.check_open()?;
        let lp = crate::get_running_loop()?;
        let s = &self.state;
        let key = s.next_key.get();
        s.next_key.set(key + 1);
        s.live.set(s.live.get() + 1);
        let slot = new_slot(fut);
        let task = lp.create_task(Child {
            fut: slot.clone(),
            failure,
            state: s.clone(),
            key,
        });
        let child = task.task_ref();
        let owner = match s.owner.get() {
            0 => crate::task::graph_hooks::current_task_id().unwrap_or(0),
            id => id,
        };
        if owner != 0 {
            crate::graph::link_awaited(&child, owner, crate::graph::AwaitVia::TaskGroup);
        }
        s.children.borrow_mut().insert(
            key,
            ChildEntry {
                task: child,
                fut: slot as Rc<dyn EmptySlot>,
            },
        );
        Ok(task)
    }

    /// Whether the group is aborting (a child failed) — new children are
    /// refused then.
    ///
    /// ```
    /// tulip::run(tulip::task_group(|tg| async move {
    ///     assert!(!tg.is_shutting_down());
    /// }))?
    /// .unwrap();
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn is_shutting_down(&self) -> bool {
        self.state.aborting.get()
    }
}

impl fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("children", &self.state.live.get())
            .field("aborting", &self.state.aborting.get())
            .finish()
    }
}

/// A child's future: the user's (in a slot the group can empty), plus the
/// group bookkeeping. Its drop (completed, cancelled or torn down with the
/// loop) unregisters it.
struct Child<T> {
    fut: Rc<dyn ChildSlot<T>>,
    failure: fn(&T) -> Option<Error>,
    state: Rc<GroupState>,
    key: u64,
}

impl<T> Future for Child<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = &mut *self;
        // An emptied slot (the group's drop, which also cancelled the task)
        // stays pending: this poll is not reached again.
        let polled = catch_unwind(AssertUnwindSafe(|| this.fut.poll_child(cx)));
        match polled {
            Ok(Poll::Ready(v)) => {
                if let Some(e) = (this.failure)(&v) {
                    // No longer a child, so that the group's abort does
                    // not cancel this task: its handle keeps `Ok(Err(e))`.
                    this.state.children.borrow_mut().remove(&this.key);
                    this.state.fail(e);
                }
                Poll::Ready(v)
            }
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                this.fut.empty();
                this.state.fail(Error::Panicked(PanicError::new(payload)));
                // The group reports the panic; this task ends cancelled
                // (abort cancelled it, and cancel it for sure).
                if let Some(me) = current_task() {
                    me.cancel();
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Child<T> {
    fn drop(&mut self) {
        self.fut.empty();
        let s = &self.state;
        s.children.borrow_mut().remove(&self.key);
        s.live.set(s.live.get() - 1);
        if s.live.get() == 0 {
            s.wake_parent();
        }
    }
}

/// The future of [`task_group`].
///
/// ```
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// let event_loop = tulip::EventLoop::builder().paused_clock(true).build()?;
/// event_loop.run_until_complete(async {
///     let mut child = None;
///     let scope = task_group(|tg| {
///         child = Some(tg.create_task(sleep(Duration::from_secs(60))));
///         async {}
///     });
///     // A timeout around the scope drops it: every child is cancelled.
///     assert!(wait_for(scope, Duration::from_secs(1)).await.unwrap_err().is_timeout());
///     assert!(child.unwrap().unwrap().cancelled());
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited; dropping it cancels the group's children"]
pub struct TaskGroupScope<Fut: Future> {
    state: Rc<GroupState>,
    body: Option<Pin<Box<Fut>>>,
    output: Option<Fut::Output>,
}

impl<Fut: Future> Unpin for TaskGroupScope<Fut> {}

impl<Fut: Future> Future for TaskGroupScope<Fut> {
    type Output = Result<Fut::Output, TaskGroupError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let s = this.state.clone();
        if s.finished.get() {
            return Poll::Pending;
        }
        if s.owner.get() == 0 {
            s.owner
                .set(crate::task::graph_hooks::current_task_id().unwrap_or(0));
        }
        {
            let mut p = s.parent.borrow_mut();
            match p.as_ref() {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *p = Some(cx.waker().clone()),
            }
        }
        if let Some(body) = this.body.as_mut() {
            if s.aborting.get() {
                // asyncio cancels the parent task; here only the body ends.
                this.body = None;
            } else if let Poll::Ready(v) = body.as_mut().poll(cx) {
                this.output = Some(v);
                this.body = None;
            } else if s.aborting.get() {
                this.body = None;
            }
            if this.body.is_none() {
                s.exiting.set(true);
            }
        }
        if this.body.is_some() || s.live.get() > 0 {
            if this.body.is_none() {
                crate::graph::record_raw(
                    &crate::graph::TASK_GROUP,
                    crate::graph::count(s.live.get()),
                );
            }
            return Poll::Pending;
        }
        s.finished.set(true);
        s.parent.borrow_mut().take();
        let errors = std::mem::take(&mut *s.errors.borrow_mut());
        for e in &errors {
            if let Error::Panicked(p) = e {
                if let Some(payload) = p.take_payload() {
                    std::panic::resume_unwind(payload);
                }
            }
        }
        match (errors.is_empty(), this.output.take()) {
            (true, Some(v)) => Poll::Ready(Ok(v)),
            (true, None) => Poll::Ready(Err(TaskGroupError {
                errors: vec![Error::Cancelled],
            })),
            (false, _) => Poll::Ready(Err(TaskGroupError { errors })),
        }
    }
}

impl<Fut: Future> Drop for TaskGroupScope<Fut> {
    fn drop(&mut self) {
        self.body = None;
        let s = &self.state;
        if !s.finished.get() {
            s.aborting.set(true);
            s.finished.set(true);
            s.drop_children();
        }
        s.parent.borrow_mut().take();
    }
}
