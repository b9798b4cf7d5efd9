//! The task factory: asyncio's `loop.set_task_factory` /
//! `get_task_factory`, a hook through which every task made by
//! [`Loop::create_task`] (and so [`spawn`](crate::spawn), task groups,
//! `gather`, ...) passes.
//!
//! asyncio's factory is called as `factory(loop, coro, **kwargs)` and
//! returns the task. Rust's `create_task` is generic over the future's
//! output and returns a typed [`Task<T>`](crate::Task), which a factory
//! that sees every task cannot build. So a tulip factory gets the new task's
//! description instead, [`NewTask`]: its options (name, eager start,
//! context) to change, and its future type-erased as a [`TaskBody`] (a
//! future of `()` that stores the real output where the typed handle reads
//! it) to wrap. The loop then builds the task from what the factory
//! returns. With no factory set, `create_task` takes one branch more.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context as TaskCx, Poll};

use crate::event_loop::base_events::Loop;
use crate::task::{Task, TaskOptions, current_task};

/// A task factory (asyncio's `loop.set_task_factory(factory)`): called with
/// the loop and each new task's description, it returns the description
/// the task is built from. See [`Loop::set_task_factory`].
///
/// ```
/// use std::rc::Rc;
/// use tulip::{NewTask, TaskFactory};
///
/// // Every task eager (asyncio's `eager_task_factory`).
/// let eager: TaskFactory = Rc::new(|_lp, mut task: NewTask| {
///     task.options.eager = true;
///     task
/// });
/// let event_loop = tulip::EventLoop::new()?;
/// event_loop.set_task_factory(Some(eager));
/// assert!(event_loop.get_task_factory().is_some());
/// # Ok::<(), tulip::Error>(())
/// ```
pub type TaskFactory = Rc<dyn Fn(&Loop, NewTask) -> NewTask>;

/// A task about to be created, as a [`TaskFactory`] sees it: its
/// [`options`](NewTask::options) (name, eager start, context), which the
/// factory may change, and its future, which it may wrap with
/// [`wrap`](NewTask::wrap).
///
/// ```
/// use std::rc::Rc;
/// use tulip::NewTask;
/// use tulip::prelude::*;
///
/// tulip::run(async {
///     let lp = get_running_loop()?;
///     lp.set_task_factory(Some(Rc::new(|_lp, mut task: NewTask| {
///         if task.options.name.is_none() {
///             task.options.name = Some(format!("worker@{}", task.source_location().line()));
///         }
///         task
///     })));
///     let task = spawn(async { 1 });
///     assert!(task.get_name().starts_with("worker@"));
///     assert_eq!(task.await?, 1); // the typed handle is untouched
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
pub struct NewTask {
    /// The options the task is created with: those given to
    /// [`create_task_with`](Loop::create_task_with) (defaults for
    /// [`create_task`](Loop::create_task)).
    pub options: TaskOptions,
    body: TaskBody,
    site: &'static Location<'static>,
}

impl NewTask {
    /// Replaces the task's future with `wrap(body)`, which must await
    /// `body` (once) for the task to produce its output: code can run
    /// before and after, around every task. If the wrapper returns without
    /// having awaited `body` to its end (it dropped it, e.g. on a timeout
    /// of its own), the task ends cancelled.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use tulip::NewTask;
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let log = Rc::new(RefCell::new(Vec::new()));
    ///     let lp = get_running_loop()?;
    ///     let l = log.clone();
    ///     lp.set_task_factory(Some(Rc::new(move |_lp, task: NewTask| {
    ///         let log = l.clone();
    ///         task.wrap(|body| async move {
    ///             log.borrow_mut().push("start");
    ///             body.await;
    ///             log.borrow_mut().push("end");
    ///         })
    ///     })));
    ///     assert_eq!(spawn(async { "out" }).await?, "out");
    ///     assert_eq!(*log.borrow(), ["start", "end"]);
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn wrap<W, Fut>(self, wrap: W) -> NewTask
    where
        W: FnOnce(TaskBody) -> Fut,
        Fut: Future<Output = ()> + 'static,
    {
        let NewTask {
            options,
            body,
            site,
        } = self;
        NewTask {
            options,
            body: TaskBody(Box::pin(wrap(body))),
            site,
        }
    }

    /// Where the task is being created (the caller of `create_task` or
    /// `spawn`).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use tulip::NewTask;
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let line = Rc::new(Cell::new(0));
    ///     let l = line.clone();
    ///     let lp = get_running_loop()?;
    ///     lp.set_task_factory(Some(Rc::new(move |_lp, task: NewTask| {
    ///         l.set(task.source_location().line());
    ///         task
    ///     })));
    ///     let here = line!() + 1;
    ///     let task = spawn(async {});
    ///     lp.set_task_factory(None);
    ///     assert_eq!(line.get(), here);
    ///     task.await
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn source_location(&self) -> &'static Location<'static> {
        self.site
    }
}

impl fmt::Debug for NewTask {
    /// The options and where the task is being created.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use tulip::NewTask;
    ///
    /// tulip::run(async {
    ///     tulip::get_running_loop()?.set_task_factory(Some(Rc::new(|_lp, task: NewTask| {
    ///         assert!(format!("{task:?}").starts_with("NewTask { options: TaskOptions"));
    ///         task
    ///     })));
    ///     tulip::spawn(async {}).await
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewTask")
            .field("options", &self.options)
            .field("created_at", &format_args!("{}", self.site))
            .finish()
    }
}

/// A new task's future, type-erased for a [`TaskFactory`]: awaiting it runs
/// the task's own future and stores its output for the task's typed handle.
///
/// ```
/// use std::rc::Rc;
/// use tulip::{NewTask, TaskBody};
/// use tulip::prelude::*;
///
/// async fn traced(body: TaskBody) {
///     println!("task starts");
///     body.await; // the task's own future runs here
///     println!("task ends");
/// }
///
/// tulip::run(async {
///     get_running_loop()?.set_task_factory(Some(Rc::new(|_lp, task: NewTask| task.wrap(traced))));
///     assert_eq!(spawn(async { 2 + 2 }).await?, 4);
///     Ok::<(), tulip::Error>(())
/// })??;
/// # Ok::<(), tulip::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct TaskBody(Pin<Box<dyn Future<Output = ()>>>);

impl Future for TaskBody {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for TaskBody {
    /// Just the type: the future is opaque.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use tulip::NewTask;
    ///
    /// tulip::run(async {
    ///     tulip::get_running_loop()?.set_task_factory(Some(Rc::new(|_lp, task: NewTask| {
    ///         task.wrap(|body| async move {
    ///             assert_eq!(format!("{body:?}"), "TaskBody");
    ///             body.await
    ///         })
    ///     })));
    ///     tulip::spawn(async {}).await
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskBody")
    }
}

/// The future a task built through a factory runs: the (possibly wrapped)
/// body, then the output the body stored.
struct FromBody<T> {
    body: TaskBody,
    output: Rc<Cell<Option<T>>>,
}

impl<T> Future for FromBody<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<T> {
        match Pin::new(&mut self.body).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => match self.output.take() {
                Some(out) => Poll::Ready(out),
                None => {
                    // The factory's wrapper ended without running the
                    // task's future to its end: the task cancels itself,
                    // and ends cancelled once this poll returns.
                    if let Some(me) = current_task() {
                        me.cancel();
                    }
                    Poll::Pending
                }
            },
        }
    }
}

/// Whether `lp` has a task factory: `create_task`'s one branch.
#[inline]
pub(crate) fn has_task_factory(lp: &Loop) -> bool {
    lp.inner.has_task_factory.get()
}

/// `create_task` with a factory set: erase the future, let the factory
/// see the description, build the task from its answer.
#[cold]
#[inline(never)]
pub(crate) fn create_through_factory<F>(
    lp: &Loop,
    future: F,
    options: TaskOptions,
    site: &'static Location<'static>,
) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let factory = lp.inner.task_factory.borrow().clone();
    let Some(factory) = factory else {
        return lp.spawn_task(future, options, site);
    };
    let output = Rc::new(Cell::new(None));
    let slot = output.clone();
    let body = TaskBody(Box::pin(async move { slot.set(Some(future.await)) }));
    let new = factory(
        lp,
        NewTask {
            options,
            body,
            site,
        },
    );
    lp.spawn_task(
        FromBody {
            body: new.body,
            output,
        },
        new.options,
        site,
    )
}

impl Loop {
    /// Sets the task factory (asyncio's `loop.set_task_factory`): every
    /// task [`create_task`](Loop::create_task) makes from now on —
    /// including those of [`spawn`](crate::spawn), task groups and
    /// `gather` — is built from what `factory` returns for its
    /// [`NewTask`]; `None` removes it.
    ///
    /// Unlike asyncio's factory, which builds the task object itself, a
    /// tulip factory changes the description of the task (its
    /// [`options`](NewTask::options): name, eager start, context) and may
    /// [`wrap`](NewTask::wrap) its future; the loop builds the task, so
    /// the typed [`Task<T>`](crate::Task) handle works as without a factory.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use tulip::NewTask;
    /// use tulip::prelude::*;
    ///
    /// tulip::run(async {
    ///     let lp = get_running_loop()?;
    ///     // asyncio's eager_task_factory: tasks run to their first
    ///     // suspension inside create_task.
    ///     lp.set_task_factory(Some(Rc::new(|_lp, mut task: NewTask| {
    ///         task.options.eager = true;
    ///         task
    ///     })));
    ///     let task = spawn(async { 7 });
    ///     assert!(task.done()); // ran already
    ///     lp.set_task_factory(None);
    ///     let task = spawn(async { 8 });
    ///     assert!(!task.done()); // scheduled, as usual
    ///     assert_eq!(task.await?, 8);
    ///     Ok::<(), tulip::Error>(())
    /// })??;
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn set_task_factory(&self, factory: Option<TaskFactory>) {
        self.inner.has_task_factory.set(factory.is_some());
        let old = std::mem::replace(&mut *self.inner.task_factory.borrow_mut(), factory);
        drop(old);
    }

    /// The task factory set with [`set_task_factory`](Loop::set_task_factory),
    /// if any (asyncio's `loop.get_task_factory`).
    ///
    /// ```
    /// use std::rc::Rc;
    /// use tulip::{NewTask, TaskFactory};
    ///
    /// let event_loop = tulip::EventLoop::new()?;
    /// assert!(event_loop.get_task_factory().is_none());
    /// let factory: TaskFactory = Rc::new(|_lp, task: NewTask| task);
    /// event_loop.set_task_factory(Some(factory.clone()));
    /// assert!(Rc::ptr_eq(&event_loop.get_task_factory().unwrap(), &factory));
    /// # Ok::<(), tulip::Error>(())
    /// ```
    pub fn get_task_factory(&self) -> Option<TaskFactory> {
        self.inner.task_factory.borrow().clone()
    }
}
