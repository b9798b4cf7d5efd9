//! Spawning: [`Loop::create_task`] and [`TaskOptions`] (asyncio's `name=`,
//! `context=` and eager start), [`spawn`] on the running loop, and the task
//! queries [`current_task`] and [`all_tasks`]. A task factory, when set,
//! sees every task first (`context/factory.rs`).

use std::cell::Cell;
use std::future::Future;
use std::panic::Location;
use std::ptr::NonNull;
use std::rc::{Rc, Weak};

use super::harness::TaskFuture;
use super::header::{CURRENT_TASK, Runnable, TaskHeader, TaskRef, all_task_refs, registered};
use super::join::Task;
use crate::context::Context;
use crate::error::Error;
use crate::event_loop::base_events::{Loop, LoopInner, Ready, schedule_runnable, with_running};

/// Options for [`Loop::create_task_with`] (asyncio's `name=`, `context=`
/// and `eager_start=` arguments).
///
/// ```
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let lp = get_running_loop()?;
///     let task = lp.create_task_with(async {}, TaskOptions::new().name("poller"));
///     assert_eq!(task.get_name(), "poller");
///     task.await
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct TaskOptions {
    /// The task's name; `Task-<id>` if none.
    pub name: Option<String>,
    /// Start the task at once, running it until its first suspension before
    /// `create_task_with` returns (asyncio 3.12's eager tasks). Only while
    /// the loop is running; otherwise the task is scheduled as usual.
    pub eager: bool,
    /// The context the task runs in (asyncio's `context=`); a copy of the
    /// current one if none.
    pub context: Option<Context>,
}

impl TaskOptions {
    /// The default options.
    ///
    /// ```
    /// let options = tulip::TaskOptions::new();
    /// assert!(options.name.is_none() && !options.eager);
    /// ```
    pub fn new() -> TaskOptions {
        TaskOptions::default()
    }

    /// Sets the name.
    ///
    /// ```
    /// let options = tulip::TaskOptions::new().name("worker-1");
    /// assert_eq!(options.name.as_deref(), Some("worker-1"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> TaskOptions {
        self.name = Some(name.into());
        self
    }

    /// Sets eager start.
    ///
    /// ```
    /// assert!(tulip::TaskOptions::new().eager(true).eager);
    /// ```
    pub fn eager(mut self, eager: bool) -> TaskOptions {
        self.eager = eager;
        self
    }

    /// Sets the context the task runs in (asyncio's `create_task(coro,
    /// context=ctx)`): what the task sets stays in it.
    ///
    /// ```
    /// use tulip::TaskOptions;
    /// use tulip::contextvars::{Context, ContextVar};
    /// use tulip::prelude::*;
    ///
    /// static USER: ContextVar<&str> = ContextVar::new("user");
    ///
    /// tulip::run(async {
    ///     USER.set("parent");
    ///     let mut ctx = Context::new();
    ///     ctx.run(|| USER.set("guest"));
    ///     let lp = get_running_loop()?;
    ///     let task = lp.create_task_with(async { USER.get() }, TaskOptions::new().context(ctx));
    ///     assert_eq!(task.await?, Some("guest"));
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn context(mut self, context: Context) -> TaskOptions {
        self.context = Some(context);
        self
    }
}

impl Loop {
    /// Wraps `future` in a [`Task`](crate::Task) and schedules it (asyncio's
    /// `create_task`). The loop need not be running: the task starts when
    /// it runs. On a closed loop the task is already done with
    /// [`Error::LoopClosed`](crate::Error::LoopClosed) (no panic: a closed loop can be reached from
    /// destructors that [`close`](crate::EventLoop::close) itself runs).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// // The loop need not run yet: the task starts when it does.
    /// let task = event_loop.create_task(async { "hello" });
    /// assert!(!task.done());
    /// assert_eq!(event_loop.run_until_complete(task)??, "hello");
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn create_task<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.create_task_with(future, TaskOptions::default())
    }

    /// [`create_task`](Loop::create_task) with a name or eager start.
    ///
    /// ```
    /// use tulip::TaskOptions;
    /// let event_loop = tulip::EventLoop::new()?;
    /// let lp = event_loop.handle();
    /// event_loop.run_until_complete(async move {
    ///     let task = lp.create_task_with(async { 1 }, TaskOptions::new().name("worker").eager(true));
    ///     assert_eq!(task.get_name(), "worker");
    ///     assert!(task.done()); // ran to completion inside create_task_with
    /// })?;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    #[track_caller]
    pub fn create_task_with<F>(&self, future: F, options: TaskOptions) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let site = Location::caller();
        // The task factory (`Loop::set_task_factory`): one branch if none.
        if crate::context::has_task_factory(self) && !self.inner.closed.get() {
            return crate::context::create_through_factory(self, future, options, site);
        }
        self.spawn_task(future, options, site)
    }

    /// Builds and schedules the task (`create_task_with` past the factory).
    pub(crate) fn spawn_task<F>(
        &self,
        future: F,
        options: TaskOptions,
        site: &'static Location<'static>,
    ) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        let inner = &self.inner;
        if inner.closed.get() {
            return spawn_failed(Error::LoopClosed, self.downgrade(), site);
        }
        let id = inner.tasks.borrow_mut().next_id();
        #[cfg(feature = "tracing")]
        let future = super::trace::Traced::new(future, id, options.name.as_deref(), site);
        let header = TaskHeader::new(id, self.downgrade(), site, options.name);
        // contextvars: the task runs in a copy of the current context
        // (none to copy before the first variable is set).
        match options.context {
            Some(context) => header.set_context(context),
            None if crate::context::in_use() => header.set_context(Context::current()),
            None => {}
        }
        let remote = inner.remote.clone();
        let (runnable, task) = async_task::Builder::new().metadata(header).spawn_local(
            move |header: &TaskHeader| TaskFuture {
                header: NonNull::from(header),
                fail: None,
                fut: Some(future),
            },
            async_task::WithInfo(move |r, info: async_task::ScheduleInfo| {
                schedule_runnable(&remote, r, info.woken_while_running)
            }),
        );
        inner.tasks.borrow_mut().insert(TaskRef::new(&runnable));
        if options.eager
            && self.is_running()
            && with_running(|l| Rc::ptr_eq(l, inner)).unwrap_or(false)
        {
            runnable.run();
        } else {
            inner.ready.borrow_mut().push(Ready::Task(runnable));
        }
        Task::new(task)
    }

    /// The tasks of this loop that are not done yet (asyncio's `all_tasks`).
    ///
    /// ```
    /// let event_loop = tulip::EventLoop::new()?;
    /// let a = event_loop.create_task(async {});
    /// let _b = event_loop.create_task(async {});
    /// assert_eq!(event_loop.all_tasks().len(), 2);
    /// event_loop.run_until_complete(a)??;
    /// assert!(event_loop.all_tasks().is_empty()); // both ran to completion
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn all_tasks(&self) -> Vec<TaskRef> {
        all_task_refs(self)
    }
}

/// A task that could not start: done at once with `error`.
fn spawn_failed<T: 'static>(
    error: Error,
    lp: Weak<LoopInner>,
    site: &'static Location<'static>,
) -> Task<T> {
    let header = TaskHeader::new(0, lp, site, None);
    let (runnable, task) = async_task::Builder::new().metadata(header).spawn_local(
        move |header: &TaskHeader| TaskFuture {
            header: NonNull::from(header),
            fail: Some(Box::new(error)),
            fut: None::<std::future::Pending<T>>,
        },
        // Never called: the task completes in the `run` below, and waking a
        // completed task schedules nothing.
        |_r: Runnable| {},
    );
    runnable.metadata().self_waker.set(Some(runnable.waker()));
    runnable.run();
    Task::new(task)
}

/// Spawns `future` on the running loop (asyncio's `asyncio.create_task`).
///
/// It returns at once with a [`Task`](crate::Task): the task is scheduled
/// and first runs when the caller yields to the loop. Awaiting the `Task`
/// gives `Ok(output)`, `Err(Error::Cancelled)` if it was cancelled, or
/// `Err(Error::Panicked(..))` if its future panicked (the panic is caught
/// and does not reach the loop).
///
/// Dropping the `Task` (or calling [`detach`](crate::Task::detach)) does
/// *not* stop it: the task runs on, detached, to completion, and its
/// outcome is dropped. To stop it, call [`cancel`](crate::Task::cancel):
/// its future is dropped at its next poll and awaiting the `Task` gives
/// `Err(Error::Cancelled)`.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let task = spawn(async { 6 * 7 });
///     assert_eq!(task.await?, 42);
///
///     // Dropped: detached, it still runs to completion.
///     let ran = Rc::new(Cell::new(false));
///     let flag = ran.clone();
///     drop(spawn(async move { flag.set(true) }));
///     sleep(Duration::from_millis(1)).await;
///     assert!(ran.get());
///
///     // Cancelled: stopped at its next suspension.
///     let task = spawn(sleep(Duration::from_secs(3600)));
///     task.cancel();
///     assert!(task.await.unwrap_err().is_cancelled());
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
///
/// # Panics
///
/// Outside a running loop (asyncio raises `RuntimeError: no running event
/// loop` at the call; tokio's `spawn` panics the same way): there is no
/// loop to run the task, which is a bug in the calling code, not a
/// condition to handle. Call it from inside [`run`](crate::run) or a task,
/// or use [`Loop::create_task`] on a loop handle, which works before the
/// loop runs.
///
/// ```should_panic
/// let _task = tulip::spawn(async {}); // no running loop: panics here
/// ```
#[track_caller]
#[doc(alias = "spawn_local")]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match crate::get_running_loop() {
        Ok(lp) => lp.create_task(future),
        Err(_) => panic_no_running_loop(),
    }
}

/// The panic of [`spawn`] (and of the toolkit functions that spawn at the
/// call) outside a running loop, kept out of line.
#[cold]
#[track_caller]
fn panic_no_running_loop() -> ! {
    panic!(
        "tulip::spawn called outside a running event loop: call it from inside \
         tulip::run(..) or a task on the loop, or use Loop::create_task on a loop handle"
    )
}

/// The task whose future is being polled on this thread (asyncio's
/// `current_task`), `None` outside a task.
///
/// ```
/// use tulip::prelude::*;
///
/// assert!(current_task().is_none()); // not inside a task
/// tulip::run(async {
///     let me = current_task().expect("run drives the future as a task");
///     let task = spawn(async { current_task().unwrap().get_name() });
///     task.set_name("child");
///     assert_eq!(task.await?, "child");
///     assert!(me.same_task(&current_task().unwrap()));
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn current_task() -> Option<TaskRef> {
    let header = CURRENT_TASK.with(Cell::get)?;
    // SAFETY: `CURRENT_TASK` is set only while that task's future is being
    // polled (and restored right after), so its allocation is alive.
    registered(unsafe { header.as_ref() })
}

/// The running loop's tasks that are not done (asyncio's `all_tasks`);
/// empty outside a running loop.
///
/// ```
/// use tulip::prelude::*;
///
/// assert!(all_tasks().is_empty()); // no running loop
/// tulip::run(async {
///     let worker = spawn(std::future::pending::<()>());
///     assert_eq!(all_tasks().len(), 2); // this one and the worker
///     worker.cancel();
/// })?;
/// # Ok::<(), tulip::Error>(())
/// ```
pub fn all_tasks() -> Vec<TaskRef> {
    crate::get_running_loop()
        .map(|lp| all_task_refs(&lp))
        .unwrap_or_default()
}
